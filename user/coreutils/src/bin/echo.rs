//! `echo [-n] [ARG...]`: prints the arguments separated by spaces.
use std::io::Write;

fn main() {
    coreutils::run("echo", |args| {
        let (newline, rest) = match args.first().map(String::as_str) {
            Some("-n") => (false, &args[1..]),
            _ => (true, args),
        };
        let mut s = rest.join(" ");
        if newline {
            s.push('\n');
        }
        let mut out = std::io::stdout().lock();
        out.write_all(s.as_bytes()).and_then(|()| out.flush()).map_err(|e| coreutils::describe(&e))?;
        Ok(0)
    })
}
