//! `ls [-l] [-a] [PATH...]`: lists directories (or names files).
use coreutils::ls::{self, Entry, Kind};
use std::fs::{self, Metadata};
use std::io::Write;
use std::time::UNIX_EPOCH;

fn entry(name: String, md: &Metadata) -> Entry {
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Other
    };
    let mtime = md.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs());
    Entry { name, kind, size: md.len(), mtime }
}

fn list_dir(path: &str, all: bool) -> std::io::Result<Vec<Entry>> {
    let mut v = Vec::new();
    for de in fs::read_dir(path)? {
        let de = de?;
        let name = de.file_name().to_string_lossy().into_owned();
        if !ls::visible(&name, all) {
            continue;
        }
        // A racing unlink or a dangling symlink: show what lstat knows.
        let md = de.metadata().or_else(|_| fs::symlink_metadata(de.path()))?;
        v.push(entry(name, &md));
    }
    ls::sort(&mut v);
    Ok(v)
}

fn main() {
    coreutils::run("ls", |args| {
        let p = coreutils::args::parse(args, "la", "").map_err(|e| format!("{e}\nusage: ls [-l] [-a] [PATH...]"))?;
        let (long, all) = (p.has('l'), p.has('a'));
        let paths = if p.operands.is_empty() { vec![".".to_owned()] } else { p.operands.clone() };
        let mut out = std::io::stdout().lock();
        let mut status = 0;
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for path in &paths {
            match fs::metadata(path) {
                Ok(md) if md.is_dir() => dirs.push(path.clone()),
                Ok(md) => files.push(entry(path.clone(), &md)),
                Err(e) => {
                    eprintln!("ls: {path}: {}", coreutils::describe(&e));
                    status = 1;
                }
            }
        }
        ls::sort(&mut files);
        let mut text = ls::format(&files, long);
        let headers = paths.len() > 1;
        for (i, d) in dirs.iter().enumerate() {
            match list_dir(d, all) {
                Ok(v) => {
                    if headers {
                        if i > 0 || !files.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&format!("{d}:\n"));
                    }
                    text.push_str(&ls::format(&v, long));
                }
                Err(e) => {
                    eprintln!("ls: {d}: {}", coreutils::describe(&e));
                    status = 1;
                }
            }
        }
        out.write_all(text.as_bytes()).map_err(|e| coreutils::describe(&e))?;
        Ok(status)
    })
}
