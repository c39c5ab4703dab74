//! `head [-n N] [-N] [FILE...]`: prints the first N (default 10) lines.
use std::io::{self, BufRead, BufReader, Write};

fn head(r: impl BufRead, n: usize, out: &mut impl Write) -> io::Result<()> {
    let mut r = r;
    let mut line = Vec::new();
    for _ in 0..n {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        out.write_all(&line)?;
    }
    Ok(())
}

fn main() {
    coreutils::run("head", |args| {
        // `-5` is shorthand for `-n 5`.
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('-') {
                Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => format!("-n{d}"),
                _ => a.clone(),
            })
            .collect();
        let p = coreutils::args::parse(&args, "", "n")?;
        let n = match p.value('n') {
            Some(v) => v.parse::<usize>().map_err(|_| format!("invalid number of lines: {v}"))?,
            None => 10,
        };
        let files = if p.operands.is_empty() { vec!["-".to_owned()] } else { p.operands.clone() };
        let mut out = io::stdout().lock();
        let mut status = 0;
        for (i, f) in files.iter().enumerate() {
            if files.len() > 1 {
                let sep = if i > 0 { "\n" } else { "" };
                writeln!(out, "{sep}==> {f} <==").map_err(|e| coreutils::describe(&e))?;
            }
            let r = if f == "-" {
                head(io::stdin().lock(), n, &mut out)
            } else {
                std::fs::File::open(f).and_then(|file| head(BufReader::new(file), n, &mut out))
            };
            if let Err(e) = r {
                eprintln!("head: {f}: {}", coreutils::describe(&e));
                status = 1;
            }
        }
        Ok(status)
    })
}
