//! The `connection_server` and `connection_client` targets: a [`Connection`] driven by a
//! structured sequence of operations, checked against a reference model (STYLE.md §8).
//!
//! # Input
//!
//! [`ConnectionInput`] is read from the raw bytes by its own small format, every field from the
//! front, so that any byte string is some input and [`ConnectionInput::to_fuzz_bytes`] can write
//! the seeds of `examples/seeds.rs` by hand:
//!
//! ```text
//! input  := config op*                       (at most MAX_OPS ops; missing bytes read as 0)
//! config := flags u8, max_frame_size u16, max_message_size u16, max_fragments u8,
//!           max_send_frame_size u8, close_timeout_ms u16, keepalive_interval_ms u16,
//!           keepalive_timeout_ms u16, mask_seed u8, linger_timeout_ms u16,
//!           linger_max_bytes u16                                       (18 bytes, u16 little-endian)
//!           flags: 0x01 streaming, 0x02 auto_pong OFF, 0x04 deliver_control_frames,
//!           0x08 extension (RSV3, inverts Binary messages), 0x10 max_send_frame_size set,
//!           0x20 keepalive_interval set, 0x40 keepalive_timeout set
//! op     := tag u8 (tag % 16 picks the operation), then its fields:
//!   0  receive raw      chunk u8, hold u8, len u8, bytes
//!   1  receive frames   chunk u8, hold u8, count u8 (1 + count % 8 frames), frame*
//!   2  receive EOF      flags u8 (0x01: `receive_reset` instead: the transport failed)
//!   3  advance time     ms u16, flags u8 (0x01: do not call handle_timeout)
//!   4  advance to the deadline of poll_timeout, handle_timeout
//!   5  send_text        len u8, bytes (made UTF-8, lossily)
//!   6  send_binary      len u8, bytes
//!   7  send_ping        len u8, bytes
//!   8  send_pong        len u8, bytes
//!   9  close            code u16 (see `read_code`), len u8, reason bytes (lossy UTF-8)
//!   10 begin_message    kind u8 (odd: Text)
//!   11 send_fragment        last u8 (odd: last), len u8, bytes (raw: may be invalid UTF-8)
//!   12 mark_sent        count u16
//!   13 mark all sent
//!   14 send_message     kind u8 (0x01: Text, 0x02: the Bytes is a slice of a larger buffer),
//!                       byte u8, len u16: a `Message` of `len` bytes of the pattern
//!                       `byte + i + i / 251` (mod 256; `& 0x7F` for Text, so ASCII); `len` is
//!                       cut so that one input sends at most MAX_MESSAGE_BYTES this way
//!   15 mark_sent_vectored slots u8 (bits 0-1: 1 + slots % 4 slices; 0x04: compare with
//!                       `bytes_to_send` afterwards, which flattens), count u16
//! frame  := head u8, masking key [u8; 4], payload
//!           head: bits 0-2 opcode (FRAME_OPCODES), 0x08 not fin, 0x10 RSV3,
//!           bits 5-7: 6 = mask as the wrong role, 7 = raw (opcode and RSV bits from key[0])
//! payload:= kind u8 (% 4): 0 bytes (len u8, bytes), 1 text (len u8, bytes, lossy UTF-8),
//!           2 repeat (byte u8, len u16), 3 close body (code u16, len u8, reason, lossy UTF-8)
//! ```
//!
//! Received bytes go through a "network" buffer: each receive operation appends its bytes, then
//! delivers all but the last `hold` of them, in `receive` calls of `chunk` bytes (0: one call;
//! at most [`MAX_RECEIVES_PER_OP`] calls), so frames are cut anywhere, also across operations. Structured frames are masked (or not) as
//! the peer's role requires. Whatever is still held is delivered at the end.
//!
//! # Oracles
//!
//! Beyond "no panic":
//! - **Incoming, against a reference.** Every `receive` call is also fed to [`RefReceiver`]: the
//!   library's `ReferenceReassembler` (layer 1 in wire order: §5.2, §5.4, §8.1, the limits, the
//!   extension; the `reassembler` target proves the `Reassembler` the connection runs on equal to
//!   it) with the same configuration, plus layer 2's part: a Close body decoded with
//!   `CloseFrame::decode`, and nothing read after a Close or an error. The events of
//!   the call (Message, Ping, Pong; chunks of a streamed message joined into one message) equal
//!   the reference's; the call reports `Closed` exactly when the reference meets a Close frame
//!   or an error, with that Close's status or that very error. In streaming mode, at the end of
//!   every call the chunks delivered for the unfinished message are exactly the payload bytes
//!   received so far ("as they arrive"), and the chunks of one call carry no more bytes than the
//!   call's input.
//! - **Chunks** are consistent: offsets in the frame and message add up, `ends_frame`,
//!   `ends_message` and the kind agree; the Text of every message, and every prefix of a streamed
//!   one, is (a valid start of) UTF-8; no message is over `max_message_size`.
//! - **Events**: `Closed` at most once and last; its outcome is consistent (`clean` exactly when
//!   a Close was both sent and received; an error only on a local failure) and matches who did
//!   what: the peer's Close, a protocol error, EOF, the close timeout, the keepalive timeout.
//!   Commands never produce events.
//! - **Commands** succeed exactly when the connection is open (and, for whole messages, no
//!   message is being sent in parts; `send_message` exactly as `send_text`/`send_binary` of the
//!   same data), and fail with the documented error otherwise: a control payload over 125 bytes,
//!   an unsendable close code, a reason over 123 bytes, invalid UTF-8 in a Text part.
//! - **Output**: everything written (what `bytes_to_send` returned or the pieces of
//!   `bytes_to_send_vectored`, as far as `mark_sent` consumed them, then the rest at the end)
//!   decodes as whole, valid frames for the peer's role (masked from a client, unmasked from a
//!   server) with well-formed fragmentation, at most one Close with a valid body and after it
//!   nothing but Pongs (answering Pings that arrive while waiting for the peer's Close after
//!   `close()`); its data messages are exactly those the application sent (the extension's
//!   transform undone; `send_message` counts as `send_text`/`send_binary` of its payload), in
//!   frames no larger than `max_send_frame_size`; the Close written is the outcome's `sent`; the
//!   application's Pings and Pongs are there in order, other Pings are keepalives, other Pongs
//!   answer a Ping received, and the last Ping received while open is answered unless the
//!   connection failed or met EOF. Once `Closed` is reported, nothing more is queued.
//! - **Buffers**: `unsent_len() == bytes_to_send().len()` right after `bytes_to_send`, and right
//!   before it too until `Closed` (after it, only an upper bound: a Pong still pending then is
//!   counted, and dropped); `mark_sent(n)` removes exactly the first `n` bytes.
//! - **Pieces** (`bytes_to_send_vectored`, also used instead of `bytes_to_send` to measure the
//!   output once `Closed`, so as not to flatten it): no more pieces than slices, none empty; with
//!   enough slices they hold `unsent_len()` bytes (equal to it before the call as above), and a
//!   short call gives the first of those same pieces. Against a model: a server's `send_message`
//!   of [`SHARED_PAYLOAD_MIN`] bytes or more (no extension, one frame) grows `unsent_len` by
//!   exactly its header and payload, and until `bytes_to_send` flattens the output, that payload
//!   is a piece of its own at the address of the application's `Bytes` (no copy), with
//!   everything else in one piece between two such payloads, before the first and after the last
//!   (so `2k + 1` pieces for `k` of them; a client, or a small or transformed payload, adds no
//!   piece). `mark_sent(n)` of at most the pieces' total leaves the same pieces less their first
//!   `n` bytes; the bytes written are the first `n` of the pieces, and `bytes_to_send` after is
//!   the rest of them.
//! - **Time**: `handle_timeout(now)` before the deadline of `poll_timeout` changes nothing;
//!   after it, `poll_timeout` is `None` or later than `now` (unless a duration is 0, see
//!   [`FuzzConfig::zero_duration`]); `poll_timeout` is `None` when open without keepalive, never
//!   later than the close deadline while the closing handshake waits, and once closed it is the
//!   deadline of the transport's current phase (below); the close timeout fires.
//! - **Transport**: after every operation the harness asks `poll_transport(now)`, as the drive
//!   rule's step 3 does, and the answer (and then `poll_timeout`) equals [`TransportModel`]'s,
//!   the instruction sequence restated from the crate's documentation: `Open` until closed and
//!   while the last bytes are unsent (up to `close_timeout`); then a server, or a client after a
//!   failure, says `ShutdownWrite` and lingers (until EOF, `linger.timeout`, or more than
//!   `linger.max_bytes` discarded); a client after a clean closing handshake says `Open` while it
//!   waits up to `close_timeout` for the server's EOF (§7.1.1), then lingers; EOF before closing
//!   means `Close` once written (or at the flush deadline); a reset means `Close`; a close timeout
//!   lingers if our Close was written and closes at once if it was not. At the end, a connection
//!   that is not closed gets EOF, and then `Close` comes within a few deadlines.

use std::io::IoSlice;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use rfc6455::frame::{RSV1_BIT, RSV2_BIT, RSV3_BIT};
use rfc6455::handshake::extension::Extension;
use rfc6455::{
    CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, Connection, ConnectionError, DecodeOutput,
    DecodeRules, Decoded, Event, ExtensionCodec, Frame, FrameHeader, Incoming, Linger, Message,
    MessageFragment, MessageKind, MessageLimits, Opcode, ProtocolError, ReferenceReassembler, Role,
    SendError, Transport, Utf8Bytes,
};

/// Most operations read from one input.
pub const MAX_OPS: usize = 1024;

/// Most `receive` calls one receive operation makes (its chunks grow beyond that).
pub const MAX_RECEIVES_PER_OP: usize = 1024;

/// Most payload bytes the `send_message` operations of one input send together (their `len` is
/// cut to what is left), so that the checks of every operation, which copy what is unsent, stay
/// fast: four messages of 64 KiB - 1.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The payloads a server queues by reference in `send_message` (when sent as one frame, without
/// an extension) are at least this long; shorter ones are copied (the library's `output` module).
pub const SHARED_PAYLOAD_MIN: usize = 4096;

/// The opcodes of structured frames, by the low 3 bits of their head byte: continuations twice,
/// so that fragmented messages are common.
pub const FRAME_OPCODES: [Opcode; 8] = [
    Opcode::Text,
    Opcode::Binary,
    Opcode::Continuation,
    Opcode::Continuation,
    Opcode::Ping,
    Opcode::Pong,
    Opcode::Close,
    Opcode::Text,
];

// ------------------------------------------------------------------------------------------------
// The input.

/// The connection's [`Config`], as the fuzzer picks it: small limits, so that they are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzConfig {
    /// [`Config::streaming`].
    pub streaming: bool,
    /// [`Config::auto_pong`].
    pub auto_pong: bool,
    /// [`Config::deliver_control_frames`].
    pub deliver_control_frames: bool,
    /// Install [`Invert`], a toy extension on RSV3.
    pub extension: bool,
    /// [`MessageLimits::max_frame_size`].
    pub max_frame_size: u16,
    /// [`MessageLimits::max_message_size`].
    pub max_message_size: u16,
    /// [`MessageLimits::max_fragments`].
    pub max_fragments: u8,
    /// [`Config::max_send_frame_size`].
    pub max_send_frame_size: Option<u8>,
    /// [`Config::close_timeout`], in milliseconds.
    pub close_timeout_ms: u16,
    /// [`Config::keepalive_interval`], in milliseconds.
    pub keepalive_interval_ms: Option<u16>,
    /// [`Config::keepalive_timeout`], in milliseconds.
    pub keepalive_timeout_ms: Option<u16>,
    /// Seed of the client's masking keys (0: every key is `[0; 4]`).
    pub mask_seed: u8,
    /// [`Linger::timeout`], in milliseconds.
    pub linger_timeout_ms: u16,
    /// [`Linger::max_bytes`].
    pub linger_max_bytes: u16,
}

impl FuzzConfig {
    /// The library's configuration.
    pub fn to_config(&self) -> Config {
        Config {
            limits: MessageLimits {
                max_frame_size: u64::from(self.max_frame_size),
                max_message_size: u64::from(self.max_message_size),
                max_fragments: usize::from(self.max_fragments),
            },
            streaming: self.streaming,
            auto_pong: self.auto_pong,
            deliver_control_frames: self.deliver_control_frames,
            max_send_frame_size: self.max_send_frame_size.map(usize::from),
            close_timeout: millis(self.close_timeout_ms),
            linger: Linger {
                timeout: millis(self.linger_timeout_ms),
                max_bytes: usize::from(self.linger_max_bytes),
            },
            keepalive_interval: self.keepalive_interval_ms.map(millis),
            keepalive_timeout: self.keepalive_timeout_ms.map(millis),
        }
    }

    /// Whether keepalive runs with a zero interval or a zero timeout. Then `poll_timeout` may
    /// answer the very `now` just handled (a timer that fires at once, again and again), so the
    /// "later than now" oracle is not checked.
    pub fn zero_keepalive(&self) -> bool {
        match self.keepalive_interval_ms {
            Some(interval) => interval == 0 || self.keepalive_timeout_ms.unwrap_or(interval) == 0,
            None => false,
        }
    }

    /// Whether a duration is 0: a zero keepalive ([`FuzzConfig::zero_keepalive`]), close timeout
    /// or linger timeout. A phase that starts at `now` then ends at `now` too, so `poll_timeout`
    /// may answer the very `now` just handled and the "later than now" oracle is not checked.
    pub fn zero_duration(&self) -> bool {
        self.zero_keepalive() || self.close_timeout_ms == 0 || self.linger_timeout_ms == 0
    }

    fn read(reader: &mut Reader<'_>) -> FuzzConfig {
        let flags = reader.u8();
        let max_frame_size = reader.u16();
        let max_message_size = reader.u16();
        let max_fragments = reader.u8();
        let max_send_frame_size = reader.u8();
        let close_timeout_ms = reader.u16();
        let keepalive_interval_ms = reader.u16();
        let keepalive_timeout_ms = reader.u16();
        let mask_seed = reader.u8();
        let linger_timeout_ms = reader.u16();
        let linger_max_bytes = reader.u16();
        FuzzConfig {
            streaming: flags & 0x01 != 0,
            auto_pong: flags & 0x02 == 0,
            deliver_control_frames: flags & 0x04 != 0,
            extension: flags & 0x08 != 0,
            max_frame_size,
            max_message_size,
            max_fragments,
            max_send_frame_size: (flags & 0x10 != 0).then_some(max_send_frame_size),
            close_timeout_ms,
            keepalive_interval_ms: (flags & 0x20 != 0).then_some(keepalive_interval_ms),
            keepalive_timeout_ms: (flags & 0x40 != 0).then_some(keepalive_timeout_ms),
            mask_seed,
            linger_timeout_ms,
            linger_max_bytes,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let flags = u8::from(self.streaming)
            | if self.auto_pong { 0 } else { 0x02 }
            | if self.deliver_control_frames { 0x04 } else { 0 }
            | if self.extension { 0x08 } else { 0 }
            | if self.max_send_frame_size.is_some() { 0x10 } else { 0 }
            | if self.keepalive_interval_ms.is_some() { 0x20 } else { 0 }
            | if self.keepalive_timeout_ms.is_some() { 0x40 } else { 0 };
        out.push(flags);
        out.extend_from_slice(&self.max_frame_size.to_le_bytes());
        out.extend_from_slice(&self.max_message_size.to_le_bytes());
        out.push(self.max_fragments);
        out.push(self.max_send_frame_size.unwrap_or(0));
        out.extend_from_slice(&self.close_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.keepalive_interval_ms.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.keepalive_timeout_ms.unwrap_or(0).to_le_bytes());
        out.push(self.mask_seed);
        out.extend_from_slice(&self.linger_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.linger_max_bytes.to_le_bytes());
    }
}

impl Default for FuzzConfig {
    /// The library's defaults, with 64 KiB - 1 limits, a 1 s close timeout, and a lingering close
    /// of 500 ms and 64 KiB - 1.
    fn default() -> FuzzConfig {
        FuzzConfig {
            streaming: false,
            auto_pong: true,
            deliver_control_frames: false,
            extension: false,
            max_frame_size: u16::MAX,
            max_message_size: u16::MAX,
            max_fragments: u8::MAX,
            max_send_frame_size: None,
            close_timeout_ms: 1000,
            keepalive_interval_ms: None,
            keepalive_timeout_ms: None,
            mask_seed: 1,
            linger_timeout_ms: 500,
            linger_max_bytes: u16::MAX,
        }
    }
}

/// How the bytes of a receive operation reach the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Bytes per `receive` call; 0: everything in one call.
    pub chunk: u8,
    /// Bytes kept back in the network buffer, for the next receive operation.
    pub hold: u8,
}

/// What a structured frame does wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// Nothing: masked exactly when the peer is a client.
    None,
    /// Masked as the wrong role would.
    WrongMask,
    /// Opcode and RSV bits taken raw from the masking key's first byte (reserved opcodes...).
    Raw,
}

/// The payload of a structured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuzzPayload {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This text.
    Text(String),
    /// `len` times `byte`: large frames, to reach the limits.
    Repeat {
        /// The byte.
        byte: u8,
        /// How many.
        len: u16,
    },
    /// A Close body: the code, then the reason.
    Close {
        /// The code, as on the wire.
        code: u16,
        /// The reason.
        reason: String,
    },
}

impl FuzzPayload {
    /// The payload bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            FuzzPayload::Bytes(bytes) => bytes.clone(),
            FuzzPayload::Text(text) => text.as_bytes().to_vec(),
            FuzzPayload::Repeat { byte, len } => vec![*byte; usize::from(*len)],
            FuzzPayload::Close { code, reason } => {
                let mut body = code.to_be_bytes().to_vec();
                body.extend_from_slice(reason.as_bytes());
                body
            }
        }
    }

    /// Reads a `payload` of the module documentation's format.
    pub(crate) fn read(reader: &mut Reader<'_>) -> FuzzPayload {
        match reader.u8() % 4 {
            0 => FuzzPayload::Bytes(reader.bytes_u8().to_vec()),
            1 => FuzzPayload::Text(reader.text_u8()),
            2 => FuzzPayload::Repeat { byte: reader.u8(), len: reader.u16() },
            _ => FuzzPayload::Close { code: read_code(reader), reason: reader.text_u8() },
        }
    }

    /// Writes the bytes [`FuzzPayload::read`] reads back as `self`.
    ///
    /// # Panics
    ///
    /// If `Bytes` or `Text` holds more than 255 bytes (a length byte says how many).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            FuzzPayload::Bytes(bytes) => {
                out.push(0);
                write_bytes_u8(out, bytes);
            }
            FuzzPayload::Text(text) => {
                out.push(1);
                write_bytes_u8(out, text.as_bytes());
            }
            FuzzPayload::Repeat { byte, len } => {
                out.push(2);
                out.push(*byte);
                out.extend_from_slice(&len.to_le_bytes());
            }
            FuzzPayload::Close { code, reason } => {
                out.push(3);
                write_code(out, *code);
                write_bytes_u8(out, reason.as_bytes());
            }
        }
    }
}

/// A frame the peer sends, encoded with `rfc6455::encode_frame`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzFrame {
    /// The opcode (one of [`FRAME_OPCODES`]; ignored with [`Anomaly::Raw`]).
    pub opcode: Opcode,
    /// FIN.
    pub fin: bool,
    /// RSV3: the bit of the [`Invert`] extension.
    pub rsv3: bool,
    /// What it does wrong.
    pub anomaly: Anomaly,
    /// The masking key, when masked.
    pub key: [u8; 4],
    /// The payload.
    pub payload: FuzzPayload,
}

impl FuzzFrame {
    /// A valid frame: fin, no RSV bit, no anomaly, key `[0x37, 0xfa, 0x21, 0x3d]` (§5.7's).
    pub fn new(opcode: Opcode, payload: FuzzPayload) -> FuzzFrame {
        FuzzFrame {
            opcode,
            fin: true,
            rsv3: false,
            anomaly: Anomaly::None,
            key: [0x37, 0xfa, 0x21, 0x3d],
            payload,
        }
    }

    /// Appends the frame, as sent by the peer of a `role` endpoint, to `out`.
    pub fn encode(&self, role: Role, out: &mut BytesMut) {
        let payload = self.payload.bytes();
        let mut header = FrameHeader::new(self.fin, self.opcode, payload.len() as u64);
        header.rsv3 = self.rsv3;
        let mut masked = role == Role::Server;
        match self.anomaly {
            Anomaly::None => {}
            Anomaly::WrongMask => masked = !masked,
            Anomaly::Raw => {
                // Opcode::decode takes a whole first byte and looks at its low 4 bits.
                header.opcode = Opcode::decode(self.key[0]).unwrap_or(Opcode::Binary);
                let raw = self.key[0];
                header.rsv1 = raw & RSV1_BIT != 0;
                header.rsv2 = raw & RSV2_BIT != 0;
                header.rsv3 = raw & RSV3_BIT != 0;
            }
        }
        if masked {
            header.masking_key = Some(self.key);
        }
        let start = out.len();
        rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(&payload) }.encode(out);
        if self.anomaly == Anomaly::Raw && Opcode::decode(self.key[0]).is_err() {
            // A reserved opcode: no `Opcode` holds it, so patch the encoded byte.
            out[start] = (out[start] & 0xF0) | (self.key[0] & 0x0F);
        }
    }

    /// Reads a `frame` of the module documentation's format.
    pub(crate) fn read(reader: &mut Reader<'_>) -> FuzzFrame {
        let head = reader.u8();
        let key = [reader.u8(), reader.u8(), reader.u8(), reader.u8()];
        let payload = FuzzPayload::read(reader);
        FuzzFrame {
            opcode: FRAME_OPCODES[usize::from(head & 0x07)],
            fin: head & 0x08 == 0,
            rsv3: head & 0x10 != 0,
            anomaly: match head >> 5 {
                6 => Anomaly::WrongMask,
                7 => Anomaly::Raw,
                _ => Anomaly::None,
            },
            key,
            payload,
        }
    }

    /// Writes the bytes [`FuzzFrame::read`] reads back as `self`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let index =
            FRAME_OPCODES.iter().position(|opcode| *opcode == self.opcode).expect("opcode in the table");
        let anomaly = match self.anomaly {
            Anomaly::None => 0,
            Anomaly::WrongMask => 6,
            Anomaly::Raw => 7,
        };
        out.push(
            index as u8 | if self.fin { 0 } else { 0x08 } | if self.rsv3 { 0x10 } else { 0 } | anomaly << 5,
        );
        out.extend_from_slice(&self.key);
        self.payload.write(out);
    }
}

/// One operation on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Raw bytes from the peer.
    Receive {
        /// How they are delivered.
        delivery: Delivery,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Frames from the peer.
    ReceiveFrames {
        /// How they are delivered.
        delivery: Delivery,
        /// The frames.
        frames: Vec<FuzzFrame>,
    },
    /// The peer closed TCP (`receive_eof`), or the transport failed (`receive_reset`).
    ReceiveEof {
        /// `receive_reset` instead of `receive_eof`.
        reset: bool,
    },
    /// Time passes.
    AdvanceTime {
        /// By this many milliseconds.
        ms: u16,
        /// Then call `handle_timeout`.
        handle: bool,
    },
    /// Time jumps to `poll_timeout` (if later), then `handle_timeout`.
    AdvanceToDeadline,
    /// `send_text`.
    SendText(String),
    /// `send_binary`.
    SendBinary(Vec<u8>),
    /// `send_ping`.
    SendPing(Vec<u8>),
    /// `send_pong`.
    SendPong(Vec<u8>),
    /// `close`.
    Close {
        /// The code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// `begin_message`.
    BeginMessage(MessageKind),
    /// `send_fragment`.
    SendPart {
        /// The part.
        data: Vec<u8>,
        /// Whether it ends the message.
        last: bool,
    },
    /// The transport takes this many bytes (`mark_sent` gets the number as it is).
    MarkSent(u16),
    /// The transport takes everything.
    MarkAllSent,
    /// `send_message` of a [`Message`] built from a pattern (see [`Op::message_data`]).
    SendMessage {
        /// Text or Binary.
        kind: MessageKind,
        /// The message's `Bytes` is a slice, one byte into a larger buffer.
        sliced: bool,
        /// The pattern's first byte.
        byte: u8,
        /// The payload's length.
        len: u16,
    },
    /// `bytes_to_send_vectored` into `slices` slices; the transport takes at most `count` bytes
    /// of the pieces.
    MarkSentVectored {
        /// 1 to 4.
        slices: u8,
        /// Then check the rest against `bytes_to_send` (which flattens the output).
        flatten: bool,
        /// Bytes written, at most the pieces' total.
        count: u16,
    },
}

impl Op {
    /// The payload of a [`Op::SendMessage`]: `byte + i + i / 251` (mod 256) for byte `i`, made
    /// ASCII for Text. (Not one repeated byte: a piece written twice, or out of place, shows.)
    pub fn message_data(kind: MessageKind, byte: u8, len: u16) -> Vec<u8> {
        let mask = if kind == MessageKind::Text { 0x7F } else { 0xFF };
        (0..usize::from(len)).map(|i| (usize::from(byte) + i + i / 251) as u8 & mask).collect()
    }

    fn read(reader: &mut Reader<'_>) -> Op {
        match reader.u8() % 16 {
            0 => Op::Receive { delivery: read_delivery(reader), bytes: reader.bytes_u8().to_vec() },
            1 => {
                let delivery = read_delivery(reader);
                let count = 1 + reader.u8() % 8;
                let frames = (0..count).map(|_| FuzzFrame::read(reader)).collect();
                Op::ReceiveFrames { delivery, frames }
            }
            2 => Op::ReceiveEof { reset: reader.u8() & 0x01 != 0 },
            3 => Op::AdvanceTime { ms: reader.u16(), handle: reader.u8() & 0x01 == 0 },
            4 => Op::AdvanceToDeadline,
            5 => Op::SendText(reader.text_u8()),
            6 => Op::SendBinary(reader.bytes_u8().to_vec()),
            7 => Op::SendPing(reader.bytes_u8().to_vec()),
            8 => Op::SendPong(reader.bytes_u8().to_vec()),
            9 => Op::Close { code: read_code(reader), reason: reader.text_u8() },
            10 => {
                Op::BeginMessage(if reader.u8() & 1 == 1 { MessageKind::Text } else { MessageKind::Binary })
            }
            11 => {
                let last = reader.u8() & 1 == 1;
                Op::SendPart { data: reader.bytes_u8().to_vec(), last }
            }
            12 => Op::MarkSent(reader.u16()),
            13 => Op::MarkAllSent,
            14 => {
                let flags = reader.u8();
                let byte = reader.u8();
                let len = reader.u16().min(u16::try_from(reader.message_budget).unwrap_or(u16::MAX));
                reader.message_budget -= usize::from(len);
                Op::SendMessage {
                    kind: if flags & 1 == 1 { MessageKind::Text } else { MessageKind::Binary },
                    sliced: flags & 2 != 0,
                    byte,
                    len,
                }
            }
            _ => {
                let slots = reader.u8();
                Op::MarkSentVectored {
                    slices: 1 + slots % 4,
                    flatten: slots & 0x04 != 0,
                    count: reader.u16(),
                }
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Op::Receive { delivery, bytes } => {
                out.extend_from_slice(&[0, delivery.chunk, delivery.hold]);
                write_bytes_u8(out, bytes);
            }
            Op::ReceiveFrames { delivery, frames } => {
                assert!((1..=8).contains(&frames.len()), "1 to 8 frames per operation");
                out.extend_from_slice(&[1, delivery.chunk, delivery.hold, frames.len() as u8 - 1]);
                for frame in frames {
                    frame.write(out);
                }
            }
            Op::ReceiveEof { reset } => out.extend_from_slice(&[2, u8::from(*reset)]),
            Op::AdvanceTime { ms, handle } => {
                out.push(3);
                out.extend_from_slice(&ms.to_le_bytes());
                out.push(u8::from(!handle));
            }
            Op::AdvanceToDeadline => out.push(4),
            Op::SendText(text) => {
                out.push(5);
                write_bytes_u8(out, text.as_bytes());
            }
            Op::SendBinary(bytes) => {
                out.push(6);
                write_bytes_u8(out, bytes);
            }
            Op::SendPing(bytes) => {
                out.push(7);
                write_bytes_u8(out, bytes);
            }
            Op::SendPong(bytes) => {
                out.push(8);
                write_bytes_u8(out, bytes);
            }
            Op::Close { code, reason } => {
                out.push(9);
                write_code(out, *code);
                write_bytes_u8(out, reason.as_bytes());
            }
            Op::BeginMessage(kind) => out.extend_from_slice(&[10, u8::from(*kind == MessageKind::Text)]),
            Op::SendPart { data, last } => {
                out.extend_from_slice(&[11, u8::from(*last)]);
                write_bytes_u8(out, data);
            }
            Op::MarkSent(count) => {
                out.push(12);
                out.extend_from_slice(&count.to_le_bytes());
            }
            Op::MarkAllSent => out.push(13),
            Op::SendMessage { kind, sliced, byte, len } => {
                let flags = u8::from(*kind == MessageKind::Text) | if *sliced { 0x02 } else { 0 };
                out.extend_from_slice(&[14, flags, *byte]);
                out.extend_from_slice(&len.to_le_bytes());
            }
            Op::MarkSentVectored { slices, flatten, count } => {
                assert!((1..=4).contains(slices), "1 to 4 slices");
                out.extend_from_slice(&[15, (slices - 1) | if *flatten { 0x04 } else { 0 }]);
                out.extend_from_slice(&count.to_le_bytes());
            }
        }
    }
}

/// Input of `connection_server` and `connection_client`: a configuration, then operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInput {
    /// The configuration.
    pub config: FuzzConfig,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

impl ConnectionInput {
    /// Reads an input from any bytes (see the module documentation for the format).
    pub fn parse(bytes: &[u8]) -> ConnectionInput {
        let mut reader = Reader::new(bytes);
        let config = FuzzConfig::read(&mut reader);
        let mut ops = Vec::new();
        while !reader.is_empty() && ops.len() < MAX_OPS {
            ops.push(Op::read(&mut reader));
        }
        ConnectionInput { config, ops }
    }

    /// The bytes [`ConnectionInput::parse`] reads back as `self`.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.config.write(&mut out);
        for op in &self.ops {
            op.write(&mut out);
        }
        out
    }
}

impl<'a> Arbitrary<'a> for ConnectionInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let bytes = u.bytes(u.len())?;
        Ok(ConnectionInput::parse(bytes))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ConnectionInput::parse(u.take_rest()))
    }
}

/// Reads fields from the front; past the end, every number is 0 and every byte string empty.
/// The `reassembler` target reads its frames with it too, and the handshake and
/// `connection_deflate` targets their inputs.
pub struct Reader<'a> {
    data: &'a [u8],
    /// What the `send_message` operations may still send, of [`MAX_MESSAGE_BYTES`].
    message_budget: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, message_budget: MAX_MESSAGE_BYTES }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&byte, rest)) => {
                self.data = rest;
                byte
            }
            None => 0,
        }
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A length byte, then that many bytes (fewer if the input ends).
    pub fn bytes_u8(&mut self) -> &'a [u8] {
        let len = usize::from(self.u8()).min(self.data.len());
        let (bytes, rest) = self.data.split_at(len);
        self.data = rest;
        bytes
    }

    /// A two-byte length (little-endian), then that many bytes (fewer if the input ends).
    pub fn bytes_u16(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16()).min(self.data.len());
        let (bytes, rest) = self.data.split_at(len);
        self.data = rest;
        bytes
    }

    /// [`Reader::bytes_u8`], as text (invalid UTF-8 replaced).
    pub fn text_u8(&mut self) -> String {
        String::from_utf8_lossy(self.bytes_u8()).into_owned()
    }
}

fn read_delivery(reader: &mut Reader<'_>) -> Delivery {
    Delivery { chunk: reader.u8(), hold: reader.u8() }
}

/// A close code from 2 bytes: without the top bit, 1000 + the value % 16 (the codes of §7.4.1,
/// sendable or not); with it, the other 15 bits as they are.
fn read_code(reader: &mut Reader<'_>) -> u16 {
    let raw = reader.u16();
    if raw & 0x8000 == 0 {
        1000 + raw % 16
    } else {
        raw & 0x7FFF
    }
}

fn write_code(out: &mut Vec<u8>, code: u16) {
    let raw = if (1000..1016).contains(&code) {
        code - 1000
    } else {
        assert!(code < 0x8000, "close code {code} cannot be written");
        code | 0x8000
    };
    out.extend_from_slice(&raw.to_le_bytes());
}

/// Writes what [`Reader::bytes_u8`] reads back as `bytes`.
///
/// # Panics
///
/// If `bytes` is longer than 255.
pub(crate) fn write_bytes_u8(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).expect("at most 255 bytes");
    out.push(len);
    out.extend_from_slice(bytes);
}

fn millis(ms: u16) -> Duration {
    Duration::from_millis(u64::from(ms))
}

// ------------------------------------------------------------------------------------------------
// The toy extension.

/// A toy extension on RSV3: it inverts every bit of the Binary messages it sends and of the
/// messages it receives with RSV3. It keeps lengths, so chunk offsets stay comparable.
#[derive(Debug, Default)]
pub struct Invert;

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
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        output.extend_from_slice(&input.iter().map(|byte| !byte).collect::<Vec<u8>>())
    }

    fn encode(&mut self, kind: MessageKind, input: &[u8], _fin: bool, output: &mut BytesMut) -> u8 {
        if kind == MessageKind::Text {
            return 0;
        }
        append_inverted(input, output);
        RSV3_BIT
    }
}

/// Appends `input` with every bit inverted: copied, then inverted in place (a loop the compiler
/// vectorizes, where pushing byte by byte is slow on 64 KiB payloads under the sanitizer).
fn append_inverted(input: &[u8], output: &mut BytesMut) {
    let start = output.len();
    output.extend_from_slice(input);
    invert(&mut output[start..]);
}

fn invert(bytes: &mut [u8]) {
    for byte in bytes {
        *byte = !*byte;
    }
}

/// Whether `bytes` can start valid UTF-8 (it is valid, or ends inside a code point that may
/// still be).
fn is_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none(),
    }
}

/// §7.4: the codes an endpoint may put in a Close frame.
fn is_sendable_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Incremental UTF-8 checking of a growing byte string, from the last complete code point on, so
/// that checking after every byte stays linear (UTF-8 resynchronises at code point boundaries).
#[derive(Debug, Default)]
struct Utf8Check {
    /// Bytes known to be whole, valid code points.
    checked: usize,
}

impl Utf8Check {
    /// Whether `data` (which extends what was checked before) is valid UTF-8, or, if not
    /// `complete`, a valid start of it.
    fn check(&mut self, data: &[u8], complete: bool) -> bool {
        match std::str::from_utf8(&data[self.checked..]) {
            Ok(_) => self.checked = data.len(),
            Err(error) if error.error_len().is_none() => self.checked += error.valid_up_to(),
            Err(_) => return false,
        }
        !complete || self.checked == data.len()
    }
}

// ------------------------------------------------------------------------------------------------
// The reference receiver.

/// What the reference decodes from the bytes received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefItem {
    /// A whole data message.
    Message(MessageKind, Vec<u8>),
    /// A Ping and its payload.
    Ping(Vec<u8>),
    /// A Pong and its payload.
    Pong(Vec<u8>),
    /// A valid Close frame (`None`: empty body). Nothing after it is read.
    Close(Option<CloseFrame>),
    /// The peer broke the protocol. Nothing after it is read.
    Error(ProtocolError),
}

/// What a receiver makes of a byte stream, for the oracles: layer 1 (§5.2 framing, §5.4
/// fragmentation, the limits, §8.1 UTF-8 failing at the first byte that cannot be valid, the
/// extension) is [`ReferenceReassembler`], the library's executable spec in wire order, which
/// the `reassembler` target proves equal to the `Reassembler` a [`Connection`] runs on. Only
/// layer 2's part is here: a Close body decoded (§5.5.1, §7.4), and nothing read after a Close
/// or an error.
#[derive(Debug)]
pub struct RefReceiver {
    layer1: ReferenceReassembler,
    /// The unfinished message's data so far (streaming mode): its chunks joined.
    partial: Vec<u8>,
    done: bool,
}

impl RefReceiver {
    /// A receiver for an endpoint of `role`, with the connection's limits, mode and extension.
    pub fn new(role: Role, config: &FuzzConfig) -> RefReceiver {
        let mut layer1 = ReferenceReassembler::with_limits(role, config.to_config().limits);
        layer1.set_streaming(config.streaming);
        if config.extension {
            layer1.set_extension(Box::new(Invert));
        }
        RefReceiver { layer1, partial: Vec::new(), done: false }
    }

    /// Takes bytes; returns every item they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<RefItem> {
        let mut items = Vec::new();
        if self.done {
            return items;
        }
        self.layer1.receive(bytes);
        while !self.done {
            let item = match self.layer1.poll() {
                Ok(None) => break,
                Ok(Some(incoming)) => self.item(incoming),
                Err(error) => Some(RefItem::Error(error)),
            };
            if let Some(item) = item {
                self.done = matches!(item, RefItem::Close(_) | RefItem::Error(_));
                items.push(item);
            }
        }
        items
    }

    /// In streaming mode, the data of the unfinished message received so far: its finished
    /// frames and the bytes of its current frame that arrived (every chunk the reference handed
    /// over for it). Meaningless once failed.
    pub fn partial_data(&self) -> &[u8] {
        &self.partial
    }

    /// Layer 2's view of a layer 1 item; `None` for a chunk that does not end its message.
    fn item(&mut self, incoming: Incoming) -> Option<RefItem> {
        match incoming {
            Incoming::Message(message) => Some(RefItem::Message(message.kind(), message.payload().to_vec())),
            Incoming::Fragment(chunk) => {
                self.partial.extend_from_slice(&chunk.data);
                chunk.ends_message.then(|| RefItem::Message(chunk.kind, std::mem::take(&mut self.partial)))
            }
            Incoming::Control(frame) => Some(match frame.header.opcode {
                Opcode::Ping => RefItem::Ping(frame.payload.to_vec()),
                Opcode::Pong => RefItem::Pong(frame.payload.to_vec()),
                Opcode::Close => match CloseFrame::decode(&frame.payload) {
                    Ok(close) => RefItem::Close(close),
                    Err(error) => RefItem::Error(error),
                },
                other => panic!("layer 1 handed over a {other:?} frame as a control frame"),
            }),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The harness.

/// Events as compared with the reference: streamed chunks joined into their message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Norm {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// The message being streamed to the application, from its chunks so far.
#[derive(Debug, Default)]
struct Streamed {
    message: Option<(MessageKind, Vec<u8>)>,
    utf8: Utf8Check,
    /// Within a frame: the offset the next chunk must have and the frame's length.
    frame: Option<(u64, u64)>,
    /// Bytes of the unfinished message already compared with the reference.
    compared: usize,
}

impl Streamed {
    /// Checks a chunk against the previous ones; the whole message when it ends.
    fn push(&mut self, chunk: &MessageFragment) -> Option<(MessageKind, Vec<u8>)> {
        let (kind, data) = self.message.get_or_insert_with(|| (chunk.kind, Vec::new()));
        assert_eq!(chunk.kind, *kind, "chunk kind changed inside a message");
        assert_eq!(chunk.message_offset, data.len() as u64, "message_offset");
        match self.frame {
            Some((offset, len)) => {
                assert_eq!(chunk.frame_offset, offset, "frame_offset");
                assert_eq!(chunk.frame_len, len, "frame_len changed inside a frame");
            }
            None => assert_eq!(chunk.frame_offset, 0, "first chunk of a frame with an offset"),
        }
        let end = chunk.frame_offset + chunk.data.len() as u64;
        assert!(end <= chunk.frame_len, "chunk beyond its frame: {chunk:?}");
        assert_eq!(chunk.ends_frame, end == chunk.frame_len, "ends_frame: {chunk:?}");
        assert!(!chunk.ends_message || chunk.ends_frame, "ends the message but not the frame");
        assert!(!chunk.data.is_empty() || chunk.ends_message, "empty chunk that ends nothing");
        data.extend_from_slice(&chunk.data);
        if *kind == MessageKind::Text {
            assert!(self.utf8.check(data, chunk.ends_message), "streamed Text is not UTF-8: {data:?}");
        }
        self.frame = if chunk.ends_frame { None } else { Some((end, chunk.frame_len)) };
        if chunk.ends_message {
            self.utf8 = Utf8Check::default();
            self.compared = 0;
            self.message.take()
        } else {
            None
        }
    }

    /// Checks the unfinished message streamed so far is `expected`, comparing only the bytes
    /// not compared before.
    fn check_partial(&mut self, expected: &[u8]) {
        let data = self.message.as_ref().map_or(&[][..], |(_, data)| data);
        assert_eq!(
            data.len(),
            expected.len(),
            "streamed {} bytes of {} received",
            data.len(),
            expected.len()
        );
        assert_eq!(
            data[self.compared..],
            expected[self.compared..],
            "streamed data differs from the received"
        );
        self.compared = data.len();
    }
}

/// A data message the application sent: kind, data, whether its last part was sent.
type Sent = (MessageKind, Vec<u8>, bool);

/// A payload a server queued by reference ([`SHARED_PAYLOAD_MIN`]) and that has not been
/// flattened by `bytes_to_send` since.
#[derive(Debug)]
struct SharedPayload {
    /// Where it starts in the output stream (bytes written before it, sent or not).
    start: usize,
    /// The application's `Bytes` (a clone: the same memory).
    bytes: Bytes,
}

/// A piece of `bytes_to_send_vectored`: its address, its length and (if asked for) its bytes.
type Piece = (usize, usize, Vec<u8>);

/// What a run did, for the seeds program to check its seeds do what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The `Closed` outcome, if reported.
    pub outcome: Option<CloseOutcome>,
    /// Messages received (streamed ones counted once, when they end).
    pub messages_received: usize,
    /// Frames written, by opcode.
    pub frames_sent: Vec<Opcode>,
    /// Whether the connection was closed at the end.
    pub closed: bool,
}

/// What follows the flushing of the last bytes, in [`TransportModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFlushModel {
    /// Shut down writing and linger.
    Linger,
    /// A client after a clean closing handshake: wait for the server's EOF (§7.1.1).
    AwaitEof,
    /// The peer already closed: close.
    Close,
}

/// The transport instruction sequence of the crate's documentation (`transport` and `connection`
/// modules, `Config::close_timeout`, `Config::linger`), restated independently of the library's
/// `Teardown` for the oracle of `poll_transport` and `poll_timeout` once closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportModel {
    /// The WebSocket connection is not closed: `Open`.
    Connected,
    /// Closed; the last bytes are written until `deadline` (`Open` while any is unsent).
    Flushing {
        /// The peer must have taken them by then.
        deadline: Instant,
        /// Once they are written.
        then: AfterFlushModel,
    },
    /// A client waits for the server's EOF until `deadline`: `Open`.
    AwaitingEof {
        /// Then the client lingers itself.
        deadline: Instant,
    },
    /// `ShutdownWrite`: reading and discarding until EOF, `deadline` or too many bytes.
    Lingering {
        /// The linger's end.
        deadline: Instant,
        /// Bytes read and discarded so far.
        discarded: usize,
    },
    /// `Close`.
    Done,
}

impl TransportModel {
    /// The model once the connection reports `outcome` at `now` (for `role`, with `config`,
    /// `unsent` bytes still to write).
    fn closed(outcome: &CloseOutcome, role: Role, config: &FuzzConfig, now: Instant, unsent: usize) -> Self {
        let flush = |then| TransportModel::Flushing { deadline: now + millis(config.close_timeout_ms), then };
        match &outcome.error {
            // The peer did not answer our Close: linger if it took it, else close at once (the
            // comment at the close timeout in `Connection::handle_timeout`).
            Some(ConnectionError::CloseTimeout) if unsent > 0 => TransportModel::Done,
            Some(ConnectionError::CloseTimeout) => TransportModel::linger(now, config),
            // §7.1.7: the Close of a failure must arrive: flush, then linger.
            Some(_) => flush(AfterFlushModel::Linger),
            // §7.1.1: the server closes TCP first; the client waits for it.
            None if outcome.clean => flush(match role {
                Role::Server => AfterFlushModel::Linger,
                Role::Client => AfterFlushModel::AwaitEof,
            }),
            // EOF (or a reset) before the closing handshake completed.
            None => flush(AfterFlushModel::Close),
        }
    }

    fn linger(now: Instant, config: &FuzzConfig) -> Self {
        TransportModel::Lingering { deadline: now + millis(config.linger_timeout_ms), discarded: 0 }
    }

    /// The instruction at `now` with `unsent` bytes to write, moving on once they are written.
    fn poll(&mut self, now: Instant, unsent: usize, config: &FuzzConfig) -> Transport {
        self.advance(now, unsent, config);
        match self {
            TransportModel::Connected
            | TransportModel::Flushing { .. }
            | TransportModel::AwaitingEof { .. } => Transport::Open,
            TransportModel::Lingering { .. } => Transport::ShutdownWrite,
            TransportModel::Done => Transport::Close,
        }
    }

    /// The deadline of the phase, once closed.
    fn deadline(&self) -> Option<Instant> {
        match *self {
            TransportModel::Flushing { deadline, .. }
            | TransportModel::AwaitingEof { deadline }
            | TransportModel::Lingering { deadline, .. } => Some(deadline),
            TransportModel::Connected | TransportModel::Done => None,
        }
    }

    /// Flushing ends once nothing is unsent, whichever of `poll` and `handle_timeout` sees it.
    fn advance(&mut self, now: Instant, unsent: usize, config: &FuzzConfig) {
        if let TransportModel::Flushing { then, .. } = *self {
            if unsent == 0 {
                *self = match then {
                    AfterFlushModel::Linger => TransportModel::linger(now, config),
                    AfterFlushModel::AwaitEof => {
                        TransportModel::AwaitingEof { deadline: now + millis(config.close_timeout_ms) }
                    }
                    AfterFlushModel::Close => TransportModel::Done,
                };
            }
        }
    }

    /// Time passed, with `unsent` bytes still to write.
    fn handle_timeout(&mut self, now: Instant, unsent: usize, config: &FuzzConfig) {
        self.advance(now, unsent, config);
        match *self {
            TransportModel::Flushing { deadline, .. } | TransportModel::Lingering { deadline, .. }
                if now >= deadline =>
            {
                *self = TransportModel::Done
            }
            TransportModel::AwaitingEof { deadline } if now >= deadline => {
                *self = TransportModel::linger(now, config)
            }
            _ => {}
        }
    }

    /// `count` bytes arrived after closing.
    fn receive(&mut self, count: usize, config: &FuzzConfig) {
        if let TransportModel::Lingering { discarded, .. } = self {
            *discarded += count;
            if *discarded > usize::from(config.linger_max_bytes) {
                *self = TransportModel::Done;
            }
        }
    }

    /// EOF after closing: what is unsent is still flushed (the peer may read), then close.
    fn receive_eof(&mut self) {
        match self {
            TransportModel::Flushing { then, .. } => *then = AfterFlushModel::Close,
            TransportModel::Connected => {}
            _ => *self = TransportModel::Done,
        }
    }
}

struct Harness {
    role: Role,
    fuzz: FuzzConfig,
    conn: Connection,
    now: Instant,
    /// Bytes held back in the network.
    network: Vec<u8>,
    /// Bytes written to the transport.
    wire: Vec<u8>,
    reference: RefReceiver,
    streamed: Streamed,
    outcome: Option<CloseOutcome>,
    /// Bytes written and queued when `Closed` was reported.
    queued_at_close: Option<usize>,
    /// Whether unsent output was dropped (the transport was to be closed before it was written).
    dropped: bool,
    /// The most bytes written and queued seen so far: less later means output was dropped.
    produced: usize,
    messages_received: usize,
    // What the application did.
    sent: Vec<Sent>,
    /// The message begun with `begin_message`: its kind, and whether a part of it was sent (it
    /// is then the last of `sent`).
    in_progress: Option<(MessageKind, bool)>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    close: Option<CloseFrame>,
    close_deadline: Option<Instant>,
    /// What `poll_transport` must answer.
    transport: TransportModel,
    /// Payloads of the Pings received, and of the last one received while open.
    pings_received: Vec<Vec<u8>>,
    last_open_ping: Option<Vec<u8>>,
    eof: bool,
    /// The payloads queued by reference, not flattened since: the model of the pieces of
    /// `bytes_to_send_vectored`.
    shared: Vec<SharedPayload>,
}

/// Runs `input` on a connection of `role`, checking every oracle of the module documentation.
///
/// # Panics
///
/// When an oracle fails.
pub fn run(role: Role, input: &ConnectionInput) -> Report {
    let now = Instant::now();
    let fuzz = input.config.clone();
    let mut conn = Connection::new(role, fuzz.to_config(), now);
    if role == Role::Client {
        // A linear congruential generator: deterministic, so that a crash reproduces. Seed 0
        // gives all-zero keys (still masked: the MASK bit is set).
        let seed = fuzz.mask_seed;
        let mut state = u32::from(seed);
        let random = move |bytes: &mut [u8]| {
            for byte in bytes {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *byte = if seed == 0 { 0 } else { (state >> 16) as u8 };
            }
        };
        conn = conn.with_random(Box::new(random));
    }
    if fuzz.extension {
        conn = conn.with_extension(Box::new(Invert));
    }
    let mut harness = Harness {
        role,
        reference: RefReceiver::new(role, &fuzz),
        fuzz,
        conn,
        now,
        network: Vec::new(),
        wire: Vec::new(),
        streamed: Streamed::default(),
        outcome: None,
        queued_at_close: None,
        dropped: false,
        produced: 0,
        messages_received: 0,
        sent: Vec::new(),
        in_progress: None,
        pings: Vec::new(),
        pongs: Vec::new(),
        close: None,
        close_deadline: None,
        transport: TransportModel::Connected,
        pings_received: Vec::new(),
        last_open_ping: None,
        eof: false,
        shared: Vec::new(),
    };
    for op in &input.ops {
        harness.apply(op);
        harness.check_state();
    }
    harness.finish()
}

impl Harness {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Receive { delivery, bytes } => self.deliver(*delivery, bytes),
            Op::ReceiveFrames { delivery, frames } => {
                let mut bytes = BytesMut::new();
                for frame in frames {
                    frame.encode(self.role, &mut bytes);
                }
                self.deliver(*delivery, &bytes);
            }
            Op::ReceiveEof { reset } => self.receive_eof(*reset),
            Op::AdvanceTime { ms, handle } => {
                self.now += millis(*ms);
                if *handle {
                    self.handle_timeout();
                }
            }
            Op::AdvanceToDeadline => {
                if let Some(deadline) = self.conn.poll_timeout() {
                    self.now = self.now.max(deadline);
                }
                self.handle_timeout();
            }
            Op::SendText(text) => {
                let expected = self.expected_whole_send();
                let result = self.conn.send_text(text);
                assert_eq!(result, expected, "send_text");
                if result.is_ok() {
                    self.sent.push((MessageKind::Text, text.as_bytes().to_vec(), true));
                }
            }
            Op::SendBinary(data) => {
                let expected = self.expected_whole_send();
                let result = self.conn.send_binary(data);
                assert_eq!(result, expected, "send_binary");
                if result.is_ok() {
                    self.sent.push((MessageKind::Binary, data.clone(), true));
                }
            }
            Op::SendPing(payload) => {
                let expected = self.expected_control(payload);
                let result = self.conn.send_ping(payload);
                assert_eq!(result, expected, "send_ping");
                if result.is_ok() {
                    self.pings.push(payload.clone());
                }
            }
            Op::SendPong(payload) => {
                let expected = self.expected_control(payload);
                let result = self.conn.send_pong(payload);
                assert_eq!(result, expected, "send_pong");
                if result.is_ok() {
                    self.pongs.push(payload.clone());
                }
            }
            Op::Close { code, reason } => {
                let expected = if !is_sendable_code(*code) {
                    Err(SendError::UnsendableCloseCode(CloseCode(*code)))
                } else if reason.len() > 123 {
                    Err(SendError::CloseReasonTooLong(reason.len()))
                } else if !self.conn.is_open() {
                    Err(SendError::Closing)
                } else {
                    Ok(())
                };
                let result = self.conn.close(self.now, CloseCode(*code), reason);
                assert_eq!(result, expected, "close");
                if result.is_ok() {
                    self.close = Some(CloseFrame { code: CloseCode(*code), reason: reason.clone() });
                    self.close_deadline = Some(self.now + millis(self.fuzz.close_timeout_ms));
                    assert!(!self.conn.is_open() && !self.conn.is_closed(), "close() did not start closing");
                }
            }
            Op::BeginMessage(kind) => {
                let expected = self.expected_whole_send();
                let result = self.conn.begin_message(*kind);
                assert_eq!(result, expected, "begin_message");
                if result.is_ok() {
                    // Nothing is written before the first part.
                    self.in_progress = Some((*kind, false));
                }
            }
            Op::SendPart { data, last } => {
                let expected = match self.in_progress {
                    _ if !self.conn.is_open() => Err(SendError::Closing),
                    None => Err(SendError::NoMessageInProgress),
                    Some((kind, started)) => {
                        let mut text =
                            if started { self.sent.last().expect("started").1.clone() } else { Vec::new() };
                        text.extend_from_slice(data);
                        let valid = kind == MessageKind::Binary
                            || if *last { std::str::from_utf8(&text).is_ok() } else { is_utf8_prefix(&text) };
                        if valid {
                            Ok(())
                        } else {
                            Err(SendError::InvalidUtf8)
                        }
                    }
                };
                let result = self.conn.send_fragment(data, *last);
                assert_eq!(result, expected, "send_fragment");
                if let (Ok(()), Some((kind, started))) = (&result, self.in_progress) {
                    if !started {
                        self.sent.push((kind, Vec::new(), false));
                    }
                    let message = self.sent.last_mut().expect("pushed");
                    message.1.extend_from_slice(data);
                    message.2 = *last;
                    self.in_progress = if *last { None } else { Some((kind, true)) };
                }
            }
            Op::MarkSent(count) => self.mark_sent(usize::from(*count)),
            Op::MarkAllSent => self.mark_sent(usize::MAX),
            Op::SendMessage { kind, sliced, byte, len } => self.send_message(*kind, *sliced, *byte, *len),
            Op::MarkSentVectored { slices, flatten, count } => {
                self.mark_sent_vectored(usize::from(*slices), *flatten, usize::from(*count))
            }
        }
        if !matches!(
            op,
            Op::Receive { .. }
                | Op::ReceiveFrames { .. }
                | Op::ReceiveEof { .. }
                | Op::AdvanceTime { .. }
                | Op::AdvanceToDeadline
        ) {
            assert_eq!(self.conn.poll_event(), None, "{op:?} produced an event");
        }
    }

    fn expected_whole_send(&self) -> Result<(), SendError> {
        if !self.conn.is_open() {
            Err(SendError::Closing)
        } else if self.in_progress.is_some() {
            Err(SendError::MessageInProgress)
        } else {
            Ok(())
        }
    }

    fn expected_control(&self, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > 125 {
            Err(SendError::ControlPayloadTooLong(payload.len()))
        } else if !self.conn.is_open() {
            Err(SendError::Closing)
        } else {
            Ok(())
        }
    }

    /// The network: append, then deliver all but `hold` bytes in chunks.
    fn deliver(&mut self, delivery: Delivery, bytes: &[u8]) {
        self.network.extend_from_slice(bytes);
        let keep = usize::from(delivery.hold).min(self.network.len());
        let ready: Vec<u8> = self.network.drain(..self.network.len() - keep).collect();
        if delivery.chunk == 0 || ready.is_empty() {
            self.receive(&ready);
        } else {
            // At most MAX_RECEIVES_PER_OP calls, so that a large frame in 1-byte reads does not
            // take all the fuzzer's time.
            let chunk = usize::from(delivery.chunk).max(ready.len().div_ceil(MAX_RECEIVES_PER_OP));
            for chunk in ready.chunks(chunk) {
                self.receive(chunk);
            }
        }
    }

    /// Drains the events, checking `Closed` is reported once and last.
    fn drain(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            assert!(self.outcome.is_none(), "event after Closed: {event:?}");
            if let Event::Closed(outcome) = &event {
                check_outcome(outcome);
                self.outcome = Some(outcome.clone());
                assert_eq!(self.transport, TransportModel::Connected, "Closed twice");
                // What was unsent when it closed: still queued, or just dropped (a close timeout
                // with our Close never taken closes at once, dropping it).
                let unsent = self.conn.unsent_len().max(self.produced.saturating_sub(self.wire.len()));
                self.transport = TransportModel::closed(outcome, self.role, &self.fuzz, self.now, unsent);
                // Without flattening the output: the pieces a server queued stay pieces.
                let queued = self.queued_len();
                self.queued_at_close = Some(self.wire.len() + queued);
            }
            events.push(event);
        }
        events
    }

    fn receive(&mut self, bytes: &[u8]) {
        let reported_before = self.outcome.is_some();
        let open_before = self.conn.is_open();
        let items = if reported_before { Vec::new() } else { self.reference.feed(bytes) };
        if self.conn.is_closed() {
            // Read and discarded, counted while lingering.
            self.transport.receive(bytes.len(), &self.fuzz);
        }
        self.conn.receive(self.now, bytes);
        let events = self.drain();
        if reported_before {
            assert!(events.is_empty(), "events from bytes received after Closed");
            return;
        }

        let mut actual = Vec::new();
        let mut closed = None;
        let mut chunk_bytes = 0;
        for event in events {
            match event {
                Event::Message(message) => {
                    assert!(!self.fuzz.streaming, "whole message in streaming mode");
                    assert!(
                        message.len() <= usize::from(self.fuzz.max_message_size),
                        "message over the limit"
                    );
                    let (kind, data) = match message {
                        Message::Text(text) => {
                            assert!(std::str::from_utf8(text.as_bytes()).is_ok(), "Text message not UTF-8");
                            (MessageKind::Text, text.as_bytes().to_vec())
                        }
                        Message::Binary(data) => (MessageKind::Binary, data.to_vec()),
                    };
                    actual.push(Norm::Message(kind, data));
                }
                Event::Fragment(chunk) => {
                    assert!(self.fuzz.streaming, "chunk outside streaming mode");
                    chunk_bytes += chunk.data.len();
                    let end = chunk.message_offset + chunk.data.len() as u64;
                    assert!(end <= u64::from(self.fuzz.max_message_size), "streamed message over the limit");
                    if let Some((kind, data)) = self.streamed.push(&chunk) {
                        actual.push(Norm::Message(kind, data));
                    }
                }
                Event::Ping(payload) => {
                    // Without auto_pong every Ping is reported: the application answers.
                    let asked = self.fuzz.deliver_control_frames || !self.fuzz.auto_pong;
                    assert!(asked, "Ping event not asked for");
                    actual.push(Norm::Ping(payload.to_vec()));
                }
                Event::Pong(payload) => {
                    assert!(self.fuzz.deliver_control_frames, "Pong event not asked for");
                    actual.push(Norm::Pong(payload.to_vec()));
                }
                Event::Closed(outcome) => closed = Some(outcome),
                other => panic!("unknown event {other:?}"),
            }
        }
        assert!(
            chunk_bytes <= bytes.len(),
            "chunks of {chunk_bytes} bytes from {} bytes received",
            bytes.len()
        );

        let mut expected = Vec::new();
        let mut end = None;
        for item in items {
            match item {
                RefItem::Message(kind, data) => expected.push(Norm::Message(kind, data)),
                // §5.5.2: answered until a Close is received, also after ours was sent.
                RefItem::Ping(payload) => {
                    self.pings_received.push(payload.clone());
                    if open_before {
                        self.last_open_ping = Some(payload.clone());
                    }
                    if self.fuzz.deliver_control_frames || !self.fuzz.auto_pong {
                        expected.push(Norm::Ping(payload));
                    }
                }
                RefItem::Pong(payload) => {
                    if self.fuzz.deliver_control_frames {
                        expected.push(Norm::Pong(payload));
                    }
                }
                end_item => end = Some(end_item),
            }
        }
        self.messages_received += actual.iter().filter(|norm| matches!(norm, Norm::Message(..))).count();
        assert_eq!(
            actual,
            expected,
            "events of a receive of {} bytes differ from the reference",
            bytes.len()
        );

        match (end, closed) {
            (None, None) => {
                if self.fuzz.streaming {
                    // "Hand incoming data over in pieces as it arrives": every payload byte
                    // received so far.
                    self.streamed.check_partial(self.reference.partial_data());
                }
            }
            (Some(RefItem::Close(close)), Some(outcome)) => {
                let received = match &close {
                    Some(close) => CloseFrame { code: close.code, reason: close.reason.clone() },
                    None => CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: String::new() },
                };
                assert_eq!(outcome.received, Some(received), "received status");
                assert!(outcome.clean && outcome.error.is_none(), "closing handshake not clean: {outcome:?}");
                if open_before {
                    // §5.5.1: the endpoint answers with a Close, echoing the code (and the
                    // reason); an empty Close is answered empty.
                    let echo = match &close {
                        Some(close) => CloseFrame { code: close.code, reason: close.reason.clone() },
                        None => CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: String::new() },
                    };
                    assert_eq!(outcome.sent, Some(echo), "echoed Close");
                    assert_eq!(outcome.initiator, CloseInitiator::Remote);
                } else {
                    assert_eq!(outcome.sent, self.close, "sent Close");
                    assert_eq!(outcome.initiator, CloseInitiator::Local);
                }
                // §7.1.4: closed, both roles (the client's wait for EOF is the transport's).
                assert!(self.conn.is_closed(), "not closed after the closing handshake");
            }
            (Some(RefItem::Error(error)), Some(outcome)) => {
                assert_eq!(
                    outcome.error,
                    Some(ConnectionError::Protocol(error.clone())),
                    "failure differs from the reference"
                );
                assert_eq!(outcome.received, None);
                assert_eq!(outcome.initiator, CloseInitiator::Local);
                if open_before {
                    let sent = outcome.sent.as_ref().expect("a failing open connection sends a Close");
                    assert_eq!(sent.code, error.close_code(), "close code of {error:?}");
                } else {
                    assert_eq!(outcome.sent, self.close, "sent Close");
                }
                assert!(self.conn.is_closed(), "not closed after a failure");
            }
            (end, closed) => panic!("the reference ends with {end:?}, the connection reports {closed:?}"),
        }
    }

    fn receive_eof(&mut self, reset: bool) {
        let reported_before = self.outcome.is_some();
        let open_before = self.conn.is_open();
        if reset {
            self.conn.receive_reset(self.now);
        } else {
            self.conn.receive_eof(self.now);
        }
        self.eof = true;
        if reported_before {
            self.transport.receive_eof();
        }
        let events = self.drain();
        if reported_before {
            assert!(events.is_empty(), "events from EOF after Closed: {events:?}");
        } else {
            assert_eq!(events.len(), 1, "EOF gives one event: {events:?}");
            let outcome = self.outcome.as_ref().expect("EOF reports Closed");
            assert!(!outcome.clean && outcome.error.is_none() && outcome.received.is_none(), "{outcome:?}");
            assert_eq!(outcome.sent, self.close);
            let initiator = if open_before { CloseInitiator::Remote } else { CloseInitiator::Local };
            assert_eq!(outcome.initiator, initiator);
        }
        if reset {
            // Nothing can be written or read any more.
            self.transport = TransportModel::Done;
        }
        assert!(self.conn.is_closed(), "EOF closes");
        if self.conn.unsent_len() == 0 || reset {
            assert_eq!(
                self.poll_transport(),
                Transport::Close,
                "EOF with nothing unsent closes the transport"
            );
        }
    }

    /// `poll_transport(now)`, checked against the model.
    fn poll_transport(&mut self) -> Transport {
        let unsent = self.conn.unsent_len();
        let expected = self.transport.poll(self.now, unsent, &self.fuzz);
        let actual = self.conn.poll_transport(self.now);
        assert_eq!(actual, expected, "poll_transport with {unsent} bytes unsent, model {:?}", self.transport);
        actual
    }

    fn snapshot(&mut self) -> (usize, bool, bool, Option<Instant>, Transport) {
        // The drive rule's order: the transport, then the timer.
        let transport = self.poll_transport();
        (
            self.conn.unsent_len(),
            self.conn.is_open(),
            self.conn.is_closed(),
            self.conn.poll_timeout(),
            transport,
        )
    }

    fn handle_timeout(&mut self) {
        let now = self.now;
        let early = self.conn.poll_timeout().is_none_or(|deadline| deadline > now);
        let before = self.snapshot();
        let reported_before = self.outcome.is_some();
        let open_before = self.conn.is_open();
        let unsent_before = self.conn.unsent_len();
        self.conn.handle_timeout(now);
        if reported_before {
            self.transport.handle_timeout(now, unsent_before, &self.fuzz);
        }
        let events = self.drain();
        if early {
            assert!(events.is_empty(), "handle_timeout before the deadline reported {events:?}");
            assert_eq!(self.snapshot(), before, "handle_timeout before the deadline changed the state");
        }
        if let Some(outcome) = self.outcome.as_ref().filter(|_| !reported_before) {
            assert!(!outcome.clean && outcome.received.is_none(), "{outcome:?}");
            assert_eq!(outcome.initiator, CloseInitiator::Local);
            match &outcome.error {
                Some(ConnectionError::CloseTimeout) => {
                    assert!(
                        self.close_deadline.is_some_and(|deadline| now >= deadline),
                        "early close timeout"
                    );
                    assert_eq!(outcome.sent, self.close);
                }
                Some(ConnectionError::KeepaliveTimeout) => {
                    assert!(open_before && self.fuzz.keepalive_interval_ms.is_some(), "keepalive timeout");
                    let sent = outcome.sent.as_ref().expect("a Close for the keepalive timeout");
                    assert_eq!(sent.code, CloseCode::INTERNAL_ERROR);
                }
                other => panic!("handle_timeout closed with {other:?}"),
            }
        }
        // The close timeout fires.
        if !reported_before && self.close_deadline.is_some_and(|deadline| now >= deadline) {
            let outcome = self.outcome.as_ref().expect("the close timeout did not fire");
            assert_eq!(outcome.error, Some(ConnectionError::CloseTimeout));
        }
        if !self.fuzz.zero_duration() {
            // After step 3 of the drive rule (the transport may move on), the timer.
            self.poll_transport();
            let next = self.conn.poll_timeout();
            assert!(next.is_none_or(|deadline| deadline > now), "poll_timeout {:?} after handling it", next);
        }
    }

    /// `bytes_to_send` as a copy. It flattens the output: no piece is queued by reference after
    /// it.
    fn flatten(&mut self) -> Vec<u8> {
        self.shared.clear();
        self.conn.bytes_to_send().to_vec()
    }

    fn mark_sent(&mut self, count: usize) {
        let unsent_before = self.conn.unsent_len();
        let out = self.flatten();
        if self.outcome.is_none() {
            // Open or waiting for the peer's Close: a pending Pong counts with its real size.
            assert_eq!(unsent_before, out.len(), "unsent_len before bytes_to_send");
        } else {
            // Once closed, a Pong still pending is counted but dropped by `bytes_to_send`
            // (reported: `unsent_len` is then only an upper bound).
            assert!(unsent_before >= out.len(), "unsent_len {unsent_before} below {} bytes", out.len());
        }
        assert_eq!(self.conn.unsent_len(), out.len(), "unsent_len after bytes_to_send");
        let taken = count.min(out.len());
        self.wire.extend_from_slice(&out[..taken]);
        self.conn.mark_sent(count);
        assert_eq!(self.conn.unsent_len(), out.len() - taken, "unsent_len after mark_sent");
        assert_eq!(self.conn.bytes_to_send(), &out[taken..], "mark_sent did not consume the front");
    }

    /// `send_message` of `len` bytes of the pattern: as `send_text`/`send_binary` of the same
    /// data, and a server's large payload is queued by reference.
    fn send_message(&mut self, kind: MessageKind, sliced: bool, byte: u8, len: u16) {
        let data = Op::message_data(kind, byte, len);
        let bytes = if sliced {
            let mut buffer = vec![0xA5];
            buffer.extend_from_slice(&data);
            buffer.push(0x5A);
            Bytes::from(buffer).slice(1..1 + data.len())
        } else {
            Bytes::from(data.clone())
        };
        let message = match kind {
            MessageKind::Text => Message::Text(Utf8Bytes::try_from(bytes.clone()).expect("ASCII is UTF-8")),
            MessageKind::Binary => Message::Binary(bytes.clone()),
        };
        // The documented conditions of the shared path.
        let shared = self.role == Role::Server
            && data.len() >= SHARED_PAYLOAD_MIN
            && !self.fuzz.extension
            && self.fuzz.max_send_frame_size.is_none_or(|max| data.len() <= usize::from(max));
        let expected = self.expected_whole_send();
        let unsent_before = self.conn.unsent_len();
        let result = self.conn.send_message(&message);
        // The application lets go of its message at once.
        drop(message);
        assert_eq!(result, expected, "send_message");
        if result.is_err() {
            return;
        }
        if shared {
            // Its frame: a header (a pending Pong written before it, as `unsent_len` counted
            // it while open), then the payload.
            let header_len = match data.len() {
                0..=125 => 2,
                126..=0xFFFF => 4,
                _ => 10,
            };
            assert_eq!(
                self.conn.unsent_len(),
                unsent_before + header_len + data.len(),
                "unsent_len after send_message"
            );
            let start = self.wire.len() + unsent_before + header_len;
            self.shared.push(SharedPayload { start, bytes });
        }
        self.sent.push((kind, data, true));
    }

    /// `bytes_to_send_vectored` into `slots` slices: its pieces, copied if `copy`.
    fn vectored(&mut self, slots: usize, copy: bool) -> Vec<Piece> {
        let mut slices = vec![IoSlice::new(&[]); slots];
        let filled = self.conn.bytes_to_send_vectored(&mut slices);
        assert!(filled <= slots, "bytes_to_send_vectored filled {filled} of {slots} slices");
        slices[..filled]
            .iter()
            .map(|slice| {
                (slice.as_ptr() as usize, slice.len(), if copy { slice.to_vec() } else { Vec::new() })
            })
            .collect()
    }

    /// Enough slices for every piece the model expects, and one more (so that an extra piece
    /// shows as a short total).
    fn enough_slots(&self) -> usize {
        2 * self.shared.len() + 2
    }

    /// All the pieces of `bytes_to_send_vectored`, checked against the model (see
    /// [`Harness::check_pieces`]).
    fn all_pieces(&mut self, copy: bool) -> Vec<Piece> {
        let pieces = self.vectored(self.enough_slots(), copy);
        self.check_pieces(&pieces);
        pieces
    }

    /// What is unsent, counted from the pieces of `bytes_to_send_vectored` (which, unlike
    /// `bytes_to_send`, does not flatten the output).
    fn queued_len(&mut self) -> usize {
        self.all_pieces(false).iter().map(|piece| piece.1).sum()
    }

    /// The pieces of a `bytes_to_send_vectored` that had enough slices, against the model: they
    /// are not empty and hold `unsent_len` bytes in all; each payload queued by reference (and
    /// not flattened since) is a piece of its own, the application's very memory (no copy); the
    /// rest is one piece between two such payloads, before the first and after the last.
    fn check_pieces(&mut self, pieces: &[Piece]) {
        let base = self.wire.len();
        let unsent = self.conn.unsent_len();
        let end = base + unsent;
        self.shared.retain(|shared| shared.start + shared.bytes.len() > base);
        if unsent == 0 {
            // Nothing is queued, so no payload by reference either: all written, or dropped with
            // the rest once the transport was to be closed (`check_state` sees to that).
            self.shared.clear();
        }
        let mut starts = Vec::with_capacity(pieces.len());
        let mut at = base;
        for &(_, len, _) in pieces {
            assert!(len > 0, "an empty piece: {pieces:?}");
            starts.push(at);
            at += len;
        }
        assert_eq!(at - base, unsent, "the pieces do not hold unsent_len bytes: {pieces:?}");
        let mut expected: Vec<usize> = std::iter::once(base)
            .chain(self.shared.iter().flat_map(|shared| [shared.start, shared.start + shared.bytes.len()]))
            .filter(|&offset| offset < end)
            .map(|offset| offset.max(base))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(
            starts,
            expected,
            "pieces start at other offsets than the payloads queued by reference imply ({} of them)",
            self.shared.len()
        );
        for shared in &self.shared {
            assert!(shared.start + shared.bytes.len() <= end, "a payload queued by reference is gone");
            let from = shared.start.max(base);
            let index = starts.binary_search(&from).expect("checked above");
            let (address, len, _) = pieces[index];
            assert_eq!(
                address,
                shared.bytes.as_ptr() as usize + (from - shared.start),
                "a payload queued by reference is not the application's memory"
            );
            assert_eq!(from + len, shared.start + shared.bytes.len(), "a payload piece of another length");
        }
    }

    /// The transport writes the pieces of `slices` slices as far as `count` bytes.
    fn mark_sent_vectored(&mut self, slices: usize, flatten: bool, count: usize) {
        let unsent_before = self.conn.unsent_len();
        let written = self.vectored(slices, true);
        let all = self.all_pieces(false);
        let unsent = self.conn.unsent_len();
        if self.outcome.is_none() {
            assert_eq!(unsent_before, unsent, "unsent_len before bytes_to_send_vectored");
        } else {
            // As for `bytes_to_send`: a pending Pong is dropped once closed.
            assert!(unsent_before >= unsent, "unsent_len {unsent_before} below {unsent} bytes");
        }
        // Fewer slices: the first pieces, as many as fit.
        assert_eq!(written.len(), slices.min(all.len()), "pieces given into {slices} slices");
        for (short, whole) in written.iter().zip(&all) {
            assert_eq!((short.0, short.1), (whole.0, whole.1), "a short call gives other pieces");
        }

        let total: usize = written.iter().map(|piece| piece.1).sum();
        let taken = count.min(total);
        let mut left = taken;
        for (_, _, bytes) in &written {
            let now = left.min(bytes.len());
            self.wire.extend_from_slice(&bytes[..now]);
            left -= now;
        }
        self.conn.mark_sent(taken);
        assert_eq!(self.conn.unsent_len(), unsent - taken, "unsent_len after mark_sent");

        // The same pieces, less the first `taken` bytes.
        let mut expected = Vec::new();
        let mut skip = taken;
        for &(address, len, _) in &all {
            if skip >= len {
                skip -= len;
            } else {
                expected.push((address + skip, len - skip));
                skip = 0;
            }
        }
        let rest = self.all_pieces(flatten);
        let rest_layout: Vec<(usize, usize)> = rest.iter().map(|piece| (piece.0, piece.1)).collect();
        assert_eq!(rest_layout, expected, "mark_sent did not consume the front of the pieces");
        if flatten {
            let joined: Vec<u8> = rest.iter().flat_map(|piece| piece.2.iter().copied()).collect();
            assert_eq!(self.flatten(), joined, "bytes_to_send differs from the pieces");
            assert_eq!(self.conn.unsent_len(), joined.len(), "unsent_len after bytes_to_send");
        }
    }

    /// Invariants between operations.
    fn check_state(&mut self) {
        let reported = self.outcome.is_some();
        if self.conn.is_open() {
            assert!(!reported, "open after Closed");
        }
        // Step 3 of the drive rule, then step 4.
        let transport = self.poll_transport();
        if transport != Transport::Open {
            assert!(self.conn.is_closed(), "{transport:?} before closed");
        }
        if self.conn.is_closed() {
            assert!(reported, "closed without reporting Closed");
            assert_eq!(self.conn.poll_timeout(), self.transport.deadline(), "the timer once closed");
        }
        if self.conn.is_open() && self.fuzz.keepalive_interval_ms.is_none() {
            assert_eq!(self.conn.poll_timeout(), None, "a timer without keepalive");
        }
        if !reported {
            if let Some(deadline) = self.close_deadline {
                let next = self.conn.poll_timeout();
                assert!(
                    next.is_some_and(|next| next <= deadline),
                    "poll_timeout {next:?} misses the close deadline"
                );
            }
        }
        // What is unsent when the transport is to be closed is dropped, all of it, and only
        // then.
        let now_queued = self.wire.len() + self.queued_len();
        if now_queued < self.produced {
            assert!(
                transport == Transport::Close && self.conn.unsent_len() == 0,
                "output dropped while the transport is {transport:?}"
            );
            self.dropped = true;
        }
        self.produced = self.produced.max(now_queued);
        if let Some(queued) = self.queued_at_close {
            assert!(now_queued <= queued, "output queued after Closed");
            if !self.dropped {
                assert_eq!(now_queued, queued, "output dropped after Closed");
            }
        }
    }

    fn finish(mut self) -> Report {
        if !self.network.is_empty() {
            let rest = std::mem::take(&mut self.network);
            self.receive(&rest);
            self.check_state();
        }
        self.mark_sent(usize::MAX);
        self.check_state();
        assert_eq!(self.conn.unsent_len(), 0);
        let frames_sent = self.check_output();
        let report = Report {
            outcome: self.outcome.clone(),
            messages_received: self.messages_received,
            frames_sent,
            closed: self.conn.is_closed(),
        };
        self.drive_to_close();
        report
    }

    /// Every phase has a deadline: once closed (by the peer's EOF if need be) and written, the
    /// transport is `Close` after at most three deadlines (flushing, waiting for EOF, lingering).
    fn drive_to_close(&mut self) {
        if !self.conn.is_closed() {
            self.receive_eof(false);
        }
        for _ in 0..4 {
            if self.poll_transport() == Transport::Close {
                assert_eq!(self.conn.poll_timeout(), None, "a timer once the transport is closed");
                return;
            }
            let deadline = self.conn.poll_timeout().expect("a phase without a deadline");
            assert_eq!(Some(deadline), self.transport.deadline());
            self.now = self.now.max(deadline);
            let unsent = self.conn.unsent_len();
            self.conn.handle_timeout(self.now);
            self.transport.handle_timeout(self.now, unsent, &self.fuzz);
            assert_eq!(self.conn.poll_event(), None, "an event after Closed");
        }
        panic!("the transport is not closed after three deadlines: {:?}", self.transport);
    }

    /// The output oracles, on everything written.
    fn check_output(&self) -> Vec<Opcode> {
        let rsv_allowed = if self.fuzz.extension { RSV3_BIT } else { 0 };
        let rules = DecodeRules::new(self.role.peer())
            .with_rsv_allowed(rsv_allowed)
            .with_max_frame_size(u64::MAX >> 1);
        let max_frame = self.fuzz.max_send_frame_size.map(|max| usize::from(max).max(1));

        let mut opcodes = Vec::new();
        let mut messages: Vec<Sent> = Vec::new();
        // Whether the message being written is transformed.
        let mut current: Option<bool> = None;
        let mut close: Option<CloseFrame> = None;
        let mut pings = Vec::new();
        let mut pongs = Vec::new();
        let mut rest = &self.wire[..];
        while !rest.is_empty() {
            let (frame, consumed) = match Frame::decode(rest, &rules) {
                Ok(Decoded::Complete { value, consumed }) => (value, consumed),
                // The rest of a frame cut short when unsent output was dropped.
                Ok(Decoded::Incomplete { .. }) if self.dropped => break,
                other => panic!(
                    "output is not a valid frame for the peer: {other:?} at {}",
                    self.wire.len() - rest.len()
                ),
            };
            rest = &rest[consumed..];
            let header = frame.header;
            if close.is_some() {
                // §5.5.1: no data after a Close. Only Pongs may follow, answering Pings that
                // arrive while this endpoint waits for the peer's Close after its own.
                assert!(
                    header.opcode == Opcode::Pong && self.close.is_some(),
                    "{:?} frame after the Close",
                    header.opcode
                );
            }
            assert_eq!(header.masking_key.is_some(), self.role == Role::Client, "masking");
            opcodes.push(header.opcode);
            let mut payload = frame.payload.to_vec();
            match header.opcode {
                Opcode::Text | Opcode::Binary => {
                    assert!(current.is_none(), "new message inside a fragmented one");
                    let kind =
                        if header.opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
                    // Invert transforms Binary messages and only them.
                    let transformed = self.fuzz.extension && kind == MessageKind::Binary;
                    assert_eq!(header.rsv_bits(), if transformed { RSV3_BIT } else { 0 }, "rsv bits");
                    if transformed {
                        invert(&mut payload);
                    }
                    messages.push((kind, payload.clone(), header.fin));
                    current = (!header.fin).then_some(transformed);
                }
                Opcode::Continuation => {
                    let transformed = current.expect("continuation outside a message");
                    assert_eq!(header.rsv_bits(), 0, "rsv bits on a continuation");
                    if transformed {
                        invert(&mut payload);
                    }
                    let message = messages.last_mut().expect("a message");
                    message.1.extend_from_slice(&payload);
                    message.2 = header.fin;
                    if header.fin {
                        current = None;
                    }
                }
                Opcode::Close | Opcode::Ping | Opcode::Pong => {
                    assert_eq!(header.rsv_bits(), 0, "rsv bits on a control frame");
                    match header.opcode {
                        Opcode::Ping => pings.push(payload),
                        Opcode::Pong => pongs.push(payload),
                        _ => {
                            let status = match CloseFrame::decode(&payload) {
                                Ok(Some(frame)) => CloseFrame { code: frame.code, reason: frame.reason },
                                Ok(None) => {
                                    CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: String::new() }
                                }
                                Err(error) => panic!("invalid Close body written: {error:?}"),
                            };
                            close = Some(status);
                        }
                    }
                }
            }
            if header.opcode.is_data() {
                if let Some(max) = max_frame {
                    assert!(
                        frame.payload.len() <= max,
                        "data frame of {} bytes over {max}",
                        frame.payload.len()
                    );
                }
            }
        }

        for (kind, data, complete) in &messages {
            if *kind == MessageKind::Text {
                assert!(
                    if *complete { std::str::from_utf8(data).is_ok() } else { is_utf8_prefix(data) },
                    "Text not UTF-8"
                );
            }
        }
        if self.dropped {
            // What was written is valid; what was dropped is never complete: the checks that
            // everything sent was written stop here.
            assert!(
                self.sent.starts_with(&messages[..messages.len().saturating_sub(1)]),
                "messages out of order"
            );
            return opcodes;
        }
        assert_eq!(messages, self.sent, "the data messages written are not those sent");

        match &self.outcome {
            Some(outcome) => assert_eq!(close, outcome.sent, "the Close written is not the outcome's"),
            None => assert_eq!(close, self.close, "the Close written is not the application's"),
        }
        if self.close.is_some() {
            assert_eq!(close, self.close, "the Close written is not the application's");
        }

        // Pings: the application's, in order; any other is a keepalive (an 8-byte counter).
        let others = unmatched(&pings, &self.pings, "Ping");
        if self.fuzz.keepalive_interval_ms.is_none() {
            assert!(others.is_empty(), "Pings without keepalive: {others:?}");
        }
        for ping in others {
            assert_eq!(ping.len(), 8, "keepalive Ping payload {ping:?}");
        }
        // Pongs: the application's, in order; any other answers a Ping received while open.
        let others = unmatched(&pongs, &self.pongs, "Pong");
        if !self.fuzz.auto_pong {
            assert!(others.is_empty(), "Pongs without auto_pong: {others:?}");
        }
        for pong in &others {
            assert!(self.pings_received.contains(pong), "Pong {pong:?} answers no Ping");
        }
        let failed = self.outcome.as_ref().is_some_and(|outcome| outcome.error.is_some());
        if let Some(ping) =
            self.last_open_ping.as_ref().filter(|_| self.fuzz.auto_pong && !self.eof && !failed)
        {
            assert!(others.contains(ping), "the last Ping {ping:?} got no Pong");
        }
        opcodes
    }
}

/// Matches `expected` as a subsequence of `written` (greedily: the earliest match is never
/// worse); returns the frames left over.
fn unmatched(written: &[Vec<u8>], expected: &[Vec<u8>], what: &str) -> Vec<Vec<u8>> {
    let mut others = Vec::new();
    let mut next = 0;
    for payload in written {
        if expected.get(next) == Some(payload) {
            next += 1;
        } else {
            others.push(payload.clone());
        }
    }
    assert_eq!(next, expected.len(), "the application's {what}s were not all written in order");
    others
}

/// Consistency of an outcome on its own.
fn check_outcome(outcome: &CloseOutcome) {
    assert_eq!(
        outcome.clean,
        outcome.sent.is_some() && outcome.received.is_some() && outcome.error.is_none(),
        "clean: {outcome:?}"
    );
    if outcome.error.is_some() {
        assert_eq!(outcome.initiator, CloseInitiator::Local, "a failure is local: {outcome:?}");
    }
    for status in outcome.sent.iter().chain(&outcome.received) {
        let code = status.code;
        assert!(is_sendable_code(code.0) || code == CloseCode::NO_STATUS_RCVD, "close code {code:?}");
        assert!(status.reason.len() <= 123, "reason of {} bytes", status.reason.len());
        if code == CloseCode::NO_STATUS_RCVD {
            assert!(status.reason.is_empty(), "a reason without a code");
        }
    }
}
