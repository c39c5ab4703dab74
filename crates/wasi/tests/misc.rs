//! args, environ, clocks, random, poll_oneoff, proc_exit, bad pointers and
//! the dispatch table.

mod common;

use std::time::{Duration, Instant};

use common::{Guest, MEM_SIZE, ROOT};
use hypha_wasi::types::{ClockId, Errno, Eventtype, oflags, rights, subclockflags};
use hypha_wasi::{CallError, IMPORTS, ValType};

#[test]
fn args_and_environ() {
    let mut g = Guest::new("args");
    g.ctx.set_args(["prog.wasm", "one", "two words"]);
    g.ctx.push_env("A", "1");
    g.ctx.push_env("EMPTY", "");
    let (c, s) = (g.alloc(4), g.alloc(4));
    g.call("args_sizes_get", &[c.into(), s.into()]).unwrap();
    assert_eq!((g.u32_at(c), g.u32_at(s)), (3, 10 + 4 + 10));
    let (argv, buf) = (g.alloc(12), g.alloc(64));
    g.call("args_get", &[argv.into(), buf.into()]).unwrap();
    let p1 = g.u32_at(argv + 4);
    assert_eq!(g.bytes(p1, 4), b"one\0");
    assert_eq!(g.bytes(buf, 24), b"prog.wasm\0one\0two words\0");
    g.call("environ_sizes_get", &[c.into(), s.into()]).unwrap();
    assert_eq!((g.u32_at(c), g.u32_at(s)), (2, 4 + 7));
    g.call("environ_get", &[argv.into(), buf.into()]).unwrap();
    assert_eq!(g.bytes(buf, 11), b"A=1\0EMPTY=\0");
}

#[test]
fn clocks() {
    let mut g = Guest::new("clock");
    let out = g.alloc(8);
    g.call(
        "clock_time_get",
        &[ClockId::Monotonic.raw().into(), 0, out.into()],
    )
    .unwrap();
    let t1 = g.u64_at(out);
    std::thread::sleep(Duration::from_millis(2));
    g.call(
        "clock_time_get",
        &[ClockId::Monotonic.raw().into(), 0, out.into()],
    )
    .unwrap();
    assert!(g.u64_at(out) >= t1 + 2_000_000);
    g.call(
        "clock_time_get",
        &[ClockId::Realtime.raw().into(), 0, out.into()],
    )
    .unwrap();
    assert!(g.u64_at(out) > 1_600_000_000_000_000_000);
    g.call(
        "clock_res_get",
        &[ClockId::Realtime.raw().into(), out.into()],
    )
    .unwrap();
    assert!(g.u64_at(out) > 0);
    assert_eq!(
        g.call("clock_time_get", &[9, 0, out.into()]),
        Err(Errno::Inval)
    );
    assert_eq!(g.call("clock_res_get", &[9, out.into()]), Err(Errno::Inval));
}

#[test]
fn random_fills() {
    let mut g = Guest::new("random");
    let buf = g.alloc(256);
    g.call("random_get", &[buf.into(), 256]).unwrap();
    let a = g.bytes(buf, 256);
    g.call("random_get", &[buf.into(), 256]).unwrap();
    assert_ne!(a, g.bytes(buf, 256));
    assert!(a.iter().any(|&b| b != 0));
    assert_eq!(
        g.call("random_get", &[(MEM_SIZE as u64) - 8, 16]),
        Err(Errno::Fault)
    );
}

#[test]
fn bad_pointers_fault() {
    let mut g = Guest::new("fault");
    let end = MEM_SIZE as u64;
    // Output pointer past the end, or straddling it.
    assert_eq!(g.call("fd_fdstat_get", &[1, end]), Err(Errno::Fault));
    assert_eq!(g.call("fd_fdstat_get", &[1, end - 4]), Err(Errno::Fault));
    assert_eq!(
        g.call("fd_filestat_get", &[ROOT.into(), u64::from(u32::MAX)]),
        Err(Errno::Fault)
    );
    // Path pointer/length out of range, including u32 wrap-around.
    assert_eq!(
        g.call("path_create_directory", &[ROOT.into(), end, 1]),
        Err(Errno::Fault)
    );
    assert_eq!(
        g.call("path_create_directory", &[ROOT.into(), 0xFFFF_FFF0, 0x20]),
        Err(Errno::Fault)
    );
    // iovec array out of range, and an iovec whose buffer is out of range.
    let out = g.alloc(4);
    assert_eq!(
        g.call("fd_write", &[1, end - 4, 1, out.into()]),
        Err(Errno::Fault)
    );
    assert_eq!(
        g.call("fd_write", &[1, 0, 0x2000_0001, out.into()]),
        Err(Errno::Fault)
    );
    let iov = g.alloc(8);
    g.mem[iov as usize..iov as usize + 4].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
    g.mem[iov as usize + 4..iov as usize + 8].copy_from_slice(&0x10u32.to_le_bytes());
    assert_eq!(
        g.call("fd_write", &[1, iov.into(), 1, out.into()]),
        Err(Errno::Fault)
    );
    assert_eq!(g.stdout.contents(), b"", "nothing written on fault");
    // nwritten pointer out of range: nothing is written either.
    let (p, l) = g.put(b"abc");
    g.mem[iov as usize..iov as usize + 4].copy_from_slice(&u32::try_from(p).unwrap().to_le_bytes());
    g.mem[iov as usize + 4..iov as usize + 8]
        .copy_from_slice(&u32::try_from(l).unwrap().to_le_bytes());
    assert_eq!(
        g.call("fd_write", &[1, iov.into(), 1, end]),
        Err(Errno::Fault)
    );
    assert_eq!(g.stdout.contents(), b"");
    // path_open with the fd out pointer out of range creates nothing.
    let (pp, pl) = g.put(b"newfile");
    assert_eq!(
        g.call(
            "path_open",
            &[ROOT.into(), 0, pp, pl, oflags::CREAT.into(), 0, 0, 0, end]
        ),
        Err(Errno::Fault)
    );
    assert!(!g.dir.join("newfile").exists());
    // Sizes/strings.
    assert_eq!(g.call("args_sizes_get", &[end, 0]), Err(Errno::Fault));
    assert_eq!(
        g.call("poll_oneoff", &[end - 8, 0, 1, 0]),
        Err(Errno::Fault)
    );
    // Invalid UTF-8 paths.
    let (bad, bl) = g.put(&[0xFF, 0xFE]);
    assert_eq!(
        g.call("path_create_directory", &[ROOT.into(), bad, bl]),
        Err(Errno::Ilseq)
    );
}

fn clock_sub(g: &mut Guest, at: u32, userdata: u64, id: ClockId, timeout: u64, flags: u16) {
    let b = at as usize;
    g.mem[b..b + 48].fill(0);
    g.mem[b..b + 8].copy_from_slice(&userdata.to_le_bytes());
    g.mem[b + 8] = Eventtype::Clock.raw();
    g.mem[b + 16..b + 20].copy_from_slice(&id.raw().to_le_bytes());
    g.mem[b + 24..b + 32].copy_from_slice(&timeout.to_le_bytes());
    g.mem[b + 40..b + 42].copy_from_slice(&flags.to_le_bytes());
}

fn fd_sub(g: &mut Guest, at: u32, userdata: u64, kind: Eventtype, fd: u32) {
    let b = at as usize;
    g.mem[b..b + 48].fill(0);
    g.mem[b..b + 8].copy_from_slice(&userdata.to_le_bytes());
    g.mem[b + 8] = kind.raw();
    g.mem[b + 16..b + 20].copy_from_slice(&fd.to_le_bytes());
}

/// (userdata, errno, type, nbytes, flags) of event `i`.
fn event(g: &Guest, evs: u32, i: u32) -> (u64, u16, u8, u64, u16) {
    let b = evs + i * 32;
    let m = &g.mem;
    (
        g.u64_at(b),
        u16::from_le_bytes([m[b as usize + 8], m[b as usize + 9]]),
        m[b as usize + 10],
        g.u64_at(b + 16),
        u16::from_le_bytes([m[b as usize + 24], m[b as usize + 25]]),
    )
}

#[test]
fn poll_oneoff_relative_clock_sleeps() {
    let mut g = Guest::new("pollrel");
    let (subs, evs, n) = (g.alloc(48), g.alloc(32), g.alloc(4));
    clock_sub(&mut g, subs, 0xC10C, ClockId::Monotonic, 30_000_000, 0);
    let start = Instant::now();
    g.call("poll_oneoff", &[subs.into(), evs.into(), 1, n.into()])
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(g.u32_at(n), 1);
    assert_eq!(event(&g, evs, 0), (0xC10C, 0, Eventtype::Clock.raw(), 0, 0));
}

#[test]
fn poll_oneoff_absolute_clocks() {
    let mut g = Guest::new("pollabs");
    let (subs, evs, n) = (g.alloc(96), g.alloc(64), g.alloc(4));
    // Absolute monotonic time in the past fires at once.
    clock_sub(
        &mut g,
        subs,
        1,
        ClockId::Monotonic,
        1,
        subclockflags::ABSTIME,
    );
    let start = Instant::now();
    g.call("poll_oneoff", &[subs.into(), evs.into(), 1, n.into()])
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(event(&g, evs, 0).0, 1);
    // Absolute realtime 20 ms from now.
    let out = g.alloc(8);
    g.call(
        "clock_time_get",
        &[ClockId::Realtime.raw().into(), 0, out.into()],
    )
    .unwrap();
    let now = g.u64_at(out);
    clock_sub(
        &mut g,
        subs,
        2,
        ClockId::Realtime,
        now + 20_000_000,
        subclockflags::ABSTIME,
    );
    clock_sub(&mut g, subs + 48, 3, ClockId::Monotonic, 5_000_000_000, 0);
    let start = Instant::now();
    g.call("poll_oneoff", &[subs.into(), evs.into(), 2, n.into()])
        .unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(15) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(g.u32_at(n), 1, "only the earlier clock fired");
    assert_eq!(event(&g, evs, 0).0, 2);
}

#[test]
fn poll_oneoff_fds() {
    let mut g = Guest::with_stdin("pollfd", b"xyz");
    let fd = g
        .open_file(
            "f",
            oflags::CREAT,
            rights::FD_READ | rights::FD_WRITE | rights::POLL_FD_READWRITE,
        )
        .unwrap();
    g.write(fd, b"0123456789").unwrap();
    let (subs, evs, n) = (g.alloc(48 * 5), g.alloc(32 * 5), g.alloc(4));
    clock_sub(&mut g, subs, 100, ClockId::Monotonic, 10_000_000_000, 0);
    fd_sub(&mut g, subs + 48, 101, Eventtype::FdRead, 0);
    fd_sub(&mut g, subs + 96, 102, Eventtype::FdWrite, 1);
    fd_sub(&mut g, subs + 144, 103, Eventtype::FdWrite, fd);
    fd_sub(&mut g, subs + 192, 104, Eventtype::FdRead, 55);
    let start = Instant::now();
    g.call("poll_oneoff", &[subs.into(), evs.into(), 5, n.into()])
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(g.u32_at(n), 4);
    assert_eq!(event(&g, evs, 0), (101, 0, Eventtype::FdRead.raw(), 3, 0));
    assert_eq!(event(&g, evs, 1).0, 102);
    assert_eq!(event(&g, evs, 2).0, 103);
    assert_eq!(
        event(&g, evs, 3),
        (104, Errno::Badf.raw(), Eventtype::FdRead.raw(), 0, 0)
    );
    // Drained stdin reports hangup.
    g.read(0, 10).unwrap();
    fd_sub(&mut g, subs, 7, Eventtype::FdRead, 0);
    g.call("poll_oneoff", &[subs.into(), evs.into(), 1, n.into()])
        .unwrap();
    assert_eq!(
        event(&g, evs, 0).4,
        hypha_wasi::types::eventrwflags::FD_READWRITE_HANGUP
    );
    assert_eq!(
        g.call("poll_oneoff", &[subs.into(), evs.into(), 0, n.into()]),
        Err(Errno::Inval)
    );
}

#[test]
fn proc_exit_and_unsupported() {
    let mut g = Guest::new("exit");
    assert_eq!(g.raw("proc_exit", &[7]), Err(CallError::Exit(7)));
    assert_eq!(g.call("proc_raise", &[9]), Err(Errno::Notsup));
    assert_eq!(g.call("sched_yield", &[]), Ok(()));
    assert_eq!(g.call("sock_shutdown", &[1, 0]), Err(Errno::Notsup));
    assert_eq!(g.call("sock_accept", &[99, 0, 0]), Err(Errno::Badf));
    assert_eq!(g.raw("no_such_call", &[]), Err(CallError::UnknownFunction));
    assert_eq!(
        g.raw("fd_close", &[]),
        Err(CallError::ArgCount {
            expected: 1,
            got: 0
        })
    );
}

#[test]
fn every_import_dispatches() {
    let mut g = Guest::new("imports");
    assert_eq!(IMPORTS.len(), 46);
    for sig in IMPORTS {
        if sig.name == "proc_exit" || sig.name == "poll_oneoff" {
            continue;
        }
        // Arguments that are valid-looking but harmless: fd 99 / null ptrs.
        let args: Vec<u64> = sig.params.iter().map(|_| 99).collect();
        let r = g.raw(sig.name, &args);
        assert!(r.is_ok(), "{} did not dispatch: {r:?}", sig.name);
        assert!(sig.results == [ValType::I32], "{}", sig.name);
    }
    assert_eq!(
        hypha_wasi::dispatch::signature("proc_exit")
            .unwrap()
            .results,
        &[]
    );
}

#[test]
fn errno_table() {
    assert_eq!(Errno::ALL.len(), 77);
    for (i, e) in Errno::ALL.iter().enumerate() {
        assert_eq!(usize::from(e.raw()), i);
        assert_eq!(Errno::from_raw(e.raw()), Some(*e));
        assert!(!e.message().is_empty());
    }
    assert_eq!(Errno::Notcapable.raw(), 76);
    assert_eq!(Errno::TooBig.name(), "2big");
    assert_eq!(Errno::Noent.name(), "noent");
    assert_eq!(Errno::from_raw(77), None);
    let names: std::collections::BTreeSet<_> = Errno::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(names.len(), 77);
}

#[test]
fn poll_oneoff_step_waits_without_blocking() {
    use hypha_wasi::PollStep;
    use hypha_wasi::mem::GuestMem;
    let mut g = Guest::new("pollstep");
    let (subs, evs, n, t) = (g.alloc(48), g.alloc(32), g.alloc(4), g.alloc(8));
    clock_sub(&mut g, subs, 5, ClockId::Monotonic, 40_000_000, 0);
    g.call(
        "clock_time_get",
        &[ClockId::Monotonic.raw().into(), 0, t.into()],
    )
    .unwrap();
    let start = g.u64_at(t);
    g.mem[n as usize..n as usize + 4].copy_from_slice(&[0xEE; 4]);
    let step = g
        .ctx
        .poll_oneoff_step(&mut GuestMem::new(&mut g.mem), subs, evs, 1, n, start)
        .unwrap();
    let PollStep::Wait(ns) = step else {
        panic!("fired early: {step:?}")
    };
    assert!(ns > 0 && ns <= 40_000_000, "{ns}");
    assert_eq!(g.u32_at(n), 0xEEEE_EEEE, "nothing written while waiting");
    std::thread::sleep(Duration::from_nanos(ns));
    let step = g
        .ctx
        .poll_oneoff_step(&mut GuestMem::new(&mut g.mem), subs, evs, 1, n, start)
        .unwrap();
    assert_eq!(step, PollStep::Done);
    assert_eq!(g.u32_at(n), 1);
    assert_eq!(event(&g, evs, 0).0, 5);
}

#[test]
fn contexts_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<hypha_wasi::WasiCtx<hypha_wasi::host::HostFs>>();
    assert_send::<hypha_wasi::WasiCtx<hypha_wasi::memfs::MemFs>>();
}

/// Input that never has data (a console nobody types on).
#[derive(Debug)]
struct Silent;

impl hypha_wasi::InputStream for Silent {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::Io)
    }
    fn readiness(&self) -> hypha_wasi::Readiness {
        hypha_wasi::Readiness::NotReady
    }
}

#[test]
fn not_ready_input_nonblock_and_poll() {
    let mut g = Guest::new("silent");
    g.ctx.set_stdin(Box::new(Silent));
    g.call(
        "fd_fdstat_set_flags",
        &[0, hypha_wasi::types::fdflags::NONBLOCK.into()],
    )
    .unwrap();
    assert_eq!(g.read(0, 4), Err(Errno::Again));
    let (subs, evs, n) = (g.alloc(96), g.alloc(64), g.alloc(4));
    fd_sub(&mut g, subs, 1, Eventtype::FdRead, 0);
    clock_sub(&mut g, subs + 48, 2, ClockId::Monotonic, 15_000_000, 0);
    let start = Instant::now();
    g.call("poll_oneoff", &[subs.into(), evs.into(), 2, n.into()])
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(15));
    assert_eq!(g.u32_at(n), 1);
    assert_eq!(event(&g, evs, 0).0, 2, "only the clock fired");
}
