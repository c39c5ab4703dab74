//! Listing logic for `ls`: which entries to show, in what order, and the
//! long format.

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Device, pipe, socket or unknown.
    Other,
}

impl Kind {
    /// The type letter of the long format.
    #[must_use]
    pub fn letter(self) -> char {
        match self {
            Self::File => '-',
            Self::Dir => 'd',
            Self::Symlink => 'l',
            Self::Other => '?',
        }
    }
}

/// One entry to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// Modification time (Unix seconds), if known.
    pub mtime: Option<u64>,
}

/// Whether `name` is shown (`-a` shows dot files).
#[must_use]
pub fn visible(name: &str, all: bool) -> bool {
    all || !name.starts_with('.')
}

/// Sorts entries by name (bytewise, like `LC_ALL=C`).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Formats entries, one per line: just names, or with `long`
/// `T SIZE YYYY-MM-DD HH:MM NAME` (sizes right-aligned; directories get a
/// trailing `/`).
#[must_use]
pub fn format(entries: &[Entry], long: bool) -> String {
    let mut out = String::new();
    if !long {
        for e in entries {
            out.push_str(&e.name);
            out.push('\n');
        }
        return out;
    }
    let width = entries.iter().map(|e| e.size.to_string().len()).max().unwrap_or(1);
    for e in entries {
        let time = e.mtime.map_or_else(|| "                ".to_owned(), crate::fmt::date_time);
        let slash = if e.kind == Kind::Dir { "/" } else { "" };
        out.push_str(&format!("{} {:>width$} {time} {}{slash}\n", e.kind.letter(), e.size, e.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, kind: Kind, size: u64) -> Entry {
        Entry { name: name.into(), kind, size, mtime: Some(0) }
    }

    #[test]
    fn hidden_files() {
        assert!(visible("a", false));
        assert!(!visible(".a", false));
        assert!(visible(".a", true));
    }

    #[test]
    fn sorted_short_listing() {
        let mut v = vec![e("b", Kind::File, 1), e("B", Kind::File, 1), e("a", Kind::Dir, 0)];
        sort(&mut v);
        assert_eq!(format(&v, false), "B\na\nb\n");
    }

    #[test]
    fn long_listing() {
        let v = vec![
            e("bin", Kind::Dir, 0),
            e("big", Kind::File, 12345),
            Entry { name: "l".into(), kind: Kind::Symlink, size: 3, mtime: None },
        ];
        assert_eq!(
            format(&v, true),
            "d     0 1970-01-01 00:00 bin/\n- 12345 1970-01-01 00:00 big\nl     3                  l\n"
        );
        assert_eq!(Kind::Other.letter(), '?');
        assert_eq!(format(&[], true), "");
    }
}
