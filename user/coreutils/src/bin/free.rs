//! `free`: shows memory use in KiB.
use coreutils::fmt::kib;

fn main() {
    coreutils::run("free", |args| {
        if !args.is_empty() {
            return Err("usage: free".into());
        }
        let m = hypha_abi::meminfo().map_err(|e| e.to_string())?;
        let used = m.total.saturating_sub(m.free);
        println!("{:>8} {:>10} {:>10} {:>10} {:>10} {:>10}", "", "total", "used", "free", "kernel", "processes");
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "KiB:",
            kib(m.total),
            kib(used),
            kib(m.free),
            kib(m.kernel),
            kib(m.processes)
        );
        Ok(0)
    })
}
