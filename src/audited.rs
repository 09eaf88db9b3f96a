//! The crate's only `unsafe` code, kept small so it can be audited in one sitting.
//!
//! 1. [`apply_mask_widest`]: runs the (safe) masking loop of [`crate::mask`] compiled for
//!    AVX-512 or AVX2 when the CPU has them.
//! 2. [`str_from_validated`]: views bytes that the UTF-8 validator of [`crate::message`] already
//!    accepted as `&str`, without validating them a second time.
//!
//! Building with the `safe` feature replaces both with safe code (the portable loop; validating
//! again), and the tests below compare each fast path with its safe fallback.

#![allow(unsafe_code)]

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

/// Whether the CPU supports AVX2 (the standard library caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Whether the CPU supports AVX-512F (the standard library caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Safety argument: the body is safe code; the only obligation of calling a
/// `#[target_feature]` function is that the CPU supports the feature, which every caller checks
/// with [`has_avx2`] immediately before the call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_mask_avx2_unchecked(key: [u8; 4], payload: &mut [u8]) {
    crate::mask::apply_mask_aligned(key, payload);
}

/// Safety argument: as for [`apply_mask_avx2_unchecked`], with [`has_avx512`].
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
    fn str_view_matches_checked_conversion() {
        for text in ["", "Hello", "κόσμε", "😀 ascii and 𝄞"] {
            assert_eq!(str_from_validated(text.as_bytes()), text);
        }
    }
}
