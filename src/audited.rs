//! The crate's only `unsafe` code, kept small so it can be audited in one sitting: everything
//! its safety arguments rely on is in this file. The rest of the crate is built under
//! `#![deny(unsafe_code)]` (`src/lib.rs`); this module alone allows it.
//!
//! What it holds:
//!
//! 1. [`apply_mask_widest`]: runs the (safe) masking loop of [`crate::mask`] compiled for
//!    AVX-512 or AVX2 when the CPU has them.
//! 2. [`extend_masked_widest`]: appends a payload masked as it is copied into a buffer's spare
//!    capacity, then declares those bytes initialised. The loop that writes them,
//!    [`mask_copy_aligned`], is here too, with its helpers, because that declaration rests on it.
//! 3. [`ValidUtf8::as_str`]: views the bytes of a [`ValidUtf8`] (the text of a
//!    [`crate::Utf8Bytes`]) as `&str` without validating them a second time. Every way to build a
//!    `ValidUtf8` is here: from a `String` or `&'static str`, from bytes `std::str::from_utf8`
//!    accepts ([`ValidUtf8::new`]), or from a
//!    [`TextBuilder`], which checks each piece of a message where it lies as it is added (a
//!    fragmented message, or one read in place as it arrives). A [`WholeRun`] (whole messages
//!    split off the input together) checks each Text payload when it is made and wraps that same
//!    range when it hands the message out.
//!
//! Each `unsafe` operation, and what it relies on:
//!
//! - Calling a `#[target_feature]` function (the `*_unchecked` functions): the CPU has the
//!   feature. Every call is guarded by [`has_avx2`] or [`has_avx512`] just before it. Their
//!   bodies are safe code, calling [`crate::mask::apply_mask_aligned`] or [`mask_copy_aligned`].
//! - `BytesMut::set_len` in [`extend_masked_widest`]: the bytes it adds to the length are
//!   initialised. They are the spare capacity reserved just before, handed whole to
//!   [`mask_copy_aligned`] (whichever build), which writes every one of them: its documentation
//!   says why, line by line. It computes the *values* it writes with helpers of [`crate::mask`]
//!   (`rotate_key`, `word_key`, `wide_key`, `block_at`, `xor_block`) and cuts blocks of
//!   `crate::mask::BLOCK` (64) bytes. None of that can break the argument: the helpers are safe
//!   code returning plain integers and arrays, so they decide which values are written, never
//!   which bytes; and the argument holds for any block size (a size of 0 would only panic). A
//!   panic anywhere before `set_len` leaves the buffer's length as it was, so no uninitialised
//!   byte is ever exposed.
//! - `str::from_utf8_unchecked` in [`ValidUtf8::as_str`]: the bytes are valid UTF-8. The field
//!   of `ValidUtf8` is private to this file, and each of its constructors either starts from a
//!   Rust string or wraps exactly the bytes `std::str::from_utf8` accepted: the text is checked
//!   by construction, whatever the code of [`crate::message`] does (see the type's
//!   documentation). Debug builds check again.
//! - `MaybeUninit::assume_init` in `initialised_for_test`: test code only.
//!
//! Building with the `safe` feature replaces all three with safe code (the portable loop; copying
//! then masking in place; validating again), and the tests below compare each fast path with its
//! safe fallback and with the RFC formula, and check that the masked copy writes every byte of
//! its destination and no other.

#![allow(unsafe_code)]

use crate::error::ProtocolError;
use crate::mask::{block_at, rotate_key, wide_key, word_key, xor_block, BLOCK};
use crate::message::{Message, Utf8Bytes};
use bytes::{Buf, Bytes, BytesMut};
use std::mem::MaybeUninit;

/// Masks `payload` with `key` (already rotated to `payload[0]`) using the widest vectors the
/// CPU has.
#[inline]
pub(crate) fn apply_mask_widest(key: [u8; 4], payload: &mut [u8]) {
    #[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
    {
        if has_avx512() {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { apply_mask_avx512_unchecked(key, payload) };
            return;
        }
        if has_avx2() {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { apply_mask_avx2_unchecked(key, payload) };
            return;
        }
    }
    crate::mask::apply_mask_aligned(key, payload);
}

/// Appends `payload` to `out`, masked with `key` (already rotated to `payload[0]`), in one pass.
///
/// Safety argument: after `reserve(payload.len())` the spare capacity after `out.len()` is at
/// least `payload.len()` bytes long. Exactly those `payload.len()` bytes are handed to
/// [`mask_copy_widest`], whose every build is [`mask_copy_aligned`] with the same arguments, and
/// [`mask_copy_aligned`] writes every byte of `destination[..source.len()]` (see its
/// documentation; the `*_masked_copy_writes_every_byte_and_no_other` tests below check it for
/// every length to 300 and every distance to a 64-byte boundary). So when it returns those bytes
/// are initialised and `set_len` may include them. If it panics instead, `set_len` is never
/// reached and `out` keeps its length.
#[inline]
pub(crate) fn extend_masked_widest(out: &mut BytesMut, key: [u8; 4], payload: &[u8]) {
    #[cfg(not(feature = "safe"))]
    {
        let start = out.len();
        out.reserve(payload.len());
        mask_copy_widest(key, payload, &mut out.spare_capacity_mut()[..payload.len()]);
        // SAFETY: the `payload.len()` bytes after `start` were reserved and are now written (see
        // the safety argument above).
        unsafe { out.set_len(start + payload.len()) };
    }
    #[cfg(feature = "safe")]
    {
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask_widest(key, &mut out[start..]);
    }
}

/// [`mask_copy_aligned`] with the widest vectors the CPU has: each branch calls it with the same
/// arguments, compiled for a wider register.
#[cfg(not(feature = "safe"))]
#[inline]
fn mask_copy_widest(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { mask_copy_avx512_unchecked(key, source, destination) };
            return;
        }
        if has_avx2() {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { mask_copy_avx2_unchecked(key, source, destination) };
            return;
        }
    }
    mask_copy_aligned(key, source, destination);
}

/// Writes `source` masked with `key` (already rotated to `source[0]`) into the first
/// `source.len()` bytes of `destination`: the whole portable algorithm of
/// [`crate::mask::extend_masked`], a single pass that reads each byte once and writes it masked.
///
/// # Every byte is written
///
/// [`extend_masked_widest`] relies on this: when it returns, every byte of
/// `destination[..source.len()]` has been written. With `len = source.len()`, `destination` is
/// first cut to `len` bytes (a shorter one panics), so every `zip` below pairs slices of equal
/// length and never stops early, and [`write_bytes`] always writes all of its `destination`
/// (each call gives it an array exactly as long: 8 bytes or one block of 64).
///
/// - Under 128 bytes: `chunks_exact_mut(8)` covers the whole 8-byte words, each written by
///   [`write_bytes`]; the remainder (under 8 bytes) is written byte by byte.
/// - From 128 bytes on, three ranges, each written block by block with [`write_bytes`]:
///   - `[0, 64)`, the first block;
///   - `[h, len - r)`, the whole blocks from `h` (`head_len`), the distance to the first 64-byte
///     boundary of `destination`: `align_offset` clamped by `.min(BLOCK) % BLOCK`, so `h < 64`.
///     They go eight at a time (`chunks_exact_mut(GROUP * BLOCK)`, each cut into its `GROUP`
///     blocks), then one at a time over the groups' remainder; `r`, what follows the last whole
///     block, is under 64 bytes;
///   - `[len - 64, len)`, the last block.
///
///   As `h < 64` the first two ranges leave no gap, and as `r < 64` the last range starts
///   before the middle one ends (the middle one is not empty: `len - h > 64`). Together they are
///   `[0, len)`. Bytes in two ranges are written twice, with the same value.
///
/// The helpers of [`crate::mask`] that compute the values (`word_key`, `wide_key`, `rotate_key`,
/// `block_at`, `xor_block`) decide what each byte holds, not whether it is written. The blocks
/// are read eight at a time before any is written: grouped loads and stores run faster than
/// alternating ones. The tests below compare the output with the RFC formula.
#[cfg_attr(feature = "safe", allow(dead_code))]
#[inline(always)]
pub(crate) fn mask_copy_aligned(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    let len = source.len();
    let destination = &mut destination[..len];
    if len < 2 * BLOCK {
        let word_key = word_key(key);
        let mut words = destination.chunks_exact_mut(8);
        let mut from = source.chunks_exact(8);
        for (word, from) in (&mut words).zip(&mut from) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(from);
            write_bytes(word, &(u64::from_ne_bytes(bytes) ^ word_key).to_ne_bytes());
        }
        // Whole words are multiples of 4 bytes: the key is still aligned.
        let tail = words.into_remainder().iter_mut().zip(from.remainder());
        for (i, (octet, from)) in tail.enumerate() {
            octet.write(from ^ key[i % 4]);
        }
        return;
    }
    let head_len = destination.as_ptr().align_offset(BLOCK).min(BLOCK) % BLOCK;
    let first = masked_block(source, &wide_key(key));
    let last = masked_block(&source[len - BLOCK..], &wide_key(rotate_key(key, len - BLOCK)));
    write_bytes(&mut destination[..BLOCK], &first);
    let wide = wide_key(rotate_key(key, head_len));
    let mut to_groups = destination[head_len..].chunks_exact_mut(GROUP * BLOCK);
    let mut from_groups = source[head_len..].chunks_exact(GROUP * BLOCK);
    for (to, from) in (&mut to_groups).zip(&mut from_groups) {
        let mut group = [[0u8; BLOCK]; GROUP];
        for (block, from) in group.iter_mut().zip(from.chunks_exact(BLOCK)) {
            *block = masked_block(from, &wide);
        }
        for (block, to) in group.iter().zip(to.chunks_exact_mut(BLOCK)) {
            write_bytes(to, block);
        }
    }
    let to_blocks = to_groups.into_remainder().chunks_exact_mut(BLOCK);
    for (to, from) in to_blocks.zip(from_groups.remainder().chunks_exact(BLOCK)) {
        write_bytes(to, &masked_block(from, &wide));
    }
    write_bytes(&mut destination[len - BLOCK..], &last);
}

/// The first 64 bytes of `source`, XORed with the wide key: a value, written by the caller.
#[cfg_attr(feature = "safe", allow(dead_code))]
#[inline(always)]
fn masked_block(source: &[u8], wide_key: &[u8; BLOCK]) -> [u8; BLOCK] {
    let mut block = block_at(source, 0);
    xor_block(&mut block, wide_key);
    block
}

/// Writes `bytes` to the front of `destination`: `min(destination.len(), bytes.len())` bytes,
/// all of `destination` when `bytes` is at least as long (one vector store for a block).
#[cfg_attr(feature = "safe", allow(dead_code))]
#[inline(always)]
fn write_bytes(destination: &mut [MaybeUninit<u8>], bytes: &[u8]) {
    for (to, from) in destination.iter_mut().zip(bytes) {
        to.write(*from);
    }
}

/// Blocks [`mask_copy_aligned`] reads before writing them.
#[cfg_attr(feature = "safe", allow(dead_code))]
const GROUP: usize = 8;

/// Safety argument: as for [`apply_mask_avx2_unchecked`].
#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[target_feature(enable = "avx2")]
fn mask_copy_avx2_unchecked(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    mask_copy_aligned(key, source, destination);
}

/// Safety argument: as for [`apply_mask_avx512_unchecked`].
#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[target_feature(enable = "avx512f")]
fn mask_copy_avx512_unchecked(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    mask_copy_aligned(key, source, destination);
}

/// Whether the CPU supports AVX2 (the standard library caches the answer).
#[cfg_attr(feature = "safe", allow(dead_code))]
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Whether the CPU supports AVX-512F (the standard library caches the answer).
#[cfg_attr(feature = "safe", allow(dead_code))]
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Safety argument: the body is safe code; the only obligation of calling a
/// `#[target_feature]` function is that the CPU supports the feature, which every caller checks
/// with [`has_avx2`] immediately before the call.
#[cfg_attr(feature = "safe", allow(dead_code))]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_mask_avx2_unchecked(key: [u8; 4], payload: &mut [u8]) {
    crate::mask::apply_mask_aligned(key, payload);
}

/// Safety argument: as for [`apply_mask_avx2_unchecked`], with [`has_avx512`].
#[cfg_attr(feature = "safe", allow(dead_code))]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn apply_mask_avx512_unchecked(key: [u8; 4], payload: &mut [u8]) {
    crate::mask::apply_mask_aligned(key, payload);
}

/// The AVX2 build if the CPU has AVX2, else the portable loop: for tests.
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn apply_mask_avx2(key: [u8; 4], payload: &mut [u8]) {
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { apply_mask_avx2_unchecked(key, payload) }
    } else {
        crate::mask::apply_mask_aligned(key, payload)
    }
}

/// The AVX-512 build if the CPU has AVX-512F, else the portable loop: for tests.
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn apply_mask_avx512(key: [u8; 4], payload: &mut [u8]) {
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { apply_mask_avx512_unchecked(key, payload) }
    } else {
        crate::mask::apply_mask_aligned(key, payload)
    }
}

/// The AVX2 build of the one-pass masked copy if the CPU has AVX2, else the portable loop: for
/// tests.
#[cfg(all(test, target_arch = "x86_64", not(feature = "safe")))]
fn mask_copy_avx2(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { mask_copy_avx2_unchecked(key, source, destination) }
    } else {
        mask_copy_aligned(key, source, destination)
    }
}

/// The AVX-512 build of the one-pass masked copy if the CPU has AVX-512F, else the portable
/// loop: for tests.
#[cfg(all(test, target_arch = "x86_64", not(feature = "safe")))]
fn mask_copy_avx512(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { mask_copy_avx512_unchecked(key, source, destination) }
    } else {
        mask_copy_aligned(key, source, destination)
    }
}

/// The bytes of `bytes`, every one of which the caller initialised: for tests.
#[cfg(test)]
fn initialised_for_test(bytes: &[MaybeUninit<u8>]) -> Vec<u8> {
    // SAFETY: test-only; callers fill the whole slice before calling.
    bytes.iter().map(|octet| unsafe { octet.assume_init() }).collect()
}

/// Bytes that are valid UTF-8: the text behind a [`crate::Utf8Bytes`].
///
/// Safety argument for [`ValidUtf8::as_str`]: the field is private to this file, and every
/// function here that builds a `ValidUtf8` either takes a `String` or `&'static str` (valid by
/// their own types), or has `std::str::from_utf8` accept the very bytes it then wraps
/// ([`ValidUtf8::new`], [`TextBuilder::finish`], [`WholeRun::next_message`]). The bytes cannot
/// change afterwards:
/// `bytes::Bytes` gives no mutable access to what it holds. Debug builds check again.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ValidUtf8(Bytes);

impl ValidUtf8 {
    /// Wraps `bytes` if they are valid UTF-8.
    #[inline]
    pub(crate) fn new(bytes: Bytes) -> Result<ValidUtf8, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(ValidUtf8(bytes))
    }

    /// Wraps a `String`'s bytes, without copying.
    pub(crate) fn from_string(text: String) -> ValidUtf8 {
        ValidUtf8(Bytes::from(text))
    }

    /// Wraps a static string's bytes, without copying.
    pub(crate) fn from_static(text: &'static str) -> ValidUtf8 {
        ValidUtf8(Bytes::from_static(text.as_bytes()))
    }

    /// The text, without validating it again (see the safety argument above).
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        #[cfg(not(feature = "safe"))]
        {
            debug_assert!(std::str::from_utf8(&self.0).is_ok());
            // SAFETY: the bytes are valid UTF-8, see the safety argument above.
            unsafe { std::str::from_utf8_unchecked(&self.0) }
        }
        #[cfg(feature = "safe")]
        {
            std::str::from_utf8(&self.0).unwrap_or_default()
        }
    }

    /// The UTF-8 bytes.
    pub(crate) fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The UTF-8 bytes, without copying.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// A Text message assembled piece by piece (§8.1), each piece checked as it is added, so the
/// first invalid byte fails at once, even before the message ends; a code point may be split
/// between pieces.
///
/// Its bytes are checked by `std::str::from_utf8` where they lie, in the buffer that becomes the
/// [`ValidUtf8`]: `valid_up_to` is the length of the prefix it accepted (always the end of a
/// code point), and each piece re-checks from there, so a code point split between pieces is
/// checked whole. [`TextBuilder::finish`] wraps the bytes only when that prefix is all of them.
#[derive(Debug, Default)]
pub(crate) struct TextBuilder {
    bytes: BytesMut,
    valid_up_to: usize,
}

impl TextBuilder {
    /// Adds a piece taken from the read buffer: without copying when it follows the bytes so
    /// far in the same allocation (`BytesMut::unsplit`), as the pieces of a frame read in place
    /// do.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] if the text so far holds a byte that cannot be part of
    /// valid UTF-8 (an unfinished code point at the end is not an error yet).
    #[inline]
    pub(crate) fn push(&mut self, piece: BytesMut) -> Result<(), ProtocolError> {
        self.bytes.unsplit(piece);
        self.check_new_bytes()
    }

    /// Adds a piece by copying it.
    ///
    /// # Errors
    ///
    /// As [`TextBuilder::push`].
    pub(crate) fn push_slice(&mut self, piece: &[u8]) -> Result<(), ProtocolError> {
        self.bytes.extend_from_slice(piece);
        self.check_new_bytes()
    }

    /// Checks the bytes after the accepted prefix.
    #[inline]
    fn check_new_bytes(&mut self) -> Result<(), ProtocolError> {
        match std::str::from_utf8(&self.bytes[self.valid_up_to..]) {
            Ok(_) => {
                self.valid_up_to = self.bytes.len();
                Ok(())
            }
            // `error_len() == None`: the bytes end inside a code point that may still be valid.
            Err(error) if error.error_len().is_none() => {
                self.valid_up_to += error.valid_up_to();
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }

    /// Heap bytes held.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Whether nothing was added yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The whole text.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] if it ends inside a code point.
    pub(crate) fn finish(self) -> Result<ValidUtf8, ProtocolError> {
        if self.valid_up_to != self.bytes.len() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(ValidUtf8(self.bytes.freeze()))
    }
}

/// How many records of a run are kept inline: the common case is a run of one message (one
/// read, one message), so that needs no allocation; a longer run allocates once.
pub(crate) const INLINE_RECORDS: usize = 4;

/// Where one whole single-frame message lies in a [`WholeRun`]: its header's length, then its
/// payload's, as its header said.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunRecord {
    pub(crate) text: bool,
    pub(crate) header_len: u8,
    pub(crate) payload_len: u32,
}

/// The records of a run, in order, as its headers are checked.
#[derive(Debug, Default)]
pub(crate) struct RunRecords {
    inline: [RunRecord; INLINE_RECORDS],
    more: Vec<RunRecord>,
    count: usize,
    /// Whether any of them is Text.
    text: bool,
}

impl RunRecords {
    /// Appends the record of the next message.
    #[inline]
    pub(crate) fn push(&mut self, record: RunRecord) {
        match self.inline.get_mut(self.count) {
            Some(slot) => *slot = record,
            None => self.more.push(record),
        }
        self.count += 1;
        self.text |= record.text;
    }

    /// Makes room for `additional` records past the inline ones, in one allocation, instead of
    /// growing by doubling as they are pushed.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.more.reserve(additional);
    }

    /// How many messages are recorded.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The record of message `index`.
    #[inline(always)]
    fn get(&self, index: usize) -> Option<RunRecord> {
        if index >= self.count {
            return None;
        }
        match self.inline.get(index) {
            Some(record) => Some(*record),
            None => self.more.get(index - INLINE_RECORDS).copied(),
        }
    }
}

/// Whole single-frame messages split off the input together, already unmasked, handed out one at
/// a time without copying: their bytes, headers included, and where each payload lies.
///
/// Every Text payload is checked by `std::str::from_utf8` when the run is made
/// ([`WholeRun::split_off`]) and wrapped as [`ValidUtf8`] when it is handed out
/// ([`WholeRun::next_message`]): both walk the same immutable bytes with the same records in the
/// same order (skip the header, take the payload), and the fields are private to this file.
#[derive(Debug)]
pub(crate) struct WholeRun {
    /// From the next message's header to the end of the run.
    bytes: Bytes,
    records: RunRecords,
    next: usize,
}

impl WholeRun {
    /// Splits the first `len` bytes off `buffer`: whole frames, unmasked, one message each, as
    /// `records` describe them (`len` is the sum of their lengths). Checks their Text payloads in
    /// order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] at the first Text payload that is not UTF-8 (§8.1): the run
    /// then holds the messages before it.
    ///
    /// # Panics
    ///
    /// If `len` or the records do not fit `buffer` (the caller read them from it).
    #[inline]
    pub(crate) fn split_off(
        buffer: &mut BytesMut,
        len: usize,
        records: RunRecords,
    ) -> (WholeRun, Result<(), ProtocolError>) {
        // The whole buffer (one read, whole messages: the common case) is taken as it is, which
        // costs no allocation; part of it is split off, which shares it.
        let bytes = if len == buffer.len() { std::mem::take(buffer) } else { buffer.split_to(len) };
        let mut run = WholeRun { bytes: bytes.freeze(), records, next: 0 };
        if !run.records.text {
            return (run, Ok(()));
        }
        let mut rest: &[u8] = &run.bytes;
        let records = &run.records;
        let inline = &records.inline[..records.count.min(INLINE_RECORDS)];
        let more = &records.more[..records.count - inline.len()];
        let invalid = inline.iter().chain(more).position(|record| {
            let (payload, after) =
                rest[usize::from(record.header_len)..].split_at(record.payload_len as usize);
            let invalid = record.text && std::str::from_utf8(payload).is_err();
            if !invalid {
                rest = after;
            }
            invalid
        });
        if let Some(index) = invalid {
            // The run ends before the invalid message.
            run.bytes.truncate(run.bytes.len() - rest.len());
            run.records.count = index;
            return (run, Err(ProtocolError::InvalidUtf8));
        }
        (run, Ok(()))
    }

    /// The next message; the run's bytes go with the last one.
    #[inline(always)]
    pub(crate) fn next_message(&mut self) -> Option<Message> {
        let record = self.records.get(self.next)?;
        self.next += 1;
        self.bytes.advance(usize::from(record.header_len));
        // (The last payload is the rest of the run: taking it leaves nothing behind.)
        let payload = self.bytes.split_to(record.payload_len as usize);
        Some(if record.text {
            // Checked by `split_off` at this very place (see the type's documentation).
            Message::Text(Utf8Bytes::from_valid(ValidUtf8(payload)))
        } else {
            Message::Binary(payload)
        })
    }

    /// Whether every message has been handed out.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// How many messages have yet to be handed out.
    #[inline(always)]
    pub(crate) fn remaining(&self) -> usize {
        self.records.count.saturating_sub(self.next)
    }
}

#[cfg(test)]
mod tests;
