//! `mv SRC DST` or `mv SRC... DIR`: renames; across file systems, copies then removes (files only).
use std::path::Path;

fn target(src: &str, dst: &str) -> String {
    if Path::new(dst).is_dir() {
        let base = src.trim_end_matches('/').rsplit('/').next().unwrap_or(src);
        format!("{}/{base}", dst.trim_end_matches('/'))
    } else {
        dst.to_owned()
    }
}

fn move_one(src: &str, to: &str) -> std::io::Result<()> {
    match std::fs::rename(src, to) {
        // EXDEV (WASI errno 75): another file system, e.g. / to /tmp.
        Err(e) if e.raw_os_error() == Some(75) || e.kind() == std::io::ErrorKind::CrossesDevices => {
            if Path::new(src).is_dir() {
                return Err(e);
            }
            std::fs::copy(src, to)?;
            std::fs::remove_file(src)
        }
        r => r,
    }
}

fn main() {
    coreutils::run("mv", |args| {
        let p = coreutils::args::parse(args, "", "")?;
        let [srcs @ .., dst] = p.operands.as_slice() else {
            return Err("usage: mv SRC DST | mv SRC... DIR".into());
        };
        if srcs.is_empty() {
            return Err("usage: mv SRC DST | mv SRC... DIR".into());
        }
        if srcs.len() > 1 && !Path::new(dst).is_dir() {
            return Err(format!("{dst}: not a directory"));
        }
        let mut status = 0;
        for src in srcs {
            let to = target(src, dst);
            if let Err(e) = move_one(src, &to) {
                eprintln!("mv: {src} -> {to}: {}", coreutils::describe(&e));
                status = 1;
            }
        }
        Ok(status)
    })
}
