//! `uptime`: time since boot, processes and CPUs.
fn main() {
    coreutils::run("uptime", |args| {
        if !args.is_empty() {
            return Err("usage: uptime".into());
        }
        let s = hypha_abi::sysinfo().map_err(|e| e.to_string())?;
        println!(
            "up {}, {} processes, {} cpus",
            coreutils::fmt::uptime(s.uptime_ns),
            s.processes,
            s.cpus
        );
        Ok(0)
    })
}
