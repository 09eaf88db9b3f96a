//! RFC 6455 §5.3 (client-to-server masking) and §10.3 (unpredictable masking keys), with the
//! `Sec-WebSocket-Key` nonce of §4.1, through the public API only.
//!
//! The fast path [`apply_mask`] is checked against the RFC formula [`apply_mask_rfc`] (itself
//! checked against the §5.7 example and an independent one-line formula) for every short length,
//! every memory alignment of the slice and every position in the key.

use proptest::prelude::*;
use rfc6455::handshake::is_valid_key;
use rfc6455::{apply_mask, apply_mask_rfc, generate_key, OsSeededRng, RandomSource};

/// The masking key of the §5.7 examples.
const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Keys with all-zero, all-one, sign-bit and mixed bytes.
const KEYS: [[u8; 4]; 5] = [
    RFC_KEY,
    [0x00, 0x00, 0x00, 0x00],
    [0xff, 0xff, 0xff, 0xff],
    [0x01, 0x80, 0xfe, 0x7f],
    [0x12, 0x34, 0x56, 0x78],
];

/// Deterministic, non-periodic data.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(131) ^ (i >> 8)) as u8).collect()
}

/// §5.3 written out once more, independently: octet i XOR key octet (offset + i) mod 4.
fn masked_by_formula(key: [u8; 4], data: &[u8], offset: usize) -> Vec<u8> {
    data.iter().enumerate().map(|(i, octet)| octet ^ key[(offset + i) % 4]).collect()
}

/// Masks `buffer[start..]` with the fast path, and a copy with the RFC formula, and compares the
/// whole buffers (bytes before `start` must be untouched).
fn check_fast_against_rfc(key: [u8; 4], buffer: &[u8], start: usize, offset: usize) {
    let mut expected = buffer.to_vec();
    apply_mask_rfc(key, &mut expected[start..], offset);
    let mut actual = buffer.to_vec();
    apply_mask(key, &mut actual[start..], offset);
    assert_eq!(actual, expected, "key {key:02x?} len {} start {start} offset {offset}", buffer.len() - start);
}

#[test]
fn rfc_5_3_formula_unmasks_the_5_7_masked_hello() {
    // §5.7: "0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58 (contains "Hello")".
    let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
    apply_mask_rfc(RFC_KEY, &mut payload, 0);
    assert_eq!(&payload, b"Hello");
    let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
    apply_mask(RFC_KEY, &mut payload, 0);
    assert_eq!(&payload, b"Hello");
    let mut hello = *b"Hello";
    apply_mask(RFC_KEY, &mut hello, 0);
    assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn rfc_5_3_formula_matches_the_formula_written_out() {
    for key in KEYS {
        for offset in [0, 1, 2, 3, 4, 5, 1001] {
            let data = patterned(67);
            let mut masked = data.clone();
            apply_mask_rfc(key, &mut masked, offset);
            assert_eq!(masked, masked_by_formula(key, &data, offset), "key {key:02x?} offset {offset}");
        }
    }
}

#[test]
fn rfc_5_3_fast_path_matches_formula_for_every_length_alignment_and_key_offset() {
    // Every length 0..=300 covers the 64-byte blocks, 8-byte words and the byte tail of the
    // fast path, and the AVX2 threshold; `start` moves the slice across memory alignments.
    for key in KEYS {
        for len in 0..=300 {
            for start in 0..8 {
                let buffer = patterned(start + len);
                for offset in 0..4 {
                    check_fast_against_rfc(key, &buffer, start, offset);
                }
            }
        }
    }
}

#[test]
fn rfc_5_3_fast_path_matches_formula_for_large_payloads() {
    for len in [1024, 4096 + 1, 65536 + 3] {
        for start in [0, 1, 3, 7] {
            let buffer = patterned(start + len);
            for offset in 0..4 {
                check_fast_against_rfc(RFC_KEY, &buffer, start, offset);
                check_fast_against_rfc([0x01, 0x80, 0xfe, 0x7f], &buffer, start, offset);
            }
        }
    }
}

#[test]
fn rfc_5_3_fast_path_matches_formula_for_every_start_within_a_cache_line() {
    // A fast path may mask a head up to a 64-byte boundary before its block loop: every start
    // 0..64 gives every head length whatever the allocation's own alignment.
    for len in [128, 129, 130, 131, 191, 192, 255, 300, 1000] {
        let buffer = patterned(64 + len);
        for start in 0..64 {
            for offset in 0..4 {
                check_fast_against_rfc([0x01, 0x80, 0xfe, 0x7f], &buffer[..start + len], start, offset);
            }
        }
    }
}

#[test]
fn rfc_5_3_key_offset_is_taken_modulo_4() {
    // `offset` is a position in the frame's payload: only its value mod 4 matters.
    let data = patterned(150);
    for offset in 0..4usize {
        let mut expected = data.clone();
        apply_mask(RFC_KEY, &mut expected, offset);
        for far in [offset + 4, offset + 1000, offset + (1 << 20), usize::MAX - 3 + offset] {
            let mut actual = data.clone();
            apply_mask(RFC_KEY, &mut actual, far);
            assert_eq!(actual, expected, "offset {far} behaves as {offset}");
        }
    }
}

#[test]
fn rfc_5_3_masking_twice_restores_the_data() {
    // §5.3: "The same algorithm applies regardless of the direction of the translation".
    for key in KEYS {
        for len in [0, 1, 3, 4, 5, 63, 64, 65, 127, 128, 1000, 65539] {
            let data = patterned(len);
            for offset in 0..4 {
                let mut buffer = data.clone();
                apply_mask(key, &mut buffer, offset);
                if key != [0; 4] && len > 0 {
                    assert_ne!(buffer, data, "masking changed the data (key {key:02x?} len {len})");
                }
                apply_mask(key, &mut buffer, offset);
                assert_eq!(buffer, data, "key {key:02x?} len {len} offset {offset}");
                apply_mask_rfc(key, &mut buffer, offset);
                apply_mask_rfc(key, &mut buffer, offset);
                assert_eq!(buffer, data, "rfc formula, key {key:02x?} len {len} offset {offset}");
            }
        }
    }
}

#[test]
fn rfc_5_3_unmasking_in_pieces_at_every_split_of_a_short_payload() {
    let masked = masked_by_formula(RFC_KEY, &patterned(140), 0);
    let expected = patterned(140);
    for split in 0..=masked.len() {
        let mut buffer = masked.clone();
        let (first, second) = buffer.split_at_mut(split);
        apply_mask(RFC_KEY, first, 0);
        apply_mask(RFC_KEY, second, split);
        assert_eq!(buffer, expected, "split at {split}");
    }
}

#[test]
fn rfc_5_3_masking_key_returns_the_injected_key() {
    // §5.3 keys come from a RandomSource; a closure injects a fixed one.
    let mut calls = 0;
    let mut fixed = |bytes: &mut [u8]| {
        calls += 1;
        assert_eq!(bytes.len(), 4, "a masking key is 4 bytes");
        bytes.copy_from_slice(&RFC_KEY);
    };
    assert_eq!(fixed.masking_key(), RFC_KEY);
    assert_eq!(fixed.masking_key(), RFC_KEY);
    assert_eq!(calls, 2, "one draw per key");

    // Each draw reaches the source: a counting source gives successive keys.
    let mut counter = 0u8;
    let mut counting = |bytes: &mut [u8]| {
        for byte in bytes {
            *byte = counter;
            counter += 1;
        }
    };
    assert_eq!(counting.masking_key(), [0, 1, 2, 3]);
    assert_eq!(counting.masking_key(), [4, 5, 6, 7]);

    // Through a trait object as well.
    let mut boxed: Box<dyn RandomSource> = Box::new(|bytes: &mut [u8]| bytes.fill(0xa5));
    assert_eq!(boxed.masking_key(), [0xa5; 4]);
}

#[test]
fn rfc_10_3_seeded_rng_is_reproducible_and_seed_dependent() {
    let draw = |seed: [u8; 32]| {
        let mut rng = OsSeededRng::from_seed(seed);
        (0..16).map(|_| rng.masking_key()).collect::<Vec<[u8; 4]>>()
    };
    let first = draw([7; 32]);
    assert_eq!(first, draw([7; 32]), "same seed, same keys");
    assert_ne!(first, draw([8; 32]), "another seed, other keys");
    // Successive keys from one generator differ (16 equal 32-bit draws: probability 2^-480).
    assert!(first.iter().any(|key| *key != first[0]));

    let mut a = OsSeededRng::from_seed([1; 32]);
    let mut b = OsSeededRng::from_seed([1; 32]);
    let mut bytes_a = [0u8; 100];
    let mut bytes_b = [0u8; 100];
    a.fill_random(&mut bytes_a);
    b.fill_random(&mut bytes_b);
    assert_eq!(bytes_a, bytes_b);
    assert!(bytes_a.iter().any(|byte| *byte != bytes_a[0]));
}

#[test]
fn rfc_10_3_os_seeded_rng_gives_varying_keys() {
    // §10.3: keys must be unpredictable. Two generators seeded from the OS, and successive keys
    // of one generator, differ (failure probability about 2^-480 per assertion).
    let mut rng = OsSeededRng::new();
    let keys: Vec<[u8; 4]> = (0..16).map(|_| rng.masking_key()).collect();
    assert!(keys.iter().any(|key| *key != keys[0]), "{keys:02x?}");
    let mut other = OsSeededRng::new();
    let other_keys: Vec<[u8; 4]> = (0..16).map(|_| other.masking_key()).collect();
    assert_ne!(keys, other_keys);
    let mut defaulted = OsSeededRng::default();
    let default_keys: Vec<[u8; 4]> = (0..16).map(|_| defaulted.masking_key()).collect();
    assert_ne!(keys, default_keys);
    let mut tried = OsSeededRng::try_new().expect("the OS provides entropy");
    let tried_keys: Vec<[u8; 4]> = (0..16).map(|_| tried.masking_key()).collect();
    assert_ne!(keys, tried_keys);
}

#[test]
fn os_seeded_rng_debug_does_not_reveal_its_state() {
    assert_eq!(format!("{:?}", OsSeededRng::from_seed([3; 32])), "OsSeededRng { .. }");
}

#[test]
fn rfc_4_1_generate_key_encodes_the_injected_16_byte_nonce() {
    // §4.2.2's example: the nonce "the sample nonce" is sent as "dGhlIHNhbXBsZSBub25jZQ==".
    let mut calls = 0;
    let mut nonce = |bytes: &mut [u8]| {
        calls += 1;
        assert_eq!(bytes.len(), 16, "§4.1: a randomly selected 16-byte value");
        bytes.copy_from_slice(b"the sample nonce");
    };
    let key = generate_key(&mut nonce);
    assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(calls, 1);
    assert!(is_valid_key(&key));
    assert_eq!(generate_key(&mut |bytes: &mut [u8]| bytes.fill(0)), "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_eq!(generate_key(&mut |bytes: &mut [u8]| bytes.fill(0xff)), "/////////////////////w==");
}

#[test]
fn rfc_4_1_generate_key_gives_24_chars_decoding_to_16_bytes() {
    let mut rng = OsSeededRng::new();
    let keys: Vec<String> = (0..32).map(|_| generate_key(&mut rng)).collect();
    for key in &keys {
        assert_eq!(key.len(), 24, "{key}");
        assert!(key.ends_with("=="), "16 bytes leave two padding characters: {key}");
        assert!(is_valid_key(key), "{key}");
    }
    // §4.1: "MUST be selected randomly for each connection".
    // 32 draws of 128 bits: a repeat has probability about 2^-119.
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    // The validator is not vacuous.
    assert!(!is_valid_key("dGhlIHNhbXBsZSBub25j"), "15 bytes");
    assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZSE="), "17 bytes, 24 characters");
}

proptest! {
    /// §5.3: the fast path equals the RFC formula for any key, data, alignment and offset.
    #[test]
    fn rfc_5_3_fast_path_matches_formula(
        key in any::<[u8; 4]>(),
        data in prop::collection::vec(any::<u8>(), 0..5000),
        start in 0usize..16,
        offset in any::<usize>(),
    ) {
        let mut buffer = vec![0x5a; start];
        buffer.extend_from_slice(&data);
        // apply_mask_rfc computes offset + i, so keep the offset where that cannot overflow;
        // offset mod 4 is what matters and all four residues are reached.
        let offset = offset % (1 << 40);
        let mut expected = buffer.clone();
        apply_mask_rfc(key, &mut expected[start..], offset);
        let mut actual = buffer.clone();
        apply_mask(key, &mut actual[start..], offset);
        prop_assert_eq!(&actual, &expected);
        prop_assert_eq!(&actual[start..], &masked_by_formula(key, &data, offset)[..]);
    }

    /// §5.3: a payload that arrives in pieces, each unmasked at its offset in the payload, gives
    /// the same bytes as unmasking it whole.
    #[test]
    fn rfc_5_3_unmasking_in_pieces_equals_unmasking_whole(
        key in any::<[u8; 4]>(),
        data in prop::collection::vec(any::<u8>(), 0..3000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut whole = data.clone();
        apply_mask(key, &mut whole, 0);

        let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut.index(data.len() + 1)).collect();
        bounds.push(0);
        bounds.push(data.len());
        bounds.sort_unstable();
        bounds.dedup();
        let mut pieces = data.clone();
        for window in bounds.windows(2) {
            apply_mask(key, &mut pieces[window[0]..window[1]], window[0]);
        }
        prop_assert_eq!(&pieces, &whole);
    }

    /// §5.3: masking is an involution, for any key, data and offset.
    #[test]
    fn rfc_5_3_masking_twice_restores_any_data(
        key in any::<[u8; 4]>(),
        data in prop::collection::vec(any::<u8>(), 0..2000),
        offset in 0usize..1000,
    ) {
        let mut buffer = data.clone();
        apply_mask(key, &mut buffer, offset);
        apply_mask(key, &mut buffer, offset);
        prop_assert_eq!(buffer, data);
    }
}
