//! Fuzz target: `FrameHeader::decode` (RFC 6455 §5.2) on arbitrary bytes under arbitrary rules.
//!
//! Oracles, beyond "does not panic":
//! - Complete: `consumed <= input.len()`, `consumed == header.encoded_len()`; encoding the header
//!   again gives exactly `input[..consumed]` (the decoder accepts only minimal length encodings,
//!   so there is one encoding per header); the header obeys the rules (masking matches the role,
//!   control frames have fin and at most 125 bytes, the limit, the granted RSV bits).
//! - Incomplete: `needed >= 1` and `input.len() + needed <= 14` (no header is longer).
//! - Error: the bytes really break the rule the error names.
//! - Streaming: decoding any prefix of the input gives Incomplete or the very same answer, never
//!   a different header or error. For a complete header, `needed` never overshoots it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::frame::MAX_HEADER_LEN;
use rfc6455::{Decoded, FrameHeader};
use rfc6455_fuzz::{check_header_error_is_justified, check_header_obeys_rules, FrameHeaderInput};

fuzz_target!(|input: FrameHeaderInput<'_>| {
    let rules = input.rules.to_rules();
    let bytes = input.bytes;
    let result = FrameHeader::decode(bytes, &rules);

    match &result {
        Ok(Decoded::Complete { value: header, consumed }) => {
            assert!(*consumed <= bytes.len(), "consumed {consumed} of {} bytes", bytes.len());
            assert_eq!(*consumed, header.encoded_len());
            let mut encoded = Vec::new();
            header.encode(&mut encoded);
            assert_eq!(encoded, &bytes[..*consumed], "re-encoding {header:?} gives other bytes");
            check_header_obeys_rules(header, &rules);
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(*needed >= 1);
            assert!(bytes.len() + needed <= MAX_HEADER_LEN, "asks for {needed} more after {}", bytes.len());
        }
        Err(error) => check_header_error_is_justified(error, bytes, &rules),
    }

    // Streaming: a receiver decodes each prefix as bytes arrive. The decoder reads at most
    // MAX_HEADER_LEN bytes, so the prefixes up to that length are all the distinct cases (longer
    // ones must answer like the whole input, which the last iteration checks).
    for len in 0..=bytes.len().min(MAX_HEADER_LEN + 1) {
        let prefix_result = FrameHeader::decode(&bytes[..len], &rules);
        match (&prefix_result, &result) {
            // The whole header is in the prefix: the same header, the same length.
            (_, Ok(Decoded::Complete { consumed, .. })) if len >= *consumed => {
                assert_eq!(prefix_result, result, "prefix of {len} bytes")
            }
            // Not yet: Incomplete, and the bytes it asks for do not go past the header.
            (Ok(Decoded::Incomplete { needed }), Ok(Decoded::Complete { consumed, .. })) => {
                assert!(len + needed <= *consumed, "prefix of {len} asks for {needed}, header is {consumed}")
            }
            // Incomplete is always a possible answer for a prefix, whatever the whole gives.
            (Ok(Decoded::Incomplete { .. }), _) => {}
            // Otherwise, exactly the answer for the whole input (the same error, found early).
            _ => assert_eq!(prefix_result, result, "prefix of {len} bytes decodes differently"),
        }
    }
});
