//! `cat [FILE...]`: copies files (or stdin, or `-`) to stdout.
use std::io::{self, Read, Write};

fn copy(mut r: impl Read, out: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    coreutils::run("cat", |args| {
        let mut out = io::stdout().lock();
        let files: Vec<&str> =
            if args.is_empty() { vec!["-"] } else { args.iter().map(String::as_str).collect() };
        let mut status = 0;
        for f in files {
            let r = if f == "-" {
                copy(io::stdin().lock(), &mut out)
            } else {
                std::fs::File::open(f).and_then(|file| copy(file, &mut out))
            };
            if let Err(e) = r {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return Ok(1);
                }
                eprintln!("cat: {f}: {}", coreutils::describe(&e));
                status = 1;
            }
        }
        out.flush().map_err(|e| coreutils::describe(&e))?;
        Ok(status)
    })
}
