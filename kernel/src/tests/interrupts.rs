//! Timer interrupts and IPIs on every hart; interrupts keep registers.

use crate::ktest;
use core::sync::atomic::Ordering;

fn wait_until(timeout_ms: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(timeout_ms);
    while crate::time::now_ticks() < deadline {
        if condition() {
            return true;
        }
        core::hint::spin_loop();
    }
    condition()
}

ktest! {
    fn timer_interrupts_arrive_on_every_hart() {
        let before: [u64; hypha_boot_info::MAX_HARTS] = core::array::from_fn(|index| {
            crate::percpu::all().nth(index).map_or(0, |per_cpu| per_cpu.timer_ticks.load(Ordering::Relaxed))
        });
        let harts = crate::percpu::online_count();
        assert!(harts >= 1);
        let all_ticked = wait_until(1000, || {
            crate::percpu::all()
                .enumerate()
                .all(|(index, per_cpu)| per_cpu.timer_ticks.load(Ordering::Relaxed) >= before[index] + 3)
        });
        for per_cpu in crate::percpu::all() {
            assert!(all_ticked, "hart {} ticks: {}", per_cpu.hart_id, per_cpu.timer_ticks.load(Ordering::Relaxed));
        }
    }
}

ktest! {
    fn ipis_reach_every_hart() {
        let me = crate::percpu::current().hart_id;
        for per_cpu in crate::percpu::all() {
            let before = per_cpu.ipis.load(Ordering::Acquire);
            crate::ipi::send(per_cpu.hart_id, crate::ipi::Message::Ping).expect("IPI sent");
            let arrived = wait_until(1000, || per_cpu.ipis.load(Ordering::Acquire) > before);
            assert!(arrived, "IPI to hart {} (from hart {me}) never arrived", per_cpu.hart_id);
        }
    }
}

ktest! {
    fn ipi_to_a_missing_hart_is_an_error() {
        assert_eq!(
            crate::ipi::send(4096, crate::ipi::Message::Ping),
            Err(crate::ipi::IpiError::NoSuchHart(4096))
        );
    }
}

ktest! {
    fn interrupts_are_enabled_while_tests_run() {
        assert!(crate::arch::csr::interrupts_enabled());
        let lock = crate::sync::SpinLock::new(5);
        {
            let guard = lock.lock();
            assert!(!crate::arch::csr::interrupts_enabled(), "a held spin lock masks interrupts");
            assert!(lock.try_lock().is_none());
            assert_eq!(*guard, 5);
        }
        assert!(crate::arch::csr::interrupts_enabled());
        assert!(lock.try_lock().is_some());
    }
}

ktest! {
    fn timer_interrupt_preserves_registers() {
        // Fill many registers, spin until a timer interrupt has been taken
        // (the tick counter moves), then check every value survived.
        let ticks = &crate::percpu::current().timer_ticks;
        let start = ticks.load(Ordering::Relaxed);
        let counter = core::ptr::from_ref(ticks).cast::<u64>();
        let mismatches: usize;
        // SAFETY: the asm only reads the tick counter (a live AtomicU64;
        // a plain aligned load of it is atomic on riscv64) and uses the
        // registers it declares as clobbered.
        unsafe {
            core::arch::asm!(
                "li s2, 0x1111", "li s3, 0x2222", "li s4, 0x3333", "li s5, 0x4444",
                "li t3, 0x5555", "li t4, 0x6666", "li a3, 0x7777", "li a4, 0x8888",
                "1:",
                "ld t5, 0({counter})",
                "beq t5, {start}, 1b",
                "li {mismatches}, 0",
                "li t6, 0x1111", "bne s2, t6, 2f",
                "li t6, 0x2222", "bne s3, t6, 2f",
                "li t6, 0x3333", "bne s4, t6, 2f",
                "li t6, 0x4444", "bne s5, t6, 2f",
                "li t6, 0x5555", "bne t3, t6, 2f",
                "li t6, 0x6666", "bne t4, t6, 2f",
                "li t6, 0x7777", "bne a3, t6, 2f",
                "li t6, 0x8888", "bne a4, t6, 2f",
                "j 3f",
                "2: li {mismatches}, 1",
                "3:",
                counter = in(reg) counter,
                start = in(reg) start,
                mismatches = out(reg) mismatches,
                out("s2") _, out("s3") _, out("s4") _, out("s5") _,
                out("t3") _, out("t4") _, out("t5") _, out("t6") _, out("a3") _, out("a4") _,
            );
        }
        assert_eq!(mismatches, 0, "a register changed across the timer interrupt");
        assert!(ticks.load(Ordering::Relaxed) > start);
    }
}

ktest! {
    fn uptime_advances_with_the_time_csr() {
        let first = crate::time::uptime_us();
        crate::time::delay_ms(20);
        let second = crate::time::uptime_us();
        assert!(second >= first + 20_000, "{first} -> {second}");
        assert!(second < first + 2_000_000);
        assert_eq!(crate::time::ticks_to_us(crate::time::ms_to_ticks(1000)), 1_000_000);
    }
}

ktest! {
    fn wait_for_interrupt_returns_on_the_next_tick() {
        let ticks = &crate::percpu::current().timer_ticks;
        let before = ticks.load(Ordering::Relaxed);
        let started = crate::time::now_ticks();
        while ticks.load(Ordering::Relaxed) == before {
            crate::arch::wait_for_interrupt();
        }
        let waited_ms = crate::time::ticks_to_us(crate::time::now_ticks() - started) / 1000;
        assert!(waited_ms <= 5 * crate::timer::TICK_MS, "waited {waited_ms} ms for a tick");
    }
}

ktest! {
    fn functions_run_on_every_hart_through_ipis() {
        use core::sync::atomic::AtomicUsize;
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        fn mark() {
            SEEN.fetch_or(1 << crate::percpu::current().index, Ordering::AcqRel);
        }
        SEEN.store(0, Ordering::Release);
        let mut expected = 0;
        for per_cpu in crate::percpu::all() {
            crate::ipi::run_on(per_cpu.hart_id, mark).expect("IPI sent");
            expected |= 1 << per_cpu.index;
        }
        assert!(wait_until(1000, || SEEN.load(Ordering::Acquire) == expected), "ran on {:#b}, expected {expected:#b}", SEEN.load(Ordering::Acquire));
    }
}

ktest! {
    fn spin_lock_excludes_other_harts() {
        // Every hart does a non-atomic read-modify-write under the lock;
        // a lost update means two harts were inside at once.
        use core::sync::atomic::AtomicUsize;
        const ROUNDS: usize = 2000;
        static COUNTER: crate::sync::SpinLock<usize> = crate::sync::SpinLock::new(0);
        static DONE: AtomicUsize = AtomicUsize::new(0);
        fn hammer() {
            for _ in 0..ROUNDS {
                let mut guard = COUNTER.lock();
                let value = core::hint::black_box(*guard);
                core::hint::spin_loop();
                *guard = value + 1;
            }
            DONE.fetch_add(1, Ordering::AcqRel);
        }
        *COUNTER.lock() = 0;
        DONE.store(0, Ordering::Release);
        let me = crate::percpu::current().hart_id;
        let others: usize = crate::percpu::all().filter(|per_cpu| per_cpu.hart_id != me).map(|per_cpu| {
            crate::ipi::run_on(per_cpu.hart_id, hammer).expect("IPI sent");
            1
        }).sum();
        hammer();
        assert!(wait_until(5000, || DONE.load(Ordering::Acquire) == others + 1));
        assert_eq!(*COUNTER.lock(), (others + 1) * ROUNDS);
    }
}

ktest! {
    fn uart_interrupt_is_routed_to_the_boot_hart() {
        let platform = crate::platform().expect("platform is read");
        let (_, irq) = platform.uart.expect("a UART");
        let context = platform.plic_contexts[crate::percpu::current().hart_id].expect("a PLIC context");
        assert!(crate::interrupts::is_enabled(context, irq), "UART irq {irq} not enabled for context {context}");
        for (hart, other) in platform.plic_contexts.iter().enumerate() {
            if let Some(other) = other && hart != crate::percpu::current().hart_id {
                assert!(!crate::interrupts::is_enabled(*other, irq));
            }
        }
    }
}

ktest! {
    fn interrupt_handlers_run_on_the_trap_stack_and_backtraces_cross_it() {
        // Run a function in another hart's IPI handler: it must be on that
        // hart's trap stack, and a backtrace from it must continue through
        // the trap frame record into the interrupted code on the kernel stack.
        use core::sync::atomic::AtomicUsize;
        static RESULT: AtomicUsize = AtomicUsize::new(0);
        fn probe() {
            let per_cpu = crate::percpu::current();
            let sp = crate::arch::stack_pointer();
            let on_trap_stack = sp > per_cpu.trap_stack.0 && sp <= per_cpu.trap_stack.1;
            let mut crossed = false;
            crate::backtrace::walk(crate::arch::frame_pointer(), |_, fp| {
                crossed |= fp > per_cpu.stack.0 && fp <= per_cpu.stack.1;
            });
            RESULT.store(1 | usize::from(on_trap_stack) << 1 | usize::from(crossed) << 2, Ordering::Release);
        }
        let me = crate::percpu::current().hart_id;
        let target = crate::percpu::all().find(|per_cpu| per_cpu.hart_id != me).unwrap_or(crate::percpu::current());
        RESULT.store(0, Ordering::Release);
        crate::ipi::run_on(target.hart_id, probe).expect("IPI sent");
        assert!(wait_until(1000, || RESULT.load(Ordering::Acquire) != 0), "probe never ran");
        let result = RESULT.load(Ordering::Acquire);
        assert!(result & 2 != 0, "handler was not on hart {}'s trap stack", target.hart_id);
        assert!(result & 4 != 0, "backtrace did not cross into the interrupted kernel stack");
    }
}

ktest! {
    fn console_output_drains_through_the_transmit_interrupt() {
        let per_cpu = crate::percpu::current();
        let before = per_cpu.external_interrupts.load(Ordering::Acquire);
        crate::console::queue_for_interrupt("console: sent by the UART transmit-empty interrupt\r\n");
        assert!(wait_until(1000, || crate::console::pending_output() == 0), "{} bytes never left", crate::console::pending_output());
        assert!(per_cpu.external_interrupts.load(Ordering::Acquire) > before, "no UART interrupt was taken");
    }
}

ktest! {
    fn interrupted_floating_point_state_survives_a_handler_that_uses_it() {
        // Load caller-saved FP registers, take a self-IPI whose handler
        // overwrites them, and check the values are back afterwards.
        fn clobber() {
            // SAFETY: writes only the FP registers it declares as clobbered.
            unsafe {
                core::arch::asm!(
                    "fmv.d.x fa0, zero", "fmv.d.x fa1, zero", "fmv.d.x ft0, zero", "fmv.d.x ft1, zero",
                    out("fa0") _, out("fa1") _, out("ft0") _, out("ft1") _,
                );
            }
        }
        let per_cpu = crate::percpu::current();
        let counter = core::ptr::from_ref(&per_cpu.ipis).cast::<u64>();
        let start = per_cpu.ipis.load(Ordering::Acquire);
        let were_enabled = crate::arch::csr::disable_interrupts();
        crate::ipi::run_on(per_cpu.hart_id, clobber).expect("self-IPI sent");
        let mismatches: usize;
        // SAFETY: the asm enables interrupts only to take the pending IPI
        // (handlers save and restore all state), reads the IPI counter (a
        // live AtomicU64; an aligned load is atomic) and uses only the
        // registers it declares.
        unsafe {
            core::arch::asm!(
                "li t0, 0x1111", "fmv.d.x fa0, t0",
                "li t0, 0x2222", "fmv.d.x fa1, t0",
                "li t0, 0x3333", "fmv.d.x ft0, t0",
                "li t0, 0x4444", "fmv.d.x ft1, t0",
                "csrsi sstatus, 2",
                "1: ld t1, 0({counter})",
                "beq t1, {start}, 1b",
                "csrci sstatus, 2",
                "li {mismatches}, 0",
                "fmv.x.d t0, fa0", "li t1, 0x1111", "bne t0, t1, 2f",
                "fmv.x.d t0, fa1", "li t1, 0x2222", "bne t0, t1, 2f",
                "fmv.x.d t0, ft0", "li t1, 0x3333", "bne t0, t1, 2f",
                "fmv.x.d t0, ft1", "li t1, 0x4444", "bne t0, t1, 2f",
                "j 3f",
                "2: li {mismatches}, 1",
                "3:",
                counter = in(reg) counter,
                start = in(reg) start,
                mismatches = out(reg) mismatches,
                out("t0") _, out("t1") _, out("fa0") _, out("fa1") _, out("ft0") _, out("ft1") _,
            );
        }
        if were_enabled {
            crate::arch::csr::enable_interrupts();
        }
        assert!(per_cpu.ipis.load(Ordering::Acquire) > start, "the self-IPI was not taken");
        assert_eq!(mismatches, 0, "an FP register changed across an interrupt whose handler used FP");
    }
}
