//! The loader's handoff as the kernel sees it.

use crate::ktest;
use hypha_boot_info::{MemoryKind, kaslr, layout};

ktest! {
    fn boot_info_is_valid() {
        let info = crate::boot::info().expect("boot info is set");
        assert_eq!(info.validate(), Ok(()));
        assert!(info.timebase_frequency_hz > 0);
        assert_eq!(info.harts().map(<[_]>::len), Some(crate::percpu::online_count()));
    }
}

ktest! {
    fn kernel_runs_where_the_seed_says() {
        // The image base follows from the seed and the image size; the code
        // we are running lives inside [base, base + len).
        let info = crate::boot::info().expect("boot info is set");
        let expected = kaslr::choose_kernel_base(info.kaslr_seed, info.kernel_len_bytes).expect("image fits");
        assert_eq!(info.kernel_virtual_base, expected);
        let here = kernel_runs_where_the_seed_says as *const () as u64;
        assert!(here >= info.kernel_virtual_base && here < info.kernel_virtual_base + info.kernel_len_bytes);
        assert_eq!(info.link_address(here) - layout::KERNEL_LINK_BASE, here - info.kernel_virtual_base);
        assert_eq!(crate::boot::kaslr_slide() as u64, info.kaslr_slide);
    }
}

ktest! {
    fn relocated_pointers_point_into_the_running_image() {
        // A static holding a function pointer is relocated by the loader.
        static TABLE: [fn() -> u32; 2] = [one, two];
        fn one() -> u32 {
            1
        }
        fn two() -> u32 {
            2
        }
        let info = crate::boot::info().expect("boot info is set");
        for function in TABLE {
            let address = function as usize as u64;
            assert!(address >= info.kernel_virtual_base && address < info.kernel_virtual_base + info.kernel_len_bytes);
        }
        assert_eq!(TABLE[0]() + TABLE[1](), 3);
    }
}

ktest! {
    fn memory_map_is_sorted_and_disjoint() {
        let map = &crate::boot::info().expect("boot info is set").memory_map;
        assert!(!map.is_empty());
        for pair in map.regions().windows(2) {
            assert!(pair[0].end() <= pair[1].start, "{:?} overlaps {:?}", pair[0], pair[1]);
        }
        assert!(map.total_bytes(MemoryKind::USABLE) > 64 << 20);
        assert!(map.total_bytes(MemoryKind::LOADER) > 0, "the loader's memory is recorded for reclaiming");
    }
}

ktest! {
    fn kernel_image_is_recorded_in_the_memory_map() {
        let info = crate::boot::info().expect("boot info is set");
        let covered = info.memory_map.regions().iter().any(|region| {
            region.kind == MemoryKind::KERNEL
                && region.start <= info.kernel_physical_base
                && info.kernel_physical_base + info.kernel_len_bytes <= region.end()
        });
        assert!(covered);
    }
}

ktest! {
    fn every_hart_has_its_own_stacks_and_per_cpu_block() {
        let harts: [_; hypha_boot_info::MAX_HARTS] = core::array::from_fn(|index| crate::percpu::all().nth(index));
        let harts: &[_] = &harts;
        for (index, per_cpu) in harts.iter().flatten().enumerate() {
            assert_eq!(per_cpu.index, index);
            for other in harts.iter().flatten().skip(index + 1) {
                assert_ne!(per_cpu.hart_id, other.hart_id);
                assert!(per_cpu.stack.1 <= other.stack.0 || other.stack.1 <= per_cpu.stack.0);
                assert_ne!(core::ptr::from_ref(*per_cpu), core::ptr::from_ref(*other));
            }
        }
        let me = crate::percpu::current();
        let sp = crate::arch::stack_pointer();
        assert!(sp > me.stack.0 && sp <= me.stack.1, "running on the boot hart's kernel stack");
    }
}

ktest! {
    fn all_harts_came_online() {
        let info = crate::boot::info().expect("boot info is set");
        let started = info.harts().unwrap_or(&[]).iter().filter(|hart| hart.started != 0).count();
        assert!(started >= 1);
        assert_eq!(crate::percpu::online_count(), started);
    }
}

ktest! {
    fn device_tree_names_console_plic_and_test_device() {
        let platform = crate::platform().expect("platform is read");
        assert!(platform.uart.is_some());
        assert!(platform.plic.is_some());
        assert!(platform.test_device.is_some());
        assert!(platform.plic_contexts[crate::percpu::current().hart_id].is_some());
        assert!(hypha_boot_info::bootargs::has(platform.bootargs, "ktest"));
    }
}

ktest! {
    fn ktest_names_are_unique_and_include_this_one() {
        let tests = crate::ktest::all();
        assert!(tests.iter().any(|test| test.matches("boot::ktest_names_are_unique_and_include_this_one")));
        for (index, test) in tests.iter().enumerate() {
            for other in &tests[index + 1..] {
                assert!(test.module != other.module || test.name != other.name, "duplicate test {}", test.name);
            }
        }
    }
}

ktest! {
    fn paging_mode_matches_the_handoff() {
        let info = crate::boot::info().expect("boot info is set");
        let satp = crate::arch::csr::read_satp();
        assert_eq!(satp >> 60, info.paging_mode.0);
    }
}
