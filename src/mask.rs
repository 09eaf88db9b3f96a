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
//! the fast path: whole cache lines (64-byte blocks) from the first 64-byte boundary, and the
//! unaligned first and last 64 bytes as whole blocks too (short payloads word by word), which
//! the compiler turns into vector instructions; on x86_64
//! CPUs with AVX2 or AVX-512 the same safe loop, compiled for 32- or 64-byte registers, is picked
//! at run time. [`extend_masked`] does the same while copying: it appends a payload to a buffer
//! masked, reading and writing each byte once. Its loop (`mask_copy_aligned`, built on the block
//! helpers below) writes into a buffer's spare capacity that is then marked initialised, so it
//! lives in `src/audited.rs`, the crate's only `unsafe` code, next to that safety argument; so
//! does the choice of build at run time. Tests compare every path with the formula (those of
//! the one-pass copy are in `src/audited.rs`).
//!
//! Masking keys come from a [`RandomSource`]: [`OsSeededRng`] (a ChaCha12 CSPRNG seeded once from
//! the operating system, so drawing a key per frame costs no system call) or anything the caller
//! injects, such as a closure returning a fixed key in tests.

use bytes::BytesMut;
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
#[inline]
pub fn apply_mask(masking_key: [u8; 4], payload: &mut [u8], offset: usize) {
    let key = rotate_key(masking_key, offset);
    if payload.len() >= 2 * BLOCK {
        crate::audited::apply_mask_widest(key, payload);
    } else {
        apply_mask_words(key, payload);
    }
}

/// The whole portable algorithm, `key` already rotated to `payload[0]`.
///
/// From 128 bytes on, only whole 64-byte blocks: the first and the last 64 bytes are loaded
/// (unaligned) before anything is written, the blocks between the first and the last 64-byte
/// boundaries are masked in place (aligned: whole cache lines), then the first and last 64
/// bytes are stored back masked. The stores overwrite bytes the aligned blocks already masked
/// with the same values, so every byte is masked exactly once, and no byte-by-byte loop is
/// needed for the unaligned ends.
#[inline(always)]
pub(crate) fn apply_mask_aligned(key: [u8; 4], payload: &mut [u8]) {
    let len = payload.len();
    if len < 2 * BLOCK {
        apply_mask_words(key, payload);
        return;
    }
    let head_len = payload.as_ptr().align_offset(BLOCK).min(BLOCK);
    if head_len == 0 && len % BLOCK == 0 {
        // Aligned whole blocks: nothing to patch at either end.
        apply_mask_blocks_only(key, payload);
        return;
    }
    let mut first = block_at(payload, 0);
    let mut last = block_at(payload, len - BLOCK);
    // What is left after the whole blocks (under 64 bytes) lies inside `last`.
    apply_mask_blocks_only(rotate_key(key, head_len), &mut payload[head_len..]);
    xor_block(&mut first, &wide_key(key));
    xor_block(&mut last, &wide_key(rotate_key(key, len - BLOCK)));
    payload[..BLOCK].copy_from_slice(&first);
    payload[len - BLOCK..].copy_from_slice(&last);
}

/// A copy of the 64 bytes of `payload` at `at`.
#[inline(always)]
pub(crate) fn block_at(payload: &[u8], at: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(&payload[at..at + BLOCK]);
    block
}

/// The key repeated over a block.
#[inline(always)]
pub(crate) fn wide_key(key: [u8; 4]) -> [u8; BLOCK] {
    let mut wide = [0u8; BLOCK];
    for quad in wide.chunks_exact_mut(4) {
        quad.copy_from_slice(&key);
    }
    wide
}

/// XOR of one block with the wide key: one vector instruction where the CPU has 64-byte ones.
#[inline(always)]
pub(crate) fn xor_block(block: &mut [u8], wide_key: &[u8; BLOCK]) {
    for (octet, key_octet) in block.iter_mut().zip(wide_key.iter()) {
        *octet ^= key_octet;
    }
}

/// Masks the whole blocks at the start of `payload`, leaving the remainder (under 64 bytes)
/// untouched. `key` is already rotated to `payload[0]`.
#[inline(always)]
fn apply_mask_blocks_only(key: [u8; 4], payload: &mut [u8]) {
    let wide = wide_key(key);
    for block in payload.chunks_exact_mut(BLOCK) {
        xor_block(block, &wide);
    }
}

/// Appends `payload` to `out` masked (§5.3), in one pass: each byte is read from `payload` and
/// written to `out` already masked, instead of being copied first and masked in place after.
///
/// `offset` is the position of `payload[0]` within the frame's payload, as for [`apply_mask`].
/// This is how a [`crate::Connection`] writes a client's payloads into its output and copies a
/// large masked message out of a server's reads; use it to build masked frames by hand.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
///
/// // §5.7: a masked "Hello": the header, the masking key, then the payload masked with it.
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut out = BytesMut::from(&[0x81, 0x85][..]);
/// out.extend_from_slice(&key);
/// rfc6455::extend_masked(&mut out, key, b"Hel", 0);
/// rfc6455::extend_masked(&mut out, key, b"lo", 3);
/// assert_eq!(&out[..], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
pub fn extend_masked(out: &mut BytesMut, masking_key: [u8; 4], payload: &[u8], offset: usize) {
    crate::audited::extend_masked_widest(out, rotate_key(masking_key, offset), payload);
}

/// The size of a block of the vector loop: one cache line, one AVX-512 register.
pub(crate) const BLOCK: usize = 64;

/// The key as seen from `payload[0]` when it sits at `offset` in the frame's payload.
#[inline]
pub(crate) fn rotate_key(masking_key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian: byte 0 is the low byte, so shifting right by 8 bits moves key[1] to index 0.
    u32::from_le_bytes(masking_key).rotate_right(8 * (offset % 4) as u32).to_le_bytes()
}

/// The key repeated over a 64-bit word.
#[inline(always)]
pub(crate) fn word_key(key: [u8; 4]) -> u64 {
    let key = u64::from(u32::from_ne_bytes(key));
    key | (key << 32)
}

/// XOR of one 8-byte word with the repeated key.
#[inline(always)]
fn xor_word(word: &mut [u8], word_key: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word_key).to_ne_bytes());
}

/// Masks 8 bytes at a time, then byte by byte: for short payloads and the ends of long ones.
/// `key` is already rotated to `payload[0]`.
#[inline(always)]
fn apply_mask_words(key: [u8; 4], payload: &mut [u8]) {
    let word_key = word_key(key);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        xor_word(word, word_key);
    }
    // Whole words are multiples of 4 bytes, so the key is still aligned at index 0.
    for (i, octet) in words.into_remainder().iter_mut().enumerate() {
        *octet ^= key[i % 4];
    }
}

/// The portable block loop: 64 bytes at a time, XORed with the key repeated over 64 bytes (the
/// compiler turns the fixed-size inner loop into vector instructions of whatever width the
/// function is compiled for), then the remainder word by word. `key` is already rotated to
/// `payload[0]`.
#[cfg(test)]
fn apply_mask_blocks(key: [u8; 4], payload: &mut [u8]) {
    apply_mask_blocks_only(key, payload);
    let whole = payload.len() / BLOCK * BLOCK;
    // Whole blocks are multiples of 4 bytes: the key is still aligned.
    apply_mask_words(key, &mut payload[whole..]);
}

/// A source of random bytes: masking keys (§5.3) and `Sec-WebSocket-Key` nonces (§4.1).
///
/// Implemented by [`OsSeededRng`] and by any `FnMut(&mut [u8])` closure, so tests can inject
/// fixed bytes.
///
/// # Examples
///
/// ```
/// use rfc6455::RandomSource;
///
/// // A fixed key for a test: the masking key of the RFC's §5.7 examples.
/// let mut fixed = |bytes: &mut [u8]| bytes.copy_from_slice(&[0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(fixed.masking_key(), [0x37, 0xfa, 0x21, 0x3d]);
/// ```
pub trait RandomSource {
    /// Fills `bytes` with random bytes.
    fn fill_random(&mut self, bytes: &mut [u8]);

    /// Four random bytes: a masking key. The default draws them with
    /// [`RandomSource::fill_random`]; generators with a faster way override it.
    fn masking_key(&mut self) -> [u8; 4] {
        let mut key = [0u8; 4];
        self.fill_random(&mut key);
        key
    }
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
/// use rfc6455::{OsSeededRng, RandomSource};
///
/// let mut rng = OsSeededRng::new();
/// let first = rng.masking_key();
/// let second = rng.masking_key();
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

    fn masking_key(&mut self) -> [u8; 4] {
        self.0.next_u32().to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// Runs `path` (given a key rotated to the slice start) against the RFC formula for every
    /// length 0..=300, start address offset 0..8 and payload offset 0..4.
    /// From 120 bytes on, every start offset 0..64 too: every distance to a 64-byte boundary.
    fn check_against_formula(path: impl Fn([u8; 4], &mut [u8])) {
        let key = [0x01, 0x80, 0xfe, 0x7f];
        for len in (0..=300).chain([1024, 4099]) {
            let starts = if len < 120 { 8 } else { 64 };
            for start in 0..starts {
                for key_offset in 0..4 {
                    let mut expected = patterned(len + start);
                    apply_mask_rfc(key, &mut expected[start..], key_offset);
                    let mut actual = patterned(len + start);
                    path(rotate_key(key, key_offset), &mut actual[start..]);
                    assert_eq!(actual, expected, "len {len} start {start} key offset {key_offset}");
                }
            }
        }
    }

    #[test]
    fn word_path_matches_rfc_formula() {
        check_against_formula(apply_mask_words);
    }

    #[test]
    fn portable_block_path_matches_rfc_formula() {
        check_against_formula(apply_mask_blocks);
        check_against_formula(apply_mask_aligned);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_path_matches_rfc_formula() {
        if !crate::audited::has_avx2() {
            eprintln!("no avx2 on this cpu: apply_avx2 falls back to the portable loop");
        }
        check_against_formula(crate::audited::apply_mask_avx2);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_path_matches_rfc_formula() {
        if !crate::audited::has_avx512() {
            eprintln!("no avx-512 on this cpu: apply_avx512 falls back to the portable loop");
        }
        check_against_formula(crate::audited::apply_mask_avx512);
    }

    #[test]
    fn masked_extend_at_any_offset_matches_rfc_formula() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in [0, 5, 127, 128, 1000] {
            for offset in 0..8 {
                let payload = patterned(len);
                let mut expected = payload.clone();
                apply_mask_rfc(key, &mut expected, offset);
                let mut out = BytesMut::from(&b"head"[..]);
                extend_masked(&mut out, key, &payload, offset);
                assert_eq!(&out[..4], b"head");
                assert_eq!(&out[4..], &expected[..], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn dispatching_path_matches_rfc_formula() {
        check_against_formula(|key, payload| apply_mask(key, payload, 0));
    }

    #[test]
    fn seeded_rng_is_reproducible_and_os_rng_differs() {
        let mut a = OsSeededRng::from_seed([7; 32]);
        let mut b = OsSeededRng::from_seed([7; 32]);
        assert_eq!(a.masking_key(), b.masking_key());
        let mut os = OsSeededRng::new();
        let keys: Vec<[u8; 4]> = (0..16).map(|_| os.masking_key()).collect();
        // 16 draws of 32 random bits: all equal has probability 2^-480.
        assert!(keys.iter().any(|key| *key != keys[0]));
    }
}
