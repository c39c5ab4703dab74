//! In-kernel tests of memory management on the live machine.

extern crate alloc;

use super::{
    MemError, alloc_frames, alloc_kernel_stack, classify_fault, find_region, free_frames, space,
    stats, translate,
};
use crate::trap::catch_fault;
use alloc::boxed::Box;
use alloc::vec::Vec;
use hypha_kmem::{
    BuddyAllocator, FrameError, MAX_ORDER, PAGE_SIZE, PageFlags, PhysAddr, PhysMap, RegionKind,
    VirtAddr,
};

/// Snapshot of the global allocator's free blocks per order.
fn free_histogram() -> [usize; MAX_ORDER + 1] {
    let mut histogram = [0; MAX_ORDER + 1];
    super::frames::with(|buddy| {
        for (order, slot) in histogram.iter_mut().enumerate() {
            *slot = buddy.free_blocks(order);
        }
    })
    .expect("frame allocator initialised");
    histogram
}

/// Pointer to physical memory through the physical map.
fn phys_ptr(pa: PhysAddr) -> *mut u8 {
    space::physmap().phys_to_ptr(pa)
}

crate::ktest! {
    fn frame_alloc_free_roundtrip() {
        let before = stats();
        let frame = alloc_frames(0).expect("a free frame");
        assert!(frame.is_aligned(PAGE_SIZE as u64));
        assert_eq!(stats().frames_free, before.frames_free - 1);
        // The frame is real RAM, reachable through the physical map.
        let pointer = phys_ptr(frame);
        // SAFETY: the frame was just allocated for this test alone and the
        // physical map reaches it.
        unsafe { pointer.write_volatile(0x5a) };
        // SAFETY: as above.
        assert_eq!(unsafe { pointer.read_volatile() }, 0x5a);
        // SAFETY: nothing uses the frame any more.
        unsafe { free_frames(frame, 0) }.expect("free");
        assert_eq!(stats().frames_free, before.frames_free);
    }
}

crate::ktest! {
    fn frame_double_free_is_an_error() {
        let frame = alloc_frames(0).expect("a free frame");
        // SAFETY: nothing uses the frame.
        unsafe { free_frames(frame, 0) }.expect("first free");
        // SAFETY: the call is refused before anything is touched.
        let second = unsafe { free_frames(frame, 0) };
        assert_eq!(second, Err(MemError::Frame(FrameError::NotAllocated(frame))));
    }
}

crate::ktest! {
    fn frame_coalescing_restores_free_blocks() {
        let before = free_histogram();
        let block = alloc_frames(6).expect("64 contiguous frames");
        assert!(block.is_aligned(64 * PAGE_SIZE as u64));
        assert_ne!(free_histogram(), before);
        // Free it back one frame at a time, in a scrambled order.
        for index in [5u64, 0, 63, 1, 2, 4, 3].into_iter().chain(6..63) {
            // SAFETY: the block was allocated above and is unused.
            unsafe { free_frames(PhysAddr::new(block.as_u64() + index * PAGE_SIZE as u64), 0) }.expect("free frame");
        }
        assert_eq!(free_histogram(), before, "buddies merged back");
    }
}

crate::ktest! {
    fn frame_exhaustion_returns_an_error() {
        // Take every free 1 GiB block: the next request is an error, not a panic.
        let mut giant = Vec::new();
        let exhausted = loop {
            match alloc_frames(MAX_ORDER) {
                Ok(block) => giant.push(block),
                Err(error) => break error,
            }
        };
        assert_eq!(exhausted, MemError::OutOfMemory);
        for block in giant {
            // SAFETY: allocated above, never used.
            unsafe { free_frames(block, MAX_ORDER) }.expect("free 1 GiB block");
        }
        assert!(matches!(alloc_frames(MAX_ORDER + 1), Err(MemError::Frame(FrameError::InvalidOrder(_)))));
        // Exhaust a private allocator over 16 frames taken from the global one.
        let block = alloc_frames(4).expect("16 frames");
        let end = PhysAddr::new(block.as_u64() + 16 * PAGE_SIZE as u64);
        let mut storage = alloc::vec![0u64; BuddyAllocator::metadata_words(block, end)];
        let mut private = BuddyAllocator::new(&mut storage, block, end).expect("bookkeeping fits");
        private.add_free_range(block, end).expect("range");
        let mut taken = Vec::new();
        while let Ok(frame) = private.alloc(0) {
            taken.push(frame);
        }
        assert_eq!(taken.len(), 16);
        assert_eq!(private.alloc(0), Err(FrameError::OutOfMemory));
        assert_eq!(private.free_frames(), 0);
        // SAFETY: the private allocator only handed out numbers; nothing
        // used the frames.
        unsafe { free_frames(block, 4) }.expect("give the block back");
    }
}

crate::ktest! {
    fn heap_alloc_and_free() {
        let before = stats().heap_used_bytes;
        let boxed = Box::new([7u64; 64]);
        assert!(stats().heap_used_bytes >= before + 512);
        assert!(boxed.iter().all(|&value| value == 7));
        let mut list: Vec<u32> = (0..1000).collect();
        list.retain(|value| value % 3 == 0);
        assert_eq!(list.iter().sum::<u32>(), (0..1000).filter(|value| value % 3 == 0).sum::<u32>());
        drop(boxed);
        drop(list);
        assert_eq!(stats().heap_used_bytes, before);
    }
}

crate::ktest! {
    fn heap_grows_by_mapping_frames() {
        let before = stats();
        // Bigger than everything mapped so far: must grow.
        let len = before.heap_capacity_bytes + 4 * 1024 * 1024;
        let mut big: Vec<u8> = Vec::new();
        big.try_reserve_exact(len).expect("heap grows");
        big.resize(len, 0xab);
        let after = stats();
        assert!(after.heap_capacity_bytes >= before.heap_capacity_bytes + len);
        assert!(after.frames_free < before.frames_free);
        assert!(big.iter().step_by(4096).all(|&byte| byte == 0xab));
        // The heap memory is mapped read-write and not executable.
        let (_, flags) = translate(VirtAddr::from_ptr(big.as_ptr())).expect("heap is mapped");
        assert!(flags.contains(PageFlags::READ_WRITE) && !flags.contains(PageFlags::EXECUTE));
        assert_eq!(find_region(VirtAddr::from_ptr(big.as_ptr())).map(|region| region.kind), Some(RegionKind::Heap));
    }
}

crate::ktest! {
    fn heap_exhaustion_is_an_error() {
        let mut huge: Vec<u8> = Vec::new();
        // More than the heap reservation and than RAM: refused, not a panic.
        assert!(huge.try_reserve_exact(64 * 1024 * 1024 * 1024).is_err());
        // More than RAM but inside the reservation: frames run out.
        let more_than_ram = (stats().frames_total * PAGE_SIZE * 2).min(8 * 1024 * 1024 * 1024);
        let frames_before = stats().frames_free;
        assert!(huge.try_reserve_exact(more_than_ram).is_err());
        assert_eq!(stats().frames_free, frames_before, "a failed growth leaves no frames behind");
        // The heap still works afterwards.
        let small = Box::new(42u32);
        assert_eq!(*small, 42);
    }
}

/// A scratch page region mapped read-write for a test; unmapped on drop.
struct ScratchPages {
    stack: super::KernelStack,
}

impl ScratchPages {
    fn new(pages: usize) -> Self {
        Self {
            stack: alloc_kernel_stack(pages * PAGE_SIZE).expect("scratch pages"),
        }
    }

    fn start(&self) -> usize {
        self.stack.bottom()
    }
}

crate::ktest! {
    fn map_translate_unmap_live_table() {
        let region = space::reserve(2 * PAGE_SIZE, space::KERNEL_RW, RegionKind::Other, "ktest map", 0).expect("region");
        let va = region.start;
        assert_eq!(translate(va), None);
        space::map_new_memory(va, 2 * PAGE_SIZE, space::KERNEL_RW).expect("map");
        let (pa, flags) = translate(va).expect("mapped");
        assert!(flags.contains(PageFlags::READ_WRITE | PageFlags::GLOBAL));
        // A and D are set eagerly (no fault needed to set them without Svadu).
        assert!(flags.contains(PageFlags::ACCESSED | PageFlags::DIRTY));
        // A write through the new mapping is visible through the physical map.
        // SAFETY: the page was just mapped for this test alone.
        unsafe { va.as_mut_ptr::<u64>().write_volatile(0x1234_5678) };
        // SAFETY: `pa` is the frame behind `va`, reachable through the physical map.
        assert_eq!(unsafe { phys_ptr(pa).cast::<u64>().read_volatile() }, 0x1234_5678);
        let free_before = stats().frames_free;
        // SAFETY: mapped by `map_new_memory` above; nothing uses it after this.
        unsafe { space::unmap_and_free(va, 2 * PAGE_SIZE) }.expect("unmap");
        assert_eq!(translate(va), None);
        assert!(stats().frames_free >= free_before + 2);
        // Reading it now faults (a load page fault), and is caught.
        let fault = catch_fault(|| {
            // SAFETY: deliberately touches the unmapped page; the fault
            // is expected and recovered by `catch_fault`.
            let _ = unsafe { va.as_mut_ptr::<u64>().read_volatile() };
        })
        .expect_err("unmapped page faults");
        assert_eq!((fault.cause, fault.address), (13, va.as_usize()));
        space::release(va).expect("release");
    }
}

crate::ktest! {
    fn write_to_read_only_page_is_caught() {
        let scratch = ScratchPages::new(2);
        let page = scratch.start() + PAGE_SIZE;
        // SAFETY: the scratch pages are ours; only the second page becomes
        // read-only, and the only write to it afterwards is the expected fault.
        unsafe { space::protect(VirtAddr::new(page), PAGE_SIZE, PageFlags::READ | PageFlags::GLOBAL) }.expect("protect");
        let pointer = core::ptr::with_exposed_provenance_mut::<u64>(page);
        // Reading still works.
        // SAFETY: the page is mapped readable.
        assert_eq!(unsafe { pointer.read_volatile() }, 0);
        let fault = catch_fault(|| {
            // SAFETY: deliberately writes to a read-only page; the store
            // page fault is expected and recovered by `catch_fault`.
            unsafe { pointer.write_volatile(1) };
        })
        .expect_err("write to a read-only page faults");
        assert!(fault.is_store_page_fault());
        assert_eq!(fault.address, page);
        // The neighbour page stayed writable.
        let neighbour = core::ptr::with_exposed_provenance_mut::<u64>(scratch.start());
        // SAFETY: the first scratch page is still read-write and ours.
        unsafe { neighbour.write_volatile(2) };
        // Make it writable again; now the write succeeds.
        // SAFETY: restores the original permission on our own page.
        unsafe { space::protect(VirtAddr::new(page), PAGE_SIZE, space::KERNEL_RW) }.expect("unprotect");
        // SAFETY: the page is read-write again.
        unsafe { pointer.write_volatile(3) };
        // SAFETY: as above.
        assert_eq!(unsafe { pointer.read_volatile() }, 3);
    }
}

crate::ktest! {
    fn kernel_segments_are_w_xor_x() {
        let text = VirtAddr::new(frame_alloc_free_roundtrip as fn() as usize);
        let text_region = find_region(text).expect("kernel text region");
        assert_eq!(text_region.kind, RegionKind::KernelText);
        let (_, flags) = translate(text).expect("text mapped");
        assert!(flags.contains(PageFlags::EXECUTE) && !flags.contains(PageFlags::WRITE));
        static RODATA: [u8; 4] = *b"ro!!";
        let (_, flags) = translate(VirtAddr::from_ptr(&RODATA)).expect("rodata mapped");
        assert!(!flags.contains(PageFlags::WRITE) && !flags.contains(PageFlags::EXECUTE));
        // No leaf of the whole kernel table is writable and executable.
        let mut offenders = 0usize;
        space::for_each_mapping(|leaf| {
            if leaf.flags.contains(PageFlags::WRITE) && leaf.flags.contains(PageFlags::EXECUTE) {
                offenders += 1;
            }
        })
        .expect("table");
        assert_eq!(offenders, 0, "W+X mappings in the kernel table");
    }
}

crate::ktest! {
    fn regions_cover_boot_mappings() {
        let sp = crate::arch::stack_pointer();
        let stack = find_region(VirtAddr::new(sp)).expect("stack region");
        assert_eq!(stack.kind, RegionKind::Stack);
        assert!(!stack.is_guard(VirtAddr::new(sp)));
        let per_cpu = crate::arch::thread_pointer();
        assert_eq!(find_region(VirtAddr::new(per_cpu)).map(|r| r.kind), Some(RegionKind::PhysicalMemory));
        // Every leaf of the kernel table lies in a known region. Collect
        // the leaves first (without allocating under the table lock), then
        // look each up (the region lock comes before the table lock).
        let mut outside = 0usize;
        let mut first_outside = 0usize;
        let mut count = 0usize;
        space::for_each_mapping(|_| count += 1).expect("table");
        let mut leaves = Vec::with_capacity(count + 16);
        space::for_each_mapping(|leaf| {
            if leaves.len() < leaves.capacity() {
                leaves.push(leaf);
            }
        })
        .expect("table");
        for leaf in &leaves {
            if find_region(leaf.va).is_none() {
                if outside == 0 {
                    first_outside = leaf.va.as_usize();
                }
                outside += 1;
            }
        }
        assert_eq!(outside, 0, "leaf at {first_outside:#x} outside every region");
    }
}

crate::ktest! {
    fn kernel_stack_is_usable_and_freed() {
        let before = stats().frames_free;
        let stack = alloc_kernel_stack(16 * 1024).expect("stack");
        assert_eq!(stack.len_bytes(), 16 * 1024);
        assert_eq!(stack.top() % 16, 0);
        for address in (stack.bottom()..stack.top()).step_by(8) {
            // SAFETY: the whole usable range is mapped read-write and ours.
            unsafe { core::ptr::with_exposed_provenance_mut::<u64>(address).write_volatile(address as u64) };
        }
        let (guard_start, guard_end) = stack.guard();
        assert_eq!(guard_end - guard_start, PAGE_SIZE);
        assert_eq!(translate(VirtAddr::new(guard_start)), None, "guard page is unmapped");
        assert!(stats().frames_free < before);
        drop(stack);
        assert_eq!(stats().frames_free, before, "stack frames returned");
        assert_eq!(alloc_kernel_stack(0).map(|_| ()), Err(MemError::InvalidSize));
        assert_eq!(alloc_kernel_stack(1 << 40).map(|_| ()), Err(MemError::InvalidSize));
    }
}

crate::ktest! {
    fn kernel_stack_guard_hit_is_reported_as_overflow() {
        let stack = alloc_kernel_stack(8 * 1024).expect("stack");
        let (_, guard_end) = stack.guard();
        let below = guard_end - 8;
        let fault = catch_fault(|| {
            // SAFETY: deliberately writes just below the stack, into its
            // guard page; the fault is expected and recovered.
            unsafe { core::ptr::with_exposed_provenance_mut::<u64>(below).write_volatile(0) };
        })
        .expect_err("guard page faults");
        assert!(fault.is_store_page_fault());
        assert_eq!(fault.address, below);
        match classify_fault(fault.address) {
            Some(super::FaultKind::StackOverflow(region)) => assert_eq!(region.kind, RegionKind::Stack),
            other => panic!("guard hit classified as {other:?}"),
        }
        // The boot hart's own stack guard is classified the same way.
        let sp = crate::arch::stack_pointer();
        let own = find_region(VirtAddr::new(sp)).expect("own stack");
        assert!(matches!(classify_fault(own.start.as_usize()), Some(super::FaultKind::StackOverflow(_))));
    }
}

crate::ktest! {
    fn loader_memory_was_reclaimed() {
        let info = crate::boot::info().expect("boot info");
        // No lower-half mapping is left in the kernel table.
        let mut lower = 0usize;
        space::for_each_mapping(|leaf| {
            if leaf.va.as_usize() >> 63 == 0 {
                lower += 1;
            }
        })
        .expect("table");
        assert_eq!(lower, 0, "the loader's identity map is gone");
        // Whole frames of loader memory are managed and (mostly) free now.
        let mut loader_frames = 0u64;
        for region in info.memory_map.regions().iter().filter(|r| r.kind == hypha_boot_info::MemoryKind::LOADER) {
            loader_frames += region.len_bytes / PAGE_SIZE as u64;
        }
        assert!(loader_frames > 0, "the loader reported its memory");
        assert_eq!(super::reclaim_loader_memory(), Ok(0), "reclaiming twice does nothing");
    }
}

crate::ktest! {
    fn reservation_commits_on_demand_and_frees_on_drop() {
        let before = stats().frames_free;
        // A WebAssembly-style 4 GiB reservation: only committed pages cost frames.
        let mut memory = super::Reservation::new(4 << 30, PageFlags::READ_WRITE, RegionKind::WasmMemory, "ktest wasm")
            .expect("4 GiB of address space");
        assert_eq!(memory.len_bytes(), 4 << 30);
        let base = memory.start().as_usize();
        assert_eq!(stats().frames_free, before, "reserving maps nothing");
        memory.commit(0, 64 * 1024).expect("commit 64 KiB");
        memory.commit(3 << 30, PAGE_SIZE).expect("commit a far page");
        let far = core::ptr::with_exposed_provenance_mut::<u64>(base + (3 << 30));
        // SAFETY: committed above, read-write, ours.
        unsafe { far.write_volatile(7) };
        // SAFETY: as above.
        assert_eq!(unsafe { far.read_volatile() }, 7);
        // Committed pages start zeroed.
        // SAFETY: committed above.
        assert_eq!(unsafe { core::ptr::with_exposed_provenance::<u64>(base + 4096).read_volatile() }, 0);
        // Between them nothing is mapped: a load faults.
        let hole = base + (1 << 30);
        let fault = catch_fault(|| {
            // SAFETY: deliberately reads an uncommitted page; the fault is expected.
            let _ = unsafe { core::ptr::with_exposed_provenance::<u64>(hole).read_volatile() };
        })
        .expect_err("uncommitted page faults");
        assert_eq!(fault.address, hole);
        assert!(matches!(classify_fault(hole), Some(super::FaultKind::InRegion(region)) if region.kind == RegionKind::WasmMemory));
        // Committing twice is refused; out-of-range and misaligned too.
        assert!(matches!(memory.commit(0, PAGE_SIZE), Err(MemError::Map(_))));
        assert_eq!(memory.commit(4 << 30, PAGE_SIZE), Err(MemError::InvalidSize));
        assert_eq!(memory.commit(100, PAGE_SIZE), Err(MemError::InvalidSize));
        // Read-only now: writes fault.
        // SAFETY: only the expected fault below writes to the page.
        unsafe { memory.protect(0, PAGE_SIZE, PageFlags::READ) }.expect("protect");
        let first = core::ptr::with_exposed_provenance_mut::<u64>(base);
        // SAFETY: deliberately writes a read-only page; the fault is expected.
        let fault = catch_fault(|| unsafe { first.write_volatile(1) }).expect_err("read-only");
        assert!(fault.is_store_page_fault());
        // SAFETY: refused before anything changes.
        assert!(unsafe { memory.protect(0, PAGE_SIZE, PageFlags::READ_WRITE | PageFlags::EXECUTE) }.is_err());
        // Decommit part (holes in the range are fine).
        // SAFETY: nothing uses the first 2 GiB any more.
        unsafe { memory.decommit(0, 2 << 30) }.expect("decommit");
        assert_eq!(translate(VirtAddr::new(base)), None);
        assert!(translate(VirtAddr::new(base + (3 << 30))).is_some());
        drop(memory);
        assert_eq!(translate(VirtAddr::new(base + (3 << 30))), None);
        assert_eq!(stats().frames_free, before, "every data and table frame came back");
        assert_eq!(find_region(VirtAddr::new(base)), None, "the range is released");
    }
}

crate::ktest! {
    fn heap_and_frames_are_shared_by_all_harts() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static DONE: AtomicUsize = AtomicUsize::new(0);
        static BAD: AtomicUsize = AtomicUsize::new(0);
        fn churn() {
            let hart = crate::percpu::current().hart_id;
            for round in 0..50usize {
                let pattern = hart * 1_000_003 + round;
                let values: Vec<usize> = (0..256).map(|i| pattern ^ i).collect();
                let frame = alloc_frames(0);
                if values.iter().enumerate().any(|(i, &v)| v != pattern ^ i) {
                    BAD.fetch_add(1, Ordering::Relaxed);
                }
                if let Ok(frame) = frame {
                    // SAFETY: allocated just above, never used.
                    if unsafe { free_frames(frame, 0) }.is_err() {
                        BAD.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    BAD.fetch_add(1, Ordering::Relaxed);
                }
            }
            DONE.fetch_add(1, Ordering::Release);
        }
        DONE.store(0, Ordering::Release);
        BAD.store(0, Ordering::Release);
        let frames_before = stats().frames_free;
        let me = crate::percpu::current().hart_id;
        let mut others = 0;
        for per_cpu in crate::percpu::all().filter(|per_cpu| per_cpu.hart_id != me) {
            crate::ipi::run_on(per_cpu.hart_id, churn).expect("IPI sent");
            others += 1;
        }
        // Churn here too, at the same time.
        churn();
        let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(5000);
        while DONE.load(Ordering::Acquire) < others + 1 && crate::time::now_ticks() < deadline {
            core::hint::spin_loop();
        }
        assert_eq!(DONE.load(Ordering::Acquire), others + 1, "every hart finished");
        assert_eq!(BAD.load(Ordering::Acquire), 0, "no corruption, no failed alloc/free");
        assert_eq!(stats().frames_free, frames_before);
    }
}

crate::ktest! {
    fn fiber_runs_on_a_kernel_stack() {
        use alloc::sync::Arc;
        use hypha_fiber::{Fiber, FiberResult, FiberStack, StackAllocator};
        let before = stats().frames_free;
        let stacks: Arc<dyn StackAllocator> = Arc::new(super::KernelFiberStacks);
        let stack = FiberStack::with_allocator(Arc::clone(&stacks), 16 * 1024).expect("fiber stack");
        let region = stack.region();
        assert_eq!(region.guard_size(), PAGE_SIZE);
        assert_eq!(translate(VirtAddr::new(region.guard_base())), None);
        let mut fiber = Fiber::new(stack, |first: usize, suspend| {
            let sp = crate::arch::stack_pointer();
            let second = suspend.suspend(sp).expect("not cancelled");
            first + second
        })
        .expect("fiber");
        let FiberResult::Yield(sp) = fiber.resume(40) else { panic!("fiber returned early") };
        assert!(region.contains(sp), "the fiber ran on its kernel stack");
        assert!(matches!(fiber.resume(2), FiberResult::Return(42)));
        drop(fiber);
        drop(stacks);
        assert_eq!(stats().frames_free, before, "the stack went back");
    }
}

crate::ktest! {
    fn fiber_stack_overflow_is_reported() {
        use alloc::sync::Arc;
        use hypha_fiber::{Fiber, FiberStack, StackAllocator};
        fn dive(depth: usize) -> usize {
            let frame = core::hint::black_box([depth.to_le_bytes()[0]; 512]);
            if depth == usize::MAX { 0 } else { dive(depth + 1) + usize::from(frame[7]) }
        }
        let stacks: Arc<dyn StackAllocator> = Arc::new(super::KernelFiberStacks);
        let stack = FiberStack::with_allocator(Arc::clone(&stacks), 16 * 1024).expect("fiber stack");
        let region = stack.region();
        let mut fiber = Fiber::new(stack, |start: usize, _suspend: &hypha_fiber::Suspend<usize, (), usize>| dive(start))
            .expect("fiber");
        let fault = catch_fault(|| {
            let _ = fiber.resume(0);
        })
        .expect_err("unbounded recursion hits the guard page");
        assert!(region.is_guard(fault.address), "fault at {:#x} is in the guard", fault.address);
        assert!(matches!(classify_fault(fault.address), Some(super::FaultKind::StackOverflow(_))));
        // The fiber was abandoned mid-run: it must not be resumed or
        // cancelled (that would switch into it). Forget it (leaking only its
        // handle on the allocator) and give its stack back directly.
        core::mem::forget(fiber);
        // SAFETY: the region came from this allocator and nothing runs on
        // it any more (the fiber's frames were abandoned by the fault).
        unsafe { stacks.deallocate(region) };
        assert_eq!(find_region(VirtAddr::new(region.top() - 8)), None, "the stack's range is released");
    }
}

crate::ktest! {
    fn demand_zero_reservation_commits_pages_on_first_touch() {
        let before = stats().frames_free;
        let mut memory = super::Reservation::new_demand_zero(64 << 20, RegionKind::WasmMemory, "ktest demand")
            .expect("64 MiB of address space");
        assert!(memory.is_demand_zero());
        let base = memory.start().as_usize();
        // Growing maps nothing.
        memory.make_accessible(0, 8 << 20).expect("8 MiB accessible");
        memory.make_accessible(8 << 20, 8 << 20).expect("16 MiB accessible");
        assert_eq!(stats().frames_free, before, "making memory accessible commits no frame");
        assert_eq!(super::demand_usage(base), Some((16 << 20, 0)));
        // First touches: a load reads zero, a store sticks; one page each.
        let far = core::ptr::with_exposed_provenance_mut::<u64>(base + (9 << 20) + 8);
        // SAFETY: inside the accessible part; the fault path maps a frame.
        assert_eq!(unsafe { core::ptr::with_exposed_provenance::<u64>(base + (5 << 20)).read_volatile() }, 0);
        // SAFETY: as above.
        unsafe { far.write_volatile(0xfeed) };
        // SAFETY: as above, now committed.
        assert_eq!(unsafe { far.read_volatile() }, 0xfeed);
        assert_eq!(super::demand_usage(base + 1), Some((16 << 20, 2 * PAGE_SIZE)));
        assert!(translate(VirtAddr::new(base + (5 << 20))).is_some());
        assert_eq!(translate(VirtAddr::new(base + (6 << 20))), None, "untouched pages stay unmapped");
        // An access straddling two untouched pages commits both.
        let straddle = core::ptr::with_exposed_provenance_mut::<u8>(base + (12 << 20) - 4).cast::<u64>();
        // SAFETY: both pages accessible; the misaligned access is deliberate.
        unsafe { straddle.write_unaligned(u64::MAX) };
        // SAFETY: as above.
        assert_eq!(unsafe { straddle.read_unaligned() }, u64::MAX);
        assert_eq!(super::demand_usage(base).map(|usage| usage.1), Some(4 * PAGE_SIZE));
        // Past the accessible part the fault is not served.
        let fault = catch_fault(|| {
            // SAFETY: deliberately reads past the accessible part; the fault is expected.
            let _ = unsafe { core::ptr::with_exposed_provenance::<u64>(base + (16 << 20)).read_volatile() };
        })
        .expect_err("inaccessible page faults");
        assert_eq!(fault.address, base + (16 << 20));
        // Explicit commits and gaps are refused.
        assert_eq!(memory.commit(0, PAGE_SIZE), Err(MemError::CommitsOnTouch));
        assert_eq!(memory.make_accessible(32 << 20, PAGE_SIZE), Err(MemError::InvalidSize));
        // Shrinking frees what was committed above the new watermark.
        // SAFETY: nothing uses [8 MiB, 16 MiB) any more.
        unsafe { memory.decommit(8 << 20, 8 << 20) }.expect("decommit the top half");
        assert_eq!(super::demand_usage(base), Some((8 << 20, PAGE_SIZE)));
        assert_eq!(translate(VirtAddr::new(base + (9 << 20))), None);
        catch_fault(|| {
            // SAFETY: deliberately reads a page no longer accessible; the fault is expected.
            let _ = unsafe { far.read_volatile() };
        })
        .expect_err("decommitted page faults");
        drop(memory);
        assert_eq!(super::demand_usage(base), None);
        assert_eq!(stats().frames_free, before, "every data and table frame came back");
        assert_eq!(find_region(VirtAddr::new(base)), None, "the range is released");
    }
}

crate::ktest! {
    fn demand_zero_faults_race_on_all_harts() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        const PAGES: usize = 1024;
        static BASE: AtomicUsize = AtomicUsize::new(0);
        static DONE: AtomicUsize = AtomicUsize::new(0);
        static NONZERO: AtomicUsize = AtomicUsize::new(0);
        fn touch_all() {
            let base = BASE.load(Ordering::Acquire);
            let hart = crate::percpu::current().hart_id;
            for page in 0..PAGES {
                // Harts walk in opposite directions so they meet on pages
                // the other is faulting in.
                let page = if hart.is_multiple_of(2) { page } else { PAGES - 1 - page };
                let word = core::ptr::with_exposed_provenance::<u64>(base + page * PAGE_SIZE + 8 * (hart % 8));
                // SAFETY: inside the accessible part of the test's area.
                if unsafe { word.read_volatile() } != 0 {
                    NONZERO.fetch_add(1, Ordering::Relaxed);
                }
            }
            DONE.fetch_add(1, Ordering::Release);
        }
        let before = stats().frames_free;
        let mut memory = super::Reservation::new_demand_zero(PAGES * PAGE_SIZE, RegionKind::WasmMemory, "ktest demand race")
            .expect("address space");
        memory.make_accessible(0, PAGES * PAGE_SIZE).expect("accessible");
        BASE.store(memory.start().as_usize(), Ordering::Release);
        DONE.store(0, Ordering::Release);
        NONZERO.store(0, Ordering::Release);
        let me = crate::percpu::current().hart_id;
        let mut others = 0;
        for per_cpu in crate::percpu::all().filter(|per_cpu| per_cpu.hart_id != me) {
            crate::ipi::run_on(per_cpu.hart_id, touch_all).expect("IPI sent");
            others += 1;
        }
        touch_all();
        let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(5000);
        while DONE.load(Ordering::Acquire) < others + 1 && crate::time::now_ticks() < deadline {
            core::hint::spin_loop();
        }
        assert_eq!(DONE.load(Ordering::Acquire), others + 1, "every hart finished");
        assert_eq!(NONZERO.load(Ordering::Acquire), 0, "every page read zero");
        let base = memory.start().as_usize();
        assert_eq!(super::demand_usage(base).map(|usage| usage.1), Some(PAGES * PAGE_SIZE), "each page committed once");
        drop(memory);
        assert_eq!(stats().frames_free, before, "every frame came back");
    }
}
