//! `rm [-r] [-f] PATH...`: removes files (`-r`: directories and their contents; `-f`: ignore missing).
use std::fs;

fn main() {
    coreutils::run("rm", |args| {
        let p = coreutils::args::parse(args, "rf", "")?;
        if p.operands.is_empty() {
            return Err("usage: rm [-r] [-f] PATH...".into());
        }
        let mut status = 0;
        for path in &p.operands {
            let r = match fs::symlink_metadata(path) {
                Ok(md) if md.is_dir() => {
                    if p.has('r') {
                        fs::remove_dir_all(path)
                    } else {
                        eprintln!("rm: {path}: is a directory (use -r)");
                        status = 1;
                        continue;
                    }
                }
                Ok(_) => fs::remove_file(path),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {}
                Err(e) if p.has('f') && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    eprintln!("rm: {path}: {}", coreutils::describe(&e));
                    status = 1;
                }
            }
        }
        Ok(status)
    })
}
