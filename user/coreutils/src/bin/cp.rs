//! `cp SRC DST` or `cp SRC... DIR`: copies files.
use std::path::Path;

/// The destination for `src`: inside `dst` if it is a directory.
fn target(src: &str, dst: &str) -> String {
    if Path::new(dst).is_dir() {
        let base = src.trim_end_matches('/').rsplit('/').next().unwrap_or(src);
        format!("{}/{base}", dst.trim_end_matches('/'))
    } else {
        dst.to_owned()
    }
}

fn main() {
    coreutils::run("cp", |args| {
        let p = coreutils::args::parse(args, "", "")?;
        let [srcs @ .., dst] = p.operands.as_slice() else {
            return Err("usage: cp SRC DST | cp SRC... DIR".into());
        };
        if srcs.is_empty() {
            return Err("usage: cp SRC DST | cp SRC... DIR".into());
        }
        if srcs.len() > 1 && !Path::new(dst).is_dir() {
            return Err(format!("{dst}: not a directory"));
        }
        let mut status = 0;
        for src in srcs {
            if Path::new(src).is_dir() {
                eprintln!("cp: {src}: is a directory (not copied)");
                status = 1;
                continue;
            }
            let to = target(src, dst);
            if let Err(e) = std::fs::copy(src, &to) {
                eprintln!("cp: {src} -> {to}: {}", coreutils::describe(&e));
                status = 1;
            }
        }
        Ok(status)
    })
}
