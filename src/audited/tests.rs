//! Unit tests of the audited code, each unsafe path beside what it stands for.

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

/// Runs the one-pass masked copy `path` for every length 0..=300 (and two longer ones), every
/// destination start 0..64 (every distance to a 64-byte boundary), source starts 0..3 and
/// payload offsets 0..4, and compares what it wrote with the RFC formula. The destination
/// is filled with a marker first, once with 0x00 and once with 0xff: a byte the copy failed
/// to write would keep the marker, and cannot equal both. The bytes around the destination
/// must keep it: the copy writes nothing else.
fn check_masked_copy(path: impl Fn([u8; 4], &[u8], &mut [MaybeUninit<u8>])) {
    let key = [0x01, 0x80, 0xfe, 0x7f];
    for len in (0..=300).chain([1024, 4099]) {
        for source_start in 0..3 {
            let source: Vec<u8> = (0..len + source_start).map(|i| (i * 7 + 3) as u8).collect();
            let source = &source[source_start..];
            for key_offset in 0..4 {
                let mut expected = source.to_vec();
                crate::mask::apply_mask_rfc(key, &mut expected, key_offset);
                for start in 0..64 {
                    for marker in [0x00, 0xff] {
                        let mut destination = vec![MaybeUninit::new(marker); start + len + 3];
                        path(rotate_key(key, key_offset), source, &mut destination[start..start + len]);
                        let actual = initialised_for_test(&destination);
                        assert_eq!(&actual[start..start + len], &expected[..], "len {len} start {start}");
                        assert!(actual[..start]
                            .iter()
                            .chain(&actual[start + len..])
                            .all(|&octet| octet == marker));
                    }
                }
            }
        }
    }
}

#[test]
fn portable_masked_copy_writes_every_byte_and_no_other() {
    check_masked_copy(mask_copy_aligned);
}

#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[test]
fn avx2_masked_copy_writes_every_byte_and_no_other() {
    if !has_avx2() {
        eprintln!("no avx2 on this cpu: mask_copy_avx2 falls back to the portable loop");
    }
    check_masked_copy(mask_copy_avx2);
}

#[cfg(all(target_arch = "x86_64", not(feature = "safe")))]
#[test]
fn avx512_masked_copy_writes_every_byte_and_no_other() {
    if !has_avx512() {
        eprintln!("no avx-512 on this cpu: mask_copy_avx512 falls back to the portable loop");
    }
    check_masked_copy(mask_copy_avx512);
}

#[test]
fn str_view_matches_checked_conversion() {
    for text in ["", "Hello", "κόσμε", "😀 ascii and 𝄞"] {
        let valid = ValidUtf8::new(Bytes::from_static(text.as_bytes())).unwrap();
        assert_eq!(valid.as_str(), text);
        assert_eq!(ValidUtf8::from_static(text).as_str(), text);
        assert_eq!(ValidUtf8::from_string(text.to_owned()).as_str(), text);
    }
    assert!(ValidUtf8::new(Bytes::from_static(&[0xc3])).is_err());
}

/// The builder accepts a text split anywhere, in any number of pieces, and rejects it as
/// soon as the piece holding an invalid byte is added; its result is exactly the bytes added.
#[test]
fn text_builder_checks_every_split_and_fails_at_the_first_invalid_piece() {
    let text = "a€😀κό\u{10ffff}z".as_bytes();
    for first in 0..=text.len() {
        for second in first..=text.len() {
            let mut builder = TextBuilder::default();
            builder.push_slice(&text[..first]).unwrap();
            builder.push(BytesMut::from(&text[first..second])).unwrap();
            builder.push_slice(&text[second..]).unwrap();
            assert_eq!(builder.finish().unwrap().as_bytes(), text);
            // Cut short inside a code point: fails only at the end.
            let mut builder = TextBuilder::default();
            builder.push_slice(&text[..first]).unwrap();
            let complete = std::str::from_utf8(&text[..first]).is_ok();
            assert_eq!(builder.finish().is_ok(), complete, "{first}");
        }
    }
    // 0xed 0xa0 starts a UTF-16 surrogate: invalid as soon as the second byte is added.
    let mut builder = TextBuilder::default();
    builder.push_slice(b"ok \xed").unwrap();
    assert_eq!(builder.push_slice(&[0xa0]), Err(ProtocolError::InvalidUtf8));
}

/// Pieces split off one buffer are joined without copying, as a frame read in place is.
#[test]
fn text_builder_joins_adjacent_pieces_in_place() {
    let mut buffer = BytesMut::from("κόσμε, hello");
    let start = buffer.as_ptr();
    let mut builder = TextBuilder::default();
    builder.push(buffer.split_to(3)).unwrap();
    builder.push(buffer.split_to(5)).unwrap();
    builder.push(buffer).unwrap();
    let text = builder.finish().unwrap();
    assert_eq!(text.as_str(), "κόσμε, hello");
    assert_eq!(text.as_bytes().as_ptr(), start);
}
