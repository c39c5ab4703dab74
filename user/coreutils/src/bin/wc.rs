//! `wc [-l] [-w] [-c] [FILE...]`: counts lines, words and bytes.
use coreutils::wc::{Columns, Counter, report};
use std::io::{self, Read, Write};

fn count(mut r: impl Read) -> io::Result<coreutils::wc::Counts> {
    let mut c = Counter::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(c.counts()),
            Ok(n) => c.feed(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    coreutils::run("wc", |args| {
        let p = coreutils::args::parse(args, "lwc", "")?;
        let cols = Columns::new(p.has('l'), p.has('w'), p.has('c'));
        let mut rows = Vec::new();
        let mut status = 0;
        if p.operands.is_empty() {
            rows.push((String::new(), count(io::stdin().lock()).map_err(|e| coreutils::describe(&e))?));
        }
        for f in &p.operands {
            let r = if f == "-" { count(io::stdin().lock()) } else { std::fs::File::open(f).and_then(count) };
            match r {
                Ok(c) => rows.push((f.clone(), c)),
                Err(e) => {
                    eprintln!("wc: {f}: {}", coreutils::describe(&e));
                    status = 1;
                }
            }
        }
        io::stdout().lock().write_all(report(&rows, cols).as_bytes()).map_err(|e| coreutils::describe(&e))?;
        Ok(status)
    })
}
