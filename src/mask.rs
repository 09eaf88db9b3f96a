//! RFC 6455 §5.3 (client-to-server masking) and §10.3 (why the key must be unpredictable).
//!
//! §5.3: "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet i of the
//! original data ("original-octet-i") with octet at index i modulo 4 of the masking key
//! ("masking-key-octet-j"):
//!
//! ```text
//!     j                   = i MOD 4
//!     transformed-octet-i = original-octet-i XOR masking-key-octet-j
//! ```
//!
//! [`apply_mask_rfc`] is that formula, kept as the executable specification. [`apply_mask`] is
//! the fast path used everywhere else: 64 bytes at a time, which the compiler turns into vector
//! instructions, and on x86_64 CPUs with AVX2 a copy of the same loop compiled for 32-byte
//! registers. That dispatch is the only `unsafe` code in the crate (see the `avx2` module below);
//! tests compare every path with the formula.
//!
//! Masking keys come from a [`RandomSource`]: [`OsSeededRng`] (a ChaCha12 CSPRNG seeded once from
//! the operating system, so drawing a key per frame costs no system call) or anything the caller
//! injects, such as a closure returning a fixed key in tests.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Masks or unmasks `payload` in place with the plain RFC formula (§5.3), one byte at a time.
///
/// `offset` is the position of `payload[0]` within the frame's payload, so a payload that arrives
/// in pieces can be unmasked piece by piece. This is the reference the fast path is tested
/// against; use [`apply_mask`] in real code.
///
/// # Examples
///
/// ```
/// // §5.7: a masked "Hello" with masking key 37 fa 21 3d.
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// rfc6455::apply_mask_rfc([0x37, 0xfa, 0x21, 0x3d], &mut payload, 0);
/// assert_eq!(&payload, b"Hello");
/// ```
pub fn apply_mask_rfc(masking_key: [u8; 4], payload: &mut [u8], offset: usize) {
    for (i, octet) in payload.iter_mut().enumerate() {
        let j = (offset + i) % 4;
        *octet ^= masking_key[j];
    }
}

/// Masks or unmasks `payload` in place (§5.3); the fast path.
///
/// `offset` is the position of `payload[0]` within the frame's payload: unmasking a payload in
/// pieces at their offsets gives the same bytes as unmasking it whole. Masking and unmasking are
/// the same operation.
///
/// # Examples
///
/// ```
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58]; // §5.7: a masked "Hello"
/// let (first, rest) = payload.split_at_mut(2);
/// rfc6455::apply_mask(key, first, 0);
/// rfc6455::apply_mask(key, rest, 2);
/// assert_eq!(&payload, b"Hello");
/// ```
pub fn apply_mask(masking_key: [u8; 4], payload: &mut [u8], offset: usize) {
    let key = rotate_key(masking_key, offset);
    #[cfg(target_arch = "x86_64")]
    {
        if payload.len() >= 64 && avx2::is_available() {
            avx2::apply(key, payload);
            return;
        }
    }
    apply_mask_portable(key, payload);
}

/// The key as seen from `payload[0]` when it sits at `offset` in the frame's payload.
#[inline]
fn rotate_key(masking_key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut key = masking_key;
    key.rotate_left(offset % 4);
    key
}

/// The portable fast path: `key` is already rotated to `payload[0]`.
///
/// XOR with a 64-byte repetition of the key, 64 bytes at a time (the compiler emits vector
/// instructions for the fixed-size inner loop), then 8 bytes, then single bytes.
#[inline(always)]
fn apply_mask_portable(key: [u8; 4], payload: &mut [u8]) {
    let mut wide_key = [0u8; 64];
    for (i, octet) in wide_key.iter_mut().enumerate() {
        *octet = key[i % 4];
    }
    let mut blocks = payload.chunks_exact_mut(64);
    for block in &mut blocks {
        for (octet, key_octet) in block.iter_mut().zip(wide_key.iter()) {
            *octet ^= key_octet;
        }
    }
    let rest = blocks.into_remainder();
    let word_key = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word_key).to_ne_bytes());
    }
    // Whole blocks and words are multiples of 4 bytes, so the key is still aligned at index 0.
    for (i, octet) in words.into_remainder().iter_mut().enumerate() {
        *octet ^= key[i % 4];
    }
}

/// The audited `unsafe` of this crate: calling the portable loop compiled with AVX2 enabled.
///
/// Safety argument: `apply_avx2` contains only safe code; the only obligation of calling a
/// `#[target_feature(enable = "avx2")]` function is that the CPU supports AVX2, which
/// `is_available` checks at run time (the result is cached by the standard library) immediately
/// before every call.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    #[inline]
    pub(super) fn is_available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    #[inline]
    pub(super) fn apply(key: [u8; 4], payload: &mut [u8]) {
        debug_assert!(is_available());
        // SAFETY: `apply` is only called after `is_available()` returned true (see
        // `super::apply_mask` and the tests), so the CPU supports AVX2.
        unsafe { apply_avx2(key, payload) }
    }

    #[target_feature(enable = "avx2")]
    fn apply_avx2(key: [u8; 4], payload: &mut [u8]) {
        super::apply_mask_portable(key, payload);
    }
}

/// A source of random bytes: masking keys (§5.3) and `Sec-WebSocket-Key` nonces (§4.1).
///
/// Implemented by [`OsSeededRng`] and by any `FnMut(&mut [u8])` closure, so tests can inject
/// fixed bytes.
///
/// # Examples
///
/// ```
/// use rfc6455::{generate_masking_key, RandomSource};
///
/// // A fixed key for a test: the masking key of the RFC's §5.7 examples.
/// let mut fixed = |bytes: &mut [u8]| bytes.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(generate_masking_key(&mut fixed), [0x37, 0xfa, 0x21, 0x3d]);
/// ```
pub trait RandomSource {
    /// Fills `bytes` with random bytes.
    fn fill_random(&mut self, bytes: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill_random(&mut self, bytes: &mut [u8]) {
        self(bytes)
    }
}

/// The default [`RandomSource`]: ChaCha12, a cryptographically secure generator, seeded once
/// from the operating system.
///
/// §10.3: the masking key must be unpredictable, "derived from a strong source of entropy". One
/// seed from the OS, then no system call per key: a key costs a few nanoseconds.
///
/// # Examples
///
/// ```
/// use rfc6455::{generate_masking_key, OsSeededRng};
///
/// let mut rng = OsSeededRng::new();
/// let first = generate_masking_key(&mut rng);
/// let second = generate_masking_key(&mut rng);
/// # let _ = (first, second);
/// ```
pub struct OsSeededRng(ChaCha12Rng);

impl OsSeededRng {
    /// Seeds a new generator from the operating system's entropy source.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide entropy; see [`OsSeededRng::try_new`].
    pub fn new() -> OsSeededRng {
        OsSeededRng::try_new().expect("the operating system's entropy source failed")
    }

    /// Seeds a new generator from the operating system's entropy source.
    ///
    /// # Errors
    ///
    /// The operating system's error, if it cannot provide entropy.
    pub fn try_new() -> Result<OsSeededRng, impl std::error::Error> {
        ChaCha12Rng::try_from_os_rng().map(OsSeededRng)
    }

    /// A generator from a fixed seed: reproducible, for tests and benchmarks only.
    pub fn from_seed(seed: [u8; 32]) -> OsSeededRng {
        OsSeededRng(ChaCha12Rng::from_seed(seed))
    }
}

impl Default for OsSeededRng {
    fn default() -> OsSeededRng {
        OsSeededRng::new()
    }
}

impl std::fmt::Debug for OsSeededRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the generator's state: it would reveal future keys.
        f.write_str("OsSeededRng { .. }")
    }
}

impl RandomSource for OsSeededRng {
    fn fill_random(&mut self, bytes: &mut [u8]) {
        self.0.fill_bytes(bytes)
    }
}

/// Draws a fresh masking key (§5.3: "a new masking key MUST be chosen for each frame").
pub fn generate_masking_key<R: RandomSource + ?Sized>(random: &mut R) -> [u8; 4] {
    let mut key = [0u8; 4];
    random.fill_random(&mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn portable_path_matches_rfc_formula() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=300 {
            for key_offset in 0..4 {
                let mut expected = patterned(len);
                apply_mask_rfc(key, &mut expected, key_offset);
                let mut actual = patterned(len);
                apply_mask_portable(rotate_key(key, key_offset), &mut actual);
                assert_eq!(actual, expected, "len {len} key offset {key_offset}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_path_matches_rfc_formula() {
        if !avx2::is_available() {
            eprintln!("avx2 not available on this cpu: the portable path is the one in use");
            return;
        }
        let key = [0x01, 0x80, 0xfe, 0x7f];
        for len in 0..=300 {
            for start in 0..8 {
                for key_offset in 0..4 {
                    let mut expected = patterned(len + start);
                    apply_mask_rfc(key, &mut expected[start..], key_offset);
                    let mut actual = patterned(len + start);
                    avx2::apply(rotate_key(key, key_offset), &mut actual[start..]);
                    assert_eq!(actual, expected, "len {len} start {start} key offset {key_offset}");
                }
            }
        }
    }

    #[test]
    fn seeded_rng_is_reproducible_and_os_rng_differs() {
        let mut a = OsSeededRng::from_seed([7; 32]);
        let mut b = OsSeededRng::from_seed([7; 32]);
        assert_eq!(generate_masking_key(&mut a), generate_masking_key(&mut b));
        let mut os = OsSeededRng::new();
        let keys: Vec<[u8; 4]> = (0..16).map(|_| generate_masking_key(&mut os)).collect();
        // 16 draws of 32 random bits: all equal has probability 2^-480.
        assert!(keys.iter().any(|key| *key != keys[0]));
    }
}
