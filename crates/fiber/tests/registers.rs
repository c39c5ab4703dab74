//! Callee-saved registers survive a suspension, checked directly in
//! assembly: each side loads known values into the callee-saved registers,
//! calls a function that switches away, and reads them back after the
//! switch returns. The other side has meanwhile loaded different values into
//! the same registers.

#![cfg(any(target_arch = "x86_64", target_arch = "riscv64"))]

use hypha_fiber::{Fiber, FiberResult, FiberStack, Suspend};

type S = Suspend<(), (), ()>;
type F = Fiber<'static, (), (), ()>;

/// Called from assembly on the fiber: switches back to the resumer.
extern "C" fn suspend_once(s: *const S) {
    // SAFETY: the test passes the closure's live `&Suspend`.
    let s = unsafe { &*s };
    s.suspend(()).expect("not cancelled");
}

/// Called from assembly on the resumer: switches into the fiber.
extern "C" fn resume_once(f: *mut F) {
    // SAFETY: the test passes a live, exclusively borrowed fiber.
    let f = unsafe { &mut *f };
    assert!(matches!(f.resume(()), FiberResult::Yield(())));
}

#[cfg(target_arch = "x86_64")]
mod arch {

    /// Loads `base + i` into r12..r15, calls `f(arg)`, returns r12..r15.
    pub fn around_call<T>(base: u64, f: extern "C" fn(*mut T), arg: *mut T) -> [u64; 4] {
        let (mut a, mut b, mut c, mut d) = (base, base + 1, base + 2, base + 3);
        // SAFETY: the block keeps rsp balanced (rbp holds it while the stack
        // is realigned for the call), declares every caller-saved register
        // clobbered through `clobber_abi`, and calls an `extern "C"` function.
        unsafe {
            core::arch::asm!(
                "push rbp",
                "mov rbp, rsp",
                "and rsp, -16",
                "call {f}",
                "mov rsp, rbp",
                "pop rbp",
                f = in(reg) f,
                in("rdi") arg,
                inout("r12") a,
                inout("r13") b,
                inout("r14") c,
                inout("r15") d,
                clobber_abi("C"),
            );
        }
        [a, b, c, d]
    }

    /// r12..r15 (rbx and rbp cannot be asm operands; the switch saves them
    /// the same way; MXCSR is covered in tests/fiber.rs).
    pub const REGS: usize = 4;
}

#[cfg(target_arch = "riscv64")]
mod arch {

    /// Loads `base + i` into s2..s11 and `base + i` (as f64) into fs0..fs11,
    /// calls `f(arg)`, returns all of them (floats as bits).
    pub fn around_call<T>(base: u64, f: extern "C" fn(*mut T), arg: *mut T) -> [u64; 22] {
        let mut s = [0_u64; 10];
        let mut fl = [0.0_f64; 12];
        for (i, r) in (0_u64..).zip(s.iter_mut()) {
            *r = base + i;
        }
        for (i, r) in (0_u32..).zip(fl.iter_mut()) {
            *r = f64::from(u32::try_from(base % 1_000_000).unwrap()) + f64::from(i) * 0.5;
        }
        // SAFETY: calls an `extern "C"` function with every caller-saved
        // register declared clobbered (`clobber_abi`); sp stays 16-aligned
        // as the psABI guarantees at all times.
        unsafe {
            core::arch::asm!(
                "call {f}",
                f = sym call_indirect,
                in("a0") arg,
                in("a1") f,
                inout("s2") s[0], inout("s3") s[1], inout("s4") s[2], inout("s5") s[3],
                inout("s6") s[4], inout("s7") s[5], inout("s8") s[6], inout("s9") s[7],
                inout("s10") s[8], inout("s11") s[9],
                inout("fs0") fl[0], inout("fs1") fl[1], inout("fs2") fl[2], inout("fs3") fl[3],
                inout("fs4") fl[4], inout("fs5") fl[5], inout("fs6") fl[6], inout("fs7") fl[7],
                inout("fs8") fl[8], inout("fs9") fl[9], inout("fs10") fl[10], inout("fs11") fl[11],
                clobber_abi("C"),
            );
        }
        let mut out = [0_u64; 22];
        out[..10].copy_from_slice(&s);
        for (o, f) in out[10..].iter_mut().zip(fl) {
            *o = f.to_bits();
        }
        out
    }

    /// `a1(a0)`: lets the asm above call through a register without
    /// spending one of the tested registers on the target.
    extern "C" fn call_indirect(arg: *mut u8, f: extern "C" fn(*mut u8)) {
        f(arg);
    }

    pub const REGS: usize = 22;
}

#[test]
fn callee_saved_registers_survive_a_switch_both_ways() {
    let mut fiber_saw = None;
    let fiber_saw_ref = &raw mut fiber_saw;
    let mut fiber: F = Fiber::new(FiberStack::new(64 * 1024).unwrap(), move |(), s: &S| {
        let s = core::ptr::from_ref(s).cast_mut();
        // SAFETY: `arch::around_call` only passes `s` to `suspend_once`, which
        // takes it back as `*const S`.
        let regs = arch::around_call(0x1000, suspend_once_mut, s);
        // SAFETY: the test's local outlives the fiber (it is finished below
        // before the local is read).
        unsafe { *fiber_saw_ref = Some(regs) };
        // SAFETY: `s` is the closure's own `&Suspend`, still live.
        unsafe { &*s }.suspend(()).expect("not cancelled");
    })
    .unwrap();

    // First resume starts the fiber; it loads its registers and suspends.
    assert!(matches!(fiber.resume(()), FiberResult::Yield(())));
    // Now resume it from a context whose registers hold other values; it
    // checks its registers and suspends once more.
    let mine = arch::around_call(0x2000, resume_once_mut, &raw mut fiber);
    assert!(matches!(fiber.resume(()), FiberResult::Return(())));

    let expected_fiber = arch::around_call(0x1000, noop, core::ptr::null_mut::<u8>());
    let expected_mine = arch::around_call(0x2000, noop, core::ptr::null_mut::<u8>());
    assert_eq!(mine.len(), arch::REGS);
    assert_eq!(mine, expected_mine, "resumer's registers after the fiber ran");
    assert_eq!(
        fiber_saw,
        Some(expected_fiber),
        "fiber's registers after the resumer ran"
    );
}

extern "C" fn noop(_: *mut u8) {}

extern "C" fn suspend_once_mut(s: *mut S) {
    suspend_once(s.cast_const());
}

extern "C" fn resume_once_mut(f: *mut F) {
    resume_once(f);
}
