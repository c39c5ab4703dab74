//! Exceptions: expected faults are caught and reported with the right
//! cause and address; the guard page turns a stack overflow into a fault.

use crate::ktest;
use crate::trap::catch_fault;

static READ_ONLY: u64 = 0x1234_5678;

ktest! {
    fn write_to_read_only_page_is_caught() {
        let target = (&raw const READ_ONLY).cast_mut();
        let fault = catch_fault(|| {
            // SAFETY: not sound as a write: the page is read-only, which is
            // what this test checks; the fault is caught before any write.
            unsafe { core::ptr::write_volatile(target, 1) };
        })
        .expect_err("writing to .rodata must fault");
        assert!(fault.is_store_page_fault(), "cause {}", fault.cause);
        assert_eq!(fault.address, target as usize);
        // SAFETY: reading a static is fine; the write never happened.
        assert_eq!(unsafe { core::ptr::read_volatile(&raw const READ_ONLY) }, 0x1234_5678);
    }
}

ktest! {
    fn write_to_kernel_text_is_caught() {
        // A byte pointer: code is only 2-byte aligned (compressed instructions).
        let target = write_to_kernel_text_is_caught as *const () as *mut u8;
        let fault = catch_fault(|| {
            // SAFETY: the code page is mapped R+X only; the write faults.
            unsafe { core::ptr::write_volatile(target, 0) };
        })
        .expect_err("writing to .text must fault");
        assert!(fault.is_store_page_fault());
        assert_eq!(fault.address, target as usize);
    }
}

ktest! {
    fn load_from_unmapped_address_is_caught() {
        let target = core::ptr::with_exposed_provenance::<u64>(0x1000);
        let fault = catch_fault(|| {
            // SAFETY: address 0x1000 is not mapped; the load faults.
            let _ = unsafe { core::ptr::read_volatile(target) };
        })
        .expect_err("address 0x1000 is not mapped");
        assert_eq!(fault.cause, 13, "load page fault");
        assert_eq!(fault.address, 0x1000);
    }
}

ktest! {
    fn executing_data_is_caught() {
        static mut DATA: [u32; 4] = [0x0000_8067; 4]; // `ret`, but in a non-executable page
        let address = (&raw mut DATA) as usize;
        let fault = catch_fault(|| {
            // SAFETY: not sound as a call: the page is not executable, which
            // is what this test checks; the fetch faults before anything runs.
            let function: extern "C" fn() = unsafe { core::mem::transmute(address) };
            function();
        })
        .expect_err("data pages are not executable");
        assert_eq!(fault.cause, 12, "instruction page fault");
        assert_eq!(fault.pc, address);
    }
}

ktest! {
    fn illegal_instruction_is_caught() {
        let fault = catch_fault(|| {
            // SAFETY: `unimp` traps at once; nothing else happens.
            unsafe { core::arch::asm!("unimp") };
        })
        .expect_err("unimp is illegal");
        assert_eq!(fault.cause, 2);
    }
}

ktest! {
    fn breakpoint_is_caught_and_recovery_is_cleared() {
        let fault = catch_fault(|| {
            // SAFETY: `ebreak` traps at once.
            unsafe { core::arch::asm!("ebreak") };
        })
        .expect_err("ebreak traps");
        assert_eq!(fault.cause, 3);
        assert!(crate::percpu::current().recovery.load(core::sync::atomic::Ordering::Acquire).is_null());
        assert_eq!(catch_fault(|| {}), Ok(()));
    }
}

ktest! {
    fn nested_recovery_points_restore_the_outer_one() {
        let outer = catch_fault(|| {
            let inner = catch_fault(|| {
                // SAFETY: `ebreak` traps at once.
                unsafe { core::arch::asm!("ebreak") };
            });
            assert!(inner.is_err());
            // SAFETY: `unimp` traps at once; the outer point catches it.
            unsafe { core::arch::asm!("unimp") };
        });
        assert_eq!(outer.map_err(|fault| fault.cause), Err(2));
    }
}

#[inline(never)]
fn recurse(depth: usize) -> usize {
    if depth == usize::MAX {
        return 0; // never reached: the guard page stops the recursion first
    }
    let mut buffer = [0u8; 512];
    buffer[depth % 512] = 1;
    core::hint::black_box(&mut buffer);
    recurse(depth + 1) + usize::from(buffer[0])
}

ktest! {
    fn stack_guard_page_hit_is_reported_as_overflow() {
        let fault = catch_fault(|| {
            core::hint::black_box(recurse(0));
        })
        .expect_err("unbounded recursion must hit the guard page");
        assert!(fault.is_store_page_fault() || fault.cause == 13, "cause {}", fault.cause);
        assert!(fault.is_stack_overflow(), "fault address {:#x} is not in the guard page", fault.address);
    }
}

ktest! {
    fn guard_page_below_the_stack_is_unmapped() {
        let bottom = crate::percpu::current().stack.0;
        let guard = core::ptr::with_exposed_provenance::<u8>(bottom - 1);
        let fault = catch_fault(|| {
            // SAFETY: reading the guard page faults; that is the point.
            let _ = unsafe { core::ptr::read_volatile(guard) };
        })
        .expect_err("guard page must not be mapped");
        assert!(fault.is_stack_overflow());
    }
}

#[inline(never)]
fn backtrace_depth(levels: usize) -> usize {
    if levels == 0 {
        let mut count = 0;
        crate::backtrace::walk(crate::arch::frame_pointer(), |_, _| count += 1);
        count
    } else {
        core::hint::black_box(backtrace_depth(levels - 1))
    }
}

ktest! {
    fn frame_pointer_backtrace_walks_every_frame() {
        let shallow = backtrace_depth(0);
        let deep = backtrace_depth(5);
        assert!(shallow >= 2, "walked {shallow} frames");
        assert_eq!(deep, shallow + 5);
    }
}

ktest! {
    fn backtrace_addresses_are_inside_the_kernel_image() {
        let info = crate::boot::info().expect("boot info is set");
        let mut addresses = 0;
        crate::backtrace::walk(crate::arch::frame_pointer(), |address, _| {
            let address = address as u64;
            assert!(address >= info.kernel_virtual_base && address < info.kernel_virtual_base + info.kernel_len_bytes);
            addresses += 1;
        });
        assert!(addresses > 0);
    }
}
