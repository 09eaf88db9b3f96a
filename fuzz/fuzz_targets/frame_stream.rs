//! Fuzz target: a stream of frames (RFC 6455 §5.2), decoded two ways that must agree.
//!
//! 1. From the whole stream at once with `Frame::decode`, advancing by `consumed` each time.
//! 2. As a network would deliver it: in the fuzzer's chunks, appended to a `BytesMut` read buffer
//!    and decoded with `Frame::decode_from` (zero-copy), as many frames as each chunk completes.
//!
//! Oracles, beyond "does not panic":
//! - both ways give the same frames and end the same way (the same error, or Incomplete with the
//!   same `needed` for the same leftover bytes): chunk boundaries change nothing;
//! - `consumed` never exceeds the bytes available, and `decode_from` removes exactly `consumed`
//!   bytes (none on Incomplete or an error);
//! - every frame obeys the rules and re-encodes (`Frame::encode`, same masking key) to exactly
//!   the bytes it was decoded from;
//! - `needed` is a lower bound: the frame completes no earlier than `needed` bytes later.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rfc6455::{DecodeRules, Decoded, Frame, ProtocolError};
use rfc6455_fuzz::{check_header_obeys_rules, FrameStreamInput};

/// How a decoding stops once no further frame can be taken.
#[derive(Debug, PartialEq)]
enum End {
    /// Out of bytes: the leftover bytes and how many more were asked for.
    Incomplete { leftover: usize, needed: usize },
    /// The peer broke the protocol.
    Error(ProtocolError),
}

fuzz_target!(|input: FrameStreamInput<'_>| {
    let rules = input.rules.to_rules();
    let stream = input.stream;

    let (whole_frames, whole_end) = decode_whole(stream, &rules);
    let (chunked_frames, chunked_end) = decode_chunked(stream, &input.chunks(), &rules);

    assert_eq!(whole_frames, chunked_frames, "chunking changed the frames");
    assert_eq!(whole_end, chunked_end, "chunking changed how the stream ends");
});

/// Way 1: `Frame::decode` on the whole stream, advancing by `consumed`.
fn decode_whole(stream: &[u8], rules: &DecodeRules) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &stream[offset..];
        match Frame::decode(rest, rules) {
            Ok(Decoded::Complete { value: frame, consumed }) => {
                assert!(consumed <= rest.len(), "consumed {consumed} of {} bytes", rest.len());
                check_frame(&frame, &rest[..consumed], rules);
                frames.push(frame);
                offset += consumed;
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed >= 1);
                return (frames, End::Incomplete { leftover: rest.len(), needed });
            }
            Err(error) => return (frames, End::Error(error)),
        }
    }
}

/// Way 2: the stream arrives in `chunks`; after each one, `Frame::decode_from` takes every frame
/// the read buffer now holds.
fn decode_chunked(stream: &[u8], chunks: &[usize], rules: &DecodeRules) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut buffer = BytesMut::new();
    let mut fed = 0;
    // The last Incomplete for the frame at the front of the buffer: (buffer length then, needed).
    let mut waiting: Option<(usize, usize)> = None;
    for &chunk in chunks {
        buffer.extend_from_slice(&stream[fed..fed + chunk]);
        fed += chunk;
        loop {
            let before = buffer.clone();
            match Frame::decode_from(&mut buffer, rules) {
                Ok(Decoded::Complete { value: frame, consumed }) => {
                    assert!(consumed <= before.len(), "consumed {consumed} of {} bytes", before.len());
                    assert_eq!(
                        buffer.len(),
                        before.len() - consumed,
                        "decode_from removed other than consumed"
                    );
                    assert_eq!(&buffer[..], &before[consumed..]);
                    // `needed` promised the frame needed at least that many more bytes.
                    if let Some((buffered, needed)) = waiting.take() {
                        assert!(
                            consumed >= buffered + needed,
                            "completed {consumed} < {buffered} + {needed}"
                        );
                    }
                    check_frame(&frame, &before[..consumed], rules);
                    frames.push(frame);
                }
                Ok(Decoded::Incomplete { needed }) => {
                    assert!(needed >= 1);
                    assert_eq!(buffer, before, "Incomplete changed the buffer");
                    waiting = Some((buffer.len(), needed));
                    break;
                }
                Err(error) => {
                    assert_eq!(buffer, before, "an error changed the buffer");
                    // The connection fails here: nothing more is read.
                    return (frames, End::Error(error));
                }
            }
        }
    }
    assert_eq!(fed, stream.len(), "the chunks cover the stream");
    // The loop always ends on Incomplete (an empty stream never entered it: ask once).
    let needed = match Frame::decode_from(&mut buffer, rules) {
        Ok(Decoded::Incomplete { needed }) => needed,
        other => panic!("after the last chunk, decode_from answered {other:?}"),
    };
    (frames, End::Incomplete { leftover: buffer.len(), needed })
}

/// Oracles for one decoded frame: it obeys the rules and encodes back to `wire`.
fn check_frame(frame: &Frame, wire: &[u8], rules: &DecodeRules) {
    check_header_obeys_rules(&frame.header, rules);
    assert_eq!(frame.header.payload_len, frame.payload.len() as u64);
    let mut encoded = Vec::with_capacity(wire.len());
    frame.encode(&mut encoded);
    assert_eq!(encoded, wire, "re-encoding {:?} gives other bytes", frame.header);
}
