//! The `server_handshake` and `client_handshake` targets: a [`ServerHandshake`] or
//! [`ClientHandshake`] driven by a structured sequence of operations (STYLE.md §8), and the
//! [`Connection`] it produces.
//!
//! # Input
//!
//! Read by its own small format, every field from the front (missing bytes read as 0), so that
//! any byte string is some input and [`HandshakeInput::to_fuzz_bytes`] can write the seeds of
//! `examples/seeds.rs`:
//!
//! ```text
//! input    := config template u8 stream_len u16 stream op*          (at most MAX_OPS ops)
//! config   := max_head_size u16, max_headers u8, timeout_ms u16, close_timeout_ms u16,
//!             linger_timeout_ms u16, linger_max_bytes u16, max_body_size u16,
//!             offered_protocols u8, offered_extensions u8               (17 bytes, u16 LE)
//! template := template % (1 + templates) picks a head the stream is appended to: 0 none (the
//!             stream is all the peer sends), else SERVER_TEMPLATES / CLIENT_TEMPLATES[t - 1]
//! op       := tag u8 (tag % 8), then its fields:
//!   0  deliver      len u8: the next len + 1 bytes of what the peer sends, in one `receive`
//!   1  deliver the rest of it in one `receive`
//!   2  EOF          flags u8 (0x01: `receive_reset` instead)
//!   3  advance time ms u16, flags u8 (0x01: do not call handle_timeout)
//!   4  advance to the deadline of poll_timeout, handle_timeout
//!   5  mark_sent    count u16
//!   6  answer       choice u8: the server accepts or responds, the client takes its connection
//!                   (see [`ServerAnswer`], [`ClientAnswer`])
//!   7  mark all sent
//! ```
//!
//! `offered_protocols` and `offered_extensions` are bit masks over [`crate::PROTOCOLS`] and
//! [`crate::extensions`]: what the client offers (client target; the server target offers them
//! in its templates instead).
//!
//! # Oracles
//!
//! Beyond "no panic":
//! - **Events** are reported once: one about the head (server: `Request`, `Upgrade`, or
//!   `Failed`; client: `Accepted`, `Redirect`, `Rejected` or `Failed`), then at most a `Failed`
//!   (the deadline, a reset, or too many bytes behind the head), nothing after a `Failed` or an
//!   answer. The head's event equals what a one-shot decode of every byte delivered so far says
//!   (`UpgradeRequest::decode`, `Request::decode`; `ClientRequest::decode_response`,
//!   `Response::decode`): chunk boundaries change nothing. `Timeout` comes exactly when the
//!   deadline (`timeout` after the start) has passed, and then it does come.
//! - **Output**: a server writes nothing but one valid HTTP response (httparse parses it; its
//!   `Content-Length` is its body's, none for a HEAD; `Connection: close`), exactly
//!   `HttpResponse::encode` of its answer or of the error's rejection, and nothing before it;
//!   a client writes exactly its request, nothing else. After `accept` the handshake writes
//!   nothing more and the connection's output starts with a 101 that httparse parses, with the
//!   accept key of the request; after `into_connection` the connection's output starts with
//!   what was left of the request.
//! - **Answers**: `accept` fails exactly as documented (`NotAwaitingAnswer`, an unoffered
//!   subprotocol or extension, more than one extension) and then changes nothing (`respond`
//!   still works); `respond` only while a request waits; `into_connection` only after `Accepted`,
//!   with the accepted extensions' codecs.
//! - **No byte after the head is lost**: after accepting, the connection's events equal those
//!   of a reference connection fed, in one call, exactly the bytes delivered after the head (a
//!   one-shot decode says where it ends), then the same later inputs.
//! - **Transport**: `Open` while the head is read and an answer decided; `ShutdownWrite` only
//!   with nothing unsent; `Close` after a reset. At the end, once every deadline passes, the
//!   transport is `Close` within a few deadlines (the handshake's, flushing, lingering; for a
//!   connection, after the peer's EOF).

use std::time::{Duration, Instant};

use rfc6455::handshake::client::{ClientRequest, Response};
use rfc6455::handshake::server::{Request, UpgradeRequest};
use rfc6455::handshake::{
    ClientEvent, ClientHandshake, HandshakeConfig, HeadLimits, HttpResponse, ServerEvent, ServerHandshake,
};
use rfc6455::transport::Linger;
use rfc6455::{
    accept_key, Config, Connection, DecodeRules, Decoded, Event, ExtensionCodec, Frame, HandshakeError,
    OsSeededRng, Role, Transport,
};

use crate::connection::Reader;
use crate::{extensions, only_field, parse_response, Negotiated, CLIENT_KEY, PROTOCOLS};

/// Most operations read from one input.
pub const MAX_OPS: usize = 256;

/// Heads the server target's stream may start with (`template` 1, 2...).
pub const SERVER_TEMPLATES: [&[u8]; 5] = [
    // §1.3's request, with Origin and two subprotocols.
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
    // An upgrade offering two extensions.
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-invert\r\n\r\n",
    // A plain request for a page.
    b"GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    // A HEAD request: answered without a body.
    b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    // Another version: 426 with Sec-WebSocket-Version: 13 (§4.4).
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
];

/// Heads the client target's stream may start with.
pub const CLIENT_TEMPLATES: [&[u8]; 5] = [
    // §1.3's response, without the subprotocol.
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    // A 101 choosing a subprotocol and an extension.
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n",
    // A redirect whose 5-byte body the stream supplies.
    b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/chat\r\nContent-Length: 5\r\n\r\n",
    // A refusal with a 9-byte body.
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\n",
    // A body without Content-Length: until EOF.
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
];

/// Statuses a server's application answers with (`ServerAnswer::Respond`).
pub const RESPONSE_STATUSES: [u16; 8] = [200, 204, 301, 400, 403, 404, 426, 503];

// ------------------------------------------------------------------------------------------------
// The input.

/// The handshake's [`HandshakeConfig`] and the connection's deadlines, as the fuzzer picks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzHandshakeConfig {
    /// [`HeadLimits::max_head_size`].
    pub max_head_size: u16,
    /// [`HeadLimits::max_headers`].
    pub max_headers: u8,
    /// [`HandshakeConfig::timeout`], in milliseconds.
    pub timeout_ms: u16,
    /// [`HandshakeConfig::close_timeout`] and the connection's `close_timeout`, in milliseconds.
    pub close_timeout_ms: u16,
    /// [`Linger::timeout`], in milliseconds.
    pub linger_timeout_ms: u16,
    /// [`Linger::max_bytes`].
    pub linger_max_bytes: u16,
    /// [`HandshakeConfig::max_body_size`].
    pub max_body_size: u16,
    /// Client: bit mask over [`PROTOCOLS`].
    pub offered_protocols: u8,
    /// Client: bit mask over [`extensions`].
    pub offered_extensions: u8,
}

impl Default for FuzzHandshakeConfig {
    /// Roomy limits, short deadlines.
    fn default() -> FuzzHandshakeConfig {
        FuzzHandshakeConfig {
            max_head_size: 4096,
            max_headers: 32,
            timeout_ms: 1000,
            close_timeout_ms: 500,
            linger_timeout_ms: 200,
            linger_max_bytes: 4096,
            max_body_size: 1024,
            offered_protocols: 0,
            offered_extensions: 0,
        }
    }
}

impl FuzzHandshakeConfig {
    /// The handshake's configuration.
    pub fn handshake(&self) -> HandshakeConfig {
        HandshakeConfig {
            limits: HeadLimits {
                max_head_size: usize::from(self.max_head_size),
                max_headers: usize::from(self.max_headers),
            },
            timeout: millis(self.timeout_ms),
            close_timeout: millis(self.close_timeout_ms),
            linger: self.linger(),
            max_body_size: usize::from(self.max_body_size),
        }
    }

    /// The connection's configuration: the same deadlines, Pings and Pongs reported.
    pub fn connection(&self) -> Config {
        Config {
            close_timeout: millis(self.close_timeout_ms),
            linger: self.linger(),
            deliver_control_frames: true,
            ..Config::default()
        }
    }

    fn linger(&self) -> Linger {
        Linger { timeout: millis(self.linger_timeout_ms), max_bytes: usize::from(self.linger_max_bytes) }
    }

    /// The client's request: §1.3's key, the subprotocols and extensions offered.
    pub fn request(&self) -> ClientRequest {
        let protocols: Vec<&str> = PROTOCOLS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.offered_protocols & (1 << i) != 0)
            .map(|(_, protocol)| *protocol)
            .collect();
        let mut request =
            ClientRequest::new("server.example.com", "/chat", &mut OsSeededRng::from_seed([0; 32]))
                .with_key(CLIENT_KEY)
                .with_protocols(protocols);
        for (i, extension) in extensions().into_iter().enumerate() {
            if self.offered_extensions & (1 << i) != 0 {
                request = request.with_extension(extension);
            }
        }
        request
    }

    fn read(reader: &mut Reader<'_>) -> FuzzHandshakeConfig {
        FuzzHandshakeConfig {
            max_head_size: reader.u16(),
            max_headers: reader.u8(),
            timeout_ms: reader.u16(),
            close_timeout_ms: reader.u16(),
            linger_timeout_ms: reader.u16(),
            linger_max_bytes: reader.u16(),
            max_body_size: reader.u16(),
            offered_protocols: reader.u8(),
            offered_extensions: reader.u8(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.max_head_size.to_le_bytes());
        out.push(self.max_headers);
        out.extend_from_slice(&self.timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.close_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.linger_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.linger_max_bytes.to_le_bytes());
        out.extend_from_slice(&self.max_body_size.to_le_bytes());
        out.push(self.offered_protocols);
        out.push(self.offered_extensions);
    }
}

/// What a server's application does with the request (the `answer` operation's `choice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAnswer {
    /// `accept`, with the first subprotocol offered if `protocol`, and a codec for the first
    /// extension offered if `extension`.
    Accept {
        /// Select the client's first subprotocol.
        protocol: bool,
        /// Accept the client's first extension.
        extension: bool,
    },
    /// `accept` selecting a subprotocol nobody offered: refused, nothing changes.
    AcceptUnoffered,
    /// `accept` with a codec for every extension offered: refused beyond one.
    AcceptEveryExtension,
    /// `respond` with [`RESPONSE_STATUSES`]`[index % 8]` and a short body.
    Respond {
        /// Which status.
        index: u8,
    },
}

impl ServerAnswer {
    /// The answer a `choice` byte means: bits 0-1 the kind, bits 2-3 the accept options, bits
    /// 4-7 the status of a response.
    pub fn from_choice(choice: u8) -> ServerAnswer {
        match choice & 0x03 {
            0 => ServerAnswer::Accept { protocol: choice & 0x04 != 0, extension: choice & 0x08 != 0 },
            1 => ServerAnswer::Respond { index: choice >> 4 },
            2 => ServerAnswer::AcceptUnoffered,
            _ => ServerAnswer::AcceptEveryExtension,
        }
    }

    /// The `choice` byte of this answer.
    pub fn to_choice(self) -> u8 {
        match self {
            ServerAnswer::Accept { protocol, extension } => {
                (if protocol { 0x04 } else { 0 }) | if extension { 0x08 } else { 0 }
            }
            ServerAnswer::Respond { index } => 1 | (index << 4),
            ServerAnswer::AcceptUnoffered => 2,
            ServerAnswer::AcceptEveryExtension => 3,
        }
    }
}

/// The codecs a client's application gives `into_connection` (the `answer` operation's `choice`
/// % 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAnswer {
    /// One for each extension the server accepted.
    Accepted,
    /// None.
    None,
    /// One for each extension accepted, and one more.
    OneMore,
    /// One for each extension offered.
    Offered,
}

impl ClientAnswer {
    /// The answer a `choice` byte means.
    pub fn from_choice(choice: u8) -> ClientAnswer {
        [ClientAnswer::Accepted, ClientAnswer::None, ClientAnswer::OneMore, ClientAnswer::Offered]
            [usize::from(choice % 4)]
    }

    /// The `choice` byte of this answer.
    pub fn to_choice(self) -> u8 {
        match self {
            ClientAnswer::Accepted => 0,
            ClientAnswer::None => 1,
            ClientAnswer::OneMore => 2,
            ClientAnswer::Offered => 3,
        }
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeOp {
    /// The next `len + 1` bytes the peer sends, in one `receive`.
    Deliver(u8),
    /// The rest of them, in one `receive`.
    DeliverRest,
    /// `receive_eof`, or `receive_reset` if `reset`.
    Eof {
        /// A reset instead of EOF.
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
    /// The transport takes this many bytes.
    MarkSent(u16),
    /// The application answers: a [`ServerAnswer`] or a [`ClientAnswer`] choice.
    Answer(u8),
    /// The transport takes everything.
    MarkAllSent,
}

impl HandshakeOp {
    fn read(reader: &mut Reader<'_>) -> HandshakeOp {
        match reader.u8() % 8 {
            0 => HandshakeOp::Deliver(reader.u8()),
            1 => HandshakeOp::DeliverRest,
            2 => HandshakeOp::Eof { reset: reader.u8() & 0x01 != 0 },
            3 => HandshakeOp::AdvanceTime { ms: reader.u16(), handle: reader.u8() & 0x01 == 0 },
            4 => HandshakeOp::AdvanceToDeadline,
            5 => HandshakeOp::MarkSent(reader.u16()),
            6 => HandshakeOp::Answer(reader.u8()),
            _ => HandshakeOp::MarkAllSent,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            HandshakeOp::Deliver(len) => out.extend_from_slice(&[0, *len]),
            HandshakeOp::DeliverRest => out.push(1),
            HandshakeOp::Eof { reset } => out.extend_from_slice(&[2, u8::from(*reset)]),
            HandshakeOp::AdvanceTime { ms, handle } => {
                out.push(3);
                out.extend_from_slice(&ms.to_le_bytes());
                out.push(u8::from(!handle));
            }
            HandshakeOp::AdvanceToDeadline => out.push(4),
            HandshakeOp::MarkSent(count) => {
                out.push(5);
                out.extend_from_slice(&count.to_le_bytes());
            }
            HandshakeOp::Answer(choice) => out.extend_from_slice(&[6, *choice]),
            HandshakeOp::MarkAllSent => out.push(7),
        }
    }
}

/// Input of `server_handshake` and `client_handshake`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeInput {
    /// The configuration.
    pub config: FuzzHandshakeConfig,
    /// The head the stream is appended to: 0 none, else the template `template - 1` (modulo).
    pub template: u8,
    /// What the peer sends after the template (or all of it).
    pub stream: Vec<u8>,
    /// The operations, in order.
    pub ops: Vec<HandshakeOp>,
}

impl HandshakeInput {
    /// Reads an input from any bytes (see the module documentation for the format).
    pub fn parse(bytes: &[u8]) -> HandshakeInput {
        let mut reader = Reader::new(bytes);
        let config = FuzzHandshakeConfig::read(&mut reader);
        let template = reader.u8();
        let stream = reader.bytes_u16();
        let mut ops = Vec::new();
        while !reader.is_empty() && ops.len() < MAX_OPS {
            ops.push(HandshakeOp::read(&mut reader));
        }
        HandshakeInput { config, template, stream: stream.to_vec(), ops }
    }

    /// The bytes [`HandshakeInput::parse`] reads back as `self`.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.config.write(&mut out);
        out.push(self.template);
        let len = u16::try_from(self.stream.len()).expect("a stream of at most 65 535 bytes");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.stream);
        for op in &self.ops {
            op.write(&mut out);
        }
        out
    }

    /// Everything the peer sends: the template's head, then the stream.
    pub fn peer_bytes(&self, templates: &[&[u8]]) -> Vec<u8> {
        let index = usize::from(self.template) % (templates.len() + 1);
        let mut bytes = if index == 0 { Vec::new() } else { templates[index - 1].to_vec() };
        bytes.extend_from_slice(&self.stream);
        bytes
    }
}

impl<'a> arbitrary::Arbitrary<'a> for HandshakeInput {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let bytes = u.bytes(u.len())?;
        Ok(HandshakeInput::parse(bytes))
    }

    fn arbitrary_take_rest(u: arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(HandshakeInput::parse(u.take_rest()))
    }
}

fn millis(ms: u16) -> Duration {
    Duration::from_millis(u64::from(ms))
}

// ------------------------------------------------------------------------------------------------
// What the two harnesses share.

/// What a run ended with, for the seeds' own checks.
#[derive(Debug, Default)]
pub struct HandshakeReport {
    /// The handshake's events, in order (as `Debug` text: server and client events differ).
    pub events: Vec<String>,
    /// Whether a connection came out of it.
    pub connected: bool,
    /// The connection's events, if one came out.
    pub connection_events: Vec<Event>,
}

/// The peer's bytes and how far they were delivered.
struct Peer {
    bytes: Vec<u8>,
    sent: usize,
}

impl Peer {
    fn next(&mut self, len: usize) -> Vec<u8> {
        let end = self.sent.saturating_add(len).min(self.bytes.len());
        let chunk = self.bytes[self.sent..end].to_vec();
        self.sent = end;
        chunk
    }
}

/// A connection that came out of a handshake, next to a reference connection fed exactly the
/// bytes that followed the head, with the same inputs after.
struct Upgraded {
    conn: Connection,
    reference: Connection,
    events: Vec<Event>,
}

impl Upgraded {
    fn new(
        conn: Connection,
        role: Role,
        config: Config,
        now: Instant,
        after_head: &[u8],
        eof: bool,
    ) -> Upgraded {
        let mut reference = Connection::new(role, config, now);
        reference.receive(now, after_head);
        if eof {
            reference.receive_eof(now);
        }
        let mut upgraded = Upgraded { conn, reference, events: Vec::new() };
        upgraded.compare("the bytes after the head");
        upgraded
    }

    /// The events of both connections are the same.
    fn compare(&mut self, what: &str) {
        let events: Vec<Event> = std::iter::from_fn(|| self.conn.poll_event()).collect();
        let expected: Vec<Event> = std::iter::from_fn(|| self.reference.poll_event()).collect();
        assert_eq!(events, expected, "the connection's events after {what} differ from the reference's");
        self.events.extend(events);
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.conn.receive(now, bytes);
        self.reference.receive(now, bytes);
        self.compare("a receive");
    }

    fn eof(&mut self, now: Instant, reset: bool) {
        if reset {
            self.conn.receive_reset(now);
            self.reference.receive_reset(now);
        } else {
            self.conn.receive_eof(now);
            self.reference.receive_eof(now);
        }
        self.compare("EOF");
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
        self.reference.handle_timeout(now);
        self.compare("handle_timeout");
    }

    fn mark_sent(&mut self, count: usize) {
        self.conn.mark_sent(count.min(self.conn.unsent_len()));
        // The reference's output is not compared (masking keys differ): it is just written.
        let all = self.reference.unsent_len();
        self.reference.mark_sent(all);
    }

    /// EOF if still open, then every deadline: `Close` within a few.
    fn drive_to_close(&mut self, now: &mut Instant) {
        if !self.conn.is_closed() {
            self.eof(*now, false);
        }
        for _ in 0..4 {
            if self.conn.poll_transport(*now) == Transport::Close {
                return;
            }
            let deadline = self.conn.poll_timeout().expect("a closed connection's phase without a deadline");
            *now = (*now).max(deadline);
            self.handle_timeout(*now);
        }
        panic!("the connection's transport is not closed after three deadlines: {:?}", self.conn);
    }
}

/// Oracle: `bytes` are one whole HTTP response, as httparse reads it: its status, `Connection:
/// close`, and a body exactly as long as `Content-Length` (none at all for a HEAD request).
fn check_http_response(bytes: &[u8], head_request: bool) -> u16 {
    let parsed = parse_response(bytes).unwrap_or_else(|| {
        panic!("the server wrote something other than an HTTP response: {:?}", String::from_utf8_lossy(bytes))
    });
    let length: usize = std::str::from_utf8(only_field(&parsed.fields, "Content-Length"))
        .ok()
        .and_then(|length| length.parse().ok())
        .expect("a numeric Content-Length");
    let body = bytes.len() - parsed.len;
    assert_eq!(body, if head_request { 0 } else { length }, "the body and Content-Length disagree");
    assert!(only_field(&parsed.fields, "Connection").eq_ignore_ascii_case(b"close"));
    // §4.4: a 426 says which version the server speaks.
    if parsed.status == 426 {
        assert_eq!(only_field(&parsed.fields, "Sec-WebSocket-Version"), b"13");
    }
    parsed.status
}

/// Every frame in `bytes`, as an endpoint of `sender` writes them.
fn check_frames(bytes: &[u8], sender: Role) {
    let rules = DecodeRules::new(sender.peer()).with_max_frame_size(u64::MAX >> 1);
    let mut rest = bytes;
    while !rest.is_empty() {
        match Frame::decode(rest, &rules) {
            Ok(Decoded::Complete { consumed, .. }) => rest = &rest[consumed..],
            other => panic!("the {sender:?} connection wrote an invalid frame: {other:?}"),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The server.

struct ServerHarness {
    fuzz: FuzzHandshakeConfig,
    handshake: ServerHandshake,
    start: Instant,
    now: Instant,
    peer: Peer,
    /// Bytes given to the handshake (until it is accepted).
    delivered: Vec<u8>,
    /// The head's length and the request, once reported.
    head: Option<(usize, ServerEvent)>,
    /// Whether EOF came while the application decided.
    eof: bool,
    events: Vec<ServerEvent>,
    /// Failed, answered or accepted: nothing more to report.
    ended: bool,
    /// What the handshake must write in all: the answer or the rejection.
    expected_output: Vec<u8>,
    /// Written so far.
    wire: Vec<u8>,
    /// Whether the request is a HEAD (its answer has no body).
    head_request: bool,
    upgraded: Option<Upgraded>,
}

/// Runs `input` on a [`ServerHandshake`], checking every oracle of the module documentation.
///
/// # Panics
///
/// When an oracle fails.
pub fn run_server(input: &HandshakeInput) -> HandshakeReport {
    let now = Instant::now();
    let fuzz = input.config;
    let mut harness = ServerHarness {
        fuzz,
        handshake: ServerHandshake::new(fuzz.handshake(), now),
        start: now,
        now,
        peer: Peer { bytes: input.peer_bytes(&SERVER_TEMPLATES), sent: 0 },
        delivered: Vec::new(),
        head: None,
        eof: false,
        events: Vec::new(),
        ended: false,
        expected_output: Vec::new(),
        wire: Vec::new(),
        head_request: false,
        upgraded: None,
    };
    assert_eq!(harness.handshake.poll_timeout(), Some(now + millis(fuzz.timeout_ms)));
    for op in &input.ops {
        harness.apply(op);
        harness.check_state();
    }
    harness.finish()
}

impl ServerHarness {
    fn deadline(&self) -> Instant {
        self.start + millis(self.fuzz.timeout_ms)
    }

    fn apply(&mut self, op: &HandshakeOp) {
        match op {
            HandshakeOp::Deliver(len) => {
                let chunk = self.peer.next(usize::from(*len) + 1);
                self.receive(&chunk);
            }
            HandshakeOp::DeliverRest => {
                let chunk = self.peer.next(usize::MAX);
                self.receive(&chunk);
            }
            HandshakeOp::Eof { reset } => self.eof(*reset),
            HandshakeOp::AdvanceTime { ms, handle } => {
                self.now += millis(*ms);
                if *handle {
                    self.handle_timeout();
                }
            }
            HandshakeOp::AdvanceToDeadline => {
                let deadline = match &self.upgraded {
                    Some(upgraded) => upgraded.conn.poll_timeout(),
                    None => self.handshake.poll_timeout(),
                };
                if let Some(deadline) = deadline {
                    self.now = self.now.max(deadline);
                }
                self.handle_timeout();
            }
            HandshakeOp::MarkSent(count) => self.mark_sent(usize::from(*count)),
            HandshakeOp::MarkAllSent => self.mark_sent(usize::MAX),
            HandshakeOp::Answer(choice) => self.answer(ServerAnswer::from_choice(*choice)),
        }
    }

    fn receive(&mut self, chunk: &[u8]) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.receive(self.now, chunk);
        }
        self.delivered.extend_from_slice(chunk);
        self.handshake.receive(self.now, chunk);
        self.poll_events("receive");
    }

    fn eof(&mut self, reset: bool) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.eof(self.now, reset);
        }
        let reading = !self.ended && self.head.is_none();
        if reset {
            self.handshake.receive_reset(self.now);
        } else {
            self.handshake.receive_eof(self.now);
            if !self.ended && self.head.is_some() {
                self.eof = true;
            }
        }
        let was_ended = self.ended;
        self.poll_events("EOF");
        if !was_ended && (reset || reading) {
            assert!(self.ended, "a reset, or EOF before the head, ends the handshake");
        }
        if reset {
            assert_eq!(self.handshake.poll_transport(self.now), Transport::Close, "a reset closes");
        }
    }

    fn handle_timeout(&mut self) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.handle_timeout(self.now);
        }
        let early = self.handshake.poll_timeout().is_none_or(|deadline| self.now < deadline);
        let deciding = !self.ended;
        self.handshake.handle_timeout(self.now);
        let before = self.events.len();
        self.poll_events("handle_timeout");
        if early {
            assert_eq!(self.events.len(), before, "an event before the deadline");
        }
        if deciding && self.now >= self.deadline() {
            assert_eq!(
                self.events.last(),
                Some(&ServerEvent::Failed(HandshakeError::Timeout)),
                "no Timeout at the deadline"
            );
        }
    }

    /// Takes the handshake's event, if any, and checks it.
    fn poll_events(&mut self, what: &str) {
        let Some(event) = self.handshake.poll_event() else { return };
        assert_eq!(self.handshake.poll_event(), None, "two events from one {what}");
        assert!(!self.ended, "{event:?} after the handshake ended ({:?})", self.events);
        match &event {
            ServerEvent::Request(request) => {
                assert!(self.head.is_none(), "a second request");
                let head_len = self.check_head_event(&event);
                assert!(!request.is_websocket_upgrade());
                self.head_request = request.method == "HEAD";
                self.head = Some((head_len, event.clone()));
            }
            ServerEvent::Upgrade(_) => {
                assert!(self.head.is_none(), "a second request");
                let head_len = self.check_head_event(&event);
                self.head = Some((head_len, event.clone()));
            }
            ServerEvent::Failed(error) => {
                self.ended = true;
                match error {
                    HandshakeError::Timeout => assert!(self.now >= self.deadline(), "an early Timeout"),
                    HandshakeError::ConnectionClosed => {}
                    HandshakeError::HeadTooLarge(max) if self.head.is_some() => {
                        // Too many bytes behind the head before the answer.
                        let (head_len, _) = self.head.as_ref().unwrap();
                        assert_eq!(*max, usize::from(self.fuzz.max_head_size));
                        assert!(self.delivered.len() > head_len + max, "431 for bytes within the limit");
                    }
                    error => {
                        assert!(self.head.is_none(), "{error:?} after the request was reported");
                        let one_shot = UpgradeRequest::decode(&self.delivered, &self.fuzz.handshake().limits);
                        assert_eq!(one_shot.as_ref().err(), Some(error), "the one-shot decode differs");
                    }
                }
                // The core answers what it can; the deadline and the peer's closing get nothing.
                let mut expected = Vec::new();
                if error.status().is_some() {
                    // To a HEAD request (reported, or one that failed validation), no body.
                    let limits = self.fuzz.handshake().limits;
                    let decoded = Request::decode(&self.delivered, &limits);
                    self.head_request |= matches!(
                        decoded,
                        Ok(Decoded::Complete { ref value, .. }) if value.method == "HEAD"
                    );
                    if self.head_request {
                        HttpResponse::from_error(error).encode_head(&mut expected);
                    } else {
                        HttpResponse::from_error(error).encode(&mut expected);
                    }
                }
                self.expected_output = expected;
            }
            other => panic!("unknown event {other:?}"),
        }
        self.events.push(event);
    }

    /// A reported head equals a one-shot decode of every byte delivered: its length.
    fn check_head_event(&self, event: &ServerEvent) -> usize {
        let limits = self.fuzz.handshake().limits;
        let (value, consumed) = match Request::decode(&self.delivered, &limits) {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            other => panic!("{event:?} where the one-shot decode gives {other:?}"),
        };
        match event {
            ServerEvent::Request(request) => assert_eq!(request, &value, "the one-shot decode differs"),
            ServerEvent::Upgrade(upgrade) => {
                assert_eq!(
                    Ok(upgrade.clone()),
                    UpgradeRequest::validate(value),
                    "the one-shot decode differs"
                )
            }
            _ => unreachable!(),
        }
        consumed
    }

    fn answer(&mut self, answer: ServerAnswer) {
        if self.upgraded.is_some() {
            // Accepted: the handshake has nothing to wait for.
            let result = self.handshake.respond(self.now, &HttpResponse::new(500));
            assert_eq!(result, Err(HandshakeError::NotAwaitingAnswer));
            return;
        }
        let waiting = if self.ended { None } else { self.head.clone() };
        match answer {
            ServerAnswer::Respond { index } => {
                let status = RESPONSE_STATUSES[usize::from(index) % RESPONSE_STATUSES.len()];
                let response =
                    HttpResponse::text(status, format!("status {status}\n")).with_header("X-Fuzz", "1");
                let result = self.handshake.respond(self.now, &response);
                match waiting {
                    None => assert_eq!(result, Err(HandshakeError::NotAwaitingAnswer)),
                    Some(_) => {
                        assert_eq!(result, Ok(()));
                        let mut expected = Vec::new();
                        if self.head_request {
                            response.encode_head(&mut expected);
                        } else {
                            response.encode(&mut expected);
                        }
                        self.expected_output = expected;
                        self.ended = true;
                    }
                }
            }
            _ => self.accept(answer, waiting),
        }
    }

    fn accept(&mut self, answer: ServerAnswer, waiting: Option<(usize, ServerEvent)>) {
        let (head_len, upgrade) = match &waiting {
            Some((head_len, ServerEvent::Upgrade(upgrade))) => (*head_len, Some(upgrade.clone())),
            _ => (0, None),
        };
        let Some(upgrade) = upgrade else {
            // Nothing to accept: a request for a page, none yet, or already answered. A response
            // built for §1.3's key stands in.
            let request = UpgradeRequest::decode(SERVER_TEMPLATES[0], &HeadLimits::default())
                .ok()
                .and_then(Decoded::complete)
                .expect("the template decodes")
                .0;
            let result = self.handshake.accept(self.now, request.accept(), self.fuzz.connection());
            assert_eq!(result.map(|_| ()), Err(HandshakeError::NotAwaitingAnswer));
            return;
        };
        let mut response = upgrade.accept();
        let mut expected = Ok(());
        let mut codecs = 0;
        match answer {
            ServerAnswer::Accept { protocol, extension } => {
                if let (true, Some(first)) = (protocol, upgrade.protocols().first()) {
                    response = response.with_protocol(first.clone());
                }
                if let (true, Some(first)) = (extension, upgrade.extensions().first()) {
                    response = response.with_extension(Box::new(Negotiated(first.clone())));
                    codecs = 1;
                }
            }
            ServerAnswer::AcceptUnoffered => {
                response = response.with_protocol("x-never-offered");
                expected = Err(HandshakeError::UnofferedProtocol("x-never-offered".into()));
            }
            ServerAnswer::AcceptEveryExtension => {
                for extension in upgrade.extensions() {
                    response = response.with_extension(Box::new(Negotiated(extension.clone())));
                    codecs += 1;
                }
                if codecs > 1 {
                    expected =
                        Err(HandshakeError::ExtensionMismatch("at most one extension is supported".into()));
                }
            }
            ServerAnswer::Respond { .. } => unreachable!(),
        }
        let mut head = Vec::new();
        response.encode(&mut head);
        let deadline_before = self.handshake.poll_timeout();
        let result = self.handshake.accept(self.now, response, self.fuzz.connection());
        match (result, expected) {
            (Ok(mut conn), Ok(())) => {
                assert_eq!(self.handshake.bytes_to_send(), b"", "the handshake writes nothing once accepted");
                assert_eq!(self.handshake.poll_timeout(), None);
                assert_eq!(
                    self.handshake.poll_transport(self.now),
                    Transport::Open,
                    "the connection owns it"
                );
                // The 101 first, with the accept key of the request.
                let out = conn.bytes_to_send().to_vec();
                assert!(out.starts_with(&head), "the connection's output does not start with the 101");
                let parsed = parse_response(&out).expect("a 101 that httparse reads");
                assert_eq!((parsed.len, parsed.status), (head.len(), 101));
                assert_eq!(
                    only_field(&parsed.fields, "Sec-WebSocket-Accept"),
                    accept_key(upgrade.key()).as_bytes()
                );
                check_frames(&out[head.len()..], Role::Server);
                let after_head = &self.delivered[head_len..];
                self.upgraded = Some(Upgraded::new(
                    conn,
                    Role::Server,
                    self.fuzz.connection(),
                    self.now,
                    after_head,
                    self.eof,
                ));
                self.ended = true;
            }
            (Err(error), Err(expected)) => {
                assert_eq!(error, expected);
                assert_eq!(self.handshake.bytes_to_send(), b"", "a refused accept writes nothing");
                assert_eq!(
                    self.handshake.poll_timeout(),
                    deadline_before,
                    "a refused accept changes nothing"
                );
            }
            (result, expected) => {
                panic!("accept gave {:?}, expected {expected:?} ({codecs} codecs)", result.map(|_| ()))
            }
        }
    }

    fn mark_sent(&mut self, count: usize) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.mark_sent(count);
        }
        let out = self.handshake.bytes_to_send().to_vec();
        let taken = count.min(out.len());
        self.wire.extend_from_slice(&out[..taken]);
        self.handshake.mark_sent(count);
        assert_eq!(self.handshake.bytes_to_send(), &out[taken..], "mark_sent did not consume the front");
    }

    /// Invariants between operations.
    fn check_state(&mut self) {
        if self.upgraded.is_some() {
            return;
        }
        // Only the answer is ever written, and nothing before it.
        let mut written = self.wire.clone();
        written.extend_from_slice(self.handshake.bytes_to_send());
        assert!(self.expected_output.starts_with(&written), "the server wrote {written:?}");
        if !self.ended {
            assert!(written.is_empty(), "written before an answer");
        }
        let unsent = self.handshake.bytes_to_send().len();
        match self.handshake.poll_transport(self.now) {
            Transport::Open => {}
            Transport::ShutdownWrite => {
                assert!(self.ended && unsent == 0, "ShutdownWrite with {unsent} bytes unsent")
            }
            Transport::Close => assert!(self.ended, "Close before the handshake ended"),
        }
    }

    fn finish(mut self) -> HandshakeReport {
        let rest = self.peer.next(usize::MAX);
        if !rest.is_empty() {
            self.receive(&rest);
            self.check_state();
        }
        let mut report = HandshakeReport {
            events: self.events.iter().map(|event| format!("{event:?}")).collect(),
            connected: self.upgraded.is_some(),
            connection_events: Vec::new(),
        };
        if let Some(upgraded) = &mut self.upgraded {
            let mut now = self.now;
            upgraded.drive_to_close(&mut now);
            report.connection_events = upgraded.events.clone();
            return report;
        }
        // Everything written is (a prefix of) the one answer, a whole HTTP response.
        self.mark_sent(usize::MAX);
        self.check_state();
        if !self.expected_output.is_empty() {
            check_http_response(&self.expected_output, self.head_request);
        }
        // Every phase has a deadline: the head's (or the answer's), flushing, lingering.
        for _ in 0..4 {
            if self.handshake.poll_transport(self.now) == Transport::Close {
                assert_eq!(self.handshake.poll_timeout(), None);
                return report;
            }
            let deadline = self.handshake.poll_timeout().expect("a phase without a deadline");
            self.now = self.now.max(deadline);
            self.handle_timeout();
        }
        panic!("the transport is not closed after three deadlines: {:?}", self.handshake);
    }
}

// ------------------------------------------------------------------------------------------------
// The client.

struct ClientHarness {
    fuzz: FuzzHandshakeConfig,
    request: ClientRequest,
    /// The request's bytes.
    request_bytes: Vec<u8>,
    /// `None` once `into_connection` consumed it.
    handshake: Option<ClientHandshake>,
    start: Instant,
    now: Instant,
    peer: Peer,
    delivered: Vec<u8>,
    /// The head's length, once a response head was reported.
    head_len: Option<usize>,
    /// Whether the 101 was accepted (and not failed since).
    accepted: bool,
    /// EOF after the 101.
    eof: bool,
    events: Vec<ClientEvent>,
    ended: bool,
    wire: Vec<u8>,
    upgraded: Option<Upgraded>,
}

/// Runs `input` on a [`ClientHandshake`], checking every oracle of the module documentation.
///
/// # Panics
///
/// When an oracle fails.
pub fn run_client(input: &HandshakeInput) -> HandshakeReport {
    let now = Instant::now();
    let fuzz = input.config;
    let request = fuzz.request();
    let mut request_bytes = Vec::new();
    request.encode(&mut request_bytes);
    let handshake = ClientHandshake::new(request.clone(), fuzz.handshake(), now);
    assert_eq!(handshake.bytes_to_send(), &request_bytes[..], "the first bytes are the request");
    assert_eq!(handshake.poll_timeout(), Some(now + millis(fuzz.timeout_ms)));
    let mut harness = ClientHarness {
        fuzz,
        request,
        request_bytes,
        handshake: Some(handshake),
        start: now,
        now,
        peer: Peer { bytes: input.peer_bytes(&CLIENT_TEMPLATES), sent: 0 },
        delivered: Vec::new(),
        head_len: None,
        accepted: false,
        eof: false,
        events: Vec::new(),
        ended: false,
        wire: Vec::new(),
        upgraded: None,
    };
    for op in &input.ops {
        harness.apply(op);
        harness.check_state();
    }
    harness.finish()
}

impl ClientHarness {
    fn deadline(&self) -> Instant {
        self.start + millis(self.fuzz.timeout_ms)
    }

    fn apply(&mut self, op: &HandshakeOp) {
        match op {
            HandshakeOp::Deliver(len) => {
                let chunk = self.peer.next(usize::from(*len) + 1);
                self.receive(&chunk);
            }
            HandshakeOp::DeliverRest => {
                let chunk = self.peer.next(usize::MAX);
                self.receive(&chunk);
            }
            HandshakeOp::Eof { reset } => self.eof(*reset),
            HandshakeOp::AdvanceTime { ms, handle } => {
                self.now += millis(*ms);
                if *handle {
                    self.handle_timeout();
                }
            }
            HandshakeOp::AdvanceToDeadline => {
                let deadline = match (&self.upgraded, &self.handshake) {
                    (Some(upgraded), _) => upgraded.conn.poll_timeout(),
                    (None, Some(handshake)) => handshake.poll_timeout(),
                    (None, None) => None,
                };
                if let Some(deadline) = deadline {
                    self.now = self.now.max(deadline);
                }
                self.handle_timeout();
            }
            HandshakeOp::MarkSent(count) => self.mark_sent(usize::from(*count)),
            HandshakeOp::MarkAllSent => self.mark_sent(usize::MAX),
            HandshakeOp::Answer(choice) => self.take_connection(ClientAnswer::from_choice(*choice)),
        }
    }

    fn receive(&mut self, chunk: &[u8]) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.receive(self.now, chunk);
        }
        let Some(handshake) = &mut self.handshake else { return };
        self.delivered.extend_from_slice(chunk);
        handshake.receive(self.now, chunk);
        self.poll_events("receive");
    }

    fn eof(&mut self, reset: bool) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.eof(self.now, reset);
        }
        let Some(handshake) = &mut self.handshake else { return };
        if reset {
            handshake.receive_reset(self.now);
        } else {
            handshake.receive_eof(self.now);
            if self.accepted {
                self.eof = true;
            }
        }
        let reading = !self.ended && !self.accepted;
        self.poll_events("EOF");
        if reading {
            assert!(self.ended, "a reset or EOF before the response ends the handshake");
        }
        if reset {
            let handshake = self.handshake.as_mut().unwrap();
            // `ClientHandshake::receive_reset`: "poll_transport says close".
            assert_eq!(handshake.poll_transport(self.now), Transport::Close, "a reset closes");
        }
    }

    fn handle_timeout(&mut self) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.handle_timeout(self.now);
        }
        let Some(handshake) = &mut self.handshake else { return };
        let early = handshake.poll_timeout().is_none_or(|deadline| self.now < deadline);
        let reading = !self.ended && !self.accepted;
        handshake.handle_timeout(self.now);
        let before = self.events.len();
        self.poll_events("handle_timeout");
        if early {
            assert_eq!(self.events.len(), before, "an event before the deadline");
        }
        if reading && self.now >= self.deadline() {
            assert!(self.ended, "the response's deadline passed without an event");
        }
    }

    fn poll_events(&mut self, what: &str) {
        let Some(handshake) = &mut self.handshake else { return };
        let Some(event) = handshake.poll_event() else { return };
        assert_eq!(handshake.poll_event(), None, "two events from one {what}");
        assert!(!self.ended, "{event:?} after the handshake ended ({:?})", self.events);
        let limits = self.fuzz.handshake().limits;
        let one_shot = Response::decode(&self.delivered, &limits);
        match &event {
            ClientEvent::Accepted(accepted) => {
                assert!(!self.accepted, "accepted twice");
                match self.request.decode_response(&self.delivered, &limits) {
                    Ok(Decoded::Complete { value, consumed }) => {
                        assert_eq!(&value, accepted, "the one-shot decode differs");
                        self.head_len = Some(consumed);
                    }
                    other => panic!("Accepted where the one-shot decode gives {other:?}"),
                }
                self.accepted = true;
            }
            ClientEvent::Redirect { status, location } => {
                let response = self.check_response(one_shot, None, what);
                assert!((300..=399).contains(status) && *status == response.status);
                assert_eq!(response.headers.get("Location"), Some(location.as_str()));
                self.ended = true;
            }
            ClientEvent::Rejected(response) => {
                let decoded = self.check_response(one_shot, Some(response), what);
                assert!(
                    !((300..=399).contains(&decoded.status) && decoded.headers.get("Location").is_some()),
                    "a redirect reported as Rejected"
                );
                self.ended = true;
            }
            ClientEvent::Failed(error) => {
                match error {
                    HandshakeError::Timeout => assert!(self.now >= self.deadline(), "an early Timeout"),
                    HandshakeError::ConnectionClosed => {}
                    HandshakeError::HeadTooLarge(max) if self.accepted => {
                        let head_len = self.head_len.unwrap();
                        assert!(self.delivered.len() > head_len + max, "too many bytes behind the 101");
                    }
                    error => {
                        assert!(!self.accepted, "{error:?} after Accepted");
                        let decoded = self.request.decode_response(&self.delivered, &limits);
                        assert_eq!(decoded.as_ref().err(), Some(error), "the one-shot decode differs");
                        if let Ok(Decoded::Complete { value, .. }) = &one_shot {
                            assert_eq!(value.status, 101, "a failure for another status");
                        }
                    }
                }
                self.ended = true;
                self.accepted = false;
            }
            other => panic!("unknown event {other:?}"),
        }
        self.events.push(event);
    }

    /// A non-101 response equals the one-shot decode; its body is what followed the head, no
    /// more than `max_body_size` and `Content-Length`, and all of that when it was reported on
    /// receiving (not at EOF or the deadline).
    fn check_response(
        &mut self,
        one_shot: Result<Decoded<Response>, HandshakeError>,
        reported: Option<&Response>,
        what: &str,
    ) -> Response {
        let (mut decoded, head_len) = match one_shot {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            other => panic!("a response where the one-shot decode gives {other:?}"),
        };
        assert_ne!(decoded.status, 101);
        self.head_len = Some(head_len);
        if let Some(reported) = reported {
            let body = &reported.body;
            assert!(body.len() <= usize::from(self.fuzz.max_body_size), "a body over max_body_size");
            if let Some(length) = decoded.content_length() {
                assert!(body.len() as u64 <= length, "a body over Content-Length");
            }
            assert!(self.delivered[head_len..].starts_with(body), "the body is not what followed the head");
            if what == "receive" {
                // RFC 9112 §6.3: no body for 1xx, 204, 304; else Content-Length, or until EOF.
                let max = usize::from(self.fuzz.max_body_size);
                let keep = match (decoded.status, decoded.content_length()) {
                    (100..=199 | 204 | 304, _) => 0,
                    (_, Some(length)) => usize::try_from(length).unwrap_or(usize::MAX).min(max),
                    (_, None) => max,
                };
                assert_eq!(body.len(), keep, "a body reported before it was whole");
            }
            decoded.body = body.clone();
            assert_eq!(reported, &decoded, "the one-shot decode differs");
        }
        decoded
    }

    fn take_connection(&mut self, answer: ClientAnswer) {
        let Some(handshake) = self.handshake.take() else { return };
        let accepted_names: Vec<String> = match self.events.first() {
            Some(ClientEvent::Accepted(accepted)) if self.accepted => {
                accepted.extensions().iter().map(|extension| extension.name.clone()).collect()
            }
            _ => Vec::new(),
        };
        let codecs: Vec<Box<dyn ExtensionCodec>> = match answer {
            ClientAnswer::Accepted => match self.events.first() {
                Some(ClientEvent::Accepted(accepted)) => accepted
                    .extensions()
                    .iter()
                    .map(|extension| Box::new(Negotiated(extension.clone())) as Box<dyn ExtensionCodec>)
                    .collect(),
                _ => Vec::new(),
            },
            ClientAnswer::None => Vec::new(),
            ClientAnswer::OneMore => {
                let mut codecs: Vec<Box<dyn ExtensionCodec>> = Vec::new();
                if let Some(ClientEvent::Accepted(accepted)) = self.events.first() {
                    for extension in accepted.extensions() {
                        codecs.push(Box::new(Negotiated(extension.clone())));
                    }
                }
                codecs.push(Box::new(Negotiated(rfc6455::handshake::extension::Extension::new("x-more"))));
                codecs
            }
            ClientAnswer::Offered => self
                .request
                .extensions()
                .iter()
                .map(|extension| Box::new(Negotiated(extension.clone())) as Box<dyn ExtensionCodec>)
                .collect(),
        };
        let names: Vec<String> = codecs.iter().map(|codec| codec.negotiated().name).collect();
        let unwritten = handshake.bytes_to_send().to_vec();
        let result = handshake.into_connection(self.now, self.fuzz.connection(), codecs);
        if !self.accepted {
            assert!(
                matches!(result, Err(HandshakeError::NotAwaitingAnswer)),
                "into_connection without a 101: {:?}",
                result.map(|_| ())
            );
            return;
        }
        let matching = names.len() == accepted_names.len()
            && names.iter().zip(&accepted_names).all(|(name, accepted)| name.eq_ignore_ascii_case(accepted))
            && names.len() <= 1;
        match result {
            Ok(mut conn) => {
                assert!(matching, "codecs {names:?} taken for the accepted {accepted_names:?}");
                // Whatever of the request was unwritten goes first.
                let out = conn.bytes_to_send().to_vec();
                assert!(out.starts_with(&unwritten), "the rest of the request does not go first");
                self.wire.extend_from_slice(&unwritten);
                check_frames(&out[unwritten.len()..], Role::Client);
                let after_head = &self.delivered[self.head_len.unwrap()..];
                self.upgraded = Some(Upgraded::new(
                    conn,
                    Role::Client,
                    self.fuzz.connection(),
                    self.now,
                    after_head,
                    self.eof,
                ));
                // What the connection writes after the request is not the request's: keep
                // `wire` for the request only.
                if let Some(upgraded) = &mut self.upgraded {
                    let len = unwritten.len();
                    upgraded.conn.mark_sent(len);
                }
            }
            Err(HandshakeError::ExtensionMismatch(_)) => {
                assert!(!matching, "codecs {names:?} refused for the accepted {accepted_names:?}");
            }
            Err(other) => panic!("into_connection failed with {other:?}"),
        }
        self.ended = true;
    }

    fn mark_sent(&mut self, count: usize) {
        if let Some(upgraded) = &mut self.upgraded {
            return upgraded.mark_sent(count);
        }
        let Some(handshake) = &mut self.handshake else { return };
        let out = handshake.bytes_to_send().to_vec();
        let taken = count.min(out.len());
        self.wire.extend_from_slice(&out[..taken]);
        handshake.mark_sent(count);
        assert_eq!(handshake.bytes_to_send(), &out[taken..], "mark_sent did not consume the front");
    }

    fn check_state(&mut self) {
        // Only the request is ever written.
        let mut written = self.wire.clone();
        if let (None, Some(handshake)) = (&self.upgraded, &self.handshake) {
            // What is unsent is the rest of the request, or nothing once the transport is to be
            // closed (dropped, never to be written).
            if handshake.bytes_to_send().is_empty() {
                assert!(self.request_bytes.starts_with(&written), "the client wrote more than its request");
            } else {
                written.extend_from_slice(handshake.bytes_to_send());
                assert_eq!(written, self.request_bytes, "the client's output is not its request");
            }
        } else {
            assert!(self.request_bytes.starts_with(&written), "the client wrote more than its request");
        }
        if let (None, Some(handshake)) = (&self.upgraded, &mut self.handshake) {
            let unsent = handshake.bytes_to_send().len();
            match handshake.poll_transport(self.now) {
                Transport::Open => {}
                Transport::ShutdownWrite => {
                    assert!(self.ended && unsent == 0, "ShutdownWrite with {unsent} bytes unsent")
                }
                Transport::Close => assert!(self.ended, "Close before the handshake ended"),
            }
        }
    }

    fn finish(mut self) -> HandshakeReport {
        let rest = self.peer.next(usize::MAX);
        if !rest.is_empty() {
            self.receive(&rest);
            self.check_state();
        }
        let mut report = HandshakeReport {
            events: self.events.iter().map(|event| format!("{event:?}")).collect(),
            connected: self.upgraded.is_some(),
            connection_events: Vec::new(),
        };
        if let Some(upgraded) = &mut self.upgraded {
            let mut now = self.now;
            upgraded.drive_to_close(&mut now);
            report.connection_events = upgraded.events.clone();
            return report;
        }
        if self.accepted && self.handshake.is_some() {
            // A 101 not taken yet: take it, and see the connection to its end.
            self.take_connection(ClientAnswer::Accepted);
            if let Some(upgraded) = &mut self.upgraded {
                let mut now = self.now;
                upgraded.drive_to_close(&mut now);
                report.connected = true;
                report.connection_events = upgraded.events.clone();
            }
            return report;
        }
        if self.handshake.is_none() {
            return report; // given away to a failed into_connection
        }
        // Every phase has a deadline: the response's, flushing, lingering.
        for _ in 0..4 {
            let handshake = self.handshake.as_mut().unwrap();
            if handshake.poll_transport(self.now) == Transport::Close {
                assert_eq!(handshake.poll_timeout(), None);
                return report;
            }
            let deadline = handshake.poll_timeout().expect("a phase without a deadline");
            self.now = self.now.max(deadline);
            self.handle_timeout();
        }
        panic!("the transport is not closed after three deadlines: {:?}", self.handshake);
    }
}
