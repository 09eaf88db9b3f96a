//! RFC 6455 §5.5.1 (the Close frame body) and §7.4 (status codes), through the public API only.
//!
//! The expectations (IANA names, ranges, which codes may be on the wire) are written out here
//! independently of `src/close.rs`, and checked for every one of the 65536 codes.

use proptest::prelude::*;
use rfc6455::{CloseCode, CloseCodeRange, CloseFrame, ProtocolError, SendError};

/// The IANA "WebSocket Close Code Number Registry" names for 1000-1015.
const IANA_NAMES: [(u16, &str); 16] = [
    (1000, "Normal Closure"),
    (1001, "Going Away"),
    (1002, "Protocol error"),
    (1003, "Unsupported Data"),
    (1004, "Reserved"),
    (1005, "No Status Rcvd"),
    (1006, "Abnormal Closure"),
    (1007, "Invalid frame payload data"),
    (1008, "Policy Violation"),
    (1009, "Message Too Big"),
    (1010, "Mandatory Ext."),
    (1011, "Internal Error"),
    (1012, "Service Restart"),
    (1013, "Try Again Later"),
    (1014, "Bad Gateway"),
    (1015, "TLS handshake"),
];

/// §7.4.1, §7.4.2 and the IANA registry, written out: the codes an endpoint may put in a Close
/// frame. 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close
/// control frame by an endpoint"; 0-999 are not used; 1016-2999 are reserved for future
/// revisions; 5000 and above lie outside every range.
fn expected_sendable(code: u16) -> bool {
    let defined_for_the_wire = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
    defined_for_the_wire.contains(&code) || (3000..5000).contains(&code)
}

/// Codes just inside and just outside every boundary of §7.4.
const BOUNDARY_CODES: [u16; 22] = [
    0, 1, 999, 1000, 1003, 1004, 1005, 1006, 1007, 1014, 1015, 1016, 2000, 2999, 3000, 3999, 4000, 4999,
    5000, 5001, 65534, 65535,
];

fn body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

// ---------------------------------------------------------------------------------------------
// CloseCode
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_7_4_1_close_code_names_follow_the_iana_registry() {
    for (code, name) in IANA_NAMES {
        assert_eq!(CloseCode(code).name(), Some(name), "{code}");
    }
    for code in (0..=u16::MAX).filter(|code| !(1000..=1015).contains(code)) {
        assert_eq!(CloseCode(code).name(), None, "{code}");
    }
}

#[test]
fn rfc_7_4_1_close_code_constants_have_their_registered_values() {
    let constants = [
        (CloseCode::NORMAL_CLOSURE, 1000),
        (CloseCode::GOING_AWAY, 1001),
        (CloseCode::PROTOCOL_ERROR, 1002),
        (CloseCode::UNSUPPORTED_DATA, 1003),
        (CloseCode::RESERVED, 1004),
        (CloseCode::NO_STATUS_RCVD, 1005),
        (CloseCode::ABNORMAL_CLOSURE, 1006),
        (CloseCode::INVALID_FRAME_PAYLOAD_DATA, 1007),
        (CloseCode::POLICY_VIOLATION, 1008),
        (CloseCode::MESSAGE_TOO_BIG, 1009),
        (CloseCode::MANDATORY_EXTENSION, 1010),
        (CloseCode::INTERNAL_ERROR, 1011),
        (CloseCode::SERVICE_RESTART, 1012),
        (CloseCode::TRY_AGAIN_LATER, 1013),
        (CloseCode::BAD_GATEWAY, 1014),
        (CloseCode::TLS_HANDSHAKE, 1015),
    ];
    for (constant, value) in constants {
        assert_eq!(constant.0, value);
        assert_eq!(u16::from(constant), value);
        assert_eq!(CloseCode::from(value), constant);
    }
}

#[test]
fn close_code_displays_its_number_and_iana_name() {
    assert_eq!(CloseCode(1000).to_string(), "1000 (Normal Closure)");
    assert_eq!(CloseCode(1015).to_string(), "1015 (TLS handshake)");
    assert_eq!(CloseCode(4000).to_string(), "4000");
    assert_eq!(CloseCode(0).to_string(), "0");
}

#[test]
fn rfc_7_4_2_close_code_ranges_at_their_boundaries() {
    let expected = [
        (0, CloseCodeRange::Unused),
        (999, CloseCodeRange::Unused),
        (1000, CloseCodeRange::Protocol),
        (2999, CloseCodeRange::Protocol),
        (3000, CloseCodeRange::Registered),
        (3999, CloseCodeRange::Registered),
        (4000, CloseCodeRange::Private),
        (4999, CloseCodeRange::Private),
        (5000, CloseCodeRange::Undefined),
        (65535, CloseCodeRange::Undefined),
    ];
    for (code, range) in expected {
        assert_eq!(CloseCode(code).range(), range, "{code}");
    }
}

#[test]
fn rfc_7_4_2_close_code_range_of_every_code() {
    for code in 0..=u16::MAX {
        let expected = match code {
            0..=999 => CloseCodeRange::Unused,
            1000..=2999 => CloseCodeRange::Protocol,
            3000..=3999 => CloseCodeRange::Registered,
            4000..=4999 => CloseCodeRange::Private,
            5000..=u16::MAX => CloseCodeRange::Undefined,
        };
        assert_eq!(CloseCode(code).range(), expected, "{code}");
    }
}

#[test]
fn rfc_7_4_close_code_is_sendable_for_every_code() {
    let mut sendable = 0;
    for code in 0..=u16::MAX {
        assert_eq!(CloseCode(code).is_sendable(), expected_sendable(code), "{code}");
        sendable += usize::from(expected_sendable(code));
    }
    // 1000-1003, 1007-1014 and 3000-4999.
    assert_eq!(sendable, 4 + 8 + 2000);
    for code in [1004, 1005, 1006, 1015] {
        assert!(!CloseCode(code).is_sendable(), "§7.4.1: {code} is never sent");
    }
}

// ---------------------------------------------------------------------------------------------
// CloseFrame::decode
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_5_5_1_close_decode_empty_body_is_none() {
    // §5.5.1: "The Close frame MAY contain a body".
    assert_eq!(CloseFrame::decode(&[]), Ok(None));
}

#[test]
fn rfc_5_5_1_close_decode_one_byte_body_fails_with_1002() {
    // §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte unsigned
    // integer".
    for byte in [0x00, 0x03, 0xe8, 0xff] {
        let error = CloseFrame::decode(&[byte]).unwrap_err();
        assert_eq!(error, ProtocolError::CloseBodyTooShort);
        assert_eq!(error.close_code(), CloseCode(1002));
    }
}

#[test]
fn rfc_7_4_close_decode_fails_on_every_unsendable_code_with_1002() {
    let mut failed = 0;
    for code in (0..=u16::MAX).filter(|code| !expected_sendable(*code)) {
        for reason in [&b""[..], b"reason"] {
            let error = CloseFrame::decode(&body(code, reason)).unwrap_err();
            assert_eq!(error, ProtocolError::InvalidCloseCode(code), "{code}");
            assert_eq!(error.close_code(), CloseCode(1002), "{code}");
        }
        failed += 1;
    }
    assert_eq!(failed, 65536 - 2012);
}

#[test]
fn rfc_7_4_close_decode_accepts_every_sendable_code() {
    for code in (0..=u16::MAX).filter(|code| expected_sendable(*code)) {
        let expected = CloseFrame { code: CloseCode(code), reason: String::new() };
        assert_eq!(CloseFrame::decode(&body(code, b"")), Ok(Some(expected)), "{code}");
    }
}

#[test]
fn rfc_5_5_1_close_decode_fails_on_invalid_utf8_reason_with_1007() {
    // §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails the connection, §7.4.1 code 1007.
    let invalid: [&[u8]; 8] = [
        b"\xff",
        b"ok\x80",           // a lone continuation byte
        b"\xc3",             // a truncated 2-byte sequence
        b"\xe2\x82",         // a truncated 3-byte sequence
        b"\xc0\x80",         // an overlong NUL
        b"\xed\xa0\x80",     // a UTF-16 surrogate
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"abc\xf0\x9f\xa6",  // a truncated 4-byte sequence at the end
    ];
    for reason in invalid {
        let error = CloseFrame::decode(&body(1000, reason)).unwrap_err();
        assert_eq!(error, ProtocolError::InvalidUtf8, "{reason:02x?}");
        assert_eq!(error.close_code(), CloseCode(1007), "{reason:02x?}");
    }
}

#[test]
fn rfc_5_5_1_close_decode_and_encode_round_trip() {
    let close = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
    let mut encoded = Vec::new();
    close.encode(&mut encoded);
    assert_eq!(encoded, [0x03, 0xe9, b'b', b'y', b'e']);
    assert_eq!(close.encoded_len(), 5);
    assert_eq!(CloseFrame::decode(&encoded), Ok(Some(close)));

    // A code alone, without a reason.
    assert_eq!(
        CloseFrame::decode(&[0x03, 0xe8]),
        Ok(Some(CloseFrame { code: CloseCode::NORMAL_CLOSURE, reason: String::new() }))
    );
    // Private range, network byte order.
    assert_eq!(
        CloseFrame::decode(&[0x0f, 0xa0, b'x']),
        Ok(Some(CloseFrame { code: CloseCode(4000), reason: "x".into() }))
    );
    let mut encoded = bytes::BytesMut::new();
    CloseFrame::new(CloseCode(4999), "").unwrap().encode(&mut encoded);
    assert_eq!(&encoded[..], &[0x13, 0x87]);
}

#[test]
fn rfc_5_5_1_close_decode_accepts_a_123_byte_reason() {
    // §5.5: 125 bytes of control payload, 2 of them the code.
    let reason = "r".repeat(123);
    let decoded = CloseFrame::decode(&body(1000, reason.as_bytes()));
    assert_eq!(decoded, Ok(Some(CloseFrame { code: CloseCode(1000), reason: reason.clone() })));
    let close = CloseFrame::new(CloseCode(1000), reason.clone()).unwrap();
    assert_eq!(close.encoded_len(), 125);
    let mut encoded = Vec::new();
    close.encode(&mut encoded);
    assert_eq!(encoded, body(1000, reason.as_bytes()));
}

#[test]
fn rfc_5_5_1_close_decode_and_encode_multibyte_utf8_reason() {
    for reason in ["é", "€uro", "🦀 ferris", "日本語の理由", "mixed ascii, é, € and 🦀"] {
        let close = CloseFrame::new(CloseCode::POLICY_VIOLATION, reason).unwrap();
        let mut encoded = Vec::new();
        close.encode(&mut encoded);
        assert_eq!(encoded, body(1008, reason.as_bytes()), "{reason}");
        assert_eq!(close.encoded_len(), 2 + reason.len(), "{reason}");
        assert_eq!(CloseFrame::decode(&encoded), Ok(Some(close)), "{reason}");
    }
}

#[test]
fn close_frame_displays_code_and_reason() {
    assert_eq!(CloseFrame::new(CloseCode(1000), "").unwrap().to_string(), "1000 (Normal Closure)");
    assert_eq!(CloseFrame::new(CloseCode(4001), "bye").unwrap().to_string(), "4001: \"bye\"");
}

// ---------------------------------------------------------------------------------------------
// CloseFrame::new
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_5_5_1_close_new_rejects_a_reason_over_123_bytes() {
    for len in [124, 125, 200, 1000] {
        let reason = "r".repeat(len);
        assert_eq!(
            CloseFrame::new(CloseCode(1000), reason),
            Err(SendError::CloseReasonTooLong(len)),
            "{len}"
        );
    }
    for len in [0, 1, 122, 123] {
        let reason = "r".repeat(len);
        let close = CloseFrame::new(CloseCode(1000), reason.clone());
        assert_eq!(close, Ok(CloseFrame { code: CloseCode(1000), reason }), "{len}");
    }
}

#[test]
fn rfc_5_5_1_close_new_counts_reason_bytes_not_characters() {
    // 41 three-byte characters: 123 bytes, accepted; 42: 126 bytes, refused.
    let fits = "€".repeat(41);
    assert_eq!(fits.len(), 123);
    assert!(CloseFrame::new(CloseCode(1000), fits).is_ok());
    assert_eq!(CloseFrame::new(CloseCode(1000), "€".repeat(42)), Err(SendError::CloseReasonTooLong(126)));
    // 31 four-byte characters: 124 bytes, refused.
    assert_eq!(CloseFrame::new(CloseCode(1000), "🦀".repeat(31)), Err(SendError::CloseReasonTooLong(124)));
    // 30 four-byte characters and 3 ASCII bytes: 123 bytes, accepted.
    assert!(CloseFrame::new(CloseCode(1000), "🦀".repeat(30) + "abc").is_ok());
}

#[test]
fn rfc_7_4_close_new_rejects_every_unsendable_code() {
    for code in 0..=u16::MAX {
        let result = CloseFrame::new(CloseCode(code), "reason");
        if expected_sendable(code) {
            assert_eq!(result, Ok(CloseFrame { code: CloseCode(code), reason: "reason".into() }), "{code}");
        } else {
            assert_eq!(result, Err(SendError::UnsendableCloseCode(CloseCode(code))), "{code}");
        }
    }
}

#[test]
fn rfc_7_4_close_new_at_the_code_boundaries() {
    for code in BOUNDARY_CODES {
        let result = CloseFrame::new(CloseCode(code), "");
        assert_eq!(result.is_ok(), expected_sendable(code), "{code}");
    }
    let expected_ok = [1000, 1003, 1007, 1014, 3000, 3999, 4000, 4999];
    let ok: Vec<u16> =
        BOUNDARY_CODES.into_iter().filter(|code| CloseFrame::new(CloseCode(*code), "").is_ok()).collect();
    assert_eq!(ok, expected_ok);
}

// ---------------------------------------------------------------------------------------------
// proptest
// ---------------------------------------------------------------------------------------------

fn sendable_code() -> impl Strategy<Value = CloseCode> {
    prop_oneof![
        prop::sample::select(vec![1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]),
        3000u16..5000,
    ]
    .prop_map(CloseCode)
}

/// Any UTF-8 reason of at most 123 bytes: characters are taken while they fit.
fn reason() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=123).prop_map(|chars| {
        let mut reason = String::new();
        for character in chars {
            if reason.len() + character.len_utf8() > 123 {
                break;
            }
            reason.push(character);
        }
        reason
    })
}

proptest! {
    /// §5.5.1: a Close body built from a sendable code and a reason of at most 123 bytes encodes
    /// to the code in network byte order then the reason, and decodes back to itself.
    #[test]
    fn rfc_5_5_1_close_frame_round_trip(code in sendable_code(), reason in reason()) {
        let close = CloseFrame::new(code, reason.clone()).unwrap();
        let mut encoded = Vec::new();
        close.encode(&mut encoded);
        prop_assert_eq!(&encoded, &body(code.0, reason.as_bytes()));
        prop_assert_eq!(close.encoded_len(), encoded.len());
        prop_assert!(encoded.len() <= 125);
        prop_assert_eq!(CloseFrame::decode(&encoded), Ok(Some(close)));
    }

    /// Any control-frame-sized body either fails with an error whose close code is 1002 or 1007,
    /// or decodes to a CloseFrame that encodes back to exactly the same bytes.
    #[test]
    fn rfc_5_5_1_close_decode_of_arbitrary_bodies_is_canonical(
        payload in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..=125),
            // A sendable code, so that arbitrary reasons (mostly invalid UTF-8) are reached.
            (sendable_code(), prop::collection::vec(any::<u8>(), 0..=123))
                .prop_map(|(code, reason)| body(code.0, &reason)),
        ],
    ) {
        match CloseFrame::decode(&payload) {
            Ok(None) => prop_assert!(payload.is_empty()),
            Ok(Some(close)) => {
                prop_assert!(close.code.is_sendable());
                let mut encoded = Vec::new();
                close.encode(&mut encoded);
                prop_assert_eq!(&encoded, &payload);
            }
            Err(error) => {
                let code = error.close_code();
                prop_assert!(code == CloseCode(1002) || code == CloseCode(1007), "{:?}", error);
                let expected = if payload.len() == 1 {
                    ProtocolError::CloseBodyTooShort
                } else if !expected_sendable(u16::from_be_bytes([payload[0], payload[1]])) {
                    ProtocolError::InvalidCloseCode(u16::from_be_bytes([payload[0], payload[1]]))
                } else {
                    ProtocolError::InvalidUtf8
                };
                prop_assert_eq!(error, expected);
            }
        }
    }
}
