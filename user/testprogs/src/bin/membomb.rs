//! `membomb`: grows linear memory until the kernel refuses (`memory.grow`
//! returns -1), touching every new page, then reports how far it got and
//! exits 0. On host builds `memory.grow` does not exist: it reports 0 pages.
const PAGE: usize = 65_536;

/// Writes one byte per 4 KiB of the pages `[old, old + n)` so they are committed.
fn touch(old: usize, n: usize) {
    #[cfg(target_arch = "wasm32")]
    for addr in (old * PAGE..(old + n) * PAGE).step_by(4096) {
        // SAFETY: memory.grow just succeeded, so [old*PAGE, (old+n)*PAGE) is
        // inside linear memory and belongs to no Rust object (the allocator
        // only hands out memory it grew itself, and this growth bypassed it).
        unsafe { core::ptr::with_exposed_provenance_mut::<u8>(addr).write_volatile(1) };
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (old, n);
}

fn main() {
    let mut grown = 0usize;
    let mut step = 16;
    loop {
        match hypha_abi::grow_memory(step) {
            Some(old) => {
                touch(old, step);
                grown += step;
            }
            None if step > 1 => step = 1,
            None => break,
        }
    }
    println!(
        "membomb: grew by {grown} pages ({} MiB) before the kernel refused",
        grown * PAGE / (1024 * 1024)
    );
}
