//! Fuzz target: server `Connection`s with permessage-deflate installed (RFC 7692 §6, §7.2;
//! RFC 6455 §5-§7), fed what a client `Connection` with the codec sends (messages of every
//! size and compressibility, whole or in fragments, with Pings between), mixed with arbitrary
//! frames and bytes, in arbitrary chunks.
//!
//! The parameters come from arbitrary client and server configurations, through the
//! negotiation itself: the server `accept`s the client's `offer()`, the client
//! `check_response`s the answer (both must succeed: `deflate_negotiation` checks why). Three
//! connections receive the same bytes, cut the same way:
//!
//! - **L**, a server with small arbitrary limits (`MessageLimits`), whole-message or streaming
//!   mode, Pings and Pongs reported or not;
//! - the **reference** receiver: `ReferenceReassembler`, layer 1 written in wire order (the
//!   executable spec the `reassembler` target proves equal to the connection's), with the same
//!   limits and a codec of its own for the same parameters;
//! - **G**, a server with the default (generous) limits that echoes every message back: whole,
//!   or fragment by fragment as it arrives in streaming mode (so its compressor sends messages
//!   in pieces too). Its output goes back to the client, in chunks.
//!
//! # Input
//!
//! Any bytes: 17 bytes of settings, then operations until the input ends (at most [`MAX_OPS`];
//! past the end every number reads as 0). `u16` are little-endian; `bytes` is a length byte and
//! that many bytes.
//!
//! | byte | setting |
//! |---|---|
//! | 0, 1, 2 | client's `DeflateConfig`: flags (bit 0 `server_no_context_takeover`, bit 1 `client_no_context_takeover`), `server_max_window_bits`, `client_max_window_bits` (any value) |
//! | 3, 4, 5 | server's, the same way |
//! | 6-7, 8-9, 10 | L's `max_frame_size`, `max_message_size` (`u16`), `max_fragments` |
//! | 11 | bit 0: L streams; bit 1: L reports Pings and Pongs; bit 2: the client splits frames at byte 12; bit 3: G streams |
//! | 12 | the client's `max_send_frame_size` |
//! | 13 | `with_compress_min` of the client's and G's codecs (messages shorter go uncompressed) |
//! | 14 | the client's compression level (mod 10) |
//! | 15, 16 | chunking: chunks of 1 to `8 * byte 15 + 1` bytes (1 byte each when 0; everything at once when 255), sizes drawn from a generator seeded with byte 16, and at least a [`MAX_CHUNKS`]th of the stream |
//!
//! Operations, by their first byte mod 4:
//!
//! | op | then | what |
//! |---|---|---|
//! | 0 | flags, `u16` length, seed, fragment size, `bytes` pattern | the client sends a message: flags bit 0 Text (else Binary), bits 1-2 its content (the pattern repeated, random, runs of both, counting), bit 3 in fragments (`begin_message`/`send_fragment`, of random sizes up to `16 * fragment size`), bit 4 with a Ping after each fragment. Lengths add up to [`MAX_MESSAGE_BYTES`] at most per input |
//! | 1 | `bytes` | the client sends a Ping (payload cut to 125 bytes) |
//! | 2 | head, mask flags, 4-byte key, `bytes` | a frame written by hand: the head byte as it is (FIN, RSV bits, any opcode), masked unless bit 0 of the flags |
//! | 3 | `bytes` | these bytes |
//!
//! Operations 2 and 3 go on the wire between the client's messages; the bytes before the
//! first of them are *clean*: all from the client.
//!
//! # Oracles
//!
//! Beyond "does not panic":
//!
//! - **Limits**: every message L delivers, and every streamed message so far, is within
//!   `max_message_size` (after inflating).
//! - **Reference**: L delivers the reference's messages (and Pings and Pongs when reported), in
//!   order; it fails exactly when the reference finds a violation, with the same error and
//!   the close code §7.4.1 gives it (1002, 1007 or 1009, and nothing else can arise here); a
//!   Close from the peer ends it cleanly with that Close. What L writes decodes as unmasked
//!   frames: Pongs, then at most one Close, last, carrying the code of the failure.
//! - **Clean bytes, limits**: on the clean part, L delivers exactly the client's messages up to
//!   the first one that breaks a limit, restated here from the wire: a frame (data or Ping)
//!   longer than `max_frame_size`, more than `max_fragments` frames, more than
//!   `max_message_size` bytes on the wire or inflated. It then fails with 1009 and nothing else.
//!   Valid compressed data never fails with 1002 or 1007.
//! - **Round trip, client to server** (§7.2.1, §7.2.2): G receives every clean message exactly
//!   as the client sent it, in order, in any chunking and fragmentation, with Pings between
//!   fragments; if the whole input is clean, G never fails and gets them all.
//! - **Round trip, server to client**: the client receives exactly the messages G echoed (those
//!   it finished), in order, and never fails: G's compressor obeys the parameters agreed.

#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams};
use rfc6455::frame::RSV1_BIT;
use rfc6455::{
    CloseCode, CloseFrame, CloseOutcome, Config, Connection, ConnectionError, DecodeRules, Decoded, Event,
    Frame, Incoming, Message, MessageKind, MessageLimits, Opcode, ProtocolError, ReferenceReassembler, Role,
};
use rfc6455_fuzz::connection::Reader;

/// Most operations read from one input.
const MAX_OPS: usize = 64;

/// Most message bytes the client sends per input (each length is cut to what is left): enough
/// for a message of each length encoding and several windows of history, small enough to keep
/// an execution in milliseconds.
const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Most chunks (about) a stream is cut into: smaller chunks are made larger. A `receive` of a
/// small chunk costs some microseconds under the sanitizer: one byte at a time through 64 KiB,
/// for three receivers, would take seconds. Streams of up to this many bytes are still cut down
/// to one byte.
const MAX_CHUNKS: usize = 1024;

/// Most fragments of a message sent with `send_fragment` (the last one takes the rest).
const MAX_FRAGMENTS_SENT: usize = 64;

/// Characters of random Text: ASCII and code points of 2, 3 and 4 bytes, so that fragments and
/// chunks split them.
const ALPHABET: [char; 8] = ['a', 'z', ' ', '{', '"', 'é', '€', '𝄞'];

// ------------------------------------------------------------------------------------------------
// The input.

/// A small deterministic generator (a linear congruential one), so that a crash reproduces.
struct Lcg(u32);

impl Lcg {
    /// 15 random bits.
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        ((self.0 >> 16) & 0x7fff) as usize
    }
}

/// The settings: see the module documentation.
#[derive(Debug)]
struct Settings {
    /// What the client offers and checks the answer against.
    client: DeflateConfig,
    /// What the server accepts.
    server: DeflateConfig,
    /// L's limits (and the reference's).
    limits: MessageLimits,
    /// L streams.
    streaming: bool,
    /// L reports Pings and Pongs.
    deliver_control_frames: bool,
    /// The client's `Config::max_send_frame_size`.
    max_send_frame_size: Option<usize>,
    /// G streams, and echoes piece by piece.
    echo_streaming: bool,
    /// `with_compress_min` of the client's and G's codecs.
    compress_min: usize,
    /// The client's compression level.
    level: u32,
    /// Chunk sizes: see [`Chunker`].
    chunk_max: u8,
    /// The seed of the chunk sizes.
    chunk_seed: u8,
}

/// A `DeflateConfig` from 3 bytes: flags, then the two windows as they are.
fn deflate_config(reader: &mut Reader<'_>) -> DeflateConfig {
    let flags = reader.u8();
    DeflateConfig {
        server_no_context_takeover: flags & 0x01 != 0,
        client_no_context_takeover: flags & 0x02 != 0,
        server_max_window_bits: reader.u8(),
        client_max_window_bits: reader.u8(),
    }
}

impl Settings {
    /// Reads the 17 bytes of settings.
    fn read(reader: &mut Reader<'_>) -> Settings {
        let client = deflate_config(reader);
        let server = deflate_config(reader);
        let limits = MessageLimits {
            max_frame_size: u64::from(reader.u16()),
            max_message_size: u64::from(reader.u16()),
            max_fragments: usize::from(reader.u8()),
        };
        let flags = reader.u8();
        let max_send_frame_size = usize::from(reader.u8());
        Settings {
            client,
            server,
            limits,
            streaming: flags & 0x01 != 0,
            deliver_control_frames: flags & 0x02 != 0,
            max_send_frame_size: (flags & 0x04 != 0).then_some(max_send_frame_size),
            echo_streaming: flags & 0x08 != 0,
            compress_min: usize::from(reader.u8()),
            level: u32::from(reader.u8() % 10),
            chunk_max: reader.u8(),
            chunk_seed: reader.u8(),
        }
    }
}

/// What a message is made of.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// The pattern, again and again: highly compressible.
    Repeat,
    /// Random: incompressible (it grows a little when compressed).
    Random,
    /// Runs of the pattern and random runs.
    Mixed,
    /// Numbers, as in readings: compressible, not trivially.
    Counting,
}

/// The client's part of an input.
#[derive(Debug)]
enum Op {
    /// A message.
    Message {
        /// Text or Binary.
        kind: MessageKind,
        /// Its data.
        data: Vec<u8>,
        /// `None`: `send_message`; else the largest fragment size for `send_fragment`.
        fragments: Option<usize>,
        /// A Ping after each fragment.
        pings: bool,
        /// The seed of the fragment sizes.
        seed: u8,
    },
    /// A Ping, with this payload.
    Ping(Vec<u8>),
    /// Bytes that do not come from the client (a frame written by hand, or raw).
    Raw(Vec<u8>),
}

/// Reads one operation; a message's length is taken from `budget`.
fn read_op(reader: &mut Reader<'_>, budget: &mut usize) -> Op {
    match reader.u8() % 4 {
        0 => {
            let flags = reader.u8();
            let len = usize::from(reader.u16()).min(*budget);
            *budget -= len;
            let seed = reader.u8();
            let fragment = reader.u8();
            let pattern = reader.bytes_u8();
            let kind = if flags & 0x01 != 0 { MessageKind::Text } else { MessageKind::Binary };
            let content = [Content::Repeat, Content::Random, Content::Mixed, Content::Counting]
                [usize::from(flags >> 1 & 0x03)];
            Op::Message {
                kind,
                data: message_data(kind, content, len, seed, pattern),
                fragments: (flags & 0x08 != 0).then_some(usize::from(fragment) * 16),
                pings: flags & 0x10 != 0,
                seed,
            }
        }
        1 => {
            let payload = reader.bytes_u8();
            Op::Ping(payload[..payload.len().min(125)].to_vec())
        }
        2 => {
            let head = reader.u8();
            let unmasked = reader.u8() & 0x01 != 0;
            let key = [reader.u8(), reader.u8(), reader.u8(), reader.u8()];
            Op::Raw(raw_frame(head, (!unmasked).then_some(key), reader.bytes_u8()))
        }
        _ => Op::Raw(reader.bytes_u8().to_vec()),
    }
}

/// A frame written by hand (RFC 6455 §5.2), whatever its head byte says.
fn raw_frame(head: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![head];
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match u8::try_from(payload.len()) {
        Ok(len) if len < 126 => out.push(mask_bit | len),
        _ => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
    }
    match key {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A message's data: `len` bytes (Text: valid UTF-8 of at most `len` bytes).
fn message_data(kind: MessageKind, content: Content, len: usize, seed: u8, pattern: &[u8]) -> Vec<u8> {
    let mut random = Lcg(u32::from(seed) << 8 | 0x5a);
    if kind == MessageKind::Binary {
        let pattern = if pattern.is_empty() { &[seed][..] } else { pattern };
        let mut data = Vec::with_capacity(len);
        let mut i = 0usize;
        while data.len() < len {
            match content {
                Content::Repeat => data.push(pattern[data.len() % pattern.len()]),
                Content::Random => data.push(random.next() as u8),
                Content::Mixed => {
                    let run = 1 + random.next() % 300;
                    if random.next() & 1 == 0 {
                        data.extend((0..run).map(|j| pattern[j % pattern.len()]));
                    } else {
                        data.extend((0..run).map(|_| random.next() as u8));
                    }
                }
                Content::Counting => {
                    data.extend_from_slice(format!("{} ", i.wrapping_mul(usize::from(seed) + 1)).as_bytes())
                }
            }
            i += 1;
        }
        data.truncate(len);
        return data;
    }
    let pattern: Vec<char> = String::from_utf8_lossy(pattern).chars().collect();
    let pattern = if pattern.is_empty() { vec!['a'] } else { pattern };
    let mut text = String::with_capacity(len + 4);
    let mut i = 0usize;
    while text.len() < len {
        match content {
            Content::Repeat => text.push(pattern[i % pattern.len()]),
            Content::Random => text.push(ALPHABET[random.next() % ALPHABET.len()]),
            Content::Mixed => {
                let run = 1 + random.next() % 100;
                if random.next() & 1 == 0 {
                    text.extend((0..run).map(|j| pattern[j % pattern.len()]));
                } else {
                    text.extend((0..run).map(|_| ALPHABET[random.next() % ALPHABET.len()]));
                }
            }
            Content::Counting => text.push_str(&format!("{} ", i.wrapping_mul(usize::from(seed) + 1))),
        }
        i += 1;
    }
    while text.len() > len {
        text.pop();
    }
    text.into_bytes()
}

/// Chunk sizes, drawn as the settings say.
struct Chunker {
    /// Draws the sizes.
    random: Lcg,
    /// Chunks of 1 to `8 * max + 1` bytes; everything at once if 255.
    max: u8,
}

impl Chunker {
    /// The chunker the settings describe (each receiver gets its own, so the same chunks).
    fn new(settings: &Settings) -> Chunker {
        Chunker { random: Lcg(u32::from(settings.chunk_seed)), max: settings.chunk_max }
    }

    /// The size of the next chunk, with `left` bytes to deliver (at least 1), and at least
    /// `floor` bytes (the last chunk excepted).
    fn next(&mut self, left: usize, floor: usize) -> usize {
        if self.max == u8::MAX {
            return left;
        }
        (1 + self.random.next() % (8 * usize::from(self.max) + 1)).max(floor).min(left)
    }
}

// ------------------------------------------------------------------------------------------------
// The client.

/// A message the client sent.
type Sent = (MessageKind, Vec<u8>);

/// What the client wrote: the wire, the messages, and how much of both is clean.
struct Written {
    /// Every byte, in order.
    wire: Vec<u8>,
    /// The client's messages, in order.
    sent: Vec<Sent>,
    /// Bytes before the first operation that did not come from the client ...
    clean_len: usize,
    /// ... and messages.
    clean_messages: usize,
    /// Whether any byte did not come from the client.
    dirty: bool,
}

/// Runs the operations: the client sends its messages and Pings, the other bytes go on the
/// wire between them.
fn client_sends(client: &mut Connection, ops: &[Op]) -> Written {
    let mut written =
        Written { wire: Vec::new(), sent: Vec::new(), clean_len: 0, clean_messages: 0, dirty: false };
    for op in ops {
        match op {
            Op::Message { kind, data, fragments: None, .. } => {
                let message = match kind {
                    MessageKind::Text => Message::text(String::from_utf8(data.clone()).expect("text")),
                    MessageKind::Binary => Message::binary(data.clone()),
                };
                client.send_message(&message).expect("the client is open");
                written.sent.push((*kind, data.clone()));
            }
            Op::Message { kind, data, fragments: Some(max), pings, seed } => {
                let mut sizes = Lcg(u32::from(*seed));
                client.begin_message(*kind).expect("the client is open");
                let mut rest = &data[..];
                for index in 0.. {
                    let size =
                        if index + 1 == MAX_FRAGMENTS_SENT { rest.len() } else { sizes.next() % (max + 1) };
                    let (part, after) = rest.split_at(size.min(rest.len()));
                    rest = after;
                    let last = rest.is_empty();
                    // A Text part may end inside a code point (the next one completes it).
                    client.send_fragment(part, last).expect("a valid part");
                    if last {
                        break;
                    }
                    if *pings {
                        client.send_ping(&[index as u8]).expect("a Ping between fragments");
                    }
                }
                written.sent.push((*kind, data.clone()));
            }
            Op::Ping(payload) => client.send_ping(payload).expect("a Ping of at most 125 bytes"),
            Op::Raw(bytes) => {
                take_output(client, &mut written.wire);
                if !written.dirty {
                    written.dirty = true;
                    written.clean_len = written.wire.len();
                    written.clean_messages = written.sent.len();
                }
                written.wire.extend_from_slice(bytes);
            }
        }
        take_output(client, &mut written.wire);
    }
    if !written.dirty {
        written.clean_len = written.wire.len();
        written.clean_messages = written.sent.len();
    }
    written
}

/// Appends what `connection` has to send to `wire`, as written.
fn take_output(connection: &mut Connection, wire: &mut Vec<u8>) {
    let bytes = connection.bytes_to_send();
    wire.extend_from_slice(bytes);
    let len = bytes.len();
    connection.mark_sent(len);
}

// ------------------------------------------------------------------------------------------------
// Receivers.

/// What a receiver reports, streamed pieces joined into their message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A data message: its kind and data.
    Message(MessageKind, Vec<u8>),
    /// A Ping's payload.
    Ping(Vec<u8>),
    /// A Pong's payload.
    Pong(Vec<u8>),
}

/// How the reference's input ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RefEnd {
    /// The peer's Close (`None`: an empty body).
    Close(Option<CloseFrame>),
    /// A violation.
    Error(ProtocolError),
}

/// The reference receiver (layer 1 in wire order) with layer 2's part: a Close body decoded,
/// nothing read after a Close or a violation.
struct Reference {
    /// Layer 1, with L's limits and mode and a codec of its own.
    layer1: ReferenceReassembler,
    /// Whether Pings and Pongs are items (as L reports them).
    deliver_control_frames: bool,
    /// What it made of the bytes so far.
    items: Vec<Item>,
    /// The streamed message so far.
    partial: Vec<u8>,
    /// Set once a Close or a violation ends the input.
    end: Option<RefEnd>,
}

impl Reference {
    /// The reference for L, with the server's parameters.
    fn new(settings: &Settings, params: DeflateParams) -> Reference {
        let mut layer1 = ReferenceReassembler::with_limits(Role::Server, settings.limits);
        layer1.set_streaming(settings.streaming);
        layer1.set_extension(Box::new(DeflateCodec::new(Role::Server, params)));
        Reference {
            layer1,
            deliver_control_frames: settings.deliver_control_frames,
            items: Vec::new(),
            partial: Vec::new(),
            end: None,
        }
    }

    /// Takes bytes, and reads every item they complete.
    fn receive(&mut self, bytes: &[u8]) {
        if self.end.is_some() {
            return;
        }
        self.layer1.receive(bytes);
        while self.end.is_none() {
            match self.layer1.poll() {
                Ok(None) => break,
                Ok(Some(Incoming::Message(message))) => {
                    self.items.push(Item::Message(message.kind(), message.payload().to_vec()))
                }
                Ok(Some(Incoming::Fragment(fragment))) => {
                    self.partial.extend_from_slice(&fragment.data);
                    if fragment.ends_message {
                        self.items.push(Item::Message(fragment.kind, std::mem::take(&mut self.partial)));
                    }
                }
                Ok(Some(Incoming::Control(frame))) => match frame.header.opcode {
                    Opcode::Ping if self.deliver_control_frames => {
                        self.items.push(Item::Ping(frame.payload.to_vec()))
                    }
                    Opcode::Pong if self.deliver_control_frames => {
                        self.items.push(Item::Pong(frame.payload.to_vec()))
                    }
                    Opcode::Ping | Opcode::Pong => {}
                    _ => {
                        self.end = Some(match CloseFrame::decode(&frame.payload) {
                            Ok(close) => RefEnd::Close(close),
                            Err(error) => RefEnd::Error(error),
                        })
                    }
                },
                Err(error) => self.end = Some(RefEnd::Error(error)),
            }
        }
    }
}

/// A server connection's events, as they come.
#[derive(Default)]
struct Received {
    /// The items reported, streamed messages once whole.
    items: Vec<Item>,
    /// The streamed message so far.
    partial: Option<(MessageKind, Vec<u8>)>,
    /// The `Closed` event's.
    outcome: Option<CloseOutcome>,
}

impl Received {
    /// Takes every event of `connection`, checking each message (and each streamed one so far)
    /// is within `limit`. `on_piece`: what the application does with each message, or each
    /// streamed piece.
    fn poll(
        &mut self,
        connection: &mut Connection,
        limit: u64,
        mut on_piece: impl FnMut(&mut Connection, Piece),
    ) {
        while let Some(event) = connection.poll_event() {
            assert!(self.outcome.is_none(), "an event after Closed: {event:?}");
            match event {
                Event::Message(message) => {
                    assert!(
                        message.len() as u64 <= limit,
                        "a message of {} bytes, over {limit}",
                        message.len()
                    );
                    let item = Item::Message(message.kind(), message.payload().to_vec());
                    on_piece(connection, Piece::Whole(message));
                    self.items.push(item);
                }
                Event::Fragment(fragment) => {
                    let first = self.partial.is_none();
                    let (kind, data) = self.partial.get_or_insert_with(|| (fragment.kind, Vec::new()));
                    assert_eq!(*kind, fragment.kind, "a message changed kind");
                    data.extend_from_slice(&fragment.data);
                    assert!(data.len() as u64 <= limit, "{} bytes streamed, over {limit}", data.len());
                    let last = fragment.ends_message;
                    on_piece(
                        connection,
                        Piece::Part { kind: fragment.kind, first, data: &fragment.data, last },
                    );
                    if last {
                        let (kind, data) = self.partial.take().expect("a message");
                        self.items.push(Item::Message(kind, data));
                    }
                }
                Event::Ping(payload) => self.items.push(Item::Ping(payload.to_vec())),
                Event::Pong(payload) => self.items.push(Item::Pong(payload.to_vec())),
                Event::Closed(outcome) => self.outcome = Some(outcome),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }

    /// The data messages received, in order.
    fn messages(&self) -> Vec<Sent> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Message(kind, data) => Some((*kind, data.clone())),
                _ => None,
            })
            .collect()
    }
}

/// A message, or a piece of one, for the application.
enum Piece<'a> {
    /// A whole message (whole-message mode).
    Whole(Message),
    /// A streamed piece: the message's kind, whether the piece is its first or last, the data.
    Part { kind: MessageKind, first: bool, data: &'a [u8], last: bool },
}

/// Delivers `wire` in the chunker's chunks (at most about [`MAX_CHUNKS`] of them), calling
/// `each` with every chunk.
fn deliver(wire: &[u8], chunker: &mut Chunker, mut each: impl FnMut(&[u8])) {
    let floor = wire.len() / MAX_CHUNKS;
    let mut at = 0;
    while at < wire.len() {
        let size = chunker.next(wire.len() - at, floor);
        each(&wire[at..at + size]);
        at += size;
    }
}

// ------------------------------------------------------------------------------------------------
// Oracles.

/// On the clean bytes: how many of the client's messages L may deliver before a limit stops
/// it, and whether one does. The limits restated from the wire: frames as the client wrote them
/// (decoded with layer 0, no limit), messages as it sent them.
fn clean_expectation(clean_wire: &[u8], sent: &[Sent], limits: &MessageLimits) -> (usize, bool) {
    let rules = DecodeRules::new(Role::Server).with_rsv_allowed(RSV1_BIT).with_max_frame_size(u64::MAX >> 1);
    let mut at = 0;
    let (mut delivered, mut fragments, mut on_wire) = (0, 0usize, 0u64);
    while at < clean_wire.len() {
        let Ok(Decoded::Complete { value: frame, consumed }) = Frame::decode(&clean_wire[at..], &rules)
        else {
            panic!("the client wrote an invalid or partial frame at {at}")
        };
        at += consumed;
        let header = frame.header;
        // §10.4: "limits on frame sizes" (control frames too) ...
        if header.payload_len > limits.max_frame_size {
            return (delivered, true);
        }
        if header.opcode.is_control() {
            continue;
        }
        // ... "and the total message size after reassembly from multiple frames", on the wire
        // and inflated (the `MessageLimits` documentation); and the fragment count.
        fragments += 1;
        on_wire += header.payload_len;
        if fragments > limits.max_fragments || on_wire > limits.max_message_size {
            return (delivered, true);
        }
        if header.fin {
            if sent[delivered].1.len() as u64 > limits.max_message_size {
                return (delivered, true);
            }
            delivered += 1;
            fragments = 0;
            on_wire = 0;
        }
    }
    (delivered, false)
}

/// What L wrote: unmasked frames (§5.1), Pongs, then at most one Close, last, whose body is the
/// outcome's `sent`.
fn check_output(output: &[u8], outcome: Option<&CloseOutcome>) {
    let rules = DecodeRules::new(Role::Client).with_max_frame_size(u64::MAX >> 1);
    let mut at = 0;
    let mut close = None;
    while at < output.len() {
        let Ok(Decoded::Complete { value: frame, consumed }) = Frame::decode(&output[at..], &rules) else {
            panic!("the server wrote an invalid or partial frame at {at}")
        };
        at += consumed;
        assert!(close.is_none(), "a frame after the Close");
        match frame.header.opcode {
            Opcode::Pong => {}
            Opcode::Close => close = Some(CloseFrame::decode(&frame.payload).expect("a valid Close body")),
            other => panic!("the server wrote a {other:?} frame of its own"),
        }
    }
    let sent = outcome.and_then(|outcome| outcome.sent.clone());
    assert_eq!(close.map(|close| CloseFrame::status_of(close.as_ref())), sent, "the Close written");
}

/// L against the reference: the same items, and the same end.
fn check_against_reference(received: &Received, reference: &Reference) {
    assert_eq!(received.items, reference.items, "L and the reference differ");
    let outcome = received.outcome.as_ref();
    match &reference.end {
        None => assert!(outcome.is_none(), "L closed without cause: {outcome:?}"),
        Some(RefEnd::Close(close)) => {
            let outcome = outcome.expect("L closes on the peer's Close");
            assert_eq!(outcome.error, None, "{outcome}");
            assert_eq!(outcome.received, Some(CloseFrame::status_of(close.as_ref())), "{outcome}");
        }
        Some(RefEnd::Error(expected)) => {
            let outcome = outcome.expect("L fails where the reference does");
            let Some(ConnectionError::Protocol(error)) = &outcome.error else {
                panic!("L closed with {outcome}, the reference failed with {expected}")
            };
            assert_eq!(error, expected, "{outcome}");
            let code = error.close_code();
            assert!(
                [
                    CloseCode::PROTOCOL_ERROR,
                    CloseCode::INVALID_FRAME_PAYLOAD_DATA,
                    CloseCode::MESSAGE_TOO_BIG
                ]
                .contains(&code),
                "{error}: close code {code}"
            );
            assert_eq!(outcome.sent.as_ref().map(|close| close.code), Some(code), "{outcome}");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The run.

/// One input: see the module documentation.
fn run(data: &[u8]) {
    let mut reader = Reader::new(data);
    let settings = Settings::read(&mut reader);
    let mut budget = MAX_MESSAGE_BYTES;
    let mut ops = Vec::new();
    while !reader.is_empty() && ops.len() < MAX_OPS {
        ops.push(read_op(&mut reader, &mut budget));
    }

    // The negotiation (RFC 7692 §5): what each side agrees to.
    let offer = settings.client.offer();
    let params =
        settings.server.accept(std::slice::from_ref(&offer)).expect("a server takes the client's offer");
    let client_params =
        settings.client.check_response(&params.to_response()).expect("a client takes the server's answer");

    let now = Instant::now();
    let mut state = u32::from(settings.chunk_seed) | 0x10000;
    let masks = move |bytes: &mut [u8]| {
        for byte in bytes {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *byte = (state >> 16) as u8;
        }
    };
    let client_config = Config { max_send_frame_size: settings.max_send_frame_size, ..Config::default() };
    let mut client = Connection::new(Role::Client, client_config, now)
        .with_random(Box::new(masks))
        .with_extension(Box::new(
            DeflateCodec::new(Role::Client, client_params)
                .with_compress_min(settings.compress_min)
                .with_level(settings.level),
        ));
    let written = client_sends(&mut client, &ops);

    // L and the reference.
    let l_config = Config {
        limits: settings.limits,
        streaming: settings.streaming,
        deliver_control_frames: settings.deliver_control_frames,
        ..Config::default()
    };
    let mut l = Connection::new(Role::Server, l_config, now)
        .with_extension(Box::new(DeflateCodec::new(Role::Server, params)));
    let mut l_received = Received::default();
    let mut reference = Reference::new(&settings, params);
    let limit = settings.limits.max_message_size;
    let mut chunker = Chunker::new(&settings);
    let receive = |chunk: &[u8], l: &mut Connection, l_received: &mut Received, reference: &mut Reference| {
        l.receive(now, chunk);
        l_received.poll(l, limit, |_, _| {});
        reference.receive(chunk);
    };
    // The clean bytes, then the rest: what L made of the clean ones is looked at in between.
    let (clean, rest) = written.wire.split_at(written.clean_len);
    deliver(clean, &mut chunker, |chunk| receive(chunk, &mut l, &mut l_received, &mut reference));
    let clean_messages = l_received.messages();
    let clean_failure = l_received.outcome.as_ref().map(|outcome| outcome.error.clone());
    deliver(rest, &mut chunker, |chunk| receive(chunk, &mut l, &mut l_received, &mut reference));
    check_against_reference(&l_received, &reference);
    check_output(l.bytes_to_send(), l_received.outcome.as_ref());

    // The clean bytes against the limits, restated.
    let (expected_count, expected_fail) =
        clean_expectation(clean, &written.sent[..written.clean_messages], &settings.limits);
    assert_eq!(clean_messages[..], written.sent[..expected_count], "L on the clean bytes");
    if expected_fail {
        let Some(Some(ConnectionError::Protocol(error))) = &clean_failure else {
            panic!("L did not fail on clean bytes over its limits: {clean_failure:?}")
        };
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG, "L on the clean bytes: {error}");
    } else {
        assert_eq!(clean_failure, None, "L closed on clean bytes within its limits");
    }

    // G: generous limits, echoing; then the client gets the echoes.
    let g_config = Config { streaming: settings.echo_streaming, ..Config::default() };
    let mut g = Connection::new(Role::Server, g_config, now).with_extension(Box::new(
        DeflateCodec::new(Role::Server, params).with_compress_min(settings.compress_min),
    ));
    let mut g_received = Received::default();
    let mut echoed: Vec<Sent> = Vec::new();
    let mut echoing: Option<(MessageKind, Vec<u8>)> = None;
    let mut chunker = Chunker::new(&settings);
    deliver(&written.wire, &mut chunker, |chunk| {
        g.receive(now, chunk);
        g_received.poll(&mut g, u64::MAX, |g, piece| match piece {
            Piece::Whole(message) => {
                if g.send_message(&message).is_ok() {
                    echoed.push((message.kind(), message.payload().to_vec()));
                }
            }
            Piece::Part { kind, first, data, last } => {
                if first && g.begin_message(kind).is_ok() {
                    echoing = Some((kind, Vec::new()));
                }
                if let Some((_, so_far)) = &mut echoing {
                    if g.send_fragment(data, last).is_ok() {
                        so_far.extend_from_slice(data);
                        if last {
                            echoed.push(echoing.take().expect("a message being echoed"));
                        }
                    } else {
                        echoing = None;
                    }
                }
            }
        });
    });
    let g_messages = g_received.messages();
    if written.dirty {
        assert!(g_messages.len() >= written.clean_messages, "G lost a clean message");
        assert_eq!(g_messages[..written.clean_messages], written.sent[..written.clean_messages], "G");
    } else {
        assert_eq!(g_messages, written.sent, "G");
        assert!(g_received.outcome.is_none(), "G closed on clean bytes: {:?}", g_received.outcome);
    }

    let mut back = Vec::new();
    take_output(&mut g, &mut back);
    let mut client_received = Received::default();
    deliver(&back, &mut chunker, |chunk| {
        client.receive(now, chunk);
        client_received.poll(&mut client, u64::MAX, |_, _| {});
    });
    if let Some(outcome) = &client_received.outcome {
        assert_eq!(outcome.error, None, "the client failed on G's output: {outcome}");
    }
    assert_eq!(client_received.messages(), echoed, "the client did not get G's echoes");
}

fuzz_target!(|data: &[u8]| run(data));
