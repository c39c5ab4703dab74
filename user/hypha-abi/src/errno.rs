//! [`Errno`]: the error every `hypha` import returns, with WASI preview 1
//! errno values so one table serves both import modules.

use core::fmt;

/// A WASI preview 1 errno value returned by a `hypha` import (never 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(u16);

/// `(value, name, message)` for every errno the `hypha` module documents.
const TABLE: &[(u16, &str, &str)] = &[
    (1, "2big", "argument list too long"),
    (2, "acces", "permission denied"),
    (6, "again", "resource temporarily unavailable"),
    (8, "badf", "bad file descriptor"),
    (12, "child", "not a child process"),
    (21, "fault", "bad address"),
    (28, "inval", "invalid argument"),
    (29, "io", "I/O error"),
    (31, "isdir", "is a directory"),
    (33, "mfile", "too many open files"),
    (37, "nametoolong", "file name too long"),
    (44, "noent", "no such file or directory"),
    (45, "noexec", "not an executable WebAssembly module"),
    (48, "nomem", "out of memory"),
    (52, "nosys", "function not supported"),
    (54, "notdir", "not a directory"),
    (58, "notsup", "not supported"),
    (63, "perm", "operation not permitted"),
    (64, "pipe", "broken pipe"),
    (71, "srch", "no such process"),
];

impl Errno {
    /// Argument list too long.
    pub const TOO_BIG: Self = Self(1);
    /// Permission denied.
    pub const ACCES: Self = Self(2);
    /// Resource temporarily unavailable (e.g. the process quota is reached).
    pub const AGAIN: Self = Self(6);
    /// Bad file descriptor.
    pub const BADF: Self = Self(8);
    /// The pid is not a child of the caller.
    pub const CHILD: Self = Self(12);
    /// A pointer/length pair is outside linear memory.
    pub const FAULT: Self = Self(21);
    /// Invalid argument.
    pub const INVAL: Self = Self(28);
    /// I/O error.
    pub const IO: Self = Self(29);
    /// Is a directory.
    pub const ISDIR: Self = Self(31);
    /// Too many open files.
    pub const MFILE: Self = Self(33);
    /// File name too long.
    pub const NAMETOOLONG: Self = Self(37);
    /// No such file or directory.
    pub const NOENT: Self = Self(44);
    /// Not a valid (or linkable) WebAssembly module.
    pub const NOEXEC: Self = Self(45);
    /// Out of memory.
    pub const NOMEM: Self = Self(48);
    /// Function not supported (also: the `hypha` ABI is absent, on host builds).
    pub const NOSYS: Self = Self(52);
    /// Not a directory.
    pub const NOTDIR: Self = Self(54);
    /// Not supported.
    pub const NOTSUP: Self = Self(58);
    /// Operation not permitted.
    pub const PERM: Self = Self(63);
    /// Broken pipe.
    pub const PIPE: Self = Self(64);
    /// No such process.
    pub const SRCH: Self = Self(71);

    /// The errno for a raw nonzero import result; `None` for 0 (success)
    /// and for values outside the `u16` range WASI uses.
    #[must_use]
    pub fn from_raw(raw: i32) -> Option<Self> {
        match u16::try_from(raw) {
            Ok(0) | Err(_) => None,
            Ok(v) => Some(Self(v)),
        }
    }

    /// Turns a raw import result into `Ok(())` (0) or the errno. A result
    /// outside WASI's range is reported as `Errno::IO`.
    pub fn check(raw: i32) -> Result<(), Self> {
        if raw == 0 {
            Ok(())
        } else {
            Err(Self::from_raw(raw).unwrap_or(Self::IO))
        }
    }

    /// The raw WASI value.
    #[must_use]
    pub fn raw(self) -> u16 {
        self.0
    }

    /// The WASI name (`"srch"`), or `None` for a value this crate does not name.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        TABLE.iter().find(|e| e.0 == self.0).map(|e| e.1)
    }

    /// A human-readable message.
    #[must_use]
    pub fn message(self) -> &'static str {
        TABLE.iter().find(|e| e.0 == self.0).map_or("unknown error", |e| e.2)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Errno({n})"),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(_) => f.write_str(self.message()),
            None => write!(f, "error {}", self.0),
        }
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        let kind = match e {
            Errno::NOENT => std::io::ErrorKind::NotFound,
            Errno::ACCES | Errno::PERM => std::io::ErrorKind::PermissionDenied,
            Errno::INVAL => std::io::ErrorKind::InvalidInput,
            Errno::NOSYS | Errno::NOTSUP => std::io::ErrorKind::Unsupported,
            Errno::PIPE => std::io::ErrorKind::BrokenPipe,
            Errno::NOMEM => std::io::ErrorKind::OutOfMemory,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_success_and_values_round_trip() {
        assert_eq!(Errno::check(0), Ok(()));
        assert_eq!(Errno::check(71), Err(Errno::SRCH));
        assert_eq!(Errno::from_raw(0), None);
        assert_eq!(Errno::from_raw(-1), None);
        assert_eq!(Errno::from_raw(6), Some(Errno::AGAIN));
        assert_eq!(Errno::check(70_000), Err(Errno::IO));
    }

    #[test]
    fn names_and_messages() {
        assert_eq!(Errno::SRCH.name(), Some("srch"));
        assert_eq!(Errno::SRCH.to_string(), "no such process");
        assert_eq!(format!("{:?}", Errno::AGAIN), "Errno(again)");
        let unknown = Errno::from_raw(75).expect("nonzero");
        assert_eq!(unknown.name(), None);
        assert_eq!(unknown.to_string(), "error 75");
    }

    #[test]
    fn table_values_match_constants() {
        for &(v, name, _) in TABLE {
            let e = Errno::from_raw(i32::from(v)).expect("nonzero");
            assert_eq!(e.name(), Some(name));
        }
        // Spot-check against WASI preview 1's numbering.
        assert_eq!(Errno::NOSYS.raw(), 52);
        assert_eq!(Errno::NOEXEC.raw(), 45);
        assert_eq!(Errno::CHILD.raw(), 12);
    }

    #[test]
    fn converts_to_io_error() {
        let e: std::io::Error = Errno::NOENT.into();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
