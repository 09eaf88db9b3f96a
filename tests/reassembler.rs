//! Layer 1 (RFC 6455 §5.4, §5.6, §8.1): the fast [`Reassembler`] gives exactly what the
//! [`ReferenceReassembler`] gives (items, their order and the poll they come out of, errors), for
//! any frames (fragmented, interleaved with control frames, masked or not, broken), any cut of
//! the input down to one byte, streaming switched on and off at any point, every limit and an
//! extension.

mod common;

use bytes::BytesMut;
use common::Invert;
use proptest::prelude::*;
use rfc6455::frame::RSV3_BIT;
use rfc6455::handshake::extension::Extension;
use rfc6455::{
    apply_mask_rfc, DecodeOutput, ExtensionCodec, FrameHeader, Incoming, MessageKind, MessageLimits, Opcode,
    ProtocolError, Reassembler, ReferenceReassembler, Role,
};

/// One frame as the peer sends it.
#[derive(Debug, Clone)]
struct WireFrame {
    fin: bool,
    rsv3: bool,
    opcode: Opcode,
    payload: Vec<u8>,
    /// Masked as the peer's role requires, or (when false) the other way.
    mask_right: bool,
    key: [u8; 4],
}

impl WireFrame {
    fn encode(&self, receiver: Role, out: &mut Vec<u8>) {
        let masked = (receiver == Role::Server) == self.mask_right;
        let mut header = FrameHeader::new(self.fin, self.opcode, self.payload.len() as u64);
        header.rsv3 = self.rsv3;
        header.masking_key = masked.then_some(self.key);
        let mut bytes = BytesMut::new();
        header.encode(&mut bytes);
        out.extend_from_slice(&bytes);
        let mut payload = self.payload.clone();
        if masked {
            apply_mask_rfc(self.key, &mut payload, 0);
        }
        out.extend_from_slice(&payload);
    }
}

/// A payload: text (whole code points, so fragments may cut them), bytes that may be invalid
/// UTF-8, or a large run (past the engine's unmask-while-copying threshold).
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => "[a-zé€😀]{0,40}".prop_map(String::into_bytes),
        2 => prop::collection::vec(any::<u8>(), 0..40),
        1 => (any::<u8>(), 126usize..6000).prop_map(|(byte, len)| vec![byte & 0x7F; len]),
    ]
}

/// A data message cut into fragments (1 to 4), with control frames between them.
fn message() -> impl Strategy<Value = Vec<WireFrame>> {
    (
        any::<bool>(),
        payload(),
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        prop::collection::vec(prop::option::weighted(0.2, control()), 4),
        prop::bool::weighted(0.2),
        any::<[u8; 4]>(),
    )
        .prop_map(|(text, payload, cuts, controls, rsv3, key)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(payload.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.push(payload.len());
            let mut frames = Vec::new();
            let mut start = 0;
            for (index, end) in cuts.iter().enumerate() {
                let opcode = match (index, text) {
                    (0, true) => Opcode::Text,
                    (0, false) => Opcode::Binary,
                    _ => Opcode::Continuation,
                };
                frames.push(WireFrame {
                    fin: index == cuts.len() - 1,
                    rsv3: rsv3 && index == 0,
                    opcode,
                    payload: payload[start..*end].to_vec(),
                    mask_right: true,
                    key: key.map(|byte| byte.wrapping_add(index as u8)),
                });
                start = *end;
                if let Some(control) = &controls[index] {
                    if index + 1 < cuts.len() {
                        frames.push(control.clone());
                    }
                }
            }
            frames
        })
}

/// A Ping, Pong or Close (sometimes over 125 bytes, or not final: both errors).
fn control() -> impl Strategy<Value = WireFrame> {
    (
        prop::sample::select(vec![Opcode::Ping, Opcode::Pong, Opcode::Close]),
        prop_oneof![9 => prop::collection::vec(any::<u8>(), 0..20), 1 => prop::collection::vec(any::<u8>(), 120..130)],
        prop::bool::weighted(0.97),
        any::<[u8; 4]>(),
    )
        .prop_map(|(opcode, payload, fin, key)| WireFrame { fin, rsv3: false, opcode, payload, mask_right: true, key })
}

/// What the peer sends, in pieces: mostly well-formed messages and control frames, sometimes a
/// broken frame (wrong masking, a stray continuation, an unfinished message followed by another)
/// or garbage.
#[derive(Debug, Clone)]
enum Piece {
    Frames(Vec<WireFrame>),
    Raw(Vec<u8>),
}

fn stream() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(
        prop_oneof![
            12 => message().prop_map(Piece::Frames),
            3 => control().prop_map(|frame| Piece::Frames(vec![frame])),
            1 => (message(), any::<prop::sample::Index>()).prop_map(|(mut frames, index)| {
                index.get_mut(&mut frames).mask_right = false;
                Piece::Frames(frames)
            }),
            1 => (payload(), any::<bool>()).prop_map(|(payload, fin)| Piece::Frames(vec![WireFrame {
                fin,
                rsv3: false,
                opcode: Opcode::Continuation,
                payload,
                mask_right: true,
                key: [1, 2, 3, 4],
            }])),
            1 => message().prop_map(|mut frames| {
                frames.truncate(1);
                frames[0].fin = false;
                Piece::Frames(frames)
            }),
            1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(Piece::Raw),
        ],
        0..8,
    )
}

/// The bytes of `pieces` as a peer of the receiver's role sends them.
fn encode(pieces: &[Piece], receiver: Role) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Frames(frames) => frames.iter().for_each(|frame| frame.encode(receiver, &mut out)),
            Piece::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

fn limits() -> impl Strategy<Value = MessageLimits> {
    (
        prop_oneof![3 => Just(u64::MAX >> 1), 1 => 0u64..200, 1 => 100u64..7000],
        prop_oneof![3 => Just(u64::MAX), 1 => 0u64..200, 1 => 100u64..7000],
        prop_oneof![3 => Just(usize::MAX), 1 => 0usize..4],
    )
        .prop_map(|(max_frame_size, max_message_size, max_fragments)| MessageLimits {
            max_frame_size,
            max_message_size,
            max_fragments,
        })
}

/// What one engine gave for one `receive`: every poll's result until `Ok(None)` or an error,
/// then whether a message is in progress.
#[derive(Debug, PartialEq)]
struct Round {
    results: Vec<Result<Incoming, ProtocolError>>,
    in_message: bool,
}

trait Layer1 {
    fn receive(&mut self, bytes: &[u8]);
    fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError>;
    fn is_in_message(&self) -> bool;

    fn round(&mut self, bytes: &[u8]) -> Round {
        self.receive(bytes);
        let mut results = Vec::new();
        // Bounded: each item consumes input.
        for _ in 0..100_000 {
            match self.poll() {
                Ok(Some(item)) => results.push(Ok(item)),
                Ok(None) => break,
                Err(error) => {
                    results.push(Err(error));
                    break;
                }
            }
        }
        Round { results, in_message: self.is_in_message() }
    }
}

macro_rules! layer1 {
    ($type:ty) => {
        impl Layer1 for $type {
            fn receive(&mut self, bytes: &[u8]) {
                <$type>::receive(self, bytes)
            }
            fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError> {
                <$type>::poll(self)
            }
            fn is_in_message(&self) -> bool {
                <$type>::is_in_message(self)
            }
        }
    };
}
layer1!(Reassembler);
layer1!(ReferenceReassembler);

/// Feeds `bytes` to both, cut by `cuts` (sizes, cycled), switching streaming as `modes` says
/// before each piece, and compares every round.
fn check_equal(
    role: Role,
    limits: MessageLimits,
    extension: bool,
    bytes: &[u8],
    cuts: &[usize],
    modes: &[Option<bool>],
) -> Result<(), TestCaseError> {
    let mut engine = Reassembler::with_limits(role, limits);
    let mut reference = ReferenceReassembler::with_limits(role, limits);
    if extension {
        engine.set_extension(Box::new(Invert));
        reference.set_extension(Box::new(Invert));
    }
    let (mut at, mut round) = (0, 0);
    while at < bytes.len() || round == 0 {
        let cut = cuts[round % cuts.len()].max(1);
        let end = (at + cut).min(bytes.len());
        if let Some(streaming) = modes[round % modes.len()] {
            engine.set_streaming(streaming);
            reference.set_streaming(streaming);
        }
        let expected = reference.round(&bytes[at..end]);
        let got = engine.round(&bytes[at..end]);
        prop_assert_eq!(got, expected, "round {} (bytes {}..{} of {})", round, at, end, bytes.len());
        at = end;
        round += 1;
    }
    Ok(())
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        2 => prop::collection::vec(1usize..4, 1..16),
        2 => prop::collection::vec(1usize..64, 1..16),
        1 => prop::collection::vec(1usize..9000, 1..4),
        1 => Just(vec![usize::MAX]),
    ]
}

fn modes() -> impl Strategy<Value = Vec<Option<bool>>> {
    prop_oneof![
        2 => Just(vec![None]),
        1 => Just(vec![Some(true)]),
        2 => prop::collection::vec(prop::option::weighted(0.3, any::<bool>()), 1..16),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any frames, any cut, streaming on and off, any limits, with and without an extension.
    #[test]
    fn rfc_5_4_engine_equals_reference(
        role in role(),
        limits in limits(),
        extension in any::<bool>(),
        pieces in stream(),
        cuts in cuts(),
        modes in modes(),
    ) {
        let bytes = encode(&pieces, role);
        check_equal(role, limits, extension, &bytes, &cuts, &modes)?;
    }

    /// Any bytes at all (nearly always an error early on): the same error at the same point.
    #[test]
    fn rfc_5_4_engine_equals_reference_on_any_bytes(
        role in role(),
        limits in limits(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        cuts in cuts(),
        modes in modes(),
    ) {
        check_equal(role, limits, false, &bytes, &cuts, &modes)?;
    }
}

/// One byte at a time through a stream of every kind of frame, both roles, both modes.
#[test]
fn rfc_5_4_engine_equals_reference_one_byte_at_a_time() {
    let text = "Hello, κόσμε 😀".as_bytes().to_vec();
    let frame = |fin, opcode, payload: &[u8], rsv3| WireFrame {
        fin,
        rsv3,
        opcode,
        payload: payload.to_vec(),
        mask_right: true,
        key: [0x37, 0xfa, 0x21, 0x3d],
    };
    let pieces = vec![Piece::Frames(vec![
        frame(true, Opcode::Text, &text, false),
        frame(false, Opcode::Text, &text[..8], false),
        frame(true, Opcode::Ping, b"ping", false),
        frame(false, Opcode::Continuation, &text[8..], false),
        frame(true, Opcode::Continuation, b"", false),
        frame(true, Opcode::Binary, &vec![7; 5000], false),
        frame(true, Opcode::Binary, b"inverted", true),
        frame(true, Opcode::Close, &[0x03, 0xe8], false),
    ])];
    for role in [Role::Client, Role::Server] {
        for streaming in [false, true] {
            let bytes = encode(&pieces, role);
            check_equal(role, MessageLimits::default(), true, &bytes, &[1], &[Some(streaming)]).unwrap();
        }
    }
}

/// The reference itself, on the RFC's own example (§5.7) and a failure: a sanity check that the
/// property above compares something.
#[test]
fn rfc_5_7_reference_reads_the_rfc_examples_and_fails_on_violations() {
    let mut reference = ReferenceReassembler::new(Role::Client);
    reference.receive(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(reference.poll(), Ok(Some(Incoming::Message(rfc6455::Message::text("Hello")))));
    // A masked frame from a server (§5.1: "a client MUST close a connection if it detects a
    // masked frame").
    let mut reference = ReferenceReassembler::new(Role::Client);
    reference.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(reference.poll(), Err(ProtocolError::MaskedFrame));
    assert_eq!(reference.poll(), Ok(None));
}

/// A toy extension that expands every byte 1000 times (an inflater's worst case, a
/// "deflate bomb"), counting the bytes it was let write.
struct Expand1000 {
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ExtensionCodec for Expand1000 {
    fn rsv_bits(&self) -> u8 {
        RSV3_BIT
    }

    fn negotiated(&self) -> Extension {
        Extension::new("x-expand")
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        for byte in input {
            output.extend_from_slice(&[*byte; 1000])?;
            self.written.fetch_add(1000, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn encode(&mut self, _kind: MessageKind, _input: &[u8], _fin: bool, _output: &mut BytesMut) -> u8 {
        0
    }
}

/// 16 KiB on the wire that would decode to 16 MB, under a 1 MiB message limit.
fn bomb(receiver: Role) -> Vec<u8> {
    let frame = WireFrame {
        fin: true,
        rsv3: true,
        opcode: Opcode::Binary,
        payload: vec![7; 16 * 1024],
        mask_right: true,
        key: [9, 8, 7, 6],
    };
    let mut bytes = Vec::new();
    frame.encode(receiver, &mut bytes);
    bytes
}

const BOMB_LIMIT: u64 = 1 << 20;

/// The decoded size counts against `max_message_size` as it is produced: an expanding codec is
/// stopped at the limit with 1009, never let write past it (RFC 7692 §8.1 leaves the limit to
/// the implementation; RFC 6455 §10.4 asks for one "after reassembly").
#[test]
fn rfc_10_4_both_reassemblers_stop_an_expanding_extension_at_the_message_limit() {
    // Writes of 1000 bytes fit 1048 times under 1 MiB; the 1049th would pass it.
    let expected = ProtocolError::MessageTooLarge { size: 1_049_000, max: BOMB_LIMIT };
    for role in [Role::Client, Role::Server] {
        for streaming in [false, true] {
            let limits = MessageLimits { max_message_size: BOMB_LIMIT, ..MessageLimits::default() };
            let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut engine = Reassembler::with_limits(role, limits);
            engine.set_extension(Box::new(Expand1000 { written: written.clone() }));
            engine.set_streaming(streaming);
            let round = engine.round(&bomb(role));
            assert_eq!(round.results, vec![Err(expected.clone())], "{role:?}, streaming {streaming}");
            assert_eq!(written.load(std::sync::atomic::Ordering::Relaxed), 1_048_000);

            let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut reference = ReferenceReassembler::with_limits(role, limits);
            reference.set_extension(Box::new(Expand1000 { written: written.clone() }));
            reference.set_streaming(streaming);
            let round = reference.round(&bomb(role));
            assert_eq!(round.results, vec![Err(expected.clone())], "{role:?}, streaming {streaming}");
            assert!(written.load(std::sync::atomic::Ordering::Relaxed) <= BOMB_LIMIT);
        }
    }
}

/// The same through a connection: it is failed with 1009 (§7.4.1: "a message that is too big
/// for it to process").
#[test]
fn rfc_7_4_1_connection_fails_an_expanding_extension_with_1009() {
    for role in [Role::Client, Role::Server] {
        let now = std::time::Instant::now();
        let limits = MessageLimits { max_message_size: BOMB_LIMIT, ..MessageLimits::default() };
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut connection =
            rfc6455::Connection::new(role, rfc6455::Config { limits, ..rfc6455::Config::default() }, now)
                .with_extension(Box::new(Expand1000 { written: written.clone() }));
        connection.receive(now, &bomb(role));
        let mut closed = None;
        while let Some(event) = connection.poll_event() {
            if let rfc6455::Event::Closed(outcome) = event {
                closed = Some(outcome);
            }
        }
        let outcome = closed.expect("the connection is failed");
        assert_eq!(
            outcome.error,
            Some(rfc6455::ConnectionError::Protocol(ProtocolError::MessageTooLarge {
                size: 1_049_000,
                max: BOMB_LIMIT
            }))
        );
        let sent = connection.bytes_to_send().to_vec();
        let close = rfc6455::DecodeRules::new(role.peer());
        let Ok(rfc6455::Decoded::Complete { value: header, consumed }) = FrameHeader::decode(&sent, &close)
        else {
            panic!("a Close frame is sent: {sent:?}");
        };
        assert_eq!(header.opcode, Opcode::Close);
        let mut body = sent[consumed..consumed + 2].to_vec();
        if let Some(key) = header.masking_key {
            apply_mask_rfc(key, &mut body, 0);
        }
        assert_eq!(u16::from_be_bytes([body[0], body[1]]), 1009, "{role:?}");
        assert!(written.load(std::sync::atomic::Ordering::Relaxed) <= BOMB_LIMIT);
    }
}
