//! Layer 1: RFC 6455 §5.4 (fragmentation), §5.6 (data frames) and §8.1 (UTF-8 handling), through
//! the public API only.
//!
//! - `Utf8Validator` against `std::str::from_utf8`: a corpus of valid and invalid sequences
//!   (overlongs, surrogates, code points above U+10FFFF, F5-FF, lone continuation bytes,
//!   truncated sequences) whole, split in two and three pieces, byte by byte and exhaustively
//!   over short inputs; fail-fast at the first byte that cannot start valid UTF-8.
//! - `Reassembler`, for both roles (a server receives masked frames, a client unmasked ones,
//!   §5.1): whole messages, control frames between fragments, the §5.4 errors, UTF-8 failing as
//!   soon as the bad byte arrives, limits failing at the header, nothing processed after an
//!   error (a failure table).
//! - Streaming mode: chunk offsets and flags, memory bounded by the input.
//! - The `ExtensionCodec` seam (§9): RSV bits granted to the first frame of a message only.
//! - proptest: validator vs std, chunking invariance, fragmentation invariance.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::Index;
use rfc6455::frame::{RSV1_BIT, RSV2_BIT, RSV3_BIT};
use rfc6455::handshake::extension::Extension;
use rfc6455::message::{DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE};
use rfc6455::{
    apply_mask_rfc, CloseCode, DecodeOutput, ExtensionCodec, Frame, FrameHeader, Incoming, Message,
    MessageFragment, MessageKind, MessageLimits, Opcode, ProtocolError, Reassembler, Role, Utf8Bytes,
    Utf8Validator,
};

const ROLES: [Role; 2] = [Role::Server, Role::Client];
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// The largest frame header: 2 bytes, 8 of extended length, 4 of masking key (§5.2).
const MAX_HEADER_LEN: usize = 14;

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Server => "server",
        Role::Client => "client",
    }
}

// ---------------------------------------------------------------------------------------------
// Building input: frames as the peer of the receiver sends them
// ---------------------------------------------------------------------------------------------

/// The masking key the peer of `receiver` puts on its `n`-th frame: a client masks every frame
/// (§5.3), a server none (§5.1). Keys differ from frame to frame and are never all zero.
fn peer_key(receiver: Role, n: u32) -> Option<[u8; 4]> {
    match receiver {
        Role::Server => Some(((n.wrapping_mul(0x9e37_79b9) ^ 0x37fa_213d) | 0x0101_0101).to_be_bytes()),
        Role::Client => None,
    }
}

fn header(fin: bool, opcode: Opcode, rsv: u8, masking_key: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader {
        fin,
        rsv1: rsv & RSV1_BIT != 0,
        rsv2: rsv & RSV2_BIT != 0,
        rsv3: rsv & RSV3_BIT != 0,
        opcode,
        masking_key,
        payload_len,
    }
}

/// The peer of a receiver of role `receiver`: writes frames into `wire`.
struct Peer {
    receiver: Role,
    frames: u32,
    wire: Vec<u8>,
}

impl Peer {
    fn new(receiver: Role) -> Peer {
        Peer { receiver, frames: 0, wire: Vec::new() }
    }

    fn next_key(&mut self) -> Option<[u8; 4]> {
        self.frames += 1;
        peer_key(self.receiver, self.frames)
    }

    /// Writes a frame; returns it as the receiver should hand it over (unmasked payload, header
    /// with the masking key it arrived with).
    fn frame(&mut self, fin: bool, opcode: Opcode, rsv: u8, payload: &[u8]) -> Frame {
        let header = header(fin, opcode, rsv, self.next_key(), payload.len() as u64);
        rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(payload) }.encode(&mut self.wire);
        Frame { header, payload: Bytes::copy_from_slice(payload) }
    }

    fn data(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> &mut Peer {
        self.frame(fin, opcode, 0, payload);
        self
    }

    fn text(&mut self, fin: bool, payload: &[u8]) -> &mut Peer {
        self.data(fin, Opcode::Text, payload)
    }

    fn binary(&mut self, fin: bool, payload: &[u8]) -> &mut Peer {
        self.data(fin, Opcode::Binary, payload)
    }

    fn cont(&mut self, fin: bool, payload: &[u8]) -> &mut Peer {
        self.data(fin, Opcode::Continuation, payload)
    }

    /// Writes only the header of a frame announcing `payload_len` bytes.
    fn header_only(&mut self, fin: bool, opcode: Opcode, payload_len: u64) -> &mut Peer {
        let header = header(fin, opcode, 0, self.next_key(), payload_len);
        header.encode(&mut self.wire);
        self
    }

    /// Writes a control frame; returns the item the receiver should hand over for it.
    fn control(&mut self, opcode: Opcode, payload: &[u8]) -> Incoming {
        Incoming::Control(self.frame(true, opcode, 0, payload))
    }

    /// Writes a message in fragments (§5.4): the first frame has the message's opcode, the
    /// others are continuations, the last has FIN.
    fn fragments(&mut self, kind: MessageKind, fragments: &[&[u8]]) -> &mut Peer {
        for (i, fragment) in fragments.iter().enumerate() {
            let opcode = if i == 0 { kind.opcode() } else { Opcode::Continuation };
            self.data(i + 1 == fragments.len(), opcode, fragment);
        }
        self
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.wire)
    }
}

fn text_message(text: &str) -> Incoming {
    Incoming::Message(Message::Text(Utf8Bytes::from(text.to_owned())))
}

fn binary_message(payload: &[u8]) -> Incoming {
    Incoming::Message(Message::Binary(Bytes::copy_from_slice(payload)))
}

/// Polls until nothing more comes: the items, and the error if one ended the stream. After an
/// error, checks that `poll` keeps returning `Ok(None)`.
fn drain(reassembler: &mut Reassembler) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut items = Vec::new();
    loop {
        match reassembler.poll() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, None),
            Err(error) => {
                for _ in 0..3 {
                    assert_eq!(reassembler.poll(), Ok(None), "poll after {error:?}");
                }
                return (items, Some(error));
            }
        }
    }
}

fn feed(reassembler: &mut Reassembler, bytes: &[u8]) -> (Vec<Incoming>, Option<ProtocolError>) {
    reassembler.receive(bytes);
    drain(reassembler)
}

/// A new reassembler fed `bytes` whole.
fn run(role: Role, bytes: &[u8]) -> (Vec<Incoming>, Option<ProtocolError>) {
    feed(&mut Reassembler::new(role), bytes)
}

/// Like [`run`], failing the test on an error.
fn run_ok(role: Role, bytes: &[u8]) -> Vec<Incoming> {
    let (items, error) = run(role, bytes);
    assert_eq!(error, None, "{} fed {bytes:02x?}", role_name(role));
    items
}

/// Feeds `bytes` one byte at a time, polling after each; the items and, on error, the index of
/// the byte after which `poll` failed.
fn run_byte_by_byte(
    reassembler: &mut Reassembler,
    bytes: &[u8],
) -> (Vec<Incoming>, Option<(usize, ProtocolError)>) {
    let mut items = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        let (more, error) = feed(reassembler, std::slice::from_ref(byte));
        items.extend(more);
        if let Some(error) = error {
            return (items, Some((i, error)));
        }
    }
    (items, None)
}

fn chunks_of(items: &[Incoming]) -> Vec<MessageFragment> {
    items
        .iter()
        .map(|item| match item {
            Incoming::Fragment(chunk) => chunk.clone(),
            other => panic!("expected a chunk, got {other:?}"),
        })
        .collect()
}

/// Deterministic pseudo-random numbers (xorshift64*), for piece sizes.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Utf8Validator (§8.1) against std
// ---------------------------------------------------------------------------------------------

/// What std says of a whole input, byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// Invalid from the byte at this index on: it is the first byte such that the prefix ending
    /// with it is no longer the start of any valid UTF-8.
    BadAt(usize),
    /// Every prefix could still become valid, but the input ends inside a code point.
    Truncated,
}

use Verdict::{BadAt, Truncated, Valid};

/// The verdict computed from std alone: for each prefix, std either accepts it or says the
/// input "ended unexpectedly" (`error_len() == None`) while the prefix may still become valid.
fn std_verdict(bytes: &[u8]) -> Verdict {
    for end in 1..=bytes.len() {
        if let Err(error) = std::str::from_utf8(&bytes[..end]) {
            if error.error_len().is_some() {
                return BadAt(end - 1);
            }
        }
    }
    if std::str::from_utf8(bytes).is_ok() {
        Valid
    } else {
        Truncated
    }
}

/// Where feeding pieces to a validator fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    /// `feed` of the piece with this index failed.
    FeedFails(usize),
    /// Every `feed` succeeded; `finish` failed.
    FinishFails,
}

fn validate_pieces(pieces: &[&[u8]]) -> Outcome {
    let mut validator = Utf8Validator::new();
    for (i, piece) in pieces.iter().enumerate() {
        if let Err(error) = validator.feed(piece) {
            assert_eq!(error, ProtocolError::InvalidUtf8);
            assert_eq!(error.close_code(), CloseCode(1007));
            return Outcome::FeedFails(i);
        }
    }
    match validator.finish() {
        Ok(()) => Outcome::Accepted,
        Err(error) => {
            assert_eq!(error, ProtocolError::InvalidUtf8);
            Outcome::FinishFails
        }
    }
}

/// The outcome a fail-fast validator must give for `pieces` of an input with `verdict`: the
/// feed that delivers the bad byte fails, not an earlier one, not a later one.
fn expected_outcome(verdict: Verdict, pieces: &[&[u8]]) -> Outcome {
    match verdict {
        Valid => Outcome::Accepted,
        Truncated => Outcome::FinishFails,
        BadAt(index) => {
            let mut start = 0;
            for (i, piece) in pieces.iter().enumerate() {
                if index < start + piece.len() {
                    return Outcome::FeedFails(i);
                }
                start += piece.len();
            }
            unreachable!("bad index {index} beyond the input")
        }
    }
}

/// Checks the validator on `bytes` whole, byte by byte, and cut at every pair of points (two
/// or three pieces, empty pieces included).
fn check_validator_on(bytes: &[u8], verdict: Verdict) {
    let whole: [&[u8]; 1] = [bytes];
    assert_eq!(validate_pieces(&whole), expected_outcome(verdict, &whole), "whole {bytes:02x?}");
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(validate_pieces(&singles), expected_outcome(verdict, &singles), "byte by byte {bytes:02x?}");
    for i in 0..=bytes.len() {
        let two = [&bytes[..i], &bytes[i..]];
        assert_eq!(validate_pieces(&two), expected_outcome(verdict, &two), "{bytes:02x?} cut at {i}");
        for j in i..=bytes.len() {
            let three = [&bytes[..i], &bytes[i..j], &bytes[j..]];
            assert_eq!(
                validate_pieces(&three),
                expected_outcome(verdict, &three),
                "{bytes:02x?} cut at {i} and {j}"
            );
        }
    }
}

/// (name, bytes, verdict written out by hand). Indices are of the first byte that cannot
/// continue valid UTF-8 (RFC 3629 §4 syntax, as §8.1 requires).
const CORPUS: &[(&str, &[u8], Verdict)] = &[
    ("empty", b"", Valid),
    ("ascii", b"Hello", Valid),
    ("nul and del", b"\x00\x7f", Valid),
    ("kosme", "κόσμε".as_bytes(), Valid),
    ("U+0080, smallest 2-byte", b"\xc2\x80", Valid),
    ("U+07FF, largest 2-byte", b"\xdf\xbf", Valid),
    ("U+0800, smallest 3-byte", b"\xe0\xa0\x80", Valid),
    ("U+D7FF, last before the surrogates", b"\xed\x9f\xbf", Valid),
    ("U+E000, first after the surrogates", b"\xee\x80\x80", Valid),
    ("U+FFFD", b"\xef\xbf\xbd", Valid),
    ("U+FFFF", b"\xef\xbf\xbf", Valid),
    ("U+10000, smallest 4-byte", b"\xf0\x90\x80\x80", Valid),
    ("U+10FFFF, largest code point", b"\xf4\x8f\xbf\xbf", Valid),
    ("mixed widths", "a€𝄞é\u{10ffff}z".as_bytes(), Valid),
    // Overlong encodings.
    ("overlong '/' C0 AF", b"\xc0\xaf", BadAt(0)),
    ("overlong NUL C0 80", b"\xc0\x80", BadAt(0)),
    ("overlong C1 BF", b"\xc1\xbf", BadAt(0)),
    ("overlong 3-byte E0 80 AF", b"\xe0\x80\xaf", BadAt(1)),
    ("overlong 3-byte E0 9F BF", b"\xe0\x9f\xbf", BadAt(1)),
    ("overlong 4-byte F0 80 80 AF", b"\xf0\x80\x80\xaf", BadAt(1)),
    ("overlong 4-byte F0 8F BF BF", b"\xf0\x8f\xbf\xbf", BadAt(1)),
    ("overlong 5-byte F8 80 80 80 AF", b"\xf8\x80\x80\x80\xaf", BadAt(0)),
    ("overlong after text", b"ab\xc0\x80", BadAt(2)),
    // UTF-16 surrogates.
    ("U+D800 ED A0 80", b"\xed\xa0\x80", BadAt(1)),
    ("U+DBFF ED AF BF", b"\xed\xaf\xbf", BadAt(1)),
    ("U+DC00 ED B0 80", b"\xed\xb0\x80", BadAt(1)),
    ("U+DFFF ED BF BF", b"\xed\xbf\xbf", BadAt(1)),
    ("surrogate pair", b"\xed\xa0\x80\xed\xb0\x80", BadAt(1)),
    (
        "kosme then U+D800 then 'edited'",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        BadAt(12),
    ),
    // Above U+10FFFF.
    ("U+110000 F4 90 80 80", b"\xf4\x90\x80\x80", BadAt(1)),
    ("F4 BF BF BF", b"\xf4\xbf\xbf\xbf", BadAt(1)),
    ("F5 80 80 80", b"\xf5\x80\x80\x80", BadAt(0)),
    ("F7 BF BF BF", b"\xf7\xbf\xbf\xbf", BadAt(0)),
    ("F8", b"\xf8", BadAt(0)),
    ("FC", b"\xfc", BadAt(0)),
    ("FE", b"\xfe", BadAt(0)),
    ("FF", b"\xff", BadAt(0)),
    ("text then FF", b"Hello\xff", BadAt(5)),
    // Continuation bytes where a lead byte is expected.
    ("lone 80", b"\x80", BadAt(0)),
    ("lone BF", b"\xbf", BadAt(0)),
    ("a 80 b", b"a\x80b", BadAt(1)),
    ("extra continuation after 2-byte", b"\xc2\x80\x80", BadAt(2)),
    ("extra continuation after 4-byte", b"\xf0\x90\x80\x80\x80", BadAt(4)),
    // Sequences interrupted before their end.
    ("C2 then 'A'", b"\xc2A", BadAt(1)),
    ("E2 82 then 'A'", b"\xe2\x82A", BadAt(2)),
    ("F0 9D 84 then 'A'", b"\xf0\x9d\x84A", BadAt(3)),
    ("E2 then a new lead byte", b"\xe2\xe2\x82\xac", BadAt(1)),
    ("F0 9D 84 then a new lead byte", b"\xf0\x9d\x84\xf0\x9d\x84\x9e", BadAt(3)),
    // Truncated at the end: only finishing the message can tell.
    ("C2 at the end", b"\xc2", Truncated),
    ("a E2 82 at the end", b"a\xe2\x82", Truncated),
    ("F0 9D 84 at the end", b"\xf0\x9d\x84", Truncated),
    ("F4 8F BF at the end", b"\xf4\x8f\xbf", Truncated),
    ("E0 A0 at the end", b"\xe0\xa0", Truncated),
    ("ED 9F at the end", b"\xed\x9f", Truncated),
    ("F0 at the end", b"\xf0", Truncated),
    ("F4 at the end", b"\xf4", Truncated),
    ("euro then F0 9D at the end", b"\xe2\x82\xac\xf0\x9d", Truncated),
];

#[test]
fn corpus_verdicts_written_by_hand_agree_with_std() {
    for &(name, bytes, verdict) in CORPUS {
        assert_eq!(std_verdict(bytes), verdict, "{name}");
        assert_eq!(std::str::from_utf8(bytes).is_ok(), verdict == Valid, "{name}");
    }
}

#[test]
fn utf8_validator_agrees_with_std_on_the_corpus_whole_and_split_in_two_or_three_pieces() {
    for &(_, bytes, verdict) in CORPUS {
        check_validator_on(bytes, verdict);
    }
    // The corpus, concatenated after valid text and between valid text.
    for &(_, bytes, verdict) in CORPUS {
        let mut input = "Ωμέγα ".as_bytes().to_vec();
        let offset = input.len();
        input.extend_from_slice(bytes);
        if verdict != Truncated {
            input.extend_from_slice("€ end".as_bytes());
        }
        let shifted = match verdict {
            BadAt(index) => BadAt(offset + index),
            other => other,
        };
        assert_eq!(std_verdict(&input), shifted);
        check_validator_on(&input, shifted);
    }
}

#[test]
fn utf8_validator_fails_on_the_byte_that_makes_the_input_invalid_when_fed_byte_by_byte() {
    for &(name, bytes, verdict) in CORPUS {
        let mut validator = Utf8Validator::new();
        let mut failed_at = None;
        for (i, byte) in bytes.iter().enumerate() {
            if validator.feed(&[*byte]).is_err() {
                failed_at = Some(i);
                break;
            }
        }
        match verdict {
            BadAt(index) => assert_eq!(failed_at, Some(index), "{name}"),
            Valid | Truncated => {
                assert_eq!(failed_at, None, "{name}");
                assert_eq!(validator.finish().is_ok(), verdict == Valid, "{name}");
            }
        }
    }
}

#[test]
fn utf8_validator_rfc_8_1_examples_from_the_doc() {
    // "€" (e2 82 ac) split after its lead byte is valid; ED A0 (a surrogate) fails on A0.
    let mut validator = Utf8Validator::new();
    assert_eq!(validator.feed(b"\xe2"), Ok(()));
    assert_eq!(validator.feed(b"\x82\xac"), Ok(()));
    assert_eq!(validator.finish(), Ok(()));
    assert_eq!(validator.feed(b"\xed"), Ok(()));
    assert_eq!(validator.feed(b"\xa0"), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn utf8_validator_finish_fails_on_an_incomplete_code_point_and_resets() {
    for incomplete in [&b"\xc3"[..], b"\xe2\x82", b"\xf0\x9d\x84", b"abc\xf4"] {
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(incomplete), Ok(()), "{incomplete:02x?}");
        assert_eq!(validator.finish(), Err(ProtocolError::InvalidUtf8), "{incomplete:02x?}");
        // Reset: the next message starts afresh, the pending bytes are gone.
        assert_eq!(validator.feed(b"ok"), Ok(()), "{incomplete:02x?}");
        assert_eq!(validator.finish(), Ok(()), "{incomplete:02x?}");
        // A continuation byte at the start of the next message is not glued to the old lead.
        assert_eq!(validator.feed(incomplete), Ok(()));
        assert_eq!(validator.finish(), Err(ProtocolError::InvalidUtf8));
        assert_eq!(validator.feed(b"\x80"), Err(ProtocolError::InvalidUtf8), "{incomplete:02x?}");
    }
    // Finishing after a complete message resets too.
    let mut validator = Utf8Validator::new();
    assert_eq!(validator.feed("é".as_bytes()), Ok(()));
    assert_eq!(validator.finish(), Ok(()));
    assert_eq!(validator.finish(), Ok(()));
    assert_eq!(Utf8Validator::new().finish(), Ok(()));
}

#[test]
fn utf8_validator_in_the_same_state_compares_equal() {
    // `Utf8Validator` derives `PartialEq`: two validators that will accept and reject exactly
    // the same continuations must compare equal. After a complete code point, or after
    // `finish`, a validator is back at the start of a message, like a new one.
    let mut completed = Utf8Validator::new();
    assert_eq!(completed.feed(b"\xc3"), Ok(()));
    assert_eq!(completed.feed(b"\xa9"), Ok(()));
    assert_eq!(completed, Utf8Validator::new(), "after a code point split in two feeds");
    let mut finished = Utf8Validator::new();
    assert_eq!(finished.feed(b"\xe2\x82"), Ok(()));
    assert_eq!(finished.finish(), Err(ProtocolError::InvalidUtf8));
    assert_eq!(finished, Utf8Validator::new(), "after finish");
    // And two validators in the middle of the same code point compare equal however it came.
    let mut one = Utf8Validator::new();
    assert_eq!(one.feed(b"a\xf0\x9f"), Ok(()));
    let mut other = Utf8Validator::new();
    assert_eq!(other.feed(b"\xf0"), Ok(()));
    assert_eq!(other.feed(b"\x9f"), Ok(()));
    assert_eq!(one, other);
    assert_ne!(one, Utf8Validator::new());
}

#[test]
fn utf8_validator_accepts_empty_pieces_anywhere() {
    let mut validator = Utf8Validator::new();
    for piece in [&b""[..], b"\xf0", b"", b"\x9d", b"", b"", b"\x84", b"", b"\x9e", b""] {
        assert_eq!(validator.feed(piece), Ok(()), "{piece:02x?}");
    }
    assert_eq!(validator.finish(), Ok(()));
}

#[test]
fn utf8_validator_accepts_every_scalar_value_fed_byte_by_byte() {
    let mut validator = Utf8Validator::new();
    let mut buffer = [0u8; 4];
    for c in (0..=0x10ffff).filter_map(char::from_u32) {
        for byte in c.encode_utf8(&mut buffer).as_bytes() {
            assert_eq!(validator.feed(&[*byte]), Ok(()), "U+{:04X}", u32::from(c));
        }
    }
    assert_eq!(validator.finish(), Ok(()));
}

#[test]
fn utf8_validator_rejects_every_surrogate_at_its_second_byte() {
    for code in 0xd800u32..=0xdfff {
        let bytes =
            [0xe0 | (code >> 12) as u8, 0x80 | ((code >> 6) & 0x3f) as u8, 0x80 | (code & 0x3f) as u8];
        assert_eq!(bytes[0], 0xed);
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(&bytes[..1]), Ok(()));
        assert_eq!(validator.feed(&bytes[1..2]), Err(ProtocolError::InvalidUtf8), "U+{code:04X}");
        assert_eq!(Utf8Validator::new().feed(&bytes), Err(ProtocolError::InvalidUtf8));
    }
}

#[test]
fn utf8_validator_agrees_with_std_on_every_one_and_two_byte_input_and_every_split() {
    for a in 0..=255u8 {
        check_validator_on(&[a], std_verdict(&[a]));
        for b in 0..=255u8 {
            let input = [a, b];
            check_validator_on(&input, std_verdict(&input));
        }
    }
}

#[test]
fn utf8_validator_agrees_with_std_on_every_three_byte_input_with_a_non_ascii_lead() {
    for a in 0xc0..=0xffu8 {
        for b in 0..=255u8 {
            for c in 0..=255u8 {
                let input = [a, b, c];
                let verdict = std_verdict(&input);
                let whole: [&[u8]; 1] = [&input];
                assert_eq!(validate_pieces(&whole), expected_outcome(verdict, &whole), "{input:02x?}");
                let mut validator = Utf8Validator::new();
                let failed = (0..3).find(|&i| validator.feed(&input[i..=i]).is_err());
                match verdict {
                    BadAt(index) => assert_eq!(failed, Some(index), "{input:02x?}"),
                    _ => assert_eq!(failed, None, "{input:02x?}"),
                }
            }
        }
    }
}

#[test]
fn utf8_validator_agrees_with_std_on_four_byte_sequences_and_their_splits() {
    let interesting = [
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xf0, 0xf4, 0xf5,
        0xff,
    ];
    let seconds: Vec<u8> = (0x78..=0xc4).chain(interesting).collect();
    for a in 0xf0..=0xf7u8 {
        for &b in &seconds {
            for &c in &interesting {
                for &d in &interesting {
                    let input = [a, b, c, d];
                    check_validator_on(&input, std_verdict(&input));
                }
            }
        }
    }
}

/// Bytes that are mostly UTF-8 with some garbage: random bytes alone almost never form long
/// valid runs.
fn utf8ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 1..3),
        1 => prop::sample::select(vec![
            vec![0xedu8, 0xa0, 0x80],
            vec![0xf4, 0x90, 0x80, 0x80],
            vec![0xc0, 0x80],
            vec![0xe0, 0x80, 0x80],
            vec![0xf5],
            vec![0x80],
            vec![0xe2, 0x82],
            vec![0xf0, 0x9d, 0x84],
        ]),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Cuts `bytes` at the given points (clamped and sorted): pieces, possibly empty.
fn cut<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|index| index.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for point in points {
        pieces.push(&bytes[start..point]);
        start = point;
    }
    pieces.push(&bytes[start..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn utf8_validator_agrees_with_std_on_arbitrary_bytes_and_splits(
        bytes in prop_oneof![utf8ish_bytes(), prop::collection::vec(any::<u8>(), 0..40)],
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let verdict = std_verdict(&bytes);
        let pieces = cut(&bytes, &cuts);
        prop_assert_eq!(validate_pieces(&pieces), expected_outcome(verdict, &pieces));
        let whole: [&[u8]; 1] = [&bytes];
        prop_assert_eq!(validate_pieces(&whole) == Outcome::Accepted, std::str::from_utf8(&bytes).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// Reassembler: whole messages (§5.4, §5.6)
// ---------------------------------------------------------------------------------------------

#[test]
fn server_assembles_the_rfc_5_7_masked_hello() {
    // §5.7: "A single-frame masked text message".
    let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    assert_eq!(run_ok(Role::Server, &wire), [text_message("Hello")]);
    // A client must not accept it: it is masked (§5.1).
    assert_eq!(run(Role::Client, &wire), (vec![], Some(ProtocolError::MaskedFrame)));
}

#[test]
fn client_assembles_the_rfc_5_7_unmasked_and_fragmented_hello_and_ping() {
    // §5.7: "A single-frame unmasked text message", "A fragmented unmasked text message",
    // "Unmasked Ping request".
    let single = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let wire = [&single[..], &fragmented, &ping].concat();
    let expected_ping = Incoming::Control(Frame::new(true, Opcode::Ping, &b"Hello"[..]));
    assert_eq!(run_ok(Role::Client, &wire), [text_message("Hello"), text_message("Hello"), expected_ping]);
    assert_eq!(run(Role::Server, &wire), (vec![], Some(ProtocolError::UnmaskedFrame)));
}

#[test]
fn server_and_client_assemble_single_frame_text_and_binary_messages_of_every_length_encoding() {
    for role in ROLES {
        let all_bytes: Vec<u8> = (0..=255).collect();
        let long_text = "κόσμε €𝄞 ".repeat(10_000); // 64-bit length
        let medium_text = "x".repeat(200); // 16-bit length
        let mut peer = Peer::new(role);
        peer.text(true, b"Hello")
            .binary(true, &all_bytes)
            .text(true, medium_text.as_bytes())
            .text(true, long_text.as_bytes())
            .binary(true, &vec![0xff; 70_000])
            .text(true, "\u{10ffff}".as_bytes());
        let expected = [
            text_message("Hello"),
            binary_message(&all_bytes),
            text_message(&medium_text),
            text_message(&long_text),
            binary_message(&[0xff; 70_000]),
            text_message("\u{10ffff}"),
        ];
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (expected.to_vec(), None), "{}", role_name(role));
        assert_eq!(reassembler.buffered_len(), 0);
        assert!(!reassembler.is_in_message());
        // Idle: the read buffer is given back.
        assert_eq!(reassembler.capacity(), 0, "{}", role_name(role));
    }
}

#[test]
fn server_and_client_message_accessors_report_kind_and_payload() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(true, "héllo".as_bytes()).binary(true, b"").fragments(MessageKind::Binary, &[b"ab", b"c"]);
        let items = run_ok(role, &peer.take());
        let messages: Vec<&Message> = items
            .iter()
            .map(|item| match item {
                Incoming::Message(message) => message,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(messages[0].kind(), MessageKind::Text);
        assert_eq!(messages[0].len(), 6);
        assert!(!messages[0].is_empty());
        assert_eq!(&messages[0].payload()[..], "héllo".as_bytes());
        match messages[0] {
            Message::Text(text) => {
                assert_eq!(text.as_str(), "héllo");
                assert_eq!(&**text, "héllo");
                assert_eq!(text.to_string(), "héllo");
                assert_eq!(format!("{text:?}"), "\"héllo\"");
                assert_eq!(text.clone().into_bytes(), Bytes::from_static("héllo".as_bytes()));
            }
            Message::Binary(_) => panic!("text expected"),
        }
        assert_eq!(messages[1].kind(), MessageKind::Binary);
        assert!(messages[1].is_empty());
        assert_eq!(messages[1].len(), 0);
        assert_eq!(*messages[2], Message::Binary(Bytes::from_static(b"abc")));
        assert_eq!(MessageKind::Text.opcode(), Opcode::Text);
        assert_eq!(MessageKind::Binary.opcode(), Opcode::Binary);
    }
}

#[test]
fn utf8_bytes_try_from_checks_utf8() {
    assert_eq!(Utf8Bytes::try_from(Bytes::from_static(b"ok")).map(|text| text.to_string()), Ok("ok".into()));
    assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xed\xa0\x80")).is_err());
    assert_eq!(Utf8Bytes::default().as_str(), "");
    assert_eq!(Utf8Bytes::from("€").as_bytes(), &Bytes::from_static(b"\xe2\x82\xac"));
}

#[test]
fn server_and_client_deliver_control_frames_between_fragments_in_order() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(false, b"Hel");
        let ping = peer.control(Opcode::Ping, b"p1");
        peer.cont(false, b"");
        let pong = peer.control(Opcode::Pong, b"");
        let close = peer.control(Opcode::Close, &[0x03, 0xe8, b'b', b'y', b'e']);
        peer.cont(false, b"l");
        let ping2 = peer.control(Opcode::Ping, &[0x5a; 125]);
        peer.cont(true, b"o");
        peer.binary(true, b"\x00\x01");
        let after = peer.control(Opcode::Pong, b"after");
        let wire = peer.take();
        let expected =
            vec![ping, pong, close, ping2, text_message("Hello"), binary_message(b"\x00\x01"), after];
        assert_eq!(run_ok(role, &wire), expected, "{} whole", role_name(role));
        let mut reassembler = Reassembler::new(role);
        assert_eq!(
            run_byte_by_byte(&mut reassembler, &wire),
            (expected, None),
            "{} byte by byte",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_hand_over_a_control_frame_before_the_message_it_interrupts_ends() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(false, b"first half ");
        let ping = peer.control(Opcode::Ping, b"are you there");
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![ping], None));
        assert!(reassembler.is_in_message());
        peer.cont(true, b"second half");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![binary_message(b"first half second half")], None)
        );
        assert!(!reassembler.is_in_message());
    }
}

#[test]
fn server_and_client_hand_over_control_frames_uninterpreted() {
    // Layer 1 does not interpret Close bodies: a one-byte body (invalid per §5.5.1) or a reason
    // that is not UTF-8 reaches the connection, which fails on it.
    for role in ROLES {
        let mut peer = Peer::new(role);
        let short_close = peer.control(Opcode::Close, &[0x03]);
        let bad_reason = peer.control(Opcode::Close, &[0x03, 0xe8, 0xff]);
        assert_eq!(run_ok(role, &peer.take()), [short_close, bad_reason]);
    }
}

#[test]
fn server_and_client_wait_for_the_whole_control_frame() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        let ping = peer.control(Opcode::Ping, b"0123456789");
        let wire = peer.take();
        let mut reassembler = Reassembler::new(role);
        let (items, error) = run_byte_by_byte(&mut reassembler, &wire[..wire.len() - 1]);
        assert_eq!((items, error), (vec![], None));
        assert_eq!(feed(&mut reassembler, &wire[wire.len() - 1..]), (vec![ping], None));
    }
}

#[test]
fn server_and_client_assemble_code_points_split_across_fragments() {
    for role in ROLES {
        let text = "a€𝄞é";
        let bytes = text.as_bytes();
        // Every way to cut the message into two or three fragments, inside code points too.
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut peer = Peer::new(role);
                peer.fragments(MessageKind::Text, &[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(
                    run_ok(role, &peer.take()),
                    [text_message(text)],
                    "{} cuts {i} {j}",
                    role_name(role)
                );
            }
        }
        // One byte per fragment.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &singles);
        assert_eq!(run_ok(role, &peer.take()), [text_message(text)]);
    }
}

#[test]
fn server_and_client_assemble_empty_messages_and_empty_fragments() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(true, b"")
            .binary(true, b"")
            .fragments(MessageKind::Text, &[b"", b"", b""])
            .fragments(MessageKind::Text, &[b"", b"a", b"", b"b", b""])
            .fragments(MessageKind::Binary, &[b"", b"\x00"]);
        let expected = [
            text_message(""),
            binary_message(b""),
            text_message(""),
            text_message("ab"),
            binary_message(b"\x00"),
        ];
        assert_eq!(run_ok(role, &peer.take()), expected, "{}", role_name(role));
    }
}

#[test]
fn server_and_client_do_not_validate_binary_messages() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(true, b"\xff\xed\xa0\x80\xc0").fragments(MessageKind::Binary, &[b"\xe2", b"\x82"]);
        assert_eq!(
            run_ok(role, &peer.take()),
            [binary_message(b"\xff\xed\xa0\x80\xc0"), binary_message(b"\xe2\x82")]
        );
    }
}

#[test]
fn server_and_client_wait_for_more_bytes_without_consuming_a_partial_header() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(true, &[7; 300]); // 16-bit length: a 4- or 8-byte header
        let wire = peer.take();
        let header_len = if role == Role::Server { 8 } else { 4 };
        let mut reassembler = Reassembler::new(role);
        for (i, byte) in wire[..header_len - 1].iter().enumerate() {
            assert_eq!(feed(&mut reassembler, &[*byte]), (vec![], None));
            assert_eq!(reassembler.buffered_len(), i + 1, "{}", role_name(role));
            assert!(!reassembler.is_in_message());
        }
        assert_eq!(feed(&mut reassembler, &wire[header_len - 1..header_len]), (vec![], None));
        assert!(reassembler.is_in_message(), "{}: the message starts with its header", role_name(role));
        assert_eq!(feed(&mut reassembler, &wire[header_len..]), (vec![binary_message(&[7; 300])], None));
        assert!(!reassembler.is_in_message());
    }
}

/// Large single-frame messages (4 KiB and more), which a server unmasks (§5.3) as they are
/// copied in when their header is the first thing of a read: every split of the input, polled after
/// every read or only at the end, with frames before and after them in the same reads, gives
/// the same messages, and a control frame or fragmented message after them is untouched.
#[test]
fn server_and_client_assemble_large_single_frame_messages_whatever_the_reads() {
    let large_text: String = "é-ü ".repeat(2000); // 12000 bytes of 2-byte code points
    let large_binary: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    let exact: Vec<u8> = vec![0x5a; 4096];
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(true, &large_binary).text(true, large_text.as_bytes()).text(true, b"small");
        let ping = peer.control(Opcode::Ping, b"p");
        peer.binary(true, &exact).text(false, b"frag").cont(true, b"ment");
        peer.binary(true, &large_binary);
        let wire = peer.take();
        let expected = vec![
            binary_message(&large_binary),
            text_message(&large_text),
            text_message("small"),
            ping,
            binary_message(&exact),
            text_message("fragment"),
            binary_message(&large_binary),
        ];
        for read in [1, 7, 4095, 4096, 4110, 5000, 65_536, 70_014, 100_000, wire.len()] {
            // Polled after every read...
            let (items, error) = feed_in_pieces(&mut Reassembler::new(role), &wire, || read);
            assert_eq!(error, None, "{} reads of {read}", role_name(role));
            assert_eq!(items, expected, "{} reads of {read}, polled after each", role_name(role));
            // ...or only once all are in.
            let mut reassembler = Reassembler::new(role);
            wire.chunks(read).for_each(|piece| reassembler.receive(piece));
            assert_eq!(
                drain(&mut reassembler),
                (expected.clone(), None),
                "{} reads of {read}",
                role_name(role)
            );
        }
    }
}

/// §5.3: only a frame's own payload is unmasked on arrival. Payload bytes that start a read
/// into an empty buffer, after their frame's header was taken, stay payload even when they look
/// like the header of a large masked frame (here: a fragment, read through the buffer, not in
/// place).
#[test]
fn server_does_not_read_payload_that_starts_a_read_as_a_frame_header() {
    let key = [0x11, 0x22, 0x33, 0x44];
    // On the wire, the payload reads as a masked Binary frame of 4096 bytes, key 01 02 03 04.
    let mut on_the_wire = vec![0x82, 0xfe, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04];
    on_the_wire.resize(5000, 0x5a);
    let mut payload = on_the_wire.clone();
    apply_mask_rfc(key, &mut payload, 0);
    let mut wire = Vec::new();
    rfc6455::Frame {
        header: header(false, Opcode::Binary, 0, Some(key), 5000),
        payload: bytes::Bytes::copy_from_slice(&payload),
    }
    .encode(&mut wire);
    let header_len = wire.len() - payload.len();
    assert_eq!(wire[header_len..], on_the_wire[..]);
    let mut last = Vec::new();
    rfc6455::Frame {
        header: header(true, Opcode::Continuation, 0, Some(key), 0),
        payload: bytes::Bytes::new(),
    }
    .encode(&mut last);

    let mut reassembler = Reassembler::new(Role::Server);
    assert_eq!(feed(&mut reassembler, &wire[..header_len]), (vec![], None), "the header is taken");
    assert_eq!(feed(&mut reassembler, &wire[header_len..]), (vec![], None));
    assert_eq!(feed(&mut reassembler, &last), (vec![binary_message(&payload)], None));
}

/// A large Text message unmasked on arrival still fails with 1007 on invalid UTF-8 (§8.1),
/// whether it arrives whole or in pieces, with the bytes in its first read or later.
#[test]
fn server_and_client_fail_on_invalid_utf8_in_a_large_single_frame_message() {
    for role in ROLES {
        for bad_at in [0, 100, 4095, 9000, 19_999] {
            let mut payload = vec![b'a'; 20_000];
            payload[bad_at] = 0xff;
            let mut peer = Peer::new(role);
            peer.text(true, b"before").text(true, &payload);
            let wire = peer.take();
            for read in [3000, 8192, wire.len()] {
                let (items, failed) = feed_in_pieces(&mut Reassembler::new(role), &wire, || read);
                assert_eq!(
                    items,
                    vec![text_message("before")],
                    "{} bad at {bad_at}, reads of {read}",
                    role_name(role)
                );
                assert_eq!(
                    failed.map(|error| error.close_code()),
                    Some(CloseCode::INVALID_FRAME_PAYLOAD_DATA)
                );
            }
        }
    }
}

/// Streaming switched on after a large single-frame message arrived (and was unmasked on
/// arrival) but before it is polled: the chunks still carry the unmasked payload, once.
#[test]
fn server_and_client_stream_a_large_message_received_before_streaming_was_switched_on() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 241) as u8).collect();
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(true, &payload);
        let wire = peer.take();
        let mut reassembler = Reassembler::new(role);
        reassembler.receive(&wire[..6000]);
        reassembler.set_streaming(true);
        let (first, error) = drain(&mut reassembler);
        assert_eq!(error, None);
        let (rest, error) = feed(&mut reassembler, &wire[6000..]);
        assert_eq!(error, None);
        let data: Vec<u8> =
            chunks_of(&[first, rest].concat()).iter().flat_map(|chunk| chunk.data.to_vec()).collect();
        assert_eq!(data, payload, "{}", role_name(role));
    }
}

#[test]
fn server_and_client_buffer_received_bytes_until_polled() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(true, b"one").text(true, b"two");
        let wire = peer.take();
        let mut reassembler = Reassembler::new(role);
        reassembler.receive(&wire[..4]);
        reassembler.receive(&wire[4..]);
        assert_eq!(reassembler.buffered_len(), wire.len());
        assert_eq!(reassembler.poll(), Ok(Some(text_message("one"))));
        assert_eq!(reassembler.poll(), Ok(Some(text_message("two"))));
        assert_eq!(reassembler.poll(), Ok(None));
        assert_eq!(reassembler.buffered_len(), 0);
        assert_eq!(reassembler.capacity(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// §5.4 errors, and UTF-8 failing fast (§8.1)
// ---------------------------------------------------------------------------------------------

#[test]
fn server_and_client_fail_on_a_continuation_without_a_message_to_continue() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.cont(true, b"orphan");
        assert_eq!(run(role, &peer.take()), (vec![], Some(ProtocolError::UnexpectedContinuation)));
        // After a message that ended.
        peer.text(true, b"done").cont(false, b"more");
        assert_eq!(
            run(role, &peer.take()),
            (vec![text_message("done")], Some(ProtocolError::UnexpectedContinuation))
        );
        assert_eq!(ProtocolError::UnexpectedContinuation.close_code(), CloseCode(1002));
    }
}

#[test]
fn server_and_client_fail_on_a_new_data_frame_inside_a_fragmented_message() {
    for role in ROLES {
        for (first, second) in [
            (Opcode::Text, Opcode::Text),
            (Opcode::Text, Opcode::Binary),
            (Opcode::Binary, Opcode::Text),
            (Opcode::Binary, Opcode::Binary),
        ] {
            let mut peer = Peer::new(role);
            peer.data(false, first, b"a");
            let ping = peer.control(Opcode::Ping, b"");
            peer.data(true, second, b"b");
            assert_eq!(
                run(role, &peer.take()),
                (vec![ping], Some(ProtocolError::ExpectedContinuation)),
                "{} {first:?} then {second:?}",
                role_name(role)
            );
        }
    }
}

#[test]
fn server_and_client_fail_on_invalid_utf8_in_the_first_fragment_before_the_last_arrives() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(false, b"valid so far \xc0\xaf");
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], Some(ProtocolError::InvalidUtf8)));
        // The rest of the message would not change anything.
        peer.cont(true, b"end");
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
    }
}

#[test]
fn server_and_client_fail_on_invalid_utf8_in_the_middle_of_a_frame_whose_end_has_not_arrived() {
    for role in ROLES {
        for fin in [true, false] {
            let mut payload = "ok ".repeat(60).into_bytes();
            payload[100] = 0xff;
            let mut peer = Peer::new(role);
            peer.text(fin, &payload);
            let wire = peer.take();
            let half = wire.len() - payload.len() + 150;
            let mut reassembler = Reassembler::new(role);
            reassembler.receive(&wire[..half]);
            assert_eq!(reassembler.poll(), Err(ProtocolError::InvalidUtf8), "{} fin {fin}", role_name(role));
            // Byte by byte: fails on the very byte.
            let mut reassembler = Reassembler::new(role);
            let (items, error) = run_byte_by_byte(&mut reassembler, &wire);
            assert_eq!(items, vec![]);
            assert_eq!(
                error,
                Some((wire.len() - payload.len() + 100, ProtocolError::InvalidUtf8)),
                "{} fin {fin}",
                role_name(role)
            );
        }
    }
}

#[test]
fn server_and_client_fail_on_invalid_utf8_in_a_later_fragment_as_soon_as_it_arrives() {
    for role in ROLES {
        // A surrogate split across fragments: ED ends the first, A0 starts the second.
        let mut peer = Peer::new(role);
        peer.text(false, b"ab\xed");
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
        peer.cont(false, b"\xa0\x80 and the rest");
        let wire = peer.take();
        let header_len = wire.len() - b"\xa0\x80 and the rest".len();
        // Just the header and the bad byte: the error comes now.
        assert_eq!(
            feed(&mut reassembler, &wire[..header_len + 1]),
            (vec![], Some(ProtocolError::InvalidUtf8))
        );
    }
}

#[test]
fn server_and_client_fail_on_a_text_message_ending_inside_a_code_point() {
    for role in ROLES {
        // A fragment may end inside a code point; the message may not.
        let mut peer = Peer::new(role);
        peer.text(false, b"caf\xc3");
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
        assert!(reassembler.is_in_message());
        peer.cont(true, b"");
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], Some(ProtocolError::InvalidUtf8)));

        let mut peer = Peer::new(role);
        peer.text(true, b"caf\xc3");
        assert_eq!(
            run(role, &peer.take()),
            (vec![], Some(ProtocolError::InvalidUtf8)),
            "{}",
            role_name(role)
        );
    }
}

/// A row of the failure table: bytes from the peer that break the protocol, what the reassembler
/// reports, and the range of byte indices at which the report may come (fed byte by byte).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    error: ProtocolError,
    close_code: u16,
    /// The error may not come before this byte arrives (the offending field is not complete).
    not_before: usize,
    /// The error must have come once this byte has arrived.
    by: usize,
}

fn failure_table(role: Role) -> Vec<Case> {
    let masked = role == Role::Server;
    let key_len = if masked { 4 } else { 0 };
    let mut cases = Vec::new();
    let mut case = |name, build: fn(&mut Peer, usize) -> (usize, usize), error: ProtocolError, close_code| {
        let mut peer = Peer::new(role);
        let (not_before, by) = build(&mut peer, key_len);
        cases.push(Case { name, bytes: peer.take(), error, close_code, not_before, by });
    };
    case(
        "reserved opcode 0x3",
        |peer, _| {
            peer.frame(true, Opcode::Text, 0, b"x");
            peer.wire[0] = 0x83;
            (0, 0)
        },
        ProtocolError::ReservedOpcode(0x3),
        1002,
    );
    case(
        "reserved control opcode 0xb",
        |peer, _| {
            peer.frame(true, Opcode::Ping, 0, b"");
            peer.wire[0] = 0x8b;
            (0, 0)
        },
        ProtocolError::ReservedOpcode(0xb),
        1002,
    );
    case(
        "wrong masking for the role",
        |peer, _| {
            let key = if peer.receiver == Role::Server { None } else { Some([1, 2, 3, 4]) };
            rfc6455::Frame {
                header: header(true, Opcode::Text, 0, key, 2),
                payload: bytes::Bytes::from_static(b"hi"),
            }
            .encode(&mut peer.wire);
            (1, 1)
        },
        if masked { ProtocolError::UnmaskedFrame } else { ProtocolError::MaskedFrame },
        1002,
    );
    case(
        "RSV1 on a text frame, no extension",
        |peer, _| {
            peer.frame(true, Opcode::Text, RSV1_BIT, b"x");
            (0, 0)
        },
        ProtocolError::ReservedBitsSet(RSV1_BIT),
        1002,
    );
    case(
        "RSV2 on a ping",
        |peer, _| {
            peer.frame(true, Opcode::Ping, RSV2_BIT, b"");
            (0, 0)
        },
        ProtocolError::ReservedBitsSet(RSV2_BIT),
        1002,
    );
    case(
        "RSV3 on a continuation",
        |peer, _| {
            peer.text(false, b"a");
            let start = peer.wire.len();
            peer.frame(true, Opcode::Continuation, RSV3_BIT, b"b");
            (start, start)
        },
        ProtocolError::ReservedBitsSet(RSV3_BIT),
        1002,
    );
    case(
        "fragmented ping",
        |peer, _| {
            peer.frame(false, Opcode::Ping, 0, b"");
            (0, 0)
        },
        ProtocolError::FragmentedControlFrame,
        1002,
    );
    case(
        "ping of 126 bytes",
        |peer, _| {
            peer.frame(true, Opcode::Ping, 0, &[0; 126]);
            (1, 1)
        },
        ProtocolError::ControlFrameTooLong(126),
        1002,
    );
    case(
        "non-minimal 16-bit length",
        |peer, _| {
            peer.header_only(true, Opcode::Binary, 300);
            peer.wire[2] = 0;
            peer.wire[3] = 5;
            (3, 3)
        },
        ProtocolError::NonMinimalLength(5),
        1002,
    );
    case(
        "continuation without a message",
        |peer, key_len| {
            peer.cont(true, b"x");
            (0, 1 + key_len)
        },
        ProtocolError::UnexpectedContinuation,
        1002,
    );
    case(
        "text inside a fragmented binary message",
        |peer, key_len| {
            peer.binary(false, b"a");
            let start = peer.wire.len();
            peer.text(true, b"b");
            (start, start + 1 + key_len)
        },
        ProtocolError::ExpectedContinuation,
        1002,
    );
    case(
        "invalid utf-8 in a single frame",
        |peer, key_len| {
            peer.text(true, b"abc\xffdef");
            let at = 2 + key_len + 3;
            (at, at)
        },
        ProtocolError::InvalidUtf8,
        1007,
    );
    case(
        "overlong in the first fragment",
        |peer, key_len| {
            peer.text(false, b"\xc0\x80xyz");
            let at = 2 + key_len;
            (at, at)
        },
        ProtocolError::InvalidUtf8,
        1007,
    );
    case(
        "surrogate split across fragments",
        |peer, key_len| {
            peer.text(false, b"\xed");
            let start = peer.wire.len();
            peer.cont(true, b"\xa0\x80");
            (start + 2 + key_len, start + 2 + key_len)
        },
        ProtocolError::InvalidUtf8,
        1007,
    );
    case(
        "text ending inside a code point",
        |peer, key_len| {
            peer.text(true, b"\xe2\x82");
            let at = 2 + key_len + 1;
            (at, at)
        },
        ProtocolError::InvalidUtf8,
        1007,
    );
    case(
        "frame over the default limit",
        |peer, _| {
            peer.header_only(true, Opcode::Binary, DEFAULT_MAX_FRAME_SIZE + 1);
            (9, 9)
        },
        ProtocolError::FrameTooLarge { payload_len: 16 * MIB as u64 + 1, max: 16 * MIB as u64 },
        1009,
    );
    cases
}

#[test]
fn server_and_client_fail_on_each_row_of_the_failure_table_and_process_nothing_after() {
    for role in ROLES {
        for case in failure_table(role) {
            let what = format!("{}: {}", role_name(role), case.name);
            assert_eq!(case.error.close_code(), CloseCode(case.close_code), "{what}");
            // A message before the violation is handed over; valid frames after it are not.
            let mut before = Peer::new(role);
            before.text(true, b"before");
            let mut after = Peer::new(role);
            after.text(true, b"after");
            after.control(Opcode::Ping, b"");
            let after = after.take();
            let wire = [before.take(), case.bytes.clone(), after.clone()].concat();
            let mut reassembler = Reassembler::new(role);
            assert_eq!(
                feed(&mut reassembler, &wire),
                (vec![text_message("before")], Some(case.error.clone())),
                "{what}"
            );
            assert_eq!(feed(&mut reassembler, &after), (vec![], None), "{what}");
            assert_eq!(reassembler.buffered_len(), 0, "{what}");
            assert_eq!(reassembler.capacity(), 0, "{what}");
            assert!(!reassembler.is_in_message(), "{what}");

            // Fed byte by byte, the error comes when the offending field is complete.
            let mut reassembler = Reassembler::new(role);
            let (items, error) = run_byte_by_byte(&mut reassembler, &[&case.bytes[..], &after].concat());
            assert_eq!(items.iter().filter(|item| matches!(item, Incoming::Message(_))).count(), 0, "{what}");
            let (index, error) = error.unwrap_or_else(|| panic!("{what}: no error"));
            assert_eq!(error, case.error, "{what}");
            assert!(
                (case.not_before..=case.by).contains(&index),
                "{what}: failed at byte {index}, expected {}..={}",
                case.not_before,
                case.by
            );
            assert_eq!(feed(&mut reassembler, &after), (vec![], None), "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Limits (1009)
// ---------------------------------------------------------------------------------------------

fn limits(max_frame_size: u64, max_message_size: u64, max_fragments: usize) -> MessageLimits {
    MessageLimits { max_frame_size, max_message_size, max_fragments }
}

#[test]
fn server_and_client_fail_on_a_frame_over_max_frame_size_at_its_header() {
    for role in ROLES {
        let limits = limits(10, 1000, 100);
        let mut peer = Peer::new(role);
        peer.binary(true, &[1; 10]).header_only(true, Opcode::Binary, 11);
        let mut reassembler = Reassembler::with_limits(role, limits);
        let error = ProtocolError::FrameTooLarge { payload_len: 11, max: 10 };
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![binary_message(&[1; 10])], Some(error.clone()))
        );
        assert_eq!(error.close_code(), CloseCode(1009));
        // A continuation over the limit too.
        let mut peer = Peer::new(role);
        peer.text(false, b"0123456789").header_only(true, Opcode::Continuation, 11);
        let mut reassembler = Reassembler::with_limits(role, limits);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], Some(error)));
    }
}

#[test]
fn server_and_client_fail_on_a_message_over_max_message_size_at_the_header_of_the_crossing_fragment() {
    for role in ROLES {
        let limits = limits(100, 10, 100);
        // Exactly the limit is fine.
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &[b"abcd", b"efgh", b"ij"]);
        let mut reassembler = Reassembler::with_limits(role, limits);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![text_message("abcdefghij")], None));
        // The third fragment crosses it: reported from its header alone.
        peer.text(false, b"abcd").cont(false, b"efgh").header_only(true, Opcode::Continuation, 3);
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![], Some(ProtocolError::MessageTooLarge { size: 11, max: 10 })),
            "{}",
            role_name(role)
        );
        // A single frame over the message limit, under the frame limit.
        let mut peer = Peer::new(role);
        peer.header_only(true, Opcode::Binary, 11);
        assert_eq!(
            feed(&mut Reassembler::with_limits(role, limits), &peer.take()),
            (vec![], Some(ProtocolError::MessageTooLarge { size: 11, max: 10 }))
        );
        // Messages are counted separately: many messages under the limit are fine.
        let mut peer = Peer::new(role);
        for _ in 0..5 {
            peer.fragments(MessageKind::Binary, &[b"12345", b"67890"]);
        }
        let items = feed(&mut Reassembler::with_limits(role, limits), &peer.take());
        assert_eq!(items, (vec![binary_message(b"1234567890"); 5], None));
        assert_eq!(ProtocolError::MessageTooLarge { size: 11, max: 10 }.close_code(), CloseCode(1009));
    }
}

#[test]
fn server_and_client_fail_on_more_fragments_than_max_fragments() {
    for role in ROLES {
        let limits = limits(100, 100, 3);
        // Three fragments, with control frames between them (they are not fragments).
        let mut peer = Peer::new(role);
        peer.text(false, b"a");
        let pings: Vec<Incoming> = (0..5).map(|_| peer.control(Opcode::Ping, b"")).collect();
        peer.cont(false, b"b").cont(true, b"c");
        let mut expected = pings;
        expected.push(text_message("abc"));
        let mut reassembler = Reassembler::with_limits(role, limits);
        assert_eq!(feed(&mut reassembler, &peer.take()), (expected, None));
        // A fourth fragment: fails at its header.
        peer.text(false, b"a").cont(false, b"b").cont(false, b"c").header_only(true, Opcode::Continuation, 1);
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![], Some(ProtocolError::TooManyFragments(3))),
            "{}",
            role_name(role)
        );
        assert_eq!(ProtocolError::TooManyFragments(3).close_code(), CloseCode(1009));
    }
}

#[test]
fn default_limits_are_the_documented_values() {
    let defaults = MessageLimits::default();
    assert_eq!(defaults.max_frame_size, 16 * MIB as u64);
    assert_eq!(defaults.max_message_size, 64 * MIB as u64);
    assert_eq!(defaults.max_fragments, 131_072);
    assert_eq!(
        defaults,
        MessageLimits {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
        }
    );
}

#[test]
fn server_and_client_apply_the_default_frame_limit_from_the_header() {
    for role in ROLES {
        let max = 16 * MIB as u64;
        let mut peer = Peer::new(role);
        peer.header_only(true, Opcode::Binary, max);
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
        assert!(reassembler.is_in_message());
        peer.header_only(true, Opcode::Binary, max + 1);
        assert_eq!(
            run(role, &peer.take()),
            (vec![], Some(ProtocolError::FrameTooLarge { payload_len: max + 1, max }))
        );
    }
}

#[test]
fn server_and_client_apply_the_default_message_limit_to_the_sum_of_fragments() {
    for role in ROLES {
        let fragment = vec![0x5au8; 16 * MIB];
        let mut reassembler = Reassembler::new(role);
        let mut peer = Peer::new(role);
        for i in 0..4 {
            peer.data(false, if i == 0 { Opcode::Binary } else { Opcode::Continuation }, &fragment);
            for piece in peer.take().chunks(MIB) {
                assert_eq!(feed(&mut reassembler, piece), (vec![], None), "{} fragment {i}", role_name(role));
            }
        }
        // 64 MiB so far, exactly the limit; one more byte is too many.
        peer.header_only(true, Opcode::Continuation, 1);
        let error = ProtocolError::MessageTooLarge { size: 64 * MIB as u64 + 1, max: 64 * MIB as u64 };
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], Some(error)), "{}", role_name(role));
        assert_eq!(reassembler.capacity(), 0);
    }
}

#[test]
fn server_and_client_apply_the_default_fragment_limit() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(false, b"");
        for _ in 1..DEFAULT_MAX_FRAGMENTS {
            peer.cont(false, b"");
        }
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
        peer.cont(true, b"!");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![], Some(ProtocolError::TooManyFragments(131_072))),
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_accept_big_frames_and_many_fragments_with_unlimited_limits() {
    for role in ROLES {
        // A 17 MiB frame: over the default frame limit.
        let payload: Vec<u8> = (0..17 * MIB).map(|i| (i % 251) as u8).collect();
        let mut peer = Peer::new(role);
        peer.binary(true, &payload);
        let mut reassembler = Reassembler::with_limits(role, MessageLimits::unlimited());
        for piece in peer.take().chunks(4 * MIB) {
            reassembler.receive(piece);
        }
        assert_eq!(drain(&mut reassembler), (vec![binary_message(&payload)], None), "{}", role_name(role));
        drop(payload);

        // More fragments than the default limit.
        let mut peer = Peer::new(role);
        peer.text(false, b"");
        for _ in 0..DEFAULT_MAX_FRAGMENTS {
            peer.cont(false, b"");
        }
        peer.cont(true, b"!");
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![text_message("!")], None));

        // The largest length §5.2 allows, 2^63 - 1, announced.
        let mut peer = Peer::new(role);
        peer.header_only(true, Opcode::Binary, (1 << 63) - 1);
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], None));
        assert!(reassembler.is_in_message());
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming mode
// ---------------------------------------------------------------------------------------------

/// Checks the chunks of one untransformed message, in order, against the frames that carried it:
/// offsets, lengths and flags, and that the data is the message's.
struct ChunkChecker<'a> {
    kind: MessageKind,
    message: &'a [u8],
    /// Payload lengths of the frames that produce chunks: every non-empty frame, and the last.
    frames: Vec<u64>,
    frame: usize,
    frame_offset: u64,
    message_offset: u64,
    done: bool,
}

impl<'a> ChunkChecker<'a> {
    fn new(kind: MessageKind, message: &'a [u8], frame_lens: &[usize]) -> ChunkChecker<'a> {
        let last = frame_lens.len() - 1;
        let frames = frame_lens
            .iter()
            .enumerate()
            .filter(|&(i, &len)| len > 0 || i == last)
            .map(|(_, &len)| len as u64);
        ChunkChecker {
            kind,
            message,
            frames: frames.collect(),
            frame: 0,
            frame_offset: 0,
            message_offset: 0,
            done: false,
        }
    }

    fn check(&mut self, chunk: &MessageFragment) {
        assert!(!self.done, "chunk after the end of the message: {chunk:?}");
        let frame_len = self.frames[self.frame];
        let len = chunk.data.len() as u64;
        assert_eq!(chunk.kind, self.kind);
        assert_eq!(chunk.frame_len, frame_len, "frame_len of frame {}", self.frame);
        assert_eq!(chunk.frame_offset, self.frame_offset, "frame_offset in frame {}", self.frame);
        assert_eq!(chunk.message_offset, self.message_offset, "message_offset");
        let start = self.message_offset as usize;
        assert_eq!(&chunk.data[..], &self.message[start..start + len as usize], "data at {start}");
        if frame_len > 0 {
            assert!(len > 0, "empty chunk in a non-empty frame");
        }
        let ends_frame = self.frame_offset + len == frame_len;
        let ends_message = ends_frame && self.frame + 1 == self.frames.len();
        assert_eq!(chunk.ends_frame, ends_frame, "ends_frame at message offset {start}");
        assert_eq!(chunk.ends_message, ends_message, "ends_message at message offset {start}");
        self.message_offset += len;
        self.frame_offset += len;
        if ends_frame {
            self.frame += 1;
            self.frame_offset = 0;
        }
        self.done = ends_message;
    }

    fn finish(&self) {
        assert!(self.done, "the message did not end");
        assert_eq!(self.message_offset, self.message.len() as u64);
    }
}

fn streaming(role: Role, limits: MessageLimits) -> Reassembler {
    let mut reassembler = Reassembler::with_limits(role, limits);
    reassembler.set_streaming(true);
    reassembler
}

#[test]
fn server_and_client_stream_a_small_message_with_exact_chunks() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(false, "h€llo".as_bytes()); // 7 bytes
        let ping = peer.control(Opcode::Ping, b"x");
        peer.cont(true, b"!!");
        let wire = peer.take();
        let key_len = if role == Role::Server { 4 } else { 0 };
        let first_header = 2 + key_len;
        let mut reassembler = streaming(role, MessageLimits::default());
        // The header and two payload bytes: "h" and the first byte of "€".
        let (items, error) = feed(&mut reassembler, &wire[..first_header + 2]);
        assert_eq!(error, None);
        let chunk =
            |data: &'static [u8], frame_offset, frame_len, message_offset, ends_frame, ends_message| {
                Incoming::Fragment(MessageFragment {
                    kind: MessageKind::Text,
                    data: Bytes::from_static(data),
                    frame_offset,
                    frame_len,
                    message_offset,
                    ends_frame,
                    ends_message,
                })
            };
        assert_eq!(items, [chunk(b"h\xe2", 0, 7, 0, false, false)], "{}", role_name(role));
        let (items, _) = feed(&mut reassembler, &wire[first_header + 2..first_header + 5]);
        assert_eq!(items, [chunk(b"\x82\xacl", 2, 7, 2, false, false)]);
        // The end of the frame, the ping and the start of the last frame's header.
        let (items, _) =
            feed(&mut reassembler, &wire[first_header + 5..first_header + 7 + 2 + key_len + 1 + 1]);
        assert_eq!(items, [chunk(b"lo", 5, 7, 5, true, false), ping]);
        assert!(reassembler.is_in_message());
        let (items, _) = feed(&mut reassembler, &wire[first_header + 7 + 2 + key_len + 1 + 1..]);
        assert_eq!(items, [chunk(b"!!", 0, 2, 7, true, true)]);
        assert!(!reassembler.is_in_message());
        assert_eq!(reassembler.capacity(), 0);
    }
}

#[test]
fn server_and_client_stream_empty_messages_and_skip_empty_fragments() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.text(true, b"")
            .fragments(MessageKind::Binary, &[b"", b"ab", b"", b""])
            .fragments(MessageKind::Text, &[b"", b"", b"z"]);
        let (items, error) = feed(&mut streaming(role, MessageLimits::default()), &peer.take());
        assert_eq!(error, None);
        let expected = [
            MessageFragment {
                kind: MessageKind::Text,
                data: Bytes::new(),
                frame_offset: 0,
                frame_len: 0,
                message_offset: 0,
                ends_frame: true,
                ends_message: true,
            },
            MessageFragment {
                kind: MessageKind::Binary,
                data: Bytes::from_static(b"ab"),
                frame_offset: 0,
                frame_len: 2,
                message_offset: 0,
                ends_frame: true,
                ends_message: false,
            },
            MessageFragment {
                kind: MessageKind::Binary,
                data: Bytes::new(),
                frame_offset: 0,
                frame_len: 0,
                message_offset: 2,
                ends_frame: true,
                ends_message: true,
            },
            MessageFragment {
                kind: MessageKind::Text,
                data: Bytes::from_static(b"z"),
                frame_offset: 0,
                frame_len: 1,
                message_offset: 0,
                ends_frame: true,
                ends_message: true,
            },
        ];
        assert_eq!(chunks_of(&items), expected, "{}", role_name(role));
    }
}

/// Feeds `wire` to `reassembler` in pieces whose sizes come from `next_size`, draining after
/// each; checks every chunk is no larger than the piece that produced it; returns the items.
fn feed_in_pieces(
    reassembler: &mut Reassembler,
    wire: &[u8],
    mut next_size: impl FnMut() -> usize,
) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut items = Vec::new();
    let mut start = 0;
    while start < wire.len() {
        let end = (start + next_size().max(1)).min(wire.len());
        let (more, error) = feed(reassembler, &wire[start..end]);
        for item in &more {
            if let Incoming::Fragment(chunk) = item {
                assert!(
                    chunk.data.len() <= end - start,
                    "chunk of {} from a piece of {}",
                    chunk.data.len(),
                    end - start
                );
            }
        }
        items.extend(more);
        if error.is_some() {
            return (items, error);
        }
        start = end;
    }
    (items, None)
}

#[test]
fn server_and_client_stream_a_large_fragmented_text_message_fed_in_arbitrary_pieces() {
    for role in ROLES {
        let text = "κόσμε a€𝄞 ".repeat(30_000);
        let bytes = text.as_bytes();
        // Fragments cut anywhere, inside code points too, one of them empty.
        let cuts = [0, 1, 77_777, 77_777, 200_001, 300_000, bytes.len() - 1, bytes.len()];
        let fragments: Vec<&[u8]> = cuts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
        let frame_lens: Vec<usize> = fragments.iter().map(|f| f.len()).collect();
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &fragments);
        let wire = peer.take();
        for seed in 1..4u64 {
            let mut rng = Rng(seed * 0x1234_5678_9abc);
            let mut reassembler = streaming(role, MessageLimits::default());
            let (items, error) = feed_in_pieces(&mut reassembler, &wire, || match rng.below(4) {
                0 => 1,
                1 => 1 + rng.below(16),
                _ => 1 + rng.below(70_000),
            });
            assert_eq!(error, None);
            let mut checker = ChunkChecker::new(MessageKind::Text, bytes, &frame_lens);
            for chunk in chunks_of(&items) {
                checker.check(&chunk);
            }
            checker.finish();
            let joined: Vec<u8> = chunks_of(&items).iter().flat_map(|chunk| chunk.data.to_vec()).collect();
            assert_eq!(joined, bytes, "{} seed {seed}", role_name(role));
        }
    }
}

#[test]
fn server_and_client_stream_with_control_frames_between_chunks() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(false, b"abc");
        let ping = peer.control(Opcode::Ping, b"1");
        peer.cont(false, b"def");
        let pong = peer.control(Opcode::Pong, b"2");
        peer.cont(true, b"g");
        let wire = peer.take();
        let mut reassembler = streaming(role, MessageLimits::default());
        let (items, error) = run_byte_by_byte(&mut reassembler, &wire);
        assert_eq!(error, None);
        let shape: Vec<String> = items
            .iter()
            .map(|item| match item {
                Incoming::Fragment(chunk) => String::from_utf8(chunk.data.to_vec()).unwrap(),
                Incoming::Control(frame) => format!("{:?}", frame.header.opcode),
                Incoming::Message(message) => panic!("message {message:?} in streaming mode"),
            })
            .collect();
        assert_eq!(shape, ["a", "b", "c", "Ping", "d", "e", "f", "Pong", "g"], "{}", role_name(role));
        assert_eq!(items[3], ping);
        assert_eq!(items[7], pong);
    }
}

#[test]
fn server_and_client_stream_validates_utf8_incrementally() {
    for role in ROLES {
        // The chunk before the bad byte is handed over; the piece with the bad byte fails.
        let mut peer = Peer::new(role);
        peer.text(false, b"abc\xe2\x82\xff tail");
        let wire = peer.take();
        let payload_start = wire.len() - b"abc\xe2\x82\xff tail".len();
        let mut reassembler = streaming(role, MessageLimits::default());
        let (items, error) = feed(&mut reassembler, &wire[..payload_start + 5]);
        assert_eq!(error, None);
        assert_eq!(
            chunks_of(&items).iter().map(|c| c.data.clone()).collect::<Vec<_>>(),
            [&b"abc\xe2\x82"[..]]
        );
        let (items, error) = feed(&mut reassembler, &wire[payload_start + 5..]);
        assert_eq!((items, error), (vec![], Some(ProtocolError::InvalidUtf8)), "{}", role_name(role));
        assert_eq!(feed(&mut reassembler, b"\x81\x00"), (vec![], None));

        // A message ending inside a code point fails with its last piece.
        let mut peer = Peer::new(role);
        peer.text(false, b"ok").cont(true, b"\xf0\x9f");
        let (items, error) = feed(&mut streaming(role, MessageLimits::default()), &peer.take());
        assert_eq!(chunks_of(&items).len(), 1);
        assert_eq!(error, Some(ProtocolError::InvalidUtf8));

        // A code point split across fragments and pieces is fine.
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &[b"\xf0", b"\x9f\x98", b"\x80"]);
        let mut reassembler = streaming(role, MessageLimits::default());
        let (items, error) = run_byte_by_byte(&mut reassembler, &peer.take());
        assert_eq!(error, None);
        let joined: Vec<u8> = chunks_of(&items).iter().flat_map(|chunk| chunk.data.to_vec()).collect();
        assert_eq!(joined, "😀".as_bytes());
    }
}

#[test]
fn server_and_client_stream_with_limits_failing_at_the_header() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.binary(false, &[1; 6]).header_only(true, Opcode::Continuation, 5);
        let (items, error) = feed(&mut streaming(role, limits(100, 10, 100)), &peer.take());
        assert_eq!(chunks_of(&items).len(), 1);
        assert_eq!(error, Some(ProtocolError::MessageTooLarge { size: 11, max: 10 }), "{}", role_name(role));
    }
}

#[test]
fn server_and_client_stream_a_64_mib_message_in_bounded_memory() {
    for role in ROLES {
        // Over every default limit: a 40 MiB frame, 64 MiB + 3 bytes in all.
        let unit = "a€𝄞é κόσμε "; // 1 + 3 + 4 + 2 + 1 + 11 + 1 = 23 bytes
        let mut text = unit.repeat((64 * MIB) / unit.len() + 1).into_bytes();
        text.truncate(64 * MIB + 3);
        let valid = std::str::from_utf8(&text).map_or_else(|error| error.valid_up_to(), |_| text.len());
        text[valid..].fill(b'.');
        let cuts = [0, 40 * MIB + 1, 50 * MIB - 7, text.len()];
        let fragments: Vec<&[u8]> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();
        let frame_lens: Vec<usize> = fragments.iter().map(|f| f.len()).collect();
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &fragments);
        let wire = peer.take();

        let mut reassembler = streaming(role, MessageLimits::unlimited());
        let mut checker = ChunkChecker::new(MessageKind::Text, &text, &frame_lens);
        let mut max_capacity = 0;
        for piece in wire.chunks(64 * KIB) {
            reassembler.receive(piece);
            max_capacity = max_capacity.max(reassembler.capacity());
            loop {
                match reassembler.poll() {
                    Ok(Some(Incoming::Fragment(chunk))) => {
                        assert!(chunk.data.len() <= piece.len());
                        checker.check(&chunk);
                    }
                    Ok(Some(other)) => panic!("{other:?}"),
                    Ok(None) => break,
                    Err(error) => panic!("{}: {error}", role_name(role)),
                }
                max_capacity = max_capacity.max(reassembler.capacity());
            }
            // Only a header split between pieces may stay behind.
            assert!(reassembler.buffered_len() < MAX_HEADER_LEN, "{} left", reassembler.buffered_len());
            assert!(
                reassembler.capacity() <= 256 * KIB,
                "{}: capacity {}",
                role_name(role),
                reassembler.capacity()
            );
        }
        checker.finish();
        assert_eq!(reassembler.buffered_len(), 0);
        assert!(max_capacity <= 256 * KIB, "{}: capacity reached {max_capacity}", role_name(role));
    }
}

#[test]
fn server_and_client_switch_between_streaming_and_whole_messages_between_messages() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.fragments(MessageKind::Text, &[b"ab", b"c"]);
        let wire = peer.take();
        let mut reassembler = Reassembler::new(role);
        assert_eq!(feed(&mut reassembler, &wire), (vec![text_message("abc")], None));
        reassembler.set_streaming(true);
        let (items, error) = feed(&mut reassembler, &wire);
        assert_eq!(error, None);
        assert_eq!(chunks_of(&items).len(), 2);
        reassembler.set_streaming(false);
        assert_eq!(feed(&mut reassembler, &wire), (vec![text_message("abc")], None));
    }
}

// ---------------------------------------------------------------------------------------------
// The extension seam (§5.2 RSV bits, §9)
// ---------------------------------------------------------------------------------------------

/// Calls to `decode`: (input, fin).
type DecodeLog = Arc<Mutex<Vec<(Vec<u8>, bool)>>>;

/// A toy extension: claims RSV3, inverts every bit, logs its decode calls.
struct Invert {
    log: DecodeLog,
}

impl ExtensionCodec for Invert {
    fn rsv_bits(&self) -> u8 {
        RSV3_BIT
    }

    fn negotiated(&self) -> Extension {
        Extension::new("x-invert")
    }

    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        self.log.lock().unwrap().push((input.to_vec(), fin));
        output.extend_from_slice(&input.iter().map(|byte| !byte).collect::<Vec<u8>>())
    }

    fn encode(&mut self, _kind: MessageKind, input: &[u8], _fin: bool, output: &mut BytesMut) -> u8 {
        output.extend(input.iter().map(|byte| !byte));
        RSV3_BIT
    }
}

/// A toy extension that doubles every byte (claims RSV3): output larger than the wire.
struct Double;

impl ExtensionCodec for Double {
    fn rsv_bits(&self) -> u8 {
        RSV3_BIT
    }

    fn negotiated(&self) -> Extension {
        Extension::new("x-double")
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        for byte in input {
            output.extend_from_slice(&[*byte, *byte])?;
        }
        Ok(())
    }

    fn encode(&mut self, _kind: MessageKind, _input: &[u8], _fin: bool, _output: &mut BytesMut) -> u8 {
        0
    }
}

/// A toy extension whose decode fails on a 0x00 byte.
struct Picky;

impl ExtensionCodec for Picky {
    fn rsv_bits(&self) -> u8 {
        RSV3_BIT
    }

    fn negotiated(&self) -> Extension {
        Extension::new("x-picky")
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        if input.contains(&0) {
            return Err(ProtocolError::InvalidCloseCode(999));
        }
        output.extend_from_slice(input)
    }

    fn encode(&mut self, _kind: MessageKind, _input: &[u8], _fin: bool, _output: &mut BytesMut) -> u8 {
        0
    }
}

fn inverted(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|byte| !byte).collect()
}

fn with_invert(role: Role) -> (Reassembler, DecodeLog) {
    let log = DecodeLog::default();
    let mut reassembler = Reassembler::new(role);
    reassembler.set_extension(Box::new(Invert { log: log.clone() }));
    (reassembler, log)
}

#[test]
fn server_and_client_decode_messages_whose_first_frame_has_the_extension_bit() {
    for role in ROLES {
        let (mut reassembler, log) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.frame(true, Opcode::Text, RSV3_BIT, &inverted("héllo".as_bytes()));
        peer.frame(true, Opcode::Binary, RSV3_BIT, &inverted(b"\x00\xff"));
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![text_message("héllo"), binary_message(b"\x00\xff")], None),
            "{}",
            role_name(role)
        );
        assert_eq!(
            *log.lock().unwrap(),
            [(inverted("héllo".as_bytes()), true), (inverted(b"\x00\xff"), true)]
        );
    }
}

#[test]
fn server_and_client_decode_fragmented_extension_messages_with_fin_on_the_last_piece() {
    for role in ROLES {
        let (mut reassembler, log) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.frame(false, Opcode::Text, RSV3_BIT, &inverted(b"ab\xe2"));
        let ping = peer.control(Opcode::Ping, b"p");
        peer.frame(false, Opcode::Continuation, 0, &inverted(b"\x82"));
        peer.frame(true, Opcode::Continuation, 0, &inverted(b"\xacz"));
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![ping, text_message("ab€z")], None));
        assert_eq!(
            *log.lock().unwrap(),
            [(inverted(b"ab\xe2"), false), (inverted(b"\x82"), false), (inverted(b"\xacz"), true)],
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_call_the_extension_with_fin_on_an_empty_last_fragment_and_an_empty_message() {
    // A decompressor needs its "end of message" call even when the last frame is empty.
    for role in ROLES {
        let (mut reassembler, log) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.frame(false, Opcode::Binary, RSV3_BIT, &inverted(b"xy"));
        peer.frame(true, Opcode::Continuation, 0, b"");
        peer.frame(true, Opcode::Text, RSV3_BIT, b"");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![binary_message(b"xy"), text_message("")], None)
        );
        assert_eq!(
            *log.lock().unwrap(),
            [(inverted(b"xy"), false), (vec![], true), (vec![], true)],
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_stream_with_the_message_limit_on_the_decoded_size() {
    for role in ROLES {
        let mut reassembler = Reassembler::with_limits(role, limits(100, 10, 100));
        reassembler.set_extension(Box::new(Double));
        reassembler.set_streaming(true);
        let mut peer = Peer::new(role);
        peer.frame(false, Opcode::Binary, RSV3_BIT, b"abc");
        peer.frame(true, Opcode::Continuation, 0, b"def");
        peer.frame(true, Opcode::Binary, RSV3_BIT, b"zz");
        // 3 + 3 wire bytes pass the header checks; 6 + 6 decoded bytes do not.
        let (items, error) = feed(&mut reassembler, &peer.take());
        assert_eq!(
            chunks_of(&items).iter().map(|chunk| chunk.data.clone()).collect::<Vec<_>>(),
            [&b"aabbcc"[..]]
        );
        assert_eq!(error, Some(ProtocolError::MessageTooLarge { size: 12, max: 10 }), "{}", role_name(role));
    }
}

#[test]
fn server_and_client_pass_messages_without_the_extension_bit_through_untouched() {
    for role in ROLES {
        let (mut reassembler, log) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.text(true, b"plain").fragments(MessageKind::Binary, &[b"\x01", b"\x02"]);
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![text_message("plain"), binary_message(b"\x01\x02")], None)
        );
        assert!(log.lock().unwrap().is_empty(), "{}", role_name(role));
    }
}

#[test]
fn server_and_client_validate_utf8_after_the_extension_decodes() {
    for role in ROLES {
        // On the wire, 0x00 is valid UTF-8; decoded, it is 0xff.
        let (mut reassembler, _) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.frame(true, Opcode::Text, RSV3_BIT, b"\x00");
        assert_eq!(feed(&mut reassembler, &peer.take()), (vec![], Some(ProtocolError::InvalidUtf8)));
        // And the other way: invalid on the wire, valid once decoded.
        let (mut reassembler, _) = with_invert(role);
        peer.frame(false, Opcode::Text, RSV3_BIT, &inverted(&"€".as_bytes()[..1]));
        peer.frame(true, Opcode::Continuation, 0, &inverted(&"€".as_bytes()[1..]));
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![text_message("€")], None),
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_fail_on_extension_bits_outside_the_first_frame_of_a_message() {
    for role in ROLES {
        // On a continuation.
        let (mut reassembler, _) = with_invert(role);
        let mut peer = Peer::new(role);
        peer.frame(false, Opcode::Text, RSV3_BIT, &inverted(b"a"));
        peer.frame(true, Opcode::Continuation, RSV3_BIT, &inverted(b"b"));
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![], Some(ProtocolError::ReservedBitsSet(RSV3_BIT)))
        );
        // On control frames.
        for opcode in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
            let (mut reassembler, _) = with_invert(role);
            peer.frame(true, opcode, RSV3_BIT, b"");
            assert_eq!(
                feed(&mut reassembler, &peer.take()),
                (vec![], Some(ProtocolError::ReservedBitsSet(RSV3_BIT))),
                "{} {opcode:?}",
                role_name(role)
            );
        }
        // Bits the extension did not claim.
        let (mut reassembler, _) = with_invert(role);
        peer.frame(true, Opcode::Text, RSV1_BIT, b"a");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![], Some(ProtocolError::ReservedBitsSet(RSV1_BIT)))
        );
    }
}

#[test]
fn server_and_client_fail_on_the_extension_bit_without_an_extension() {
    for role in ROLES {
        let mut peer = Peer::new(role);
        peer.frame(true, Opcode::Text, RSV3_BIT, b"a");
        assert_eq!(run(role, &peer.take()), (vec![], Some(ProtocolError::ReservedBitsSet(RSV3_BIT))));
        peer.frame(true, Opcode::Binary, RSV1_BIT | RSV3_BIT, b"a");
        assert_eq!(
            run(role, &peer.take()),
            (vec![], Some(ProtocolError::ReservedBitsSet(RSV1_BIT | RSV3_BIT)))
        );
    }
}

#[test]
fn server_and_client_fail_with_the_extension_decode_error() {
    for role in ROLES {
        let mut reassembler = Reassembler::new(role);
        reassembler.set_extension(Box::new(Picky));
        let mut peer = Peer::new(role);
        peer.frame(true, Opcode::Binary, RSV3_BIT, b"fine");
        peer.frame(true, Opcode::Binary, 0, b"\x00 untouched");
        peer.frame(true, Opcode::Binary, RSV3_BIT, b"\x00 bad");
        peer.text(true, b"never");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (
                vec![binary_message(b"fine"), binary_message(b"\x00 untouched")],
                Some(ProtocolError::InvalidCloseCode(999))
            ),
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_apply_the_message_limit_to_the_decoded_size() {
    for role in ROLES {
        let mut reassembler = Reassembler::with_limits(role, limits(100, 10, 100));
        reassembler.set_extension(Box::new(Double));
        let mut peer = Peer::new(role);
        peer.frame(true, Opcode::Binary, RSV3_BIT, b"abcde");
        peer.frame(true, Opcode::Binary, RSV3_BIT, b"abcdef");
        assert_eq!(
            feed(&mut reassembler, &peer.take()),
            (vec![binary_message(b"aabbccddee")], Some(ProtocolError::MessageTooLarge { size: 12, max: 10 })),
            "{}",
            role_name(role)
        );
    }
}

#[test]
fn server_and_client_stream_extension_messages_with_wire_frame_offsets() {
    for role in ROLES {
        let mut reassembler = Reassembler::new(role);
        reassembler.set_extension(Box::new(Double));
        reassembler.set_streaming(true);
        let mut peer = Peer::new(role);
        peer.frame(false, Opcode::Text, RSV3_BIT, b"abc");
        peer.frame(true, Opcode::Continuation, 0, b"de");
        let wire = peer.take();
        let key_len = if role == Role::Server { 4 } else { 0 };
        let first_payload = 2 + key_len;
        let (a, _) = feed(&mut reassembler, &wire[..first_payload + 2]);
        let (b, _) = feed(&mut reassembler, &wire[first_payload + 2..]);
        let chunks = chunks_of(&[a, b].concat());
        let chunk =
            |data: &'static [u8], frame_offset, frame_len, message_offset, ends_frame, ends_message| {
                MessageFragment {
                    kind: MessageKind::Text,
                    data: Bytes::from_static(data),
                    frame_offset,
                    frame_len,
                    message_offset,
                    ends_frame,
                    ends_message,
                }
            };
        // Frame offsets and lengths count wire bytes; message offsets count decoded bytes.
        assert_eq!(
            chunks,
            [
                chunk(b"aabb", 0, 3, 0, false, false),
                chunk(b"cc", 2, 3, 4, true, false),
                chunk(b"ddee", 0, 2, 6, true, true),
            ],
            "{}",
            role_name(role)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// proptest: chunking and fragmentation invariance
// ---------------------------------------------------------------------------------------------

/// A control frame to send: Ping, Pong or Close, with any payload up to 125 bytes (uninterpreted
/// at layer 1).
fn control_strategy() -> impl Strategy<Value = (Opcode, Vec<u8>)> {
    (
        prop::sample::select(vec![Opcode::Ping, Opcode::Pong, Opcode::Close]),
        prop::collection::vec(any::<u8>(), 0..=125),
    )
}

/// A data message to send: its kind, payload, where it is cut into fragments, the control
/// frames between fragments, whether it goes through the extension, and a control frame after.
#[derive(Debug, Clone)]
struct PlannedMessage {
    kind: MessageKind,
    payload: Vec<u8>,
    cuts: Vec<Index>,
    between: Vec<Option<(Opcode, Vec<u8>)>>,
    extension: bool,
    after: Option<(Opcode, Vec<u8>)>,
}

fn message_strategy() -> impl Strategy<Value = PlannedMessage> {
    let payload = prop_oneof![
        ".{0,40}".prop_map(|text: String| (MessageKind::Text, text.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| (MessageKind::Binary, bytes)),
    ];
    (
        payload,
        prop::collection::vec(any::<Index>(), 0..5),
        prop::collection::vec(prop::option::of(control_strategy()), 5),
        any::<bool>(),
        prop::option::weighted(0.3, control_strategy()),
    )
        .prop_map(|((kind, payload), cuts, between, extension, after)| PlannedMessage {
            kind,
            payload,
            cuts,
            between,
            extension,
            after,
        })
}

/// Writes the planned messages; returns the items a whole-message reassembler must give, and
/// the fragment lengths of each message (for checking streamed chunks).
fn write_plan(
    peer: &mut Peer,
    plan: &[PlannedMessage],
    use_extension: bool,
) -> (Vec<Incoming>, Vec<Vec<usize>>) {
    let mut expected = Vec::new();
    let mut frame_lens = Vec::new();
    for message in plan {
        let transformed = use_extension && message.extension;
        let fragments = cut(&message.payload, &message.cuts);
        frame_lens.push(fragments.iter().map(|f| f.len()).collect());
        for (i, fragment) in fragments.iter().enumerate() {
            let last = i + 1 == fragments.len();
            let opcode = if i == 0 { message.kind.opcode() } else { Opcode::Continuation };
            let rsv = if transformed && i == 0 { RSV3_BIT } else { 0 };
            let wire_payload = if transformed { inverted(fragment) } else { fragment.to_vec() };
            peer.frame(last, opcode, rsv, &wire_payload);
            if !last {
                if let Some((opcode, payload)) = &message.between[i] {
                    expected.push(peer.control(*opcode, payload));
                }
            }
        }
        expected.push(match message.kind {
            // A payload corrupted on purpose gives no message.
            MessageKind::Text => match std::str::from_utf8(&message.payload) {
                Ok(text) => text_message(text),
                Err(_) => continue,
            },
            MessageKind::Binary => binary_message(&message.payload),
        });
        if let Some((opcode, payload)) = &message.after {
            expected.push(peer.control(*opcode, payload));
        }
    }
    (expected, frame_lens)
}

fn reassembler_for(role: Role, streaming: bool, use_extension: bool) -> Reassembler {
    let mut reassembler = Reassembler::new(role);
    reassembler.set_streaming(streaming);
    if use_extension {
        reassembler.set_extension(Box::new(Invert { log: DecodeLog::default() }));
    }
    reassembler
}

/// Replaces the chunks of each message by the message they make up, checking them on the way.
fn join_chunks(items: Vec<Incoming>, plan: &[PlannedMessage], frame_lens: &[Vec<usize>]) -> Vec<Incoming> {
    let mut joined = Vec::new();
    let mut message = 0;
    let mut data = Vec::new();
    let mut checker: Option<ChunkChecker<'_>> = None;
    for item in items {
        let chunk = match item {
            Incoming::Fragment(chunk) => chunk,
            other => {
                joined.push(other);
                continue;
            }
        };
        let planned = &plan[message];
        // The toy extension keeps lengths: wire offsets are data offsets.
        checker
            .get_or_insert_with(|| ChunkChecker::new(planned.kind, &planned.payload, &frame_lens[message]))
            .check(&chunk);
        assert_eq!(chunk.kind, planned.kind);
        assert_eq!(chunk.message_offset, data.len() as u64);
        data.extend_from_slice(&chunk.data);
        if chunk.ends_message {
            if let Some(checker) = checker.take() {
                checker.finish();
            }
            joined.push(match planned.kind {
                MessageKind::Text => Incoming::Message(Message::Text(
                    Utf8Bytes::try_from(Bytes::from(std::mem::take(&mut data))).expect("valid UTF-8"),
                )),
                MessageKind::Binary => {
                    Incoming::Message(Message::Binary(Bytes::from(std::mem::take(&mut data))))
                }
            });
            message += 1;
        }
    }
    joined
}

fn role_strategy() -> impl Strategy<Value = Role> {
    prop::sample::select(ROLES.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_and_client_give_the_same_items_however_the_input_is_chunked(
        role in role_strategy(),
        plan in prop::collection::vec(message_strategy(), 1..6),
        use_extension in any::<bool>(),
        streaming in any::<bool>(),
        cuts in prop::collection::vec(any::<Index>(), 0..40),
        byte_by_byte in prop::bool::weighted(0.1),
    ) {
        let mut peer = Peer::new(role);
        let (expected, frame_lens) = write_plan(&mut peer, &plan, use_extension);
        let wire = peer.take();

        let mut whole = reassembler_for(role, streaming, use_extension);
        let (whole_items, error) = feed(&mut whole, &wire);
        prop_assert_eq!(error, None);

        let pieces = if byte_by_byte { wire.chunks(1).collect() } else { cut(&wire, &cuts) };
        let mut chunked = reassembler_for(role, streaming, use_extension);
        let mut chunked_items = Vec::new();
        for piece in &pieces {
            let (items, error) = feed(&mut chunked, piece);
            prop_assert_eq!(error, None);
            for item in &items {
                if let Incoming::Fragment(chunk) = item {
                    prop_assert!(chunk.data.len() <= piece.len());
                }
            }
            chunked_items.extend(items);
        }
        prop_assert_eq!(chunked.buffered_len(), 0);
        prop_assert!(!chunked.is_in_message());
        prop_assert_eq!(chunked.capacity(), 0);

        if streaming {
            prop_assert_eq!(join_chunks(whole_items, &plan, &frame_lens), expected.clone());
            prop_assert_eq!(join_chunks(chunked_items, &plan, &frame_lens), expected);
        } else {
            prop_assert_eq!(&whole_items, &expected);
            prop_assert_eq!(chunked_items, expected);
        }
    }

    #[test]
    fn server_and_client_fail_at_the_same_point_however_the_input_is_chunked(
        role in role_strategy(),
        plan in prop::collection::vec(message_strategy(), 1..4),
        bad_at in any::<Index>(),
        bad_byte in prop::sample::select(vec![0x80u8, 0xc0, 0xf5, 0xff]),
        streaming in any::<bool>(),
        cuts in prop::collection::vec(any::<Index>(), 0..40),
    ) {
        // Corrupt one byte of one text message: it fails with 1007, and the items before it are
        // the same however the input arrives.
        let mut plan = plan;
        plan.push(PlannedMessage {
            kind: MessageKind::Text,
            payload: "text to corrupt €".as_bytes().to_vec(),
            cuts: vec![],
            between: vec![None; 5],
            extension: false,
            after: None,
        });
        // An ASCII byte: replacing one inside "€" by 0x80 could give another valid code point.
        let index = bad_at.index("text to corrupt ".len());
        plan.last_mut().unwrap().payload[index] = bad_byte;
        let mut peer = Peer::new(role);
        write_plan(&mut peer, &plan, false);
        peer.text(true, b"after");
        let wire = peer.take();

        let (whole_items, whole_error) = feed(&mut reassembler_for(role, streaming, false), &wire);
        prop_assert_eq!(whole_error, Some(ProtocolError::InvalidUtf8));
        let mut chunked = reassembler_for(role, streaming, false);
        let mut chunked_items = Vec::new();
        let mut chunked_error = None;
        for piece in cut(&wire, &cuts) {
            let (items, error) = feed(&mut chunked, piece);
            chunked_items.extend(items);
            if error.is_some() {
                prop_assert_eq!(chunked_error.take(), None);
                chunked_error = error;
            }
        }
        prop_assert_eq!(chunked_error, Some(ProtocolError::InvalidUtf8));
        if streaming {
            // Chunks differ with the pieces; the data before the bad byte does not.
            let data = |items: &[Incoming]| -> Vec<u8> {
                items.iter().filter_map(|item| match item {
                    Incoming::Fragment(chunk) => Some(chunk.data.to_vec()),
                    _ => None,
                }).flatten().collect()
            };
            let whole_data = data(&whole_items);
            let chunked_data = data(&chunked_items);
            prop_assert!(whole_data.starts_with(&chunked_data) || chunked_data.starts_with(&whole_data));
        } else {
            prop_assert_eq!(whole_items, chunked_items);
        }
    }

    #[test]
    fn server_and_client_give_the_same_text_message_however_it_is_fragmented(
        role in role_strategy(),
        text in ".{0,60}",
        cuts in prop::collection::vec(any::<Index>(), 0..12),
        pings in prop::collection::vec(any::<bool>(), 12),
    ) {
        let bytes = text.as_bytes();
        let fragments = cut(bytes, &cuts);
        let mut peer = Peer::new(role);
        let mut expected = Vec::new();
        for (i, fragment) in fragments.iter().enumerate() {
            let last = i + 1 == fragments.len();
            peer.data(last, if i == 0 { Opcode::Text } else { Opcode::Continuation }, fragment);
            if !last && pings[i] {
                expected.push(peer.control(Opcode::Ping, &[i as u8]));
            }
        }
        expected.push(text_message(&text));
        let wire = peer.take();
        prop_assert_eq!(run_ok(role, &wire), expected.clone());

        // Streamed, the chunks make up the same text, with exact offsets.
        let mut reassembler = streaming(role, MessageLimits::default());
        let (items, error) = feed(&mut reassembler, &wire);
        prop_assert_eq!(error, None);
        let frame_lens: Vec<usize> = fragments.iter().map(|f| f.len()).collect();
        let mut checker = ChunkChecker::new(MessageKind::Text, bytes, &frame_lens);
        let mut controls = Vec::new();
        for item in items {
            match item {
                Incoming::Fragment(chunk) => checker.check(&chunk),
                other => controls.push(other),
            }
        }
        checker.finish();
        prop_assert_eq!(&controls[..], &expected[..expected.len() - 1]);
    }
}
