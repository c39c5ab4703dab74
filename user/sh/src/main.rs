//! `sh`: Hypha's shell and init process.
//!
//! What it is: an interactive shell for the console (line editing and
//! history from `shell-core`'s editor) that runs commands as Hypha
//! processes through the `hypha` ABI: pipelines over kernel pipes, file
//! redirections, `&&`/`||`/`;`, variables and a handful of builtins. It is
//! also the first process the kernel starts.
//!
//! What it is not: a POSIX shell. No job control, globbing, functions,
//! control flow or command substitution. Usage:
//!
//! ```text
//! sh              interactive when stdin is the console, else reads lines from stdin
//! sh -c 'CMDS'    runs CMDS and exits with their status
//! sh FILE         runs each line of FILE
//! ```

mod exec;

use std::io::{self, BufRead, IsTerminal, Read, Write};

use exec::{Flow, Shell};
use shell_core::editor::{Event, LineEditor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut shell = Shell::new();
    let code = match args.get(1).map(String::as_str) {
        Some("-c") => match args.get(2) {
            Some(cmds) => match shell.run_line(cmds) {
                Flow::Exit(c) => c,
                Flow::Continue => shell.last_status(),
            },
            None => {
                eprintln!("sh: -c: option requires an argument");
                2
            }
        },
        Some(file) => match std::fs::File::open(file) {
            Ok(f) => run_lines(&mut shell, io::BufReader::new(f)),
            Err(e) => {
                eprintln!("sh: {file}: {e}");
                127
            }
        },
        None if io::stdin().is_terminal() => interactive(&mut shell),
        None => run_lines(&mut shell, io::stdin().lock()),
    };
    std::process::exit(i32::try_from(code & 0xff).unwrap_or(1));
}

/// Runs lines from a non-interactive source until EOF or `exit`.
fn run_lines(shell: &mut Shell, input: impl BufRead) -> u32 {
    for line in input.lines() {
        match line {
            Ok(line) => {
                if let Flow::Exit(c) = shell.run_line(&line) {
                    return c;
                }
            }
            Err(e) => {
                eprintln!("sh: read error: {e}");
                return 1;
            }
        }
    }
    shell.last_status()
}

/// The console loop: prompt, edit, run.
fn interactive(shell: &mut Shell) -> u32 {
    let mut editor = LineEditor::new(200);
    let mut stdin = io::stdin().lock();
    let mut out = Vec::new();
    println!("Hypha shell — type `help` for builtins.");
    editor.start(&shell.prompt(), &mut out);
    flush(&mut out);
    let mut buf = [0u8; 64];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return shell.last_status(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("sh: console read error: {e}");
                return 1;
            }
        };
        for &b in &buf[..n] {
            let Some(event) = editor.feed(b, &mut out) else { continue };
            flush(&mut out);
            match event {
                Event::Line(line) => {
                    if line.trim() == "history" {
                        for (i, l) in editor.history().iter().enumerate() {
                            println!("{:>4}  {l}", i + 1);
                        }
                    } else if let Flow::Exit(c) = shell.run_line(&line) {
                        return c;
                    }
                }
                Event::Interrupt => shell.set_status(130),
                Event::Eof => return shell.last_status(),
            }
            editor.start(&shell.prompt(), &mut out);
        }
        flush(&mut out);
    }
}

/// Writes pending editor output to the console.
fn flush(out: &mut Vec<u8>) {
    if out.is_empty() {
        return;
    }
    let mut stdout = io::stdout().lock();
    // A console write error leaves nothing better to do than go on reading.
    let _ = stdout.write_all(out).and_then(|()| stdout.flush());
    out.clear();
}
