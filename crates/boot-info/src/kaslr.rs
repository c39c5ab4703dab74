//! Choosing where the kernel image goes.
//!
//! The seed comes from the device tree (`rng-seed`, or `kaslr-seed`), or
//! from `kaslr.seed=N` in the bootargs when a test wants a reproducible
//! placement. The choice is a pure function of seed and image size so both
//! the loader and host tests can compute it.

use crate::layout::{KASLR_ALIGN, KASLR_WINDOW_END, KASLR_WINDOW_START};

/// Why no base could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KaslrError {
    /// The image is larger than the KASLR window.
    ImageTooLarge {
        /// Image size in bytes.
        len_bytes: u64,
    },
}

/// One round of SplitMix64: a bijective 64-bit mixer.
#[must_use]
pub const fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Folds seed bytes (any length) into one 64-bit seed.
#[must_use]
pub fn seed_from_bytes(bytes: &[u8]) -> u64 {
    let mut state = 0u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        state = mix(state ^ u64::from_le_bytes(word));
    }
    state
}

/// The virtual base for a kernel image of `image_len_bytes`, derived from
/// `seed`: [`KASLR_ALIGN`]-aligned, with the whole image inside
/// `[KASLR_WINDOW_START, KASLR_WINDOW_END)`.
///
/// # Errors
///
/// [`KaslrError::ImageTooLarge`] if the image does not fit the window.
pub const fn choose_kernel_base(seed: u64, image_len_bytes: u64) -> Result<u64, KaslrError> {
    let window = KASLR_WINDOW_END - KASLR_WINDOW_START;
    let aligned_len = image_len_bytes.div_ceil(KASLR_ALIGN) * KASLR_ALIGN;
    if aligned_len > window {
        return Err(KaslrError::ImageTooLarge { len_bytes: image_len_bytes });
    }
    let positions = (window - aligned_len) / KASLR_ALIGN + 1;
    Ok(KASLR_WINDOW_START + (mix(seed) % positions) * KASLR_ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_aligned_and_inside_the_window() {
        for seed in 0..1000 {
            let len = 3 * 1024 * 1024 + seed * 17;
            let base = choose_kernel_base(seed, len).unwrap();
            assert_eq!(base % KASLR_ALIGN, 0);
            assert!(base >= KASLR_WINDOW_START);
            assert!(base + len <= KASLR_WINDOW_END);
        }
    }

    #[test]
    fn different_seeds_give_different_bases() {
        let len = 4 * 1024 * 1024;
        assert_ne!(choose_kernel_base(1, len), choose_kernel_base(2, len));
        assert_eq!(choose_kernel_base(7, len), choose_kernel_base(7, len));
        let mut bases: [u64; 64] = core::array::from_fn(|seed| choose_kernel_base(seed as u64, len).unwrap());
        bases.sort_unstable();
        assert!(bases.windows(2).all(|pair| pair[0] != pair[1]), "64 seeds should give 64 bases");
    }

    #[test]
    fn oversized_image_is_an_error() {
        let len = KASLR_WINDOW_END - KASLR_WINDOW_START + 1;
        assert_eq!(choose_kernel_base(0, len), Err(KaslrError::ImageTooLarge { len_bytes: len }));
        let exact = KASLR_WINDOW_END - KASLR_WINDOW_START;
        assert_eq!(choose_kernel_base(99, exact), Ok(KASLR_WINDOW_START));
    }

    #[test]
    fn seed_bytes_are_all_used() {
        let a = seed_from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let b = seed_from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 10]);
        assert_ne!(a, b);
        assert_ne!(seed_from_bytes(&[]), seed_from_bytes(&[0]));
    }
}
