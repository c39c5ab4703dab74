//! `forkbomb [MAX]`: spawns copies of itself until the kernel refuses (or MAX,
//! default 100000, is reached), reports how many it started and why it
//! stopped, then kills and reaps them all. Copies run as `forkbomb --child`:
//! they sleep (up to 30 s) until killed.
use hypha_abi::{Errno, Spawn, Stdio};
use std::time::Duration;

fn child() -> i32 {
    for _ in 0..30 {
        if hypha_abi::sleep(Duration::from_secs(1)).is_err() {
            return 1;
        }
    }
    0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        std::process::exit(child());
    }
    let max: usize = match args.get(1).map(|s| s.parse()) {
        None => 100_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: forkbomb [MAX]");
            std::process::exit(2);
        }
    };
    // Our own module: argv[0] if it is a path, else the usual place.
    let me = args.first().filter(|a| a.starts_with('/')).cloned().unwrap_or_else(|| "/bin/forkbomb".into());
    let mut pids = Vec::new();
    let mut refusal: Option<Errno> = None;
    while pids.len() < max {
        match Spawn::new(me.clone()).arg0("forkbomb").arg("--child").stdout(Stdio::Null).spawn() {
            Ok(pid) => pids.push(pid),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    match refusal {
        Some(e) => println!("forkbomb: spawned {} processes before the kernel refused: {e}", pids.len()),
        None => println!("forkbomb: spawned {} processes (limit reached, never refused)", pids.len()),
    }
    let mut reaped = 0usize;
    for &pid in &pids {
        // A child may have ended on its own already; wait reaps it either way.
        let _ = hypha_abi::kill(pid);
        if hypha_abi::wait(pid).is_ok() {
            reaped += 1;
        }
    }
    println!("forkbomb: killed and reaped {reaped}");
    // Refused with a quota/memory error is the expected outcome.
    let ok = matches!(refusal, Some(Errno::AGAIN | Errno::NOMEM)) && reaped == pids.len();
    std::process::exit(if ok { 0 } else { 1 });
}
