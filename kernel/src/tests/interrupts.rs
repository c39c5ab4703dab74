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
