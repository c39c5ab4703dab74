//! `cargo xtask bench kernel`: the kernel's own figures, measured inside
//! QEMU by the release test kernel booted with `bench=…`
//! (`kernel/src/bench/`), paired with their peers and targets, printed as
//! a table and written to `target/bench/kernel.json`.
//!
//! Two kinds of boot:
//!
//! - `bench=cycles` on one hart under `-icount shift=0,sleep=off`: QEMU
//!   then counts guest instructions, and both `cycle` and `time` follow
//!   that count (1 instruction = 1 cycle = 1 ns of guest time), so the
//!   figures are deterministic instruction counts, not host-speed noise.
//!   Host call, spawn, process switch, preemption latency.
//! - `bench=compile` with 1, 2 and 4 harts under normal multi-threaded TCG
//!   (icount would serialise the harts): compile time of `/bin/sh` in guest
//!   `time`, which tracks host wall time there. Harts beyond the host's
//!   cores cannot speed anything up (this is stated next to the figure).
//!
//! Usage: `cargo xtask bench kernel [cycles|compile]` (default: both).

use super::{boot, image};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Longest one bench boot may take.
const BOOT_TIMEOUT: Duration = Duration::from_secs(900);
/// Guest memory for bench boots.
const MEMORY: &str = "512M";
/// Hart counts the compile boots use (the first is the peer of the rest).
const COMPILE_HARTS: [u32; 3] = [1, 2, 4];

/// One row of the table and of `kernel.json`.
struct Row {
    name: String,
    unit: &'static str,
    value: f64,
    peer: String,
    peer_value: f64,
}

/// The figures one boot printed (`kbench NAME VALUE UNIT`).
type Figures = BTreeMap<String, f64>;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let which = match args.first().map(String::as_str) {
        None => "all",
        Some(which @ ("cycles" | "compile")) => which,
        Some(other) => bail!("usage: cargo xtask bench kernel [cycles|compile] (got `{other}`)"),
    };
    let qemu = crate::qemu::ensure()?;
    let mut image = image::build(true, true)?;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if which != "compile" {
        println!("--- kernel bench: bench=cycles, 1 hart, -icount shift=0 (1 cycle = 1 instruction = 1 ns) ---");
        let mut command = boot::qemu_command(&qemu, &image, 1, MEMORY, "bench=cycles");
        command.args(["-icount", "shift=0,sleep=off"]);
        let figures = boot_figures(command)?;
        let get = |name: &str| figures.get(name).copied().with_context(|| format!("the kernel did not report `{name}`"));
        let (getpid, indirect, overhead) = (get("hostcall.getpid")?, get("hostcall.call_indirect")?, get("hostcall.overhead")?);
        rows.push(Row {
            name: "host call hypha.getpid".into(),
            unit: "cycles/call",
            value: getpid,
            peer: "call_indirect, same loop".into(),
            peer_value: indirect,
        });
        rows.push(Row {
            name: "host call overhead (getpid - call_indirect)".into(),
            unit: "cycles/call",
            value: overhead,
            peer: "target 20 cycles".into(),
            peer_value: 20.0,
        });
        rows.push(Row {
            name: "spawn (cached) to first instruction".into(),
            unit: "us",
            value: get("spawn.first_instruction")?,
            peer: "target 20 us".into(),
            peer_value: 20.0,
        });
        rows.push(Row {
            name: "process switch on hypha.yield".into(),
            unit: "cycles/switch",
            value: get("switch.process_yield")?,
            peer: "executor task yield_now".into(),
            peer_value: get("switch.task_yield")?,
        });
        rows.push(Row {
            name: "preemption latency (tick to other process)".into(),
            unit: "us",
            value: get("preempt.latency")?,
            peer: "timer tick period".into(),
            peer_value: get("preempt.tick_period")?,
        });
        notes.push(format!(
            "cycles boot: bare loop {:.2} cycles/iteration; spawn() returns after {:.2} us; worst preemption latency {:.2} us",
            get("hostcall.loop")?,
            get("spawn.call")?,
            get("preempt.latency_max")?
        ));
    }
    if which != "cycles" {
        image.initrd = Some(crate::initrd::build("initrd-test", &[])?);
        let mut times = Vec::new();
        let mut split = None;
        for harts in COMPILE_HARTS {
            println!("--- kernel bench: bench=compile, {harts} harts, multi-threaded TCG ---");
            let command = boot::qemu_command(&qemu, &image, harts, MEMORY, "bench=compile");
            let figures = boot_figures(command)?;
            let name = format!("compile.sh.harts{harts}");
            let ms = figures.get(&name).copied().with_context(|| format!("the kernel did not report `{name}`"))?;
            times.push((harts, ms));
            if harts == 1 {
                split = figures.get("compile.sh.harts1.parallel").copied().map(|parallel| (ms, parallel));
            }
        }
        let (one, one_ms) = times[0];
        for &(harts, ms) in &times[1..] {
            rows.push(Row {
                name: format!("compile /bin/sh on {harts} harts"),
                unit: "ms",
                value: ms,
                peer: format!("{one} hart"),
                peer_value: one_ms,
            });
        }
        if let Some((total, parallel)) = split {
            // Amdahl: the part outside the compile executor stays serial.
            let serial = total - parallel;
            notes.push(format!(
                "compile on 1 hart: {parallel:.0} of {total:.0} ms in the parallel part (function bodies), {serial:.0} ms serial (validation, trampolines, linking): at best {:.2}x on 4 harts with 4 free host cores",
                total / (serial + parallel / 4.0)
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        notes.push(format!(
            "compile boots: guest time under multi-threaded TCG on a host with {cores} cores (one QEMU thread per hart); target: 4 harts >= 3x one hart (ratio <= 0.333)"
        ));
    }
    print_table(&rows);
    for note in &notes {
        println!("note: {note}");
    }
    let root = crate::workspace_root();
    let directory = root.join("target/bench");
    std::fs::create_dir_all(&directory).context("creating target/bench")?;
    let path = directory.join("kernel.json");
    std::fs::write(&path, to_json(&rows)).with_context(|| format!("writing {}", path.display()))?;
    println!("results: {}", path.display());
    Ok(())
}

/// Boots, echoes the kernel's `kbench` lines and returns its figures;
/// fails unless the kernel exits with status 0.
fn boot_figures(command: std::process::Command) -> Result<Figures> {
    let mut figures = Figures::new();
    let mut errors = Vec::new();
    let started = std::time::Instant::now();
    let ending = boot::boot_and_watch(command, None, BOOT_TIMEOUT, |line| {
        if line.starts_with("kbench") || line.contains("panicked") {
            println!("{line}");
        }
        if let Some(error) = line.strip_prefix("kbench: error: ") {
            errors.push(error.to_owned());
        }
        if let Some((name, value)) = parse(line) {
            figures.insert(name, value);
        }
    })?;
    println!("(boot took {:.1} s of host time)", started.elapsed().as_secs_f64());
    if !errors.is_empty() {
        bail!("the kernel benchmarks failed: {}", errors.join("; "));
    }
    if ending != boot::Ending::Exited(0) {
        bail!("the bench boot ended {ending:?}");
    }
    Ok(figures)
}

/// `kbench NAME VALUE UNIT` -> (NAME, VALUE).
fn parse(line: &str) -> Option<(String, f64)> {
    let mut words = line.strip_prefix("kbench ")?.split_whitespace();
    let name = words.next()?;
    let value = words.next()?.parse().ok()?;
    words.next()?;
    Some((name.to_owned(), value))
}

fn print_table(rows: &[Row]) {
    println!("{:<46} {:>14} {:<14} {:>12}  {:<26} {:>8}", "benchmark", "hypha", "unit", "peer", "(peer is)", "ratio");
    for row in rows {
        println!(
            "{:<46} {:>14.2} {:<14} {:>12.2}  {:<26} {:>8.4}",
            row.name,
            row.value,
            row.unit,
            row.peer_value,
            row.peer,
            row.value / row.peer_value
        );
    }
}

fn to_json(rows: &[Row]) -> String {
    let mut json = String::from("[\n");
    for (index, row) in rows.iter().enumerate() {
        let separator = if index + 1 == rows.len() { "" } else { "," };
        let _ = writeln!(
            json,
            "  {{\"name\": \"{}\", \"unit\": \"{}\", \"value\": {:.3}, \"peer\": \"{}\", \"peer_value\": {:.3}, \"ratio\": {:.4}}}{separator}",
            row.name,
            row.unit,
            row.value,
            row.peer,
            row.peer_value,
            row.value / row.peer_value
        );
    }
    json.push_str("]\n");
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_lines_parse_and_others_do_not() {
        assert_eq!(parse("kbench hostcall.getpid 41.25 cycles/call"), Some(("hostcall.getpid".to_owned(), 41.25)));
        assert_eq!(parse("kbench: error: spawn: no mark"), None);
        assert_eq!(parse("kbench spawn.call 3.10"), None, "a figure without a unit is malformed");
        assert_eq!(parse("kbench x notanumber us"), None);
    }

    #[test]
    fn json_has_every_field_and_the_ratio() {
        let rows = [Row { name: "a".into(), unit: "us", value: 5.0, peer: "b".into(), peer_value: 20.0 }];
        let json = to_json(&rows);
        assert!(json.contains("\"name\": \"a\", \"unit\": \"us\", \"value\": 5.000, \"peer\": \"b\", \"peer_value\": 20.000, \"ratio\": 0.2500"), "{json}");
    }
}
