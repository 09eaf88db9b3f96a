//! The crate's only `unsafe` code, kept small so it can be audited in one sitting.
//!
//! 1. [`apply_mask_widest`]: runs the (safe) masking loop of [`crate::mask`] compiled for
//!    AVX-512 or AVX2 when the CPU has them.
//! 2. [`extend_masked_widest`]: appends a payload masked as it is copied (the same loop, one
//!    pass) into a buffer's spare capacity, then declares those bytes initialised.
//! 3. [`str_from_validated`]: views bytes that the UTF-8 validator of [`crate::message`] already
//!    accepted as `&str`, without validating them a second time.
//!
//! Building with the `safe` feature replaces all three with safe code (the portable loop; copying
//! then masking in place; validating again), and the tests below compare each fast path with its
//! safe fallback.

#![allow(unsafe_code)]

use bytes::BytesMut;
#[cfg(not(feature = "safe"))]
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
/// Safety argument: [`crate::mask::mask_copy_aligned`] is safe code that writes every byte of the
/// slice it is given (its documentation says how its writes cover the slice; the tests below
/// compare every byte with copying then masking, for every length to 300 and every alignment).
/// It is given exactly the `payload.len()` bytes of spare capacity after `out.len()`, reserved
/// just before, so after it returns those bytes are initialised and `set_len` may include them.
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

/// [`crate::mask::mask_copy_aligned`] with the widest vectors the CPU has.
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
    crate::mask::mask_copy_aligned(key, source, destination);
}

/// Safety argument: as for [`apply_mask_avx2_unchecked`].
#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[target_feature(enable = "avx2")]
fn mask_copy_avx2_unchecked(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    crate::mask::mask_copy_aligned(key, source, destination);
}

/// Safety argument: as for [`apply_mask_avx512_unchecked`].
#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[target_feature(enable = "avx512f")]
fn mask_copy_avx512_unchecked(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    crate::mask::mask_copy_aligned(key, source, destination);
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
pub(crate) fn mask_copy_avx2(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { mask_copy_avx2_unchecked(key, source, destination) }
    } else {
        crate::mask::mask_copy_aligned(key, source, destination)
    }
}

/// The AVX-512 build of the one-pass masked copy if the CPU has AVX-512F, else the portable
/// loop: for tests.
#[cfg(all(test, target_arch = "x86_64", not(feature = "safe")))]
pub(crate) fn mask_copy_avx512(key: [u8; 4], source: &[u8], destination: &mut [MaybeUninit<u8>]) {
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { mask_copy_avx512_unchecked(key, source, destination) }
    } else {
        crate::mask::mask_copy_aligned(key, source, destination)
    }
}

/// The bytes of `bytes`, every one of which the caller initialised: for tests.
#[cfg(test)]
pub(crate) fn initialised_for_test(bytes: &[std::mem::MaybeUninit<u8>]) -> Vec<u8> {
    // SAFETY: test-only; callers fill the whole slice before calling.
    bytes.iter().map(|octet| unsafe { octet.assume_init() }).collect()
}

/// Views `bytes` as `&str`. Callers pass only bytes a [`crate::Utf8Validator`] accepted in full
/// (every piece fed, `finish` returned `Ok`).
///
/// Safety argument: the only constructor of [`crate::Utf8Bytes`] that skips validation is
/// `Utf8Bytes::from_validated`, `pub(crate)`, called by the reassembler with exactly the bytes
/// its validator accepted; the bytes behind a `Utf8Bytes` are immutable (`bytes::Bytes`). Debug
/// builds check again.
#[inline]
pub(crate) fn str_from_validated(bytes: &[u8]) -> &str {
    #[cfg(not(feature = "safe"))]
    {
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: `bytes` is valid UTF-8, see the safety argument above.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
    #[cfg(feature = "safe")]
    {
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widest_mask_matches_portable_loop() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in [0, 1, 63, 64, 127, 128, 129, 1000, 4096, 65539] {
            for start in 0..8 {
                let data: Vec<u8> = (0..len + start).map(|i| (i * 31) as u8).collect();
                let mut fast = data.clone();
                apply_mask_widest(key, &mut fast[start..]);
                let mut portable = data.clone();
                crate::mask::apply_mask_aligned(key, &mut portable[start..]);
                assert_eq!(fast, portable, "len {len} start {start}");
            }
        }
    }

    #[test]
    fn masked_extend_matches_copying_then_masking() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in (0..=300).chain([1000, 4096, 65539]) {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            // What the buffer already holds moves the payload's start across a 64-byte block.
            for already in 0..64 {
                let mut fast = BytesMut::from(&vec![0xa5; already][..]);
                extend_masked_widest(&mut fast, key, &payload);
                let mut expected = BytesMut::from(&vec![0xa5; already][..]);
                expected.extend_from_slice(&payload);
                crate::mask::apply_mask_aligned(key, &mut expected[already..]);
                assert_eq!(fast, expected, "len {len} after {already} bytes");
            }
        }
    }

    #[test]
    fn str_view_matches_checked_conversion() {
        for text in ["", "Hello", "κόσμε", "😀 ascii and 𝄞"] {
            assert_eq!(str_from_validated(text.as_bytes()), text);
        }
    }
}
