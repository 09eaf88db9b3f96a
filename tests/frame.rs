//! RFC 6455 §5.2 (base framing), with §5.1 (masking by role), §5.5 (control frames) and the
//! examples of §5.7, through the public API only.
//!
//! - §5.7 vectors both ways: decoded by the role that receives them, re-encoded to the same bytes.
//! - A failure table (§5.1, §5.2, §5.5, §7.4.1): each malformed header, for both roles, fails with
//!   its error and close code as soon as the offending field is in, and no bytes are consumed.
//! - Incomplete input: `needed` is exact while the header is missing, and then the rest of the
//!   frame.
//! - proptest: header and frame round trips, canonical decoding, chunking invariance.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rfc6455::frame::{RSV1_BIT, RSV2_BIT, RSV3_BIT};
use rfc6455::{CloseCode, DecodeRules, Decoded, Frame, FrameHeader, Opcode, ProtocolError, Role};

/// The masking key of every masked example in §5.7.
const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Bytes that follow a frame in the input (the start of an empty Ping and one more byte): a
/// decoder must leave them alone.
const TRAILING: [u8; 3] = [0x89, 0x00, 0xab];
/// All three RSV bits.
const ALL_RSV: u8 = RSV1_BIT | RSV2_BIT | RSV3_BIT;
/// The largest payload length §5.2 allows: "the most significant bit MUST be 0".
const MAX_LEN_63: u64 = (1 << 63) - 1;
/// The default `max_frame_size` of `DecodeRules` (16 MiB), written out independently.
const DEFAULT_MAX: u64 = 16 * 1024 * 1024;

fn header(fin: bool, opcode: Opcode, masking_key: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader { fin, rsv1: false, rsv2: false, rsv3: false, opcode, masking_key, payload_len }
}

/// Deterministic, non-constant payload bytes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// The MASK bit the receiver with `rules` requires (§5.1): set for a server, clear for a client.
fn mask_bit(rules: &DecodeRules) -> u8 {
    match rules.role {
        Role::Server => 0x80,
        Role::Client => 0x00,
    }
}

fn role_name(rules: &DecodeRules) -> &'static str {
    match rules.role {
        Role::Server => "server",
        Role::Client => "client",
    }
}

/// Rules that accept any valid frame of `role`: every RSV bit granted, no size limit.
fn permissive(role: Role) -> DecodeRules {
    DecodeRules::new(role).with_rsv_allowed(ALL_RSV).with_max_frame_size(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// §5.7 vectors, both ways
// ---------------------------------------------------------------------------------------------

/// One frame on the wire and what it decodes to.
struct Vector {
    name: &'static str,
    wire: Vec<u8>,
    /// The receiver: a server for masked frames, a client for unmasked ones (§5.1).
    rules: DecodeRules,
    header: FrameHeader,
    header_len: usize,
    payload: Vec<u8>,
}

fn rfc_unmasked_text() -> Vector {
    Vector {
        name: "§5.7 a single-frame unmasked text message",
        wire: vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        rules: DecodeRules::client(),
        header: header(true, Opcode::Text, None, 5),
        header_len: 2,
        payload: b"Hello".to_vec(),
    }
}

fn rfc_masked_text() -> Vector {
    Vector {
        name: "§5.7 a single-frame masked text message",
        wire: vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        rules: DecodeRules::server(),
        header: header(true, Opcode::Text, Some(RFC_KEY), 5),
        header_len: 6,
        payload: b"Hello".to_vec(),
    }
}

fn rfc_fragment_hel() -> Vector {
    Vector {
        name: "§5.7 a fragmented unmasked text message, first fragment",
        wire: vec![0x01, 0x03, 0x48, 0x65, 0x6c],
        rules: DecodeRules::client(),
        header: header(false, Opcode::Text, None, 3),
        header_len: 2,
        payload: b"Hel".to_vec(),
    }
}

fn rfc_fragment_lo() -> Vector {
    Vector {
        name: "§5.7 a fragmented unmasked text message, last fragment",
        wire: vec![0x80, 0x02, 0x6c, 0x6f],
        rules: DecodeRules::client(),
        header: header(true, Opcode::Continuation, None, 2),
        header_len: 2,
        payload: b"lo".to_vec(),
    }
}

fn rfc_unmasked_ping() -> Vector {
    Vector {
        name: "§5.7 unmasked Ping request",
        wire: vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        rules: DecodeRules::client(),
        header: header(true, Opcode::Ping, None, 5),
        header_len: 2,
        payload: b"Hello".to_vec(),
    }
}

fn rfc_masked_pong() -> Vector {
    Vector {
        name: "§5.7 masked Pong response",
        wire: vec![0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        rules: DecodeRules::server(),
        header: header(true, Opcode::Pong, Some(RFC_KEY), 5),
        header_len: 6,
        payload: b"Hello".to_vec(),
    }
}

fn rfc_binary_256() -> Vector {
    let payload = pattern(256, 1);
    let mut wire = vec![0x82, 0x7e, 0x01, 0x00];
    wire.extend_from_slice(&payload);
    Vector {
        name: "§5.7 256 bytes binary message in a single unmasked frame",
        wire,
        rules: DecodeRules::client(),
        header: header(true, Opcode::Binary, None, 256),
        header_len: 4,
        payload,
    }
}

fn rfc_binary_64k() -> Vector {
    let payload = pattern(65536, 2);
    let mut wire = vec![0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    wire.extend_from_slice(&payload);
    Vector {
        name: "§5.7 64KiB binary message in a single unmasked frame",
        wire,
        rules: DecodeRules::client(),
        header: header(true, Opcode::Binary, None, 65536),
        header_len: 10,
        payload,
    }
}

/// Not printed in the RFC: the two long §5.7 frames as a client would send them (masked, so the
/// 8- and 14-byte headers are covered too). The wire is built by hand with the §5.3 formula.
fn masked_long(len: usize, length_field: &[u8]) -> Vector {
    let payload = pattern(len, 3);
    let mut wire = vec![0x82];
    wire.extend_from_slice(length_field);
    wire[1] |= 0x80;
    wire.extend_from_slice(&RFC_KEY);
    wire.extend(payload.iter().enumerate().map(|(i, octet)| octet ^ RFC_KEY[i % 4]));
    Vector {
        name: "masked binary message (client to server) with an extended length",
        header_len: length_field.len() + 1 + 4,
        wire,
        rules: DecodeRules::server(),
        header: header(true, Opcode::Binary, Some(RFC_KEY), len as u64),
        payload,
    }
}

fn all_vectors() -> Vec<Vector> {
    vec![
        rfc_unmasked_text(),
        rfc_masked_text(),
        rfc_fragment_hel(),
        rfc_fragment_lo(),
        rfc_unmasked_ping(),
        rfc_masked_pong(),
        rfc_binary_256(),
        rfc_binary_64k(),
        masked_long(256, &[0x7e, 0x01, 0x00]),
        masked_long(65536, &[0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]),
    ]
}

/// Decodes `vector` every way (FrameHeader::decode, Frame::decode, Frame::decode_from) and
/// encodes it back every way (Frame::encode into Vec and BytesMut, encode_frame).
fn check_vector_both_ways(vector: &Vector) {
    let name = vector.name;
    let expected = Frame { header: vector.header, payload: Bytes::from(vector.payload.clone()) };
    let built = Frame::new(vector.header.fin, vector.header.opcode, vector.payload.clone())
        .with_masking_key(vector.header.masking_key);
    assert_eq!(built, expected, "{name}: Frame::new + with_masking_key");

    // The header alone: only its bytes are consumed.
    assert_eq!(
        FrameHeader::decode(&vector.wire, &vector.rules),
        Ok(Decoded::Complete { value: vector.header, consumed: vector.header_len }),
        "{name}: FrameHeader::decode"
    );
    assert_eq!(vector.header.encoded_len(), vector.header_len, "{name}: encoded_len");

    // Frame::decode copies the payload; bytes after the frame are not consumed.
    let mut input = vector.wire.clone();
    input.extend_from_slice(&TRAILING);
    assert_eq!(
        Frame::decode(&input, &vector.rules),
        Ok(Decoded::Complete { value: expected.clone(), consumed: vector.wire.len() }),
        "{name}: Frame::decode"
    );

    // Frame::decode_from splits the frame off the buffer without copying it.
    let mut buffer = BytesMut::from(&input[..]);
    let start = buffer.as_ptr() as usize;
    let Ok(Decoded::Complete { value: frame, consumed }) = Frame::decode_from(&mut buffer, &vector.rules)
    else {
        panic!("{name}: Frame::decode_from did not decode a whole frame");
    };
    assert_eq!(frame, expected, "{name}: Frame::decode_from");
    assert_eq!(consumed, vector.wire.len(), "{name}: consumed");
    assert_eq!(&buffer[..], &TRAILING[..], "{name}: trailing bytes left intact");
    assert_eq!(buffer.as_ptr() as usize, start + vector.wire.len(), "{name}: buffer advanced in place");
    assert_eq!(
        frame.payload.as_ptr() as usize,
        start + vector.header_len,
        "{name}: payload unmasked in place in the read buffer, not copied"
    );

    // Back to the same bytes, with the same key, every way.
    let mut into_vec = Vec::new();
    frame.encode(&mut into_vec);
    assert_eq!(into_vec, vector.wire, "{name}: Frame::encode into Vec<u8>");
    let mut into_bytes_mut = BytesMut::new();
    frame.encode(&mut into_bytes_mut);
    assert_eq!(&into_bytes_mut[..], &vector.wire[..], "{name}: Frame::encode into BytesMut");
    let mut into_vec = Vec::new();
    rfc6455::Frame { header: vector.header, payload: bytes::Bytes::copy_from_slice(&vector.payload) }
        .encode(&mut into_vec);
    assert_eq!(into_vec, vector.wire, "{name}: encode_frame into Vec<u8>");
    let mut into_bytes_mut = BytesMut::new();
    rfc6455::Frame { header: vector.header, payload: bytes::Bytes::copy_from_slice(&vector.payload) }
        .encode(&mut into_bytes_mut);
    assert_eq!(&into_bytes_mut[..], &vector.wire[..], "{name}: encode_frame into BytesMut");
    let mut header_only = Vec::new();
    vector.header.encode(&mut header_only);
    assert_eq!(header_only, vector.wire[..vector.header_len], "{name}: FrameHeader::encode");

    // Appended after bytes already in the output, only the new payload is masked.
    let mut appended = b"earlier bytes".to_vec();
    frame.encode(&mut appended);
    assert_eq!(appended, [&b"earlier bytes"[..], &vector.wire].concat(), "{name}: encode appends");
    let mut appended = BytesMut::from(&b"earlier bytes"[..]);
    rfc6455::Frame { header: vector.header, payload: bytes::Bytes::copy_from_slice(&vector.payload) }
        .encode(&mut appended);
    assert_eq!(appended[..], [&b"earlier bytes"[..], &vector.wire].concat(), "{name}: encode_frame appends");

    // §5.1: the other role rejects the same bytes.
    let other = DecodeRules::new(vector.rules.role.peer());
    let error = if vector.header.masking_key.is_some() {
        ProtocolError::MaskedFrame
    } else {
        ProtocolError::UnmaskedFrame
    };
    assert_eq!(Frame::decode(&vector.wire, &other), Err(error), "{name}: decoded by the other role");
}

#[test]
fn client_decodes_and_encodes_rfc_5_7_single_frame_unmasked_text() {
    check_vector_both_ways(&rfc_unmasked_text());
}

#[test]
fn server_decodes_and_encodes_rfc_5_7_single_frame_masked_text() {
    check_vector_both_ways(&rfc_masked_text());
}

#[test]
fn client_decodes_and_encodes_rfc_5_7_fragmented_unmasked_text() {
    check_vector_both_ways(&rfc_fragment_hel());
    check_vector_both_ways(&rfc_fragment_lo());

    // Both fragments in one read buffer come out one after the other, nothing lost.
    let mut buffer = BytesMut::from(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f][..]);
    let rules = DecodeRules::client();
    let Ok(Decoded::Complete { value: first, consumed: 5 }) = Frame::decode_from(&mut buffer, &rules) else {
        panic!("first fragment");
    };
    assert_eq!(buffer.len(), 4);
    let Ok(Decoded::Complete { value: last, consumed: 4 }) = Frame::decode_from(&mut buffer, &rules) else {
        panic!("last fragment");
    };
    assert!(buffer.is_empty());
    assert_eq!((first.header.fin, first.header.opcode), (false, Opcode::Text));
    assert_eq!((last.header.fin, last.header.opcode), (true, Opcode::Continuation));
    assert_eq!([&first.payload[..], &last.payload[..]].concat(), b"Hello");
    assert_eq!(Frame::decode_from(&mut buffer, &rules), Ok(Decoded::Incomplete { needed: 2 }));
}

#[test]
fn client_decodes_and_encodes_rfc_5_7_unmasked_ping() {
    check_vector_both_ways(&rfc_unmasked_ping());
}

#[test]
fn server_decodes_and_encodes_rfc_5_7_masked_pong() {
    check_vector_both_ways(&rfc_masked_pong());
}

#[test]
fn client_decodes_and_encodes_rfc_5_7_256_byte_binary_with_16_bit_length() {
    check_vector_both_ways(&rfc_binary_256());
}

#[test]
fn client_decodes_and_encodes_rfc_5_7_64_kib_binary_with_64_bit_length() {
    check_vector_both_ways(&rfc_binary_64k());
}

#[test]
fn server_decodes_and_encodes_masked_frames_with_16_and_64_bit_lengths() {
    check_vector_both_ways(&masked_long(256, &[0x7e, 0x01, 0x00]));
    check_vector_both_ways(&masked_long(65536, &[0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]));
}

#[test]
fn server_and_client_decode_the_whole_stream_of_rfc_5_7_vectors_in_order() {
    for role in [Role::Server, Role::Client] {
        let vectors: Vec<Vector> =
            all_vectors().into_iter().filter(|vector| vector.rules.role == role).collect();
        let stream: Vec<u8> = vectors.iter().flat_map(|vector| vector.wire.iter().copied()).collect();
        let mut buffer = BytesMut::from(&stream[..]);
        for vector in &vectors {
            let decoded = Frame::decode_from(&mut buffer, &DecodeRules::new(role));
            let Ok(Decoded::Complete { value, consumed }) = decoded else {
                panic!("{}: {decoded:?}", vector.name)
            };
            assert_eq!(
                (value.header, &value.payload[..]),
                (vector.header, &vector.payload[..]),
                "{}",
                vector.name
            );
            assert_eq!(consumed, vector.wire.len(), "{}", vector.name);
        }
        assert!(buffer.is_empty(), "{role:?}: every byte consumed");
    }
}

// ---------------------------------------------------------------------------------------------
// Incomplete input: Decoded::Incomplete { needed }
// ---------------------------------------------------------------------------------------------

/// `needed` for a strict prefix of `len` bytes of a header of `header_len` bytes: before byte 1
/// only the 2 fixed bytes are known; from byte 1 on, the whole header length is.
fn header_needed(len: usize, header_len: usize) -> usize {
    if len < 2 {
        2 - len
    } else {
        header_len - len
    }
}

#[test]
fn server_and_client_report_exact_needed_bytes_for_every_strict_prefix_of_the_vectors() {
    // §5.2: the header length is known from byte 1, the frame length once the header is in.
    for vector in all_vectors() {
        let name = vector.name;
        let frame_len = vector.wire.len();
        // One growing read buffer: decode_from leaves it untouched while the frame is incomplete.
        let mut buffer = BytesMut::new();
        for len in 0..frame_len {
            let prefix = &vector.wire[..len];
            let header_decoded = FrameHeader::decode(prefix, &vector.rules);
            let frame_needed = if len < vector.header_len {
                let needed = header_needed(len, vector.header_len);
                assert_eq!(
                    header_decoded,
                    Ok(Decoded::Incomplete { needed }),
                    "{name}: header prefix of {len}"
                );
                needed
            } else {
                assert_eq!(
                    header_decoded,
                    Ok(Decoded::Complete { value: vector.header, consumed: vector.header_len }),
                    "{name}: header complete at {len}"
                );
                frame_len - len
            };
            assert!(frame_needed >= 1);
            assert_eq!(
                Frame::decode(prefix, &vector.rules),
                Ok(Decoded::Incomplete { needed: frame_needed }),
                "{name}: Frame::decode of a prefix of {len}"
            );
            assert_eq!(
                Frame::decode_from(&mut buffer, &vector.rules),
                Ok(Decoded::Incomplete { needed: frame_needed }),
                "{name}: Frame::decode_from of a prefix of {len}"
            );
            assert_eq!(&buffer[..], prefix, "{name}: buffer untouched while incomplete");
            buffer.extend_from_slice(&vector.wire[len..len + 1]);
        }
        let decoded = Frame::decode_from(&mut buffer, &vector.rules);
        assert!(matches!(decoded, Ok(Decoded::Complete { consumed, .. }) if consumed == frame_len), "{name}");
        assert!(buffer.is_empty(), "{name}");
    }
}

#[test]
fn server_and_client_need_two_bytes_from_empty_input() {
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        assert_eq!(FrameHeader::decode(&[], &rules), Ok(Decoded::Incomplete { needed: 2 }));
        assert_eq!(Frame::decode(&[], &rules), Ok(Decoded::Incomplete { needed: 2 }));
        assert_eq!(Frame::decode_from(&mut BytesMut::new(), &rules), Ok(Decoded::Incomplete { needed: 2 }));
    }
}

#[test]
fn server_and_client_need_the_whole_announced_payload_after_a_complete_header() {
    // §5.2: a header announcing 2^63 - 1 bytes, allowed by the rules: the decoder asks for the
    // whole payload (saturated to usize) and allocates nothing.
    for role in [Role::Server, Role::Client] {
        let rules = DecodeRules::new(role).with_max_frame_size(u64::MAX);
        let mut wire = vec![0x82, 0x7f | mask_bit(&rules), 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        if role == Role::Server {
            wire.extend_from_slice(&RFC_KEY);
        }
        let expected = usize::try_from(MAX_LEN_63).unwrap_or(usize::MAX);
        assert_eq!(Frame::decode(&wire, &rules), Ok(Decoded::Incomplete { needed: expected }), "{role:?}");
        wire.extend_from_slice(b"abc");
        assert_eq!(
            Frame::decode(&wire, &rules),
            Ok(Decoded::Incomplete { needed: expected - 3 }),
            "{role:?}"
        );
        let mut buffer = BytesMut::from(&wire[..]);
        assert_eq!(Frame::decode_from(&mut buffer, &rules), Ok(Decoded::Incomplete { needed: expected - 3 }));
        assert_eq!(&buffer[..], &wire[..], "{role:?}: buffer untouched");
    }
}

// ---------------------------------------------------------------------------------------------
// The failure table
// ---------------------------------------------------------------------------------------------

/// A malformed input: the shortest bytes that reveal the fault, the receiver, and the expected
/// error and close code (§7.4.1).
struct Case {
    name: String,
    bytes: Vec<u8>,
    rules: DecodeRules,
    error: ProtocolError,
    close_code: CloseCode,
}

fn case(name: impl Into<String>, bytes: Vec<u8>, rules: DecodeRules, error: ProtocolError) -> Case {
    let close_code = match error {
        ProtocolError::FrameTooLarge { .. } => CloseCode(1009),
        _ => CloseCode(1002),
    };
    Case { name: format!("{}: {}", role_name(&rules), name.into()), bytes, rules, error, close_code }
}

fn failure_table() -> Vec<Case> {
    let mut cases = Vec::new();
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let m = mask_bit(&rules);

        // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
        // WebSocket Connection_." Known from byte 0 alone.
        for opcode in (0x3..=0x7).chain(0xb..=0xf) {
            cases.push(case(
                format!("reserved opcode {opcode:#x}"),
                vec![0x80 | opcode],
                rules,
                ProtocolError::ReservedOpcode(opcode),
            ));
        }
        // Documented wire order: the opcode is checked before RSV bits and FIN.
        cases.push(case(
            "reserved control opcode 0xb with RSV bits set and no FIN",
            vec![0x7b],
            rules,
            ProtocolError::ReservedOpcode(0xb),
        ));

        // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated".
        for (bit, bit_name) in [(RSV1_BIT, "RSV1"), (RSV2_BIT, "RSV2"), (RSV3_BIT, "RSV3")] {
            cases.push(case(
                format!("{bit_name} set without an extension"),
                vec![0x81 | bit],
                rules,
                ProtocolError::ReservedBitsSet(bit),
            ));
        }
        cases.push(case(
            "RSV1, RSV2 and RSV3 set",
            vec![0xf1],
            rules,
            ProtocolError::ReservedBitsSet(ALL_RSV),
        ));
        cases.push(case(
            "RSV1 and RSV2 set with only RSV1 granted",
            vec![0xe2],
            rules.with_rsv_allowed(RSV1_BIT),
            ProtocolError::ReservedBitsSet(RSV2_BIT),
        ));
        cases.push(case(
            "RSV3 set with RSV1 and RSV2 granted",
            vec![0x92],
            rules.with_rsv_allowed(RSV1_BIT | RSV2_BIT),
            ProtocolError::ReservedBitsSet(RSV3_BIT),
        ));

        // §5.5: "All control frames ... MUST NOT be fragmented."
        for (opcode, opcode_name) in [(0x8, "close"), (0x9, "ping"), (0xa, "pong")] {
            cases.push(case(
                format!("{opcode_name} without FIN"),
                vec![opcode],
                rules,
                ProtocolError::FragmentedControlFrame,
            ));
        }

        // §5.5: "All control frames MUST have a payload length of 125 bytes or less": a 16- or
        // 64-bit length marker is already too long, known from byte 1. The error holds the 7-bit
        // Payload len field.
        for (opcode, opcode_name) in [(0x88, "close"), (0x89, "ping"), (0x8a, "pong")] {
            for marker in [126u8, 127] {
                cases.push(case(
                    format!("{opcode_name} with payload len marker {marker}"),
                    vec![opcode, m | marker],
                    rules,
                    ProtocolError::ControlFrameTooLong(u64::from(marker)),
                ));
            }
        }

        // §5.2: "the minimal number of bytes MUST be used to encode the length".
        for len in [0u16, 1, 125] {
            let [high, low] = len.to_be_bytes();
            cases.push(case(
                format!("16-bit length {len} (< 126)"),
                vec![0x82, m | 126, high, low],
                rules,
                ProtocolError::NonMinimalLength(u64::from(len)),
            ));
        }
        for len in [0u64, 125, 126, 0xffff] {
            let mut bytes = vec![0x82, m | 127];
            bytes.extend_from_slice(&len.to_be_bytes());
            cases.push(case(
                format!("64-bit length {len} (<= 0xFFFF)"),
                bytes,
                rules,
                ProtocolError::NonMinimalLength(len),
            ));
        }

        // §5.2: "the most significant bit MUST be 0".
        for len in [1u64 << 63, u64::MAX, (1 << 63) | 0x1_0000] {
            let mut bytes = vec![0x82, m | 127];
            bytes.extend_from_slice(&len.to_be_bytes());
            cases.push(case(
                format!("64-bit length {len:#x} with its most significant bit set"),
                bytes,
                rules,
                ProtocolError::LengthMostSignificantBitSet,
            ));
        }

        // Over the receiver's limit: 1009 (§7.4.1 "message that is too big for it to process"),
        // known from the length field alone, before the masking key and the payload.
        cases.push(case(
            "7-bit length 6 over a limit of 5",
            vec![0x82, m | 6],
            rules.with_max_frame_size(5),
            ProtocolError::FrameTooLarge { payload_len: 6, max: 5 },
        ));
        cases.push(case(
            "7-bit length 1 over a limit of 0",
            vec![0x81, m | 1],
            rules.with_max_frame_size(0),
            ProtocolError::FrameTooLarge { payload_len: 1, max: 0 },
        ));
        cases.push(case(
            "16-bit length 1001 over a limit of 1000",
            vec![0x82, m | 126, 0x03, 0xe9],
            rules.with_max_frame_size(1000),
            ProtocolError::FrameTooLarge { payload_len: 1001, max: 1000 },
        ));
        cases.push(case(
            "64-bit length of 16 MiB + 1 over the default limit",
            vec![0x82, m | 127, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01],
            rules,
            ProtocolError::FrameTooLarge { payload_len: DEFAULT_MAX + 1, max: DEFAULT_MAX },
        ));
        cases.push(case(
            "64-bit length 2^63 - 1 over the default limit",
            vec![0x82, m | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            rules,
            ProtocolError::FrameTooLarge { payload_len: MAX_LEN_63, max: DEFAULT_MAX },
        ));
    }

    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    // Known from byte 1.
    let server = DecodeRules::server();
    cases.push(case("unmasked text", vec![0x81, 0x05], server, ProtocolError::UnmaskedFrame));
    cases.push(case("unmasked empty ping", vec![0x89, 0x00], server, ProtocolError::UnmaskedFrame));
    cases.push(case("unmasked close", vec![0x88, 0x02], server, ProtocolError::UnmaskedFrame));
    cases.push(case(
        "unmasked binary with 16-bit length",
        vec![0x82, 0x7e],
        server,
        ProtocolError::UnmaskedFrame,
    ));
    cases.push(case(
        "unmasked binary with 64-bit length",
        vec![0x82, 0x7f],
        server,
        ProtocolError::UnmaskedFrame,
    ));
    // Documented wire order: masking is checked before the control frame length.
    cases.push(case(
        "unmasked ping with 16-bit length",
        vec![0x89, 0x7e],
        server,
        ProtocolError::UnmaskedFrame,
    ));

    // §5.1: "A client MUST close a connection if it detects a masked frame."
    let client = DecodeRules::client();
    cases.push(case("masked text", vec![0x81, 0x85], client, ProtocolError::MaskedFrame));
    cases.push(case("masked empty pong", vec![0x8a, 0x80], client, ProtocolError::MaskedFrame));
    cases.push(case("masked close", vec![0x88, 0x82], client, ProtocolError::MaskedFrame));
    cases.push(case(
        "masked binary with 16-bit length",
        vec![0x82, 0xfe],
        client,
        ProtocolError::MaskedFrame,
    ));
    cases.push(case(
        "masked binary with 64-bit length",
        vec![0x82, 0xff],
        client,
        ProtocolError::MaskedFrame,
    ));
    cases.push(case("masked ping with 64-bit length", vec![0x89, 0xff], client, ProtocolError::MaskedFrame));
    cases
}

#[test]
fn server_and_client_fail_on_every_malformed_header_as_soon_as_the_field_is_in() {
    let cases = failure_table();
    assert!(cases.len() > 80, "the table is built: {} rows", cases.len());
    for case in cases {
        let Case { name, bytes, rules, error, close_code } = case;
        assert_eq!(error.close_code(), close_code, "{name}: close code");

        // The shortest input that holds the faulty field fails on every decoder...
        assert_eq!(FrameHeader::decode(&bytes, &rules), Err(error.clone()), "{name}: FrameHeader::decode");
        assert_eq!(Frame::decode(&bytes, &rules), Err(error.clone()), "{name}: Frame::decode");
        let mut buffer = BytesMut::from(&bytes[..]);
        assert_eq!(Frame::decode_from(&mut buffer, &rules), Err(error.clone()), "{name}: Frame::decode_from");
        assert_eq!(&buffer[..], &bytes[..], "{name}: nothing consumed after the failure");

        // ... and one byte less is merely incomplete: the error is reported as early as the
        // field it is about, no earlier and no later.
        let shorter = &bytes[..bytes.len() - 1];
        assert!(
            matches!(FrameHeader::decode(shorter, &rules), Ok(Decoded::Incomplete { needed }) if needed >= 1),
            "{name}: one byte less is incomplete"
        );

        // Whatever follows (the rest of a header, a payload) does not change the verdict.
        let mut longer = bytes.clone();
        longer.extend((0..200u8).map(|i| i.wrapping_mul(77)));
        assert_eq!(FrameHeader::decode(&longer, &rules), Err(error.clone()), "{name}: with more bytes");
        assert_eq!(
            Frame::decode(&longer, &rules),
            Err(error.clone()),
            "{name}: Frame::decode with more bytes"
        );
        let mut buffer = BytesMut::from(&longer[..]);
        assert_eq!(
            Frame::decode_from(&mut buffer, &rules),
            Err(error),
            "{name}: decode_from with more bytes"
        );
        assert_eq!(&buffer[..], &longer[..], "{name}: nothing consumed after the failure");
    }
}

#[test]
fn server_and_client_fail_on_reserved_opcode_from_a_one_byte_input() {
    // §5.2: unknown opcodes fail the connection; byte 0 alone is enough.
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        for opcode in (0x3..=0x7).chain(0xb..=0xf) {
            for first in [opcode, 0x80 | opcode] {
                assert_eq!(FrameHeader::decode(&[first], &rules), Err(ProtocolError::ReservedOpcode(opcode)));
            }
        }
    }
}

#[test]
fn server_fails_on_unmasked_frame_from_a_two_byte_input() {
    // §5.1: the server MUST close the connection upon receiving a frame that is not masked.
    let error = Frame::decode(&[0x81, 0x05], &DecodeRules::server()).unwrap_err();
    assert_eq!((error.clone(), error.close_code()), (ProtocolError::UnmaskedFrame, CloseCode(1002)));
}

#[test]
fn client_fails_on_masked_frame_from_a_two_byte_input() {
    // §5.1: a client MUST close a connection if it detects a masked frame.
    let error = Frame::decode(&[0x81, 0x85], &DecodeRules::client()).unwrap_err();
    assert_eq!((error.clone(), error.close_code()), (ProtocolError::MaskedFrame, CloseCode(1002)));
}

#[test]
fn server_and_client_fail_on_an_announced_2_63_minus_1_byte_frame_from_the_header_alone() {
    // §5.2 allows a 63-bit length; the receiver's limit refuses it with 1009 before any payload
    // byte (and, for a server, before the masking key) arrives, so nothing is buffered for it.
    let error = ProtocolError::FrameTooLarge { payload_len: MAX_LEN_63, max: DEFAULT_MAX };
    assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let role = role_name(&rules);
        let mut wire = vec![0x82, 0x7f | mask_bit(&rules), 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        for with_key in [false, true] {
            if with_key && rules.role == Role::Server {
                wire.extend_from_slice(&RFC_KEY);
            }
            assert_eq!(FrameHeader::decode(&wire, &rules), Err(error.clone()), "{role}: FrameHeader::decode");
            assert_eq!(Frame::decode(&wire, &rules), Err(error.clone()), "{role}: Frame::decode");
            let mut buffer = BytesMut::from(&wire[..]);
            assert_eq!(
                Frame::decode_from(&mut buffer, &rules),
                Err(error.clone()),
                "{role}: Frame::decode_from"
            );
            assert_eq!(&buffer[..], &wire[..], "{role}: buffer untouched");
        }
    }
}

#[test]
fn server_and_client_accept_a_payload_of_exactly_max_frame_size() {
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let key = (rules.role == Role::Server).then_some(RFC_KEY);
        for (limit, len) in [(0u64, 0usize), (5, 5), (200, 200)] {
            let frame = Frame::new(true, Opcode::Binary, pattern(len, 9)).with_masking_key(key);
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            let limited = rules.with_max_frame_size(limit);
            assert_eq!(
                Frame::decode(&wire, &limited),
                Ok(Decoded::Complete { value: frame.clone(), consumed: wire.len() }),
                "{}: limit {limit}",
                role_name(&rules)
            );
            if limit > 0 {
                let error = ProtocolError::FrameTooLarge { payload_len: limit, max: limit - 1 };
                assert_eq!(Frame::decode(&wire, &rules.with_max_frame_size(limit - 1)), Err(error));
            }
        }
    }
}

#[test]
fn server_and_client_accept_control_frames_of_125_bytes() {
    // §5.5: "125 bytes or less" is the boundary, inclusive.
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let key = (rules.role == Role::Server).then_some(RFC_KEY);
        for opcode in [Opcode::Close, Opcode::Ping, Opcode::Pong] {
            let frame = Frame::new(true, opcode, pattern(125, 4)).with_masking_key(key);
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            assert_eq!(wire[1] & 0x7f, 125);
            assert_eq!(
                Frame::decode(&wire, &rules),
                Ok(Decoded::Complete { value: frame, consumed: wire.len() })
            );
        }
    }
}

#[test]
fn server_and_client_accept_each_rsv_bit_when_an_extension_allows_it() {
    // §5.2: RSV bits are allowed when "an extension is negotiated that defines meanings for
    // non-zero values".
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let role = role_name(&rules);
        let key = (rules.role == Role::Server).then_some(RFC_KEY);
        for bits in [RSV1_BIT, RSV2_BIT, RSV3_BIT, RSV1_BIT | RSV3_BIT, ALL_RSV] {
            let mut frame = Frame::new(true, Opcode::Text, &b"compressed"[..]).with_masking_key(key);
            frame.header.rsv1 = bits & RSV1_BIT != 0;
            frame.header.rsv2 = bits & RSV2_BIT != 0;
            frame.header.rsv3 = bits & RSV3_BIT != 0;
            assert_eq!(frame.header.rsv_bits(), bits);
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            assert_eq!(wire[0], 0x80 | bits | 0x1, "{role}: byte 0");

            assert_eq!(Frame::decode(&wire, &rules), Err(ProtocolError::ReservedBitsSet(bits)), "{role}");
            let allowed = rules.with_rsv_allowed(bits);
            assert_eq!(allowed.rsv_allowed, bits);
            assert_eq!(
                Frame::decode(&wire, &allowed),
                Ok(Decoded::Complete { value: frame.clone(), consumed: wire.len() }),
                "{role}: bits {bits:#b} allowed"
            );
            let mut buffer = BytesMut::from(&wire[..]);
            let decoded = Frame::decode_from(&mut buffer, &rules.with_rsv_allowed(ALL_RSV));
            assert_eq!(decoded, Ok(Decoded::Complete { value: frame, consumed: wire.len() }), "{role}");
        }
    }
}

#[test]
fn rsv_allowed_keeps_only_the_three_rsv_bits() {
    assert_eq!(DecodeRules::server().with_rsv_allowed(0xff).rsv_allowed, 0b0111_0000);
    assert_eq!(DecodeRules::client().with_rsv_allowed(0x8f).rsv_allowed, 0);
    assert_eq!(DecodeRules::server().rsv_allowed, 0);
    assert_eq!(DecodeRules::client().max_frame_size, DEFAULT_MAX);
    assert_eq!((DecodeRules::server().role, DecodeRules::client().role), (Role::Server, Role::Client));
}

#[test]
fn server_and_client_accept_minimal_16_and_64_bit_length_boundaries() {
    // §5.2: 126 is the smallest 16-bit length, 65536 the smallest 64-bit length.
    for rules in [DecodeRules::server(), DecodeRules::client()] {
        let m = mask_bit(&rules);
        let key_len = if m != 0 { 4 } else { 0 };
        let mut sixteen = vec![0x82, m | 126, 0x00, 0x7e];
        sixteen.extend_from_slice(&RFC_KEY[..key_len]);
        let decoded = FrameHeader::decode(&sixteen, &rules).unwrap().complete().unwrap();
        assert_eq!((decoded.0.payload_len, decoded.1), (126, 4 + key_len));
        let mut sixty_four = vec![0x82, m | 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        sixty_four.extend_from_slice(&RFC_KEY[..key_len]);
        let decoded = FrameHeader::decode(&sixty_four, &rules).unwrap().complete().unwrap();
        assert_eq!((decoded.0.payload_len, decoded.1), (65536, 10 + key_len));
    }
}

// ---------------------------------------------------------------------------------------------
// FrameHeader::encode and encoded_len
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_5_2_header_encoded_len_matches_encoding_with_minimal_length() {
    // §5.2: 0-125 in the 7-bit field, 126-65535 after marker 126, more after marker 127; "the
    // minimal number of bytes MUST be used to encode the length".
    let cases: [(u64, &[u8]); 8] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (125, &[0x7d]),
        (126, &[0x7e, 0x00, 0x7e]),
        (65535, &[0x7e, 0xff, 0xff]),
        (65536, &[0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]),
        (0x0102_0304_0506_0708, &[0x7f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]),
        (MAX_LEN_63, &[0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (len, length_field) in cases {
        for masking_key in [None, Some([0xde, 0xad, 0xbe, 0xef])] {
            let header = FrameHeader { masking_key, ..FrameHeader::new(true, Opcode::Binary, len) };
            let mut expected = vec![0x82];
            expected.extend_from_slice(length_field);
            if let Some(key) = masking_key {
                expected[1] |= 0x80;
                expected.extend_from_slice(&key);
            }
            let mut encoded = Vec::new();
            header.encode(&mut encoded);
            assert_eq!(encoded, expected, "len {len} key {masking_key:?}");
            assert_eq!(header.encoded_len(), expected.len(), "len {len} key {masking_key:?}");
            let mut into_bytes_mut = BytesMut::new();
            header.encode(&mut into_bytes_mut);
            assert_eq!(&into_bytes_mut[..], &expected[..]);

            // And back, by the role that receives it.
            let role = if masking_key.is_some() { Role::Server } else { Role::Client };
            let rules = DecodeRules::new(role).with_max_frame_size(u64::MAX);
            assert_eq!(
                FrameHeader::decode(&expected, &rules),
                Ok(Decoded::Complete { value: header, consumed: expected.len() }),
                "len {len} key {masking_key:?}"
            );
        }
    }
}

#[test]
fn frame_header_new_and_frame_new_are_unmasked_without_rsv_bits() {
    let header = FrameHeader::new(false, Opcode::Continuation, 7);
    assert_eq!(header, self::header(false, Opcode::Continuation, None, 7));
    assert_eq!(header.rsv_bits(), 0);
    let frame = Frame::new(true, Opcode::Binary, vec![1, 2, 3]);
    assert_eq!(frame.header, self::header(true, Opcode::Binary, None, 3));
    assert_eq!(&frame.payload[..], &[1, 2, 3]);
    let frame = frame.with_masking_key(Some(RFC_KEY));
    assert_eq!(frame.header.masking_key, Some(RFC_KEY));
    assert_eq!(frame.with_masking_key(None).header.masking_key, None);
}

#[test]
fn encode_frame_writes_the_payload_length_not_the_header_length() {
    // encode_frame documents that the length written is payload.len().
    let stale = FrameHeader::new(true, Opcode::Text, 1000);
    let mut out = Vec::new();
    rfc6455::Frame { header: stale, payload: bytes::Bytes::copy_from_slice(b"Hello") }.encode(&mut out);
    assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

// ---------------------------------------------------------------------------------------------
// Opcode (§5.2, §11.8)
// ---------------------------------------------------------------------------------------------

/// §5.2 / §11.8, written out: the opcode for each 4-bit value, `None` where reserved.
fn expected_opcode(value: u8) -> Option<Opcode> {
    match value {
        0x0 => Some(Opcode::Continuation),
        0x1 => Some(Opcode::Text),
        0x2 => Some(Opcode::Binary),
        0x8 => Some(Opcode::Close),
        0x9 => Some(Opcode::Ping),
        0xa => Some(Opcode::Pong),
        _ => None,
    }
}

#[test]
fn rfc_5_2_opcode_decodes_and_encodes_all_16_values() {
    let mut known = 0;
    for value in 0u8..16 {
        match expected_opcode(value) {
            Some(opcode) => {
                known += 1;
                assert_eq!(Opcode::decode(value), Ok(opcode), "{value:#x}");
                assert_eq!(opcode.encode(), value, "{value:#x}");
            }
            None => {
                assert_eq!(Opcode::decode(value), Err(ProtocolError::ReservedOpcode(value)), "{value:#x}");
                assert_eq!(ProtocolError::ReservedOpcode(value).close_code(), CloseCode(1002));
            }
        }
        // Opcode::decode reads only the low 4 bits of a byte 0.
        for high in [0x10u8, 0x80, 0xf0] {
            let decoded = Opcode::decode(high | value);
            match expected_opcode(value) {
                Some(opcode) => assert_eq!(decoded, Ok(opcode)),
                None => assert_eq!(decoded, Err(ProtocolError::ReservedOpcode(value))),
            }
        }
    }
    assert_eq!(known, 6);
}

#[test]
fn rfc_5_5_and_5_6_opcode_is_control_or_data() {
    // §5.5: control opcodes have the most significant bit set; §5.6: data frames are 0x0-0x2.
    for (opcode, control) in [
        (Opcode::Continuation, false),
        (Opcode::Text, false),
        (Opcode::Binary, false),
        (Opcode::Close, true),
        (Opcode::Ping, true),
        (Opcode::Pong, true),
    ] {
        assert_eq!(opcode.is_control(), control, "{opcode:?}");
        assert_eq!(opcode.is_data(), !control, "{opcode:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// proptest
// ---------------------------------------------------------------------------------------------

fn opcode_strategy() -> impl Strategy<Value = Opcode> {
    prop::sample::select(vec![
        Opcode::Continuation,
        Opcode::Text,
        Opcode::Binary,
        Opcode::Close,
        Opcode::Ping,
        Opcode::Pong,
    ])
}

/// A payload length from each of the three encodings of §5.2.
fn payload_len_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![0..=125u64, 126..=0xffffu64, 0x1_0000..=MAX_LEN_63, Just(MAX_LEN_63), Just(126), Just(65536)]
}

/// Any header a receiver of `role` accepts under `permissive` rules.
fn header_strategy(role: Role) -> impl Strategy<Value = FrameHeader> {
    (opcode_strategy(), any::<bool>(), 0u8..8, any::<[u8; 4]>(), payload_len_strategy()).prop_map(
        move |(opcode, fin, rsv, key, payload_len)| FrameHeader {
            // §5.5: control frames are not fragmented and carry at most 125 bytes.
            fin: fin || opcode.is_control(),
            rsv1: rsv & 1 != 0,
            rsv2: rsv & 2 != 0,
            rsv3: rsv & 4 != 0,
            opcode,
            masking_key: (role == Role::Server).then_some(key),
            payload_len: if opcode.is_control() { payload_len % 126 } else { payload_len },
        },
    )
}

fn check_header_round_trip(role: Role, header: FrameHeader, trailing: &[u8]) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    header.encode(&mut wire);
    prop_assert_eq!(wire.len(), header.encoded_len());
    let length_len = match header.payload_len {
        0..=125 => 0,
        126..=0xffff => 2,
        _ => 8,
    };
    prop_assert_eq!(wire.len(), 2 + length_len + if header.masking_key.is_some() { 4 } else { 0 });
    let header_len = wire.len();
    wire.extend_from_slice(trailing);
    prop_assert_eq!(
        FrameHeader::decode(&wire, &permissive(role)),
        Ok(Decoded::Complete { value: header, consumed: header_len })
    );
    Ok(())
}

/// Arbitrary payload bytes, `0..max_len` of them.
fn arbitrary_payload(max_len: usize) -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max_len).boxed()
}

/// Payloads of every length encoding: mostly short arbitrary bytes, sometimes a patterned 16-bit
/// or 64-bit length one (patterned to keep generation fast).
fn mixed_payload() -> BoxedStrategy<Vec<u8>> {
    let short = prop::collection::vec(any::<u8>(), 0..=130);
    let medium = (126usize..=2000, any::<u8>()).prop_map(|(len, seed)| pattern(len, seed));
    let large = (65536usize..=66_000, any::<u8>()).prop_map(|(len, seed)| pattern(len, seed));
    prop_oneof![12 => short, 4 => medium, 1 => large].boxed()
}

/// Any frame a receiver of `role` accepts under `permissive` rules.
fn frame_strategy(role: Role, payload: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Frame> {
    (opcode_strategy(), any::<bool>(), 0u8..8, any::<[u8; 4]>(), payload).prop_map(
        move |(opcode, fin, rsv, key, mut payload)| {
            // §5.5: control frames are not fragmented and carry at most 125 bytes.
            if opcode.is_control() {
                payload.truncate(125);
            }
            let mut frame = Frame::new(fin || opcode.is_control(), opcode, payload)
                .with_masking_key((role == Role::Server).then_some(key));
            frame.header.rsv1 = rsv & 1 != 0;
            frame.header.rsv2 = rsv & 2 != 0;
            frame.header.rsv3 = rsv & 4 != 0;
            frame
        },
    )
}

fn check_frame_round_trip(role: Role, frame: Frame, trailing: &[u8]) -> Result<(), TestCaseError> {
    let rules = permissive(role);
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    let frame_len = wire.len();
    prop_assert_eq!(frame_len, frame.header.encoded_len() + frame.payload.len());

    // The payload on the wire is masked with the §5.3 formula (or not at all).
    let on_wire = &wire[frame.header.encoded_len()..];
    match frame.header.masking_key {
        Some(key) => {
            let expected: Vec<u8> =
                frame.payload.iter().enumerate().map(|(i, octet)| octet ^ key[i % 4]).collect();
            prop_assert_eq!(on_wire, &expected[..]);
        }
        None => prop_assert_eq!(on_wire, &frame.payload[..]),
    }

    let mut other = BytesMut::new();
    rfc6455::Frame { header: frame.header, payload: bytes::Bytes::copy_from_slice(&frame.payload) }
        .encode(&mut other);
    prop_assert_eq!(&other[..], &wire[..]);

    wire.extend_from_slice(trailing);
    prop_assert_eq!(
        Frame::decode(&wire, &rules),
        Ok(Decoded::Complete { value: frame.clone(), consumed: frame_len })
    );
    let mut buffer = BytesMut::from(&wire[..]);
    prop_assert_eq!(
        Frame::decode_from(&mut buffer, &rules),
        Ok(Decoded::Complete { value: frame.clone(), consumed: frame_len })
    );
    prop_assert_eq!(&buffer[..], trailing);

    // §5.1: the other role refuses it.
    let error = match role {
        Role::Server => ProtocolError::UnmaskedFrame,
        Role::Client => ProtocolError::MaskedFrame,
    };
    let mut flipped = wire.clone();
    flipped[1] ^= 0x80;
    prop_assert_eq!(Frame::decode(&flipped, &rules), Err(error));
    Ok(())
}

/// Chunk boundaries: either one byte at a time, or arbitrary cut points.
fn cuts_strategy() -> impl Strategy<Value = Option<Vec<prop::sample::Index>>> {
    prop_oneof![1 => Just(None), 3 => prop::collection::vec(any::<prop::sample::Index>(), 0..40).prop_map(Some)]
}

/// Encodes `frames` into one stream, feeds it in chunks into a read buffer, decoding with
/// `decode_from` whenever data arrives until incomplete; the frames out are the frames in, the
/// same as decoding the whole stream at once, and no byte is left over.
fn check_chunking(
    role: Role,
    frames: Vec<Frame>,
    cuts: Option<Vec<prop::sample::Index>>,
) -> Result<(), TestCaseError> {
    let rules = permissive(role);
    let mut stream = Vec::new();
    for frame in &frames {
        frame.encode(&mut stream);
    }

    // The whole stream at once, with Frame::decode.
    let mut whole = Vec::new();
    let mut position = 0;
    while position < stream.len() {
        match Frame::decode(&stream[position..], &rules) {
            Ok(Decoded::Complete { value, consumed }) => {
                prop_assert!(consumed > 0);
                whole.push(value);
                position += consumed;
            }
            other => prop_assert!(false, "whole stream at {position}: {other:?}"),
        }
    }
    prop_assert_eq!(&whole, &frames);

    // Chunk boundaries.
    let mut boundaries: Vec<usize> = match cuts {
        None => (1..stream.len()).collect(),
        Some(cuts) => cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect(),
    };
    boundaries.push(0);
    boundaries.push(stream.len());
    boundaries.sort_unstable();
    boundaries.dedup();

    let mut buffer = BytesMut::new();
    let mut chunked = Vec::new();
    let mut fed = 0;
    for window in boundaries.windows(2) {
        buffer.extend_from_slice(&stream[window[0]..window[1]]);
        fed = window[1];
        loop {
            let before = buffer.len();
            match Frame::decode_from(&mut buffer, &rules) {
                Ok(Decoded::Complete { value, consumed }) => {
                    prop_assert_eq!(before - buffer.len(), consumed);
                    chunked.push(value);
                }
                Ok(Decoded::Incomplete { needed }) => {
                    prop_assert!(needed >= 1);
                    prop_assert_eq!(buffer.len(), before, "nothing consumed while incomplete");
                    // `needed` is a lower bound: never more than the rest of the stream holds
                    // (the buffer starts a frame, and every frame is at least 2 bytes).
                    if !buffer.is_empty() || fed < stream.len() {
                        prop_assert!(
                            needed <= stream.len() - fed,
                            "needed {} with {} left",
                            needed,
                            stream.len() - fed
                        );
                    }
                    break;
                }
                Err(error) => prop_assert!(false, "chunked stream: {error}"),
            }
        }
    }
    prop_assert_eq!(fed, stream.len());
    prop_assert!(buffer.is_empty(), "{} bytes left over", buffer.len());
    prop_assert_eq!(&chunked, &whole);
    Ok(())
}

proptest! {
    #[test]
    fn server_header_encode_decode_round_trip(header in header_strategy(Role::Server),
                                               trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        check_header_round_trip(Role::Server, header, &trailing)?;
    }

    #[test]
    fn client_header_encode_decode_round_trip(header in header_strategy(Role::Client),
                                               trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        check_header_round_trip(Role::Client, header, &trailing)?;
    }

    #[test]
    fn server_frame_encode_decode_round_trip(frame in frame_strategy(Role::Server, arbitrary_payload(2000)),
                                              trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        check_frame_round_trip(Role::Server, frame, &trailing)?;
    }

    #[test]
    fn client_frame_encode_decode_round_trip(frame in frame_strategy(Role::Client, arbitrary_payload(2000)),
                                              trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        check_frame_round_trip(Role::Client, frame, &trailing)?;
    }

    #[test]
    fn server_decodes_the_same_frames_whatever_the_chunking(
        frames in prop::collection::vec(frame_strategy(Role::Server, mixed_payload()), 0..8),
        cuts in cuts_strategy(),
    ) {
        check_chunking(Role::Server, frames, cuts)?;
    }

    #[test]
    fn client_decodes_the_same_frames_whatever_the_chunking(
        frames in prop::collection::vec(frame_strategy(Role::Client, mixed_payload()), 0..8),
        cuts in cuts_strategy(),
    ) {
        check_chunking(Role::Client, frames, cuts)?;
    }

    /// Decoding is canonical (§5.2 minimal lengths, one key position): whatever a decoder
    /// accepts re-encodes to exactly the bytes it consumed; the three decoders agree; a failed or
    /// incomplete decode_from consumes nothing.
    #[test]
    fn server_and_client_decoding_of_arbitrary_bytes_is_canonical(
        input in prop::collection::vec(any::<u8>(), 0..64),
        server in any::<bool>(),
        rsv_allowed in 0u8..8,
        max_frame_size in prop_oneof![Just(u64::MAX), 0..100u64],
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let rules = DecodeRules::new(role).with_rsv_allowed(rsv_allowed << 4).with_max_frame_size(max_frame_size);
        let header = FrameHeader::decode(&input, &rules);
        let frame = Frame::decode(&input, &rules);
        let mut buffer = BytesMut::from(&input[..]);
        let from = Frame::decode_from(&mut buffer, &rules);
        prop_assert_eq!(&frame, &from);
        match (&header, &frame) {
            (Err(header_error), Err(frame_error)) => {
                prop_assert_eq!(header_error, frame_error);
                prop_assert_eq!(&buffer[..], &input[..]);
            }
            (Ok(Decoded::Incomplete { needed: header_needed }), Ok(Decoded::Incomplete { needed })) => {
                prop_assert!(*needed >= 1);
                prop_assert_eq!(header_needed, needed);
                prop_assert_eq!(&buffer[..], &input[..]);
            }
            (Ok(Decoded::Complete { value: header, consumed: header_len }), frame) => {
                let mut encoded = Vec::new();
                header.encode(&mut encoded);
                prop_assert_eq!(&encoded[..], &input[..*header_len]);
                match frame {
                    Ok(Decoded::Complete { value, consumed }) => {
                        prop_assert_eq!(&value.header, header);
                        let mut encoded = Vec::new();
                        value.encode(&mut encoded);
                        prop_assert_eq!(&encoded[..], &input[..*consumed]);
                        prop_assert_eq!(&buffer[..], &input[*consumed..]);
                    }
                    Ok(Decoded::Incomplete { needed }) => {
                        prop_assert_eq!(*needed as u64, header.payload_len - (input.len() - header_len) as u64);
                        prop_assert_eq!(&buffer[..], &input[..]);
                    }
                    Err(error) => prop_assert!(false, "header decoded but frame failed: {error}"),
                }
            }
            (header, frame) => prop_assert!(false, "header {header:?} but frame {frame:?}"),
        }
    }
}
