//! The `reassembler` target: layer 1 (RFC 6455 §5.4, §5.6, §8.1) two ways that must agree
//! (STYLE.md §2, §8).
//!
//! `rfc6455::Reassembler` (the fast engine: whole messages split off the read buffer, unmasking
//! while copying) and `rfc6455::ReferenceReassembler` (the RFC in wire order, the executable
//! spec) are fed the same bytes in the same `receive` calls, with the same limits, extension and
//! streaming switches. `tests/reassembler.rs` is the property test of the same claim; here the
//! fuzzer drives the inputs by coverage.
//!
//! # Input
//!
//! [`ReassemblerInput`] is read from the raw bytes by its own small format, every field from the
//! front (missing bytes read as 0), like the connection targets' (and with their frames), so that
//! [`ReassemblerInput::to_fuzz_bytes`] can write the seeds of `examples/seeds.rs`:
//!
//! ```text
//! input   := config cuts modes piece*       (at most MAX_PIECES pieces, MAX_STREAM_BYTES bytes)
//! config  := flags u8, max_frame_size u8, max_message_size u8, max_fragments u8
//!            flags: 0x01 server (else client), 0x02 extension (Invert, on RSV3)
//!            each limit byte picks from its table, modulo its length: MAX_FRAME_SIZES,
//!            MAX_MESSAGE_SIZES, MAX_FRAGMENTS
//! cuts    := count u8, then count bytes: the sizes of the `receive` calls, in turn and
//!            cyclically: c < 0x80 is c + 1 bytes, else (c - 0x7F) * 509; none: one call
//! modes   := count u8, then count bytes, one per `receive` call, cyclically, applied before it:
//!            m % 3 = 0 leaves the mode, 1 `set_streaming(true)`, 2 `set_streaming(false)`
//! piece   := tag u8 (tag % 3), then:
//!   0 raw       len u8, bytes
//!   1 frames    count u8 (1 + count % 8 frames), frame*   (the connection targets' `frame`)
//!   2 message   flags u8, key [u8; 4], count u8 (1 + count % 4 fragments),
//!               cut u16 per fragment but the last, payload  (the connection targets' `payload`)
//!               flags: 0x01 Text (else Binary), 0x02 RSV3 on its first frame, 0x04 a Ping
//!               between fragments, 0x08 its last fragment without FIN
//! ```
//!
//! A `message` piece cuts one payload at the given offsets (each modulo the payload length + 1,
//! sorted), so a Text message's code points are split across fragments as often as not. Frames
//! are masked as the peer of the role requires (unless a `frame` says otherwise). The stream is
//! cut into at most [`MAX_ROUNDS`] calls (larger ones when it is long).
//!
//! # Oracles
//!
//! For every `receive` call (a round): every `poll` until `Ok(None)` or an error gives the same
//! result from both (the same items, in the same order, from the same round: messages, chunks
//! with their offsets, control frames; the same error), and `is_in_message()` agrees after it.
//! A round gives at most one item per byte received so far (plus one): `poll` always ends.

use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;
use rfc6455::{Incoming, MessageLimits, Opcode, ProtocolError, Reassembler, ReferenceReassembler, Role};

use crate::connection::{write_bytes_u8, FuzzFrame, FuzzPayload, Invert, Reader};

/// Most pieces read from one input.
pub const MAX_PIECES: usize = 256;

/// The stream stops growing once it is this long (a piece may take it beyond).
pub const MAX_STREAM_BYTES: usize = 256 * 1024;

/// Most `receive` calls for one input: the cuts grow beyond that.
pub const MAX_ROUNDS: usize = 4096;

/// `max_frame_size`: none, the default, and around the edges (a control frame's 125, the 16-bit
/// length from 126, the engine's unmask-while-copying threshold of 4096).
pub const MAX_FRAME_SIZES: [u64; 9] = [u64::MAX >> 1, 16 << 20, 0, 1, 3, 125, 126, 4096, 65_535];

/// `max_message_size`: none, and small enough to be reached by fragments or within a frame.
pub const MAX_MESSAGE_SIZES: [u64; 9] = [u64::MAX, 0, 1, 5, 125, 200, 4096, 65_536, 100_000];

/// `max_fragments`: none, and a few.
pub const MAX_FRAGMENTS: [usize; 7] = [usize::MAX, 0, 1, 2, 3, 8, 64];

/// A data message cut into fragments, as the peer sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzMessage {
    /// Text, else Binary.
    pub text: bool,
    /// RSV3 (the [`Invert`] extension's bit) on its first frame.
    pub rsv3: bool,
    /// A Ping between each two fragments.
    pub pings: bool,
    /// Its last fragment has no FIN: the message is left unfinished.
    pub unfinished: bool,
    /// The masking key of the first fragment; fragment `i` adds `i` to each byte.
    pub key: [u8; 4],
    /// Where the payload is cut, one offset per fragment but the last (modulo its length + 1,
    /// then sorted).
    pub cuts: Vec<u16>,
    /// The whole payload.
    pub payload: FuzzPayload,
}

impl FuzzMessage {
    /// Its frames.
    pub fn frames(&self) -> Vec<FuzzFrame> {
        let payload = self.payload.bytes();
        let mut ends: Vec<usize> =
            self.cuts.iter().map(|cut| usize::from(*cut) % (payload.len() + 1)).collect();
        ends.sort_unstable();
        ends.push(payload.len());
        let mut frames = Vec::new();
        let mut start = 0;
        for (index, &end) in ends.iter().enumerate() {
            let last = index + 1 == ends.len();
            let opcode = match (index, self.text) {
                (0, true) => Opcode::Text,
                (0, false) => Opcode::Binary,
                _ => Opcode::Continuation,
            };
            frames.push(FuzzFrame {
                fin: last && !self.unfinished,
                rsv3: self.rsv3 && index == 0,
                key: self.key.map(|byte| byte.wrapping_add(index as u8)),
                ..FuzzFrame::new(opcode, FuzzPayload::Bytes(payload[start..end].to_vec()))
            });
            if self.pings && !last {
                frames.push(FuzzFrame::new(Opcode::Ping, FuzzPayload::Bytes(vec![index as u8])));
            }
            start = end;
        }
        frames
    }

    fn read(reader: &mut Reader<'_>) -> FuzzMessage {
        let flags = reader.u8();
        let key = [reader.u8(), reader.u8(), reader.u8(), reader.u8()];
        let fragments = 1 + reader.u8() % 4;
        let cuts = (1..fragments).map(|_| reader.u16()).collect();
        FuzzMessage {
            text: flags & 0x01 != 0,
            rsv3: flags & 0x02 != 0,
            pings: flags & 0x04 != 0,
            unfinished: flags & 0x08 != 0,
            key,
            cuts,
            payload: FuzzPayload::read(reader),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        assert!(self.cuts.len() < 4, "1 to 4 fragments");
        out.push(
            u8::from(self.text)
                | if self.rsv3 { 0x02 } else { 0 }
                | if self.pings { 0x04 } else { 0 }
                | if self.unfinished { 0x08 } else { 0 },
        );
        out.extend_from_slice(&self.key);
        out.push(self.cuts.len() as u8);
        for cut in &self.cuts {
            out.extend_from_slice(&cut.to_le_bytes());
        }
        self.payload.write(out);
    }
}

/// A piece of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// These frames (1 to 8).
    Frames(Vec<FuzzFrame>),
    /// A fragmented message.
    Message(FuzzMessage),
}

impl Piece {
    /// Appends the piece, as the peer of a `role` endpoint sends it, to `out`.
    pub fn encode(&self, role: Role, out: &mut BytesMut) {
        match self {
            Piece::Raw(bytes) => out.extend_from_slice(bytes),
            Piece::Frames(frames) => frames.iter().for_each(|frame| frame.encode(role, out)),
            Piece::Message(message) => message.frames().iter().for_each(|frame| frame.encode(role, out)),
        }
    }

    fn read(reader: &mut Reader<'_>) -> Piece {
        match reader.u8() % 3 {
            0 => Piece::Raw(reader.bytes_u8().to_vec()),
            1 => {
                let count = 1 + reader.u8() % 8;
                Piece::Frames((0..count).map(|_| FuzzFrame::read(reader)).collect())
            }
            _ => Piece::Message(FuzzMessage::read(reader)),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Piece::Raw(bytes) => {
                out.push(0);
                write_bytes_u8(out, bytes);
            }
            Piece::Frames(frames) => {
                assert!((1..=8).contains(&frames.len()), "1 to 8 frames per piece");
                out.extend_from_slice(&[1, frames.len() as u8 - 1]);
                frames.iter().for_each(|frame| frame.write(out));
            }
            Piece::Message(message) => {
                out.push(2);
                message.write(out);
            }
        }
    }
}

/// Input of `reassembler` (see the module documentation for the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblerInput {
    /// The receiving endpoint's role.
    pub role: Role,
    /// The limits, each one of its table's.
    pub limits: MessageLimits,
    /// Both get an [`Invert`] codec.
    pub extension: bool,
    /// Sizes of the `receive` calls, cyclically (each 1 to 128, or a multiple of 509 up to
    /// 128 * 509); empty: one call.
    pub cuts: Vec<usize>,
    /// Before each call, cyclically: switch streaming on or off, or (`None`) leave it.
    pub modes: Vec<Option<bool>>,
    /// The stream.
    pub pieces: Vec<Piece>,
}

impl ReassemblerInput {
    /// Reads an input from any bytes.
    pub fn parse(bytes: &[u8]) -> ReassemblerInput {
        let mut reader = Reader::new(bytes);
        let flags = reader.u8();
        let limits = MessageLimits {
            max_frame_size: MAX_FRAME_SIZES[usize::from(reader.u8()) % MAX_FRAME_SIZES.len()],
            max_message_size: MAX_MESSAGE_SIZES[usize::from(reader.u8()) % MAX_MESSAGE_SIZES.len()],
            max_fragments: MAX_FRAGMENTS[usize::from(reader.u8()) % MAX_FRAGMENTS.len()],
        };
        let cuts = reader
            .bytes_u8()
            .iter()
            .map(|&cut| if cut < 0x80 { usize::from(cut) + 1 } else { usize::from(cut - 0x7F) * 509 })
            .collect();
        let modes = reader
            .bytes_u8()
            .iter()
            .map(|mode| match mode % 3 {
                0 => None,
                1 => Some(true),
                _ => Some(false),
            })
            .collect();
        let role = if flags & 0x01 != 0 { Role::Server } else { Role::Client };
        let mut pieces = Vec::new();
        let mut stream_len = 0;
        while !reader.is_empty() && pieces.len() < MAX_PIECES && stream_len < MAX_STREAM_BYTES {
            let piece = Piece::read(&mut reader);
            let mut bytes = BytesMut::new();
            piece.encode(role, &mut bytes);
            stream_len += bytes.len();
            pieces.push(piece);
        }
        ReassemblerInput { role, limits, extension: flags & 0x02 != 0, cuts, modes, pieces }
    }

    /// The bytes [`ReassemblerInput::parse`] reads back as `self`.
    ///
    /// # Panics
    ///
    /// If a field cannot be written: a limit not in its table, a cut size that no byte means,
    /// more than 255 cuts or modes.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let index = |found: Option<usize>, what: &str| -> u8 {
            found.unwrap_or_else(|| panic!("{what} is not in its table")) as u8
        };
        let limits = self.limits;
        let mut out = vec![
            u8::from(self.role == Role::Server) | if self.extension { 0x02 } else { 0 },
            index(MAX_FRAME_SIZES.iter().position(|max| *max == limits.max_frame_size), "max_frame_size"),
            index(
                MAX_MESSAGE_SIZES.iter().position(|max| *max == limits.max_message_size),
                "max_message_size",
            ),
            index(MAX_FRAGMENTS.iter().position(|max| *max == limits.max_fragments), "max_fragments"),
        ];
        let cuts: Vec<u8> = self
            .cuts
            .iter()
            .map(|&cut| match cut {
                1..=128 => cut as u8 - 1,
                _ if cut % 509 == 0 && (1..=128).contains(&(cut / 509)) => (cut / 509) as u8 + 0x7F,
                _ => panic!("no byte means a cut of {cut}"),
            })
            .collect();
        write_bytes_u8(&mut out, &cuts);
        let modes: Vec<u8> = self
            .modes
            .iter()
            .map(|mode| match mode {
                None => 0,
                Some(true) => 1,
                Some(false) => 2,
            })
            .collect();
        write_bytes_u8(&mut out, &modes);
        for piece in &self.pieces {
            piece.write(&mut out);
        }
        out
    }

    /// The stream, as the peer of the role sends it.
    pub fn stream(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        for piece in &self.pieces {
            piece.encode(self.role, &mut out);
        }
        out.to_vec()
    }
}

impl<'a> Arbitrary<'a> for ReassemblerInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let bytes = u.bytes(u.len())?;
        Ok(ReassemblerInput::parse(bytes))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ReassemblerInput::parse(u.take_rest()))
    }
}

/// What one reassembler gave for one `receive` call: every poll's result until `Ok(None)` or an
/// error, then whether a message is in progress.
#[derive(Debug, PartialEq)]
struct Round {
    results: Vec<Result<Incoming, ProtocolError>>,
    in_message: bool,
}

/// The API both reassemblers share.
trait Layer1 {
    fn receive(&mut self, bytes: &[u8]);
    fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError>;
    fn is_in_message(&self) -> bool;

    /// `receive`, then `poll` until it ends; `received` is every byte received so far.
    fn round(&mut self, bytes: &[u8], received: usize) -> Round {
        self.receive(bytes);
        let mut results = Vec::new();
        // Each item takes at least a byte (a frame header is two): more means a loop.
        for _ in 0..=received + 1 {
            match self.poll() {
                Ok(Some(item)) => results.push(Ok(item)),
                Ok(None) => return Round { results, in_message: self.is_in_message() },
                Err(error) => {
                    results.push(Err(error));
                    return Round { results, in_message: self.is_in_message() };
                }
            }
        }
        panic!("poll gave more items than the {received} bytes received can hold");
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

/// What a run gave, for the seeds program to check its seeds do what they say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `receive` calls.
    pub rounds: usize,
    /// Whole messages handed over.
    pub messages: usize,
    /// Chunks handed over.
    pub chunks: usize,
    /// Chunks that ended their message.
    pub streamed_messages: usize,
    /// Control frames handed over.
    pub controls: usize,
    /// The error, if the stream broke the protocol.
    pub error: Option<ProtocolError>,
    /// Whether a message was unfinished at the end.
    pub in_message: bool,
}

/// Runs `input` through both reassemblers, checking every oracle of the module documentation.
///
/// # Panics
///
/// When they differ.
pub fn run(input: &ReassemblerInput) -> Report {
    let mut engine = Reassembler::with_limits(input.role, input.limits);
    let mut reference = ReferenceReassembler::with_limits(input.role, input.limits);
    if input.extension {
        engine.set_extension(Box::new(Invert));
        reference.set_extension(Box::new(Invert));
    }
    let stream = input.stream();
    let min_cut = stream.len().div_ceil(MAX_ROUNDS);
    let mut report = Report::default();
    let mut at = 0;
    while at < stream.len() || report.rounds == 0 {
        let round = report.rounds;
        let cut = input.cuts.get(round % input.cuts.len().max(1)).copied().unwrap_or(usize::MAX);
        let end = at.saturating_add(cut.max(min_cut)).min(stream.len());
        if let Some(&Some(streaming)) = input.modes.get(round % input.modes.len().max(1)) {
            engine.set_streaming(streaming);
            reference.set_streaming(streaming);
        }
        let expected = reference.round(&stream[at..end], end);
        let got = engine.round(&stream[at..end], end);
        assert_eq!(got, expected, "round {round}: bytes {at}..{end} of {}", stream.len());
        for result in &expected.results {
            match result {
                Ok(Incoming::Message(_)) => report.messages += 1,
                Ok(Incoming::Fragment(chunk)) => {
                    report.chunks += 1;
                    report.streamed_messages += usize::from(chunk.ends_message);
                }
                Ok(Incoming::Control(_)) => report.controls += 1,
                Err(error) => report.error = Some(error.clone()),
            }
        }
        report.in_message = expected.in_message;
        report.rounds += 1;
        at = end;
    }
    report
}
