//! `ps`: lists processes (pid, parent, state, memory, CPU time, name).
use coreutils::fmt::{cpu_time, kib};
use std::io::Write;

fn main() {
    coreutils::run("ps", |args| {
        if !args.is_empty() {
            return Err("usage: ps".into());
        }
        let procs = hypha_abi::ps().map_err(|e| e.to_string())?;
        let mut s = format!("{:>5} {:>5} {:<8} {:>8} {:>9} NAME\n", "PID", "PPID", "STATE", "MEM(KiB)", "CPU");
        for p in procs {
            let mem = kib(u64::from(p.memory_pages) * 65_536);
            s.push_str(&format!(
                "{:>5} {:>5} {:<8} {:>8} {:>9} {}\n",
                p.pid,
                p.parent,
                p.state.name(),
                mem,
                cpu_time(p.cpu_ns),
                p.name
            ));
        }
        std::io::stdout().lock().write_all(s.as_bytes()).map_err(|e| coreutils::describe(&e))?;
        Ok(0)
    })
}
