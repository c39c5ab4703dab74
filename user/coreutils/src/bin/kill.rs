//! `kill PID...`: ends processes.
fn main() {
    coreutils::run("kill", |args| {
        if args.is_empty() {
            return Err("usage: kill PID...".into());
        }
        let mut status = 0;
        for a in args {
            let r = a.parse::<u32>().map_err(|_| "not a process id".to_owned()).and_then(|pid| {
                hypha_abi::kill(pid).map_err(|e| e.to_string())
            });
            if let Err(msg) = r {
                eprintln!("kill: {a}: {msg}");
                status = 1;
            }
        }
        Ok(status)
    })
}
