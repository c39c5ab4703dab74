//! `grep [-i] [-v] [-n] [-c] PATTERN [FILE...]`: prints lines containing PATTERN
//! (a plain string). Exit status 0 if a line was selected, 1 if none, 2 on error.
use coreutils::grep::{Matcher, Output, grep_text};
use std::io::{self, Read, Write};

fn main() {
    coreutils::run("grep", |args| {
        let usage = "usage: grep [-i] [-v] [-n] [-c] PATTERN [FILE...]";
        let p = coreutils::args::parse(args, "ivnc", "").map_err(|e| format!("{e}\n{usage}"))?;
        let Some((pattern, files)) = p.operands.split_first() else {
            return Err(usage.into());
        };
        let m = Matcher::new(pattern, p.has('i'), p.has('v'));
        let files: Vec<String> = if files.is_empty() { vec!["-".into()] } else { files.to_vec() };
        let out = Output { line_numbers: p.has('n'), count: p.has('c'), with_name: files.len() > 1 };
        let mut stdout = io::stdout().lock();
        let (mut selected, mut error) = (0, false);
        for f in &files {
            let mut bytes = Vec::new();
            let r = if f == "-" {
                io::stdin().lock().read_to_end(&mut bytes)
            } else {
                std::fs::File::open(f).and_then(|mut file| file.read_to_end(&mut bytes))
            };
            if let Err(e) = r {
                eprintln!("grep: {f}: {}", coreutils::describe(&e));
                error = true;
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            let name = if f == "-" { "(standard input)" } else { f };
            let (s, n) = grep_text(&m, &text, name, out);
            selected += n;
            stdout.write_all(s.as_bytes()).map_err(|e| coreutils::describe(&e))?;
        }
        Ok(if error { 2 } else if selected > 0 { 0 } else { 1 })
    })
}
