//! Hypha's random generator: ChaCha20 (RFC 8439 keystream, the `chacha20`
//! crate's `ChaCha20Rng`) keyed from a seed, with [`Generator::mix`] to
//! fold in more material and fast key erasure after every
//! [`Generator::fill`] (the state that produced some output can no longer
//! reproduce it).
//!
//! What it is: a pure, `no_std`, allocation-free state machine, tested on
//! the host. In unoptimised (debug) builds a [`Generator::mix`] or
//! [`Generator::fill`] costs about 1 ms under QEMU (the ChaCha code is
//! instantiated in this workspace crate, which debug builds leave at
//! opt-level 0); release builds take a few microseconds.
//!
//! What it is not: an entropy source. The kernel (`kernel/src/random.rs`)
//! seeds it from the device tree's `rng-seed` and timer jitter and keeps
//! the global instance.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use chacha20::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng as _};

/// Bytes of key a [`Generator`] holds.
pub const KEY_LEN: usize = 32;

/// A ChaCha20 generator with mixing and key erasure. Deterministic in its
/// inputs: the same seed, mixed words and fill sizes give the same bytes.
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha20Rng,
}

impl Generator {
    /// Keyed by `seed`: its first [`KEY_LEN`] bytes (zero-padded when
    /// shorter); further bytes are mixed in eight at a time.
    #[must_use]
    pub fn new(seed: &[u8]) -> Self {
        let mut key = [0u8; KEY_LEN];
        let (head, tail) = seed.split_at(seed.len().min(KEY_LEN));
        key[..head.len()].copy_from_slice(head);
        let mut generator = Self { rng: ChaCha20Rng::from_seed(key) };
        for chunk in tail.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            generator.mix(u64::from_le_bytes(word));
        }
        generator
    }

    /// Mixes `word` into the key: the new key is the first 32 bytes of the
    /// old key's keystream on stream `word`, so it depends on both and
    /// reveals neither.
    pub fn mix(&mut self, word: u64) {
        self.rng.set_stream(word);
        self.rng.set_block_pos(0);
        self.rekey();
    }

    /// Fills `buf`, then rekeys from the keystream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
        self.rekey();
    }

    /// Replaces the key by the next 32 keystream bytes.
    fn rekey(&mut self) {
        let mut key = [0u8; KEY_LEN];
        self.rng.fill_bytes(&mut key);
        self.rng = ChaCha20Rng::from_seed(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(seed: &[u8], mixed: &[u64]) -> [u8; 32] {
        let mut generator = Generator::new(seed);
        for &word in mixed {
            generator.mix(word);
        }
        let mut out = [0u8; 32];
        generator.fill(&mut out);
        out
    }

    #[test]
    fn keystream_is_chacha20() {
        // RFC 7539 appendix A.1, test vector 1: the keystream of the
        // all-zero key, nonce and counter.
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        let mut block = [0u8; 16];
        rng.fill_bytes(&mut block);
        assert_eq!(block, [0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28]);
    }

    #[test]
    fn output_is_a_function_of_the_inputs() {
        assert_eq!(output(b"seed", &[1, 2]), output(b"seed", &[1, 2]));
        assert_ne!(output(b"seed", &[1, 2]), output(b"seeD", &[1, 2]), "the seed is used");
        assert_ne!(output(b"seed", &[1, 2]), output(b"seed", &[1, 3]), "mixed words are used");
        assert_ne!(output(b"seed", &[1, 2]), output(b"seed", &[2, 1]), "order matters");
        assert_ne!(output(b"seed", &[]), output(b"seed", &[0]), "mixing zero still changes the key");
    }

    #[test]
    fn every_seed_byte_counts() {
        let long = [7u8; 48];
        let reference = output(&long, &[]);
        for index in 0..long.len() {
            let mut changed = long;
            changed[index] ^= 1;
            assert_ne!(output(&changed, &[]), reference, "seed byte {index} ignored");
        }
        // A short seed is zero-padded, so it equals its padded form...
        assert_eq!(output(b"ab", &[]), output(b"ab\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", &[]));
        // ...but not the same key with a 33rd byte mixed in.
        assert_ne!(output(&[1; 32], &[]), output(&[1; 33], &[]));
    }

    #[test]
    fn fills_never_repeat_and_erase_the_key() {
        let mut generator = Generator::new(b"seed");
        let (mut first, mut second) = ([0u8; 64], [0u8; 64]);
        generator.fill(&mut first);
        generator.fill(&mut second);
        assert_ne!(first, second);
        // After a fill the state is a fresh key, not the old stream moved
        // on: the second output is not the keystream that followed the first.
        let mut plain = ChaCha20Rng::from_seed(*b"seed\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let mut stream = [0u8; 128];
        plain.fill_bytes(&mut stream);
        assert_eq!(first[..], stream[..64], "first output is the seed's keystream");
        assert_ne!(second[..], stream[64..]);
    }

    #[test]
    fn output_bits_are_balanced() {
        // Not a statistical suite: 64 KiB from one seed has close to half
        // its bits set (a broken generator that repeats or zeroes fails).
        let mut generator = Generator::new(b"balance");
        let mut buf = std::vec![0u8; 65536];
        generator.fill(&mut buf);
        let ones: u64 = buf.iter().map(|byte| u64::from(byte.count_ones())).sum();
        let bits = 65536 * 8;
        assert!(ones.abs_diff(bits / 2) < 2000, "{ones} ones of {bits}");
        let distinct = buf.chunks(8).collect::<std::collections::BTreeSet<_>>().len();
        assert_eq!(distinct, 8192, "no repeated 8-byte words");
    }
}
