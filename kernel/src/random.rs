//! The kernel's random source: a ChaCha20 generator (`hypha-random`,
//! host-tested) keyed at boot from the device tree's `/chosen` `rng-seed`
//! (QEMU `virt` passes 32 random bytes per boot; the loader copies them
//! into `BootInfo`) and mixed with `time`-CSR jitter; every [`fill`] also mixes in the current time and
//! then rekeys from the generator's own output ("fast key erasure"), so
//! earlier output cannot be recomputed from a later state.
//!
//! Users: `/dev/random` (and `urandom`) through [`KernelRandom`], WASI
//! `random_get` (through the process layer), anything in the kernel.
//!
//! Not here: an entropy estimate or blocking until "enough" entropy. On a
//! machine without `rng-seed` the generator runs on jitter alone and the
//! boot log warns; on QEMU the jitter of the emulated `time` CSR adds
//! little, so the device-tree seed is what makes the output unpredictable.

use crate::sync::SpinLock;
use core::sync::atomic::{AtomicUsize, Ordering};
use hypha_boot_info::BootInfo;
use hypha_random::Generator;

/// How many jitter samples are mixed in at boot.
const BOOT_JITTER_SAMPLES: usize = 64;

/// The generator; `None` until [`init`].
static GENERATOR: SpinLock<Option<Generator>> = SpinLock::new(None);
/// How many device-tree seed bytes [`init`] used (for the boot log and tests).
static SEED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Seeds the kernel's generator from the boot handoff's device-tree seed,
/// the KASLR seed and timer jitter. Called once by the boot hart.
pub fn init(info: &BootInfo) {
    let seed = info.rng_seed();
    let mut generator = Generator::new(seed);
    generator.mix(info.kaslr_seed);
    for word in jitter_pool() {
        generator.mix(word);
    }
    SEED_BYTES.store(seed.len(), Ordering::Relaxed);
    *GENERATOR.lock() = Some(generator);
    if seed.is_empty() {
        log::warn!("random: no rng-seed in the device tree; seeded from timer jitter only (predictable)");
    } else {
        log::debug!("random: ChaCha20 seeded from {} device-tree bytes and timer jitter", seed.len());
    }
}

/// Device-tree seed bytes the generator was keyed with (0 before [`init`]
/// or without `rng-seed`).
#[must_use]
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "read by the in-kernel tests"))]
pub fn seed_bytes() -> usize {
    SEED_BYTES.load(Ordering::Relaxed)
}

/// Fills `buf` with random bytes. Before [`init`] (never the case after
/// boot) it seeds from jitter alone rather than return predictable zeros.
pub fn fill(buf: &mut [u8]) {
    let now = crate::time::now_ticks();
    let mut guard = GENERATOR.lock();
    let generator = guard.get_or_insert_with(|| {
        let mut generator = Generator::new(&[]);
        for word in jitter_pool() {
            generator.mix(word);
        }
        generator
    });
    generator.mix(now);
    generator.fill(buf);
}

/// [`BOOT_JITTER_SAMPLES`] `time` CSR readings, each with the number of
/// spin rounds it took for the clock to move (which varies with the host
/// on QEMU, with caches on hardware), folded into four words. Folding
/// keeps up to 256 bits of whatever entropy they hold while costing four
/// [`Generator::mix`] calls instead of one per sample (those are slow in
/// unoptimised builds).
fn jitter_pool() -> [u64; 4] {
    let mut pool = [0u64; 4];
    for index in 0..BOOT_JITTER_SAMPLES {
        let start = crate::time::now_ticks();
        let mut rounds: u64 = 0;
        while crate::time::now_ticks() == start && rounds < 100_000 {
            rounds += 1;
            core::hint::spin_loop();
        }
        let slot = &mut pool[index % 4];
        *slot = slot.rotate_left(23) ^ start ^ rounds.rotate_left(41);
    }
    pool
}

/// [`fill`] as a WASI/VFS random source (`/dev/random`, `random_get`).
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelRandom;

impl hypha_wasi::Random for KernelRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), hypha_wasi::Errno> {
        fill(buf);
        Ok(())
    }
}

#[cfg(feature = "ktest")]
mod tests {
    use super::*;
    use crate::ktest;

    ktest! {
        fn chacha20_keystream_on_riscv64() {
            // The host tests check the generator; this checks the riscv64
            // build computes the same ChaCha20: a zero key's first output is
            // RFC 7539 appendix A.1 test vector 1.
            let mut generator = Generator::new(&[0; 32]);
            let mut block = [0u8; 16];
            generator.fill(&mut block);
            assert_eq!(block, [0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28]);
        }
    }

    ktest! {
        fn kernel_generator_uses_the_device_tree_seed() {
            let info = crate::boot::info().expect("boot info");
            // QEMU virt always passes a 32-byte rng-seed.
            assert_eq!(info.rng_seed().len(), 32, "the loader passed the device tree's rng-seed");
            assert_eq!(seed_bytes(), 32, "random::init keyed the generator with it");
        }
    }

    ktest! {
        fn two_reads_differ() {
            let (mut first, mut second) = ([0u8; 64], [0u8; 64]);
            fill(&mut first);
            fill(&mut second);
            assert_ne!(first, second);
            assert_ne!(first, [0; 64]);
            // Not a statistical test, just a sanity check on the bit balance:
            // 1024 bits with fewer than 400 or more than 624 ones has
            // probability < 1e-12 for a uniform source.
            let ones: u32 = first.iter().chain(&second).map(|byte| byte.count_ones()).sum();
            assert!((400..=624).contains(&ones), "{ones} ones in 1024 bits");
        }
    }
}
