//! The life of a connection from its first byte to its last (RFC 6455 §4, §7; STYLE.md §1: "every
//! phase of a connection's life has a deadline owned by the core", "a Close that is sent must be
//! able to arrive"), through the public API only, with a fake clock (one `Instant::now()`, then
//! `Duration`s: no sleeps, no sockets).
//!
//! - Every deadline: the handshake's head (server: a silent peer, a slow head, an application
//!   that never answers; client: a response or a body that does not come), the close timeout, the
//!   flushing of the last bytes to a peer that stopped reading, the lingering close (its timeout
//!   and its byte limit), the client's wait for the server's EOF (§7.1.1).
//! - The transport instruction (`poll_transport`) through each ending, both roles, with
//!   `receive_eof` and `receive_reset`.
//! - The drive rule of the crate docs followed literally by an in-memory pair ([`drive_step`]):
//!   a message and a Close in one read, a violation behind unread messages, a peer that stops
//!   reading, and every deadline; both sides always end with `Transport::Close`.
//! - The Close echo (§5.5.1); `ServerHandshake` and `ClientHandshake` (§4.1, §4.2, §4.4), with a
//!   chunking proptest that no byte after the head is lost; the Origin policy (§10.2); `WsUrl`
//!   (§3); `CloseFrame::truncating`.

mod common;

use std::io::IoSlice;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use common::{events, frames, output, pair, Invert, Negotiated};
use proptest::prelude::*;
use rfc6455::frame::MASK_BIT;
use rfc6455::handshake::client::{ClientRequest, Response};
use rfc6455::handshake::extension::Extension;
use rfc6455::handshake::server::UpgradeRequest;
use rfc6455::handshake::{
    ClientEvent, ClientHandshake, HandshakeConfig, HeadLimits, HttpResponse, OriginPolicy, ServerEvent,
    ServerHandshake, WsUrl,
};
use rfc6455::{
    accept_key, CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, Connection, ConnectionError,
    Endpoint, Event, ExtensionCodec, FrameHeader, HandshakeError, Linger, Message, Opcode, OsSeededRng,
    ProtocolError, Role, SendError, Transport,
};

/// The smallest step of the fake clock.
const TICK: Duration = Duration::from_nanos(1);
/// `Config::close_timeout`'s documented default.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// `Linger::timeout`'s documented default.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// `HandshakeConfig::timeout`'s documented default.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The masking key of the frames this file builds by hand (§5.7's).
const PEER_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// §1.3: the client's handshake (without `Origin` and subprotocols: the plainest request).
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// §1.3, §4.2.2: the key and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// §1.3: the server's handshake, without a subprotocol.
const RESPONSE_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// §5.7: "A single-frame masked text message" ("Hello"), client to server.
const MASKED_HELLO: [u8; 11] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// §5.7: "A single-frame unmasked text message" ("Hello"), server to client.
const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A frame as an endpoint of `sender` puts it on the wire: masked with [`PEER_KEY`] from a
/// client, unmasked from a server.
fn frame_from(sender: Role, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut header = FrameHeader::new(true, opcode, payload.len() as u64);
    header.masking_key = (sender == Role::Client).then_some(PEER_KEY);
    let mut out = Vec::new();
    rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(payload) }.encode(&mut out);
    out
}

/// A Close frame from `sender` with `code` and `reason`.
fn close_from(sender: Role, code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame_from(sender, Opcode::Close, &payload)
}

/// A frame with reserved opcode 0x3 from `sender`: §5.2 "MUST _Fail the WebSocket
/// Connection_", code 1002.
fn violation_from(sender: Role) -> Vec<u8> {
    match sender {
        Role::Client => vec![0x83, MASK_BIT, PEER_KEY[0], PEER_KEY[1], PEER_KEY[2], PEER_KEY[3]],
        Role::Server => vec![0x83, 0x00],
    }
}

/// The one `Event::Closed` in `events`.
fn only_closed(events: Vec<Event>) -> CloseOutcome {
    match <[Event; 1]>::try_from(events) {
        Ok([Event::Closed(outcome)]) => outcome,
        other => panic!("expected exactly one Event::Closed, got {other:?}"),
    }
}

fn text(text: &str) -> Event {
    Event::Message(Message::Text(text.to_owned().into()))
}

/// The handshake's defaults, spelled out where a test depends on them.
fn handshake_config() -> HandshakeConfig {
    HandshakeConfig::default()
}

/// The client's request of §1.3 for `ws://server.example.com/chat`, with §1.3's key.
fn client_request() -> ClientRequest {
    let url = WsUrl::parse("ws://server.example.com/chat").expect("a valid URL");
    ClientRequest::from_url(&url, &mut OsSeededRng::from_seed([7; 32])).with_key(KEY)
}

/// A client handshake started at `now` whose request is written.
fn client_handshake(config: HandshakeConfig, now: Instant) -> ClientHandshake {
    let mut handshake = ClientHandshake::new(client_request(), config, now);
    let written = handshake.bytes_to_send().len();
    handshake.mark_sent(written);
    handshake
}

/// A server handshake started at `now` that read `input`, and its event.
fn server_handshake(
    config: HandshakeConfig,
    now: Instant,
    input: &[u8],
) -> (ServerHandshake, Option<ServerEvent>) {
    let mut handshake = ServerHandshake::new(config, now);
    handshake.receive(now, input);
    let event = handshake.poll_event();
    (handshake, event)
}

/// The upgrade request of a `ServerEvent::Upgrade`.
fn upgrade_of(event: Option<ServerEvent>) -> UpgradeRequest {
    match event {
        Some(ServerEvent::Upgrade(request)) => request,
        other => panic!("expected an upgrade request, got {other:?}"),
    }
}

/// A connection of `role` that failed on the peer's violation at `now`, its Close written.
fn failed_and_written(role: Role, config: Config, now: Instant) -> Connection {
    let mut conn = Connection::new(role, config, now);
    conn.receive(now, &violation_from(role.peer()));
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::Protocol(ProtocolError::ReservedOpcode(3))));
    assert_eq!(conn.poll_transport(now), Transport::Open, "the Close is not written yet");
    output(&mut conn);
    conn
}

// ---------------------------------------------------------------------------------------------
// Deadlines of the opening handshake (§4; STYLE.md §1: "the opening handshake" has a deadline)
// ---------------------------------------------------------------------------------------------

/// A peer that connects and sends nothing fails the handshake with `HandshakeError::Timeout` at
/// exactly `config.timeout`: nothing is written (no one is listening), the transport is closed.
/// Checks §4.2; the "every phase has a deadline": the opening handshake.
#[test]
fn server_handshake_times_out_a_silent_peer() {
    let t0 = Instant::now();
    let config = handshake_config();
    let deadline = t0 + HANDSHAKE_TIMEOUT;
    let mut handshake = ServerHandshake::new(config, t0);
    assert_eq!(handshake.poll_timeout(), Some(deadline));
    handshake.handle_timeout(deadline - TICK);
    assert_eq!(handshake.poll_event(), None);
    assert_eq!(handshake.poll_transport(deadline - TICK), Transport::Open);
    assert_eq!(handshake.poll_timeout(), Some(deadline));

    handshake.handle_timeout(deadline);
    assert_eq!(handshake.poll_event(), Some(ServerEvent::Failed(HandshakeError::Timeout)));
    assert_eq!(handshake.bytes_to_send(), b"", "nothing is written to a peer that timed out");
    assert_eq!(handshake.poll_transport(deadline), Transport::Close);
    assert_eq!(handshake.poll_timeout(), None);
    handshake.handle_timeout(deadline + HANDSHAKE_TIMEOUT);
    assert_eq!(handshake.poll_event(), None, "reported once");
}

/// A head sent one byte at a time (slowloris) does not move the deadline: at exactly
/// `config.timeout` after the connection's start it fails with `Timeout`, nothing written.
/// Checks §4.2; the "every phase has a deadline": a deadline for the whole head, not per read.
#[test]
fn server_handshake_times_out_a_slow_head_one_byte_at_a_time() {
    let t0 = Instant::now();
    let config = handshake_config();
    let deadline = t0 + HANDSHAKE_TIMEOUT;
    let mut handshake = ServerHandshake::new(config, t0);
    // One byte every 100 ms: 100 bytes by the deadline, fewer than the head has.
    assert!(REQUEST.len() > 100);
    let step = Duration::from_millis(100);
    let mut now = t0;
    for byte in &REQUEST[..99] {
        now += step;
        handshake.receive(now, std::slice::from_ref(byte));
        handshake.handle_timeout(now);
        assert_eq!(handshake.poll_event(), None, "at {:?}", now - t0);
        assert_eq!(handshake.poll_transport(now), Transport::Open);
        assert_eq!(handshake.poll_timeout(), Some(deadline), "bytes do not extend the deadline");
    }
    assert_eq!(now, deadline - step);
    handshake.receive(deadline - TICK, &REQUEST[99..100]);
    handshake.handle_timeout(deadline - TICK);
    assert_eq!(handshake.poll_event(), None);
    handshake.handle_timeout(deadline);
    assert_eq!(handshake.poll_event(), Some(ServerEvent::Failed(HandshakeError::Timeout)));
    assert_eq!(handshake.bytes_to_send(), b"");
    assert_eq!(handshake.poll_transport(deadline), Transport::Close);
    // The rest of the head, too late: discarded.
    handshake.receive(deadline, &REQUEST[100..]);
    assert_eq!(handshake.poll_event(), None);
    assert_eq!(handshake.poll_transport(deadline), Transport::Close);
}

/// The application must answer within the same deadline (`HandshakeConfig::timeout`): a request
/// left unanswered fails with `Timeout` and the transport is closed, nothing written.
/// Checks §4.2.2; the "every phase has a deadline".
#[test]
fn server_handshake_times_out_an_application_that_never_answers() {
    let t0 = Instant::now();
    let deadline = t0 + HANDSHAKE_TIMEOUT;
    let (mut handshake, event) = server_handshake(handshake_config(), t0, REQUEST);
    let request = upgrade_of(event);
    assert_eq!(handshake.poll_timeout(), Some(deadline));
    handshake.handle_timeout(deadline - TICK);
    assert_eq!(handshake.poll_transport(deadline - TICK), Transport::Open);
    handshake.handle_timeout(deadline);
    assert_eq!(handshake.poll_event(), Some(ServerEvent::Failed(HandshakeError::Timeout)));
    assert_eq!(handshake.bytes_to_send(), b"");
    assert_eq!(handshake.poll_transport(deadline), Transport::Close);
    assert_eq!(
        handshake.accept(deadline, request.accept(), Config::default()).map(|_| ()),
        Err(HandshakeError::NotAwaitingAnswer),
        "too late to accept"
    );
}

/// A server that never answers: the client's handshake fails with `Timeout` at exactly
/// `config.timeout` after it started, also with part of a response head read, and closes.
/// Checks §4.1; the "every phase has a deadline".
#[test]
fn client_handshake_times_out_without_a_response() {
    let t0 = Instant::now();
    let deadline = t0 + HANDSHAKE_TIMEOUT;
    for partial in [&b""[..], b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"] {
        let mut handshake = client_handshake(handshake_config(), t0);
        handshake.receive(t0 + Duration::from_secs(1), partial);
        assert_eq!(handshake.poll_event(), None);
        assert_eq!(handshake.poll_timeout(), Some(deadline));
        handshake.handle_timeout(deadline - TICK);
        assert_eq!(handshake.poll_event(), None);
        assert_eq!(handshake.poll_transport(deadline - TICK), Transport::Open);
        handshake.handle_timeout(deadline);
        assert_eq!(handshake.poll_event(), Some(ClientEvent::Failed(HandshakeError::Timeout)));
        assert_eq!(handshake.poll_transport(deadline), Transport::Close);
        assert_eq!(handshake.poll_timeout(), None);
    }
}

/// The deadline covers a rejection's body too: what came of it by then is reported, and the
/// transport is closed.
/// Checks §4.1 ("the client handles the response per HTTP procedures"); the issue's "every phase has a
/// deadline".
#[test]
fn client_handshake_reports_a_slow_body_as_far_as_it_came_at_the_deadline() {
    let t0 = Instant::now();
    let deadline = t0 + HANDSHAKE_TIMEOUT;
    let mut handshake = client_handshake(handshake_config(), t0);
    handshake.receive(t0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nnot you");
    assert_eq!(handshake.poll_event(), None, "the body is not whole");
    assert_eq!(handshake.poll_timeout(), Some(deadline));
    handshake.handle_timeout(deadline);
    let Some(ClientEvent::Rejected(response)) = handshake.poll_event() else { panic!("Rejected expected") };
    assert_eq!((response.status, &response.body[..]), (403, &b"not you"[..]));
    assert_eq!(handshake.poll_transport(deadline), Transport::Close);
}

// ---------------------------------------------------------------------------------------------
// Deadlines of the connection (§7.1.1, §7.1.7; the lingering close)
// ---------------------------------------------------------------------------------------------

/// §7.1.1 lets an endpoint close the transport when the peer does not answer its Close: at
/// `close_timeout` the connection closes (`CloseTimeout`); the Close was written, so it shuts
/// down writing and lingers, then closes at the linger's end.
fn close_timeout_ends_an_unanswered_close_then_lingers(role: Role) {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.close(t1, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    output(&mut conn);
    assert_eq!(conn.poll_transport(t1), Transport::Open);
    let deadline = t1 + CLOSE_TIMEOUT;
    assert_eq!(conn.poll_timeout(), Some(deadline));
    conn.handle_timeout(deadline - TICK);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(conn.poll_transport(deadline - TICK), Transport::Open);

    conn.handle_timeout(deadline);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::CloseTimeout));
    assert_eq!(conn.poll_transport(deadline), Transport::ShutdownWrite);
    let linger_end = deadline + LINGER_TIMEOUT;
    assert_eq!(conn.poll_timeout(), Some(linger_end));
    conn.handle_timeout(linger_end - TICK);
    assert_eq!(conn.poll_transport(linger_end - TICK), Transport::ShutdownWrite);
    conn.handle_timeout(linger_end);
    assert_eq!(conn.poll_transport(linger_end), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
}
both_roles!(
    client_close_timeout_ends_an_unanswered_close_then_lingers,
    server_close_timeout_ends_an_unanswered_close_then_lingers,
    close_timeout_ends_an_unanswered_close_then_lingers
);

/// The close timeout with our Close still unsent (the peer takes nothing): the connection's
/// own rule, "if the peer has not even taken it, close at once" (`Connection::handle_timeout`).
/// `poll_transport` says `Close` at the deadline, with no further deadline: `handle_timeout`
/// is documented as doing nothing when called again with the same `now`.
/// Checks §7.1.1; the "non-reading peer".
fn close_timeout_closes_at_once_when_the_close_was_never_taken(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.close(t0, CloseCode::GOING_AWAY, "restart").unwrap();
    assert!(conn.unsent_len() > 0);
    let deadline = t0 + CLOSE_TIMEOUT;
    conn.handle_timeout(deadline);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::CloseTimeout));
    assert_eq!(conn.poll_transport(deadline), Transport::Close, "the peer took nothing: close at once");
    assert_eq!(conn.poll_timeout(), None, "no deadline left (none due again at the same instant)");
}
both_roles!(
    client_close_timeout_closes_at_once_when_the_close_was_never_taken,
    server_close_timeout_closes_at_once_when_the_close_was_never_taken,
    close_timeout_closes_at_once_when_the_close_was_never_taken
);

/// The "non-reading peer": keepalive is on, the peer takes none of our bytes. The Ping
/// stays unsent, the keepalive fails with 1011, the Close is queued behind the Ping; the
/// connection is closed but its output stays unsent, so `poll_transport` says `Open` and
/// `poll_timeout` gives the flush deadline (`closed_at + close_timeout`), at which the transport
/// is closed: a peer that stops reading is disconnected.
fn flushing_deadline_disconnects_a_peer_that_stopped_reading(role: Role) {
    let t0 = Instant::now();
    let interval = Duration::from_secs(30);
    let config = Config { keepalive_interval: Some(interval), ..Config::default() };
    let mut conn = Connection::new(role, config, t0);
    conn.handle_timeout(t0 + interval);
    assert!(conn.unsent_len() > 0, "the Ping");
    let closed_at = t0 + 2 * interval;
    conn.handle_timeout(closed_at);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::KeepaliveTimeout));
    assert_eq!(
        outcome.sent,
        Some(CloseFrame { code: CloseCode::INTERNAL_ERROR, reason: "keepalive timeout".into() })
    );
    let unsent = conn.unsent_len();
    assert!(unsent > 0, "the Ping and the Close are unsent");
    assert_eq!(conn.poll_transport(closed_at), Transport::Open, "the Close may still arrive");
    let deadline = closed_at + CLOSE_TIMEOUT;
    assert_eq!(conn.poll_timeout(), Some(deadline));
    conn.handle_timeout(deadline - TICK);
    assert_eq!(conn.poll_transport(deadline - TICK), Transport::Open);
    assert_eq!(conn.unsent_len(), unsent);

    conn.handle_timeout(deadline);
    assert_eq!(conn.poll_transport(deadline), Transport::Close, "disconnected");
    assert_eq!(conn.poll_timeout(), None);
    assert!(conn.unsent_len() <= unsent, "nothing more is queued");
    assert_eq!(events(&mut conn), vec![], "Closed was reported once");
}
both_roles!(
    client_flushing_deadline_disconnects_a_peer_that_stopped_reading,
    server_flushing_deadline_disconnects_a_peer_that_stopped_reading,
    flushing_deadline_disconnects_a_peer_that_stopped_reading
);

/// The lingering close is bounded in time: after a failure (any role) the connection shuts
/// down writing and reads and discards until EOF, but no longer than `linger.timeout`; what
/// arrives meanwhile does not extend it.
/// Checks §7.1.7 (the Close of a failure must arrive); the "lingering close, bounded in time".
fn linger_timeout_ends_the_lingering_close(role: Role) {
    let t0 = Instant::now();
    let linger = Linger { timeout: Duration::from_millis(300), ..Linger::default() };
    let mut conn = failed_and_written(role, Config { linger, ..Config::default() }, t0);
    let t1 = t0 + Duration::from_millis(10);
    assert_eq!(conn.poll_transport(t1), Transport::ShutdownWrite);
    let end = t1 + linger.timeout;
    assert_eq!(conn.poll_timeout(), Some(end));
    conn.receive(end - TICK, &frame_from(role.peer(), Opcode::Text, b"discarded"));
    conn.handle_timeout(end - TICK);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(conn.poll_transport(end - TICK), Transport::ShutdownWrite);
    assert_eq!(conn.poll_timeout(), Some(end));
    conn.handle_timeout(end);
    assert_eq!(conn.poll_transport(end), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
}
both_roles!(
    client_linger_timeout_ends_the_lingering_close,
    server_linger_timeout_ends_the_lingering_close,
    linger_timeout_ends_the_lingering_close
);

/// The lingering close is bounded in bytes: `linger.max_bytes` is the most read and discarded;
/// one byte more closes the transport.
/// Checks §7.1.7; the "lingering close, bounded in bytes".
fn linger_max_bytes_ends_the_lingering_close(role: Role) {
    let t0 = Instant::now();
    let linger = Linger { max_bytes: 100, ..Linger::default() };
    let mut conn = failed_and_written(role, Config { linger, ..Config::default() }, t0);
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
    conn.receive(t0, &[0xAA; 60]);
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
    conn.receive(t0, &[0xAA; 40]);
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite, "exactly max_bytes discarded");
    conn.receive(t0, &[0xAA]);
    assert_eq!(conn.poll_transport(t0), Transport::Close, "one byte over max_bytes");
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(events(&mut conn), vec![]);
}
both_roles!(
    client_linger_max_bytes_ends_the_lingering_close,
    server_linger_max_bytes_ends_the_lingering_close,
    linger_max_bytes_ends_the_lingering_close
);

/// §7.1.1: "the server SHOULD close the underlying TCP connection first"; a client waits for
/// that with everything written (`Open`, the close timeout as deadline), and its EOF closes.
#[test]
fn client_awaits_the_servers_eof_after_a_clean_close() {
    let t0 = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default(), t0);
    client.receive(t0, &close_from(Role::Server, 1000, "done"));
    assert!(only_closed(events(&mut client)).clean);
    assert_eq!(client.poll_transport(t0), Transport::Open, "the echo is unsent");
    output(&mut client);
    let t1 = t0 + Duration::from_millis(5);
    assert_eq!(client.poll_transport(t1), Transport::Open, "awaiting the server's EOF");
    assert_eq!(client.poll_timeout(), Some(t1 + CLOSE_TIMEOUT));
    client.receive(t1, b"ignored"); // read and discarded while waiting
    client.handle_timeout(t1 + CLOSE_TIMEOUT - TICK);
    assert_eq!(client.poll_transport(t1 + CLOSE_TIMEOUT - TICK), Transport::Open);
    client.receive_eof(t1 + Duration::from_secs(1));
    assert_eq!(client.poll_transport(t1 + Duration::from_secs(1)), Transport::Close);
    assert_eq!(client.poll_timeout(), None);
}

/// §7.1.1: a client whose server does not close first closes itself after `close_timeout`, and
/// like any endpoint shuts down writing and lingers; the server's EOF then ends the linger.
#[test]
fn client_lingers_when_the_server_does_not_close_first() {
    let t0 = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default(), t0);
    client.receive(t0, &close_from(Role::Server, 1000, ""));
    output(&mut client);
    assert_eq!(client.poll_transport(t0), Transport::Open);
    let waited = t0 + CLOSE_TIMEOUT;
    client.handle_timeout(waited);
    assert_eq!(client.poll_transport(waited), Transport::ShutdownWrite);
    assert_eq!(client.poll_timeout(), Some(waited + LINGER_TIMEOUT));
    client.receive_eof(waited + Duration::from_millis(1));
    assert_eq!(client.poll_transport(waited + Duration::from_millis(1)), Transport::Close);
    assert_eq!(client.poll_timeout(), None);
}

// ---------------------------------------------------------------------------------------------
// The transport instruction through each ending (crate docs, `transport` module)
// ---------------------------------------------------------------------------------------------

/// The peer's Close (§5.5.1, §7.1.1): `Open` while the echo is unsent; once written a server
/// shuts down writing (it closes TCP first) while a client waits (`Open`); EOF closes both.
fn transport_sequence_of_a_close_started_by_the_peer(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.receive(t0, &close_from(role.peer(), 1001, "away"));
    assert!(conn.is_closed());
    assert_eq!(conn.poll_transport(t0), Transport::Open, "the echo is unsent");
    output(&mut conn);
    let expected = match role {
        Role::Server => Transport::ShutdownWrite,
        Role::Client => Transport::Open,
    };
    assert_eq!(conn.poll_transport(t0), expected);
    assert_eq!(conn.poll_transport(t0), expected, "asking again changes nothing");
    conn.receive_eof(t0);
    assert_eq!(conn.poll_transport(t0), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
}
both_roles!(
    client_transport_sequence_of_a_close_started_by_the_peer,
    server_transport_sequence_of_a_close_started_by_the_peer,
    transport_sequence_of_a_close_started_by_the_peer
);

/// Our own Close (§7.1.2): `Open` while waiting for the peer's; then as above.
fn transport_sequence_of_a_close_started_here(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "done").unwrap();
    assert_eq!(conn.poll_transport(t0), Transport::Open);
    peer.receive(t0, &output(&mut conn));
    assert_eq!(conn.poll_transport(t0), Transport::Open, "waiting for the peer's Close");
    conn.receive(t0, &output(&mut peer));
    assert!(only_closed(events(&mut conn)).clean);
    let expected = match role {
        Role::Server => Transport::ShutdownWrite,
        Role::Client => Transport::Open,
    };
    assert_eq!(conn.poll_transport(t0), expected);
    conn.receive_eof(t0);
    assert_eq!(conn.poll_transport(t0), Transport::Close);
}
both_roles!(
    client_transport_sequence_of_a_close_started_here,
    server_transport_sequence_of_a_close_started_here,
    transport_sequence_of_a_close_started_here
);

/// §7.1.7: a failure's Close must arrive: `Open` while unsent, then both roles shut down
/// writing and linger (a client does not wait for the server here: it failed the connection);
/// EOF closes.
fn transport_sequence_of_a_failure(role: Role) {
    let t0 = Instant::now();
    let conn = failed_and_written(role, Config::default(), t0);
    let mut conn = conn;
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
    assert_eq!(conn.poll_timeout(), Some(t0 + LINGER_TIMEOUT));
    conn.receive_eof(t0);
    assert_eq!(conn.poll_transport(t0), Transport::Close);
}
both_roles!(
    client_transport_sequence_of_a_failure,
    server_transport_sequence_of_a_failure,
    transport_sequence_of_a_failure
);

/// EOF before the closing handshake (§7.1.5, 1006): what is unsent is still written (a peer
/// that shut down writing may still read), then `Close`, without lingering (nothing more will
/// arrive).
fn transport_after_eof_closes_once_written(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.send_text("last words").unwrap();
    conn.receive_eof(t0);
    let outcome = only_closed(events(&mut conn));
    assert_eq!((outcome.code(), outcome.clean), (CloseCode::ABNORMAL_CLOSURE, false));
    assert_eq!(conn.poll_transport(t0), Transport::Open, "the message is unsent");
    assert_eq!(conn.poll_timeout(), Some(t0 + CLOSE_TIMEOUT));
    let wire = frames(&output(&mut conn), role);
    assert_eq!(wire.len(), 1, "the message, and no Close after EOF: {wire:?}");
    assert_eq!(conn.poll_transport(t0), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
}
both_roles!(
    client_transport_after_eof_closes_once_written,
    server_transport_after_eof_closes_once_written,
    transport_after_eof_closes_once_written
);

/// EOF before closing, and the peer never takes the unsent bytes: closed at the flush deadline.
/// Checks §7.1.5; the "flushing the last bytes to a peer that stopped reading" has a deadline.
fn transport_after_eof_closes_at_the_flush_deadline(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.send_binary(&[1; 1000]).unwrap();
    conn.receive_eof(t0);
    only_closed(events(&mut conn));
    let deadline = t0 + CLOSE_TIMEOUT;
    conn.handle_timeout(deadline - TICK);
    assert_eq!(conn.poll_transport(deadline - TICK), Transport::Open);
    conn.handle_timeout(deadline);
    assert_eq!(conn.poll_transport(deadline), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
}
both_roles!(
    client_transport_after_eof_closes_at_the_flush_deadline,
    server_transport_after_eof_closes_at_the_flush_deadline,
    transport_after_eof_closes_at_the_flush_deadline
);

/// Builds a connection in some phase of its life.
type MakeConnection = Box<dyn Fn() -> Connection>;

/// `receive_reset` (a reset, a broken pipe, a write of 0 bytes): nothing can be written or read
/// any more, so `Close` at once, whatever the phase: open with unsent output, waiting for the
/// peer's Close, lingering, a client waiting for the server's EOF. Before the closing
/// handshake it closes abnormally (1006, §7.1.5).
fn transport_after_a_reset_closes_at_once(role: Role) {
    let t0 = Instant::now();
    let phases: Vec<(&str, MakeConnection)> = vec![
        (
            "open, output unsent",
            Box::new(move || {
                let mut conn = Connection::new(role, Config::default(), t0);
                conn.send_text("unsent").unwrap();
                conn
            }),
        ),
        (
            "waiting for the peer's Close",
            Box::new(move || {
                let mut conn = Connection::new(role, Config::default(), t0);
                conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
                output(&mut conn);
                conn
            }),
        ),
        (
            "after the closing handshake",
            Box::new(move || {
                let mut conn = Connection::new(role, Config::default(), t0);
                conn.receive(t0, &close_from(role.peer(), 1000, ""));
                output(&mut conn);
                conn.poll_transport(t0);
                conn
            }),
        ),
        ("after a failure", Box::new(move || failed_and_written(role, Config::default(), t0))),
    ];
    for (phase, make) in phases {
        let mut conn = make();
        events(&mut conn); // what the phase itself reported
        let was_closed = conn.is_closed();
        conn.receive_reset(t0);
        let reported = events(&mut conn);
        if was_closed {
            assert!(reported.iter().all(|event| !matches!(event, Event::Closed(_))), "{phase}: {reported:?}");
        } else {
            let outcome = only_closed(reported);
            assert_eq!((outcome.code(), outcome.clean), (CloseCode::ABNORMAL_CLOSURE, false), "{phase}");
        }
        assert_eq!(conn.poll_transport(t0), Transport::Close, "{phase}");
        assert_eq!(conn.poll_timeout(), None, "{phase}");
        conn.receive_eof(t0);
        assert_eq!(conn.poll_transport(t0), Transport::Close, "{phase}");
    }
}
both_roles!(
    client_transport_after_a_reset_closes_at_once,
    server_transport_after_a_reset_closes_at_once,
    transport_after_a_reset_closes_at_once
);

/// Once `poll_transport` says `Close` the socket is dropped, so there is nothing left to write:
/// an adapter that follows the drive rule literally writes (step 2) before it asks about the
/// transport (step 3), and after `receive_reset` (a failed write) it would retry the failed
/// write forever, or block on a peer that stopped reading with no deadline left to bound it
/// (`poll_timeout` is `None`). Checked after a reset and after the flush deadline.
/// Checks the issue's drive rule ("no poll may create work that an earlier step has passed over") and "no
/// adapter waits on anything the core did not bound".
fn has_nothing_to_send_once_the_transport_is_to_close(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.send_text("never written").unwrap();
    conn.receive_reset(t0);
    assert_eq!(conn.poll_transport(t0), Transport::Close);
    assert_eq!((conn.unsent_len(), conn.bytes_to_send().len()), (0, 0), "after a reset");

    let mut conn = Connection::new(role, Config::default(), t0);
    conn.send_text("never taken").unwrap();
    conn.receive_eof(t0);
    conn.handle_timeout(t0 + CLOSE_TIMEOUT);
    assert_eq!(conn.poll_transport(t0 + CLOSE_TIMEOUT), Transport::Close);
    assert_eq!((conn.unsent_len(), conn.bytes_to_send().len()), (0, 0), "after the flush deadline");

    let mut handshake = ClientHandshake::new(client_request(), handshake_config(), t0);
    handshake.receive_reset(t0);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
    assert_eq!(handshake.bytes_to_send().len(), 0, "a client handshake after a reset");
}
both_roles!(
    client_has_nothing_to_send_once_the_transport_is_to_close,
    server_has_nothing_to_send_once_the_transport_is_to_close,
    has_nothing_to_send_once_the_transport_is_to_close
);

/// A reset during the handshake: it fails (`ConnectionClosed`) and the transport is closed.
/// Checks §4.2; the transport instruction: a reset means `Close`.
#[test]
fn server_handshake_reset_closes_at_once() {
    let t0 = Instant::now();
    let mut handshake = ServerHandshake::new(handshake_config(), t0);
    handshake.receive(t0, &REQUEST[..20]);
    handshake.receive_reset(t0);
    assert_eq!(handshake.poll_event(), Some(ServerEvent::Failed(HandshakeError::ConnectionClosed)));
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
    assert_eq!(handshake.poll_timeout(), None);

    // While its answer is being written, too.
    let (mut handshake, _) = server_handshake(handshake_config(), t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    handshake.respond(t0, &HttpResponse::text(200, "hello")).unwrap();
    handshake.receive_reset(t0);
    assert_eq!(handshake.poll_event(), None, "the request was answered: nothing failed");
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
}

/// A reset during the client's handshake: it fails (`ConnectionClosed`), and closes.
/// Checks §4.1; the transport instruction: a reset means `Close`.
#[test]
fn client_handshake_reset_closes_at_once() {
    let t0 = Instant::now();
    let mut handshake = ClientHandshake::new(client_request(), handshake_config(), t0);
    handshake.receive_reset(t0);
    assert_eq!(handshake.poll_event(), Some(ClientEvent::Failed(HandshakeError::ConnectionClosed)));
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
    assert_eq!(handshake.poll_timeout(), None);
}

/// A reset after a valid 101 but before `into_connection` (the socket failed while the
/// application was about to take the connection): `ClientHandshake::receive_reset` promises
/// "`poll_transport` says close", in every state.
/// Checks §4.1; the transport instruction: a reset means `Close`.
#[test]
fn client_handshake_reset_after_the_101_closes() {
    let t0 = Instant::now();
    let mut handshake = client_handshake(handshake_config(), t0);
    handshake.receive(t0, RESPONSE_101);
    assert!(matches!(handshake.poll_event(), Some(ClientEvent::Accepted(_))));
    handshake.receive_reset(t0);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
}

/// EOF before the server's answer: the client fails (`ConnectionClosed`); its request is still
/// written if it can be (up to the close timeout), then the transport closes.
/// Checks §4.1; the transport instruction: EOF means `Close` once written.
#[test]
fn client_handshake_eof_before_the_response_fails() {
    let t0 = Instant::now();
    let mut handshake = ClientHandshake::new(client_request(), handshake_config(), t0);
    handshake.receive_eof(t0);
    assert_eq!(handshake.poll_event(), Some(ClientEvent::Failed(HandshakeError::ConnectionClosed)));
    assert_eq!(handshake.poll_transport(t0), Transport::Open, "the request is unsent");
    let written = handshake.bytes_to_send().len();
    handshake.mark_sent(written);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
}

// ---------------------------------------------------------------------------------------------
// §5.5.1: the Close echo
// ---------------------------------------------------------------------------------------------

/// §5.5.1: "When sending a Close frame in response, the endpoint typically echos the status
/// code it received"; the reason is echoed with it (the RFC's note allows any body; Node `ws`
/// and Python `websockets` echo both). The echo's body is exactly the peer's, up to the 123
/// bytes a reason may have.
fn echoes_the_peers_close_code_and_reason(role: Role) {
    let t0 = Instant::now();
    let longest = "é".repeat(61) + "x"; // 123 bytes
    for (code, reason) in [(1000, "bye"), (1001, ""), (4000, "private €"), (3000, longest.as_str())] {
        let mut conn = Connection::new(role, Config::default(), t0);
        conn.receive(t0, &close_from(role.peer(), code, reason));
        let sent = frames(&output(&mut conn), role);
        assert_eq!(sent.len(), 1);
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(reason.as_bytes());
        assert_eq!(
            (sent[0].header.opcode, &sent[0].payload[..]),
            (Opcode::Close, &body[..]),
            "{code} {reason:?}"
        );
        let outcome = only_closed(events(&mut conn));
        let status = Some(CloseFrame { code: CloseCode(code), reason: reason.to_owned() });
        assert_eq!((&outcome.sent, &outcome.received), (&status, &status));
        assert_eq!(outcome.initiator, CloseInitiator::Remote);
    }
}
both_roles!(
    client_echoes_the_peers_close_code_and_reason,
    server_echoes_the_peers_close_code_and_reason,
    echoes_the_peers_close_code_and_reason
);

/// §5.5.1, §7.1.5: an empty Close (no status code) is answered with an empty Close: 1005 may
/// not be put in a Close frame.
fn answers_an_empty_close_with_an_empty_close(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.receive(t0, &frame_from(role.peer(), Opcode::Close, b""));
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].header.opcode, sent[0].payload.len()), (Opcode::Close, 0));
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.code(), CloseCode::NO_STATUS_RCVD);
    assert_eq!(outcome.sent, Some(CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: String::new() }));
}
both_roles!(
    client_answers_an_empty_close_with_an_empty_close,
    server_answers_an_empty_close_with_an_empty_close,
    answers_an_empty_close_with_an_empty_close
);

/// §5.5: a control frame carries at most 125 bytes, so a reason of at most 123; a reason built
/// from text of any length (a failure's error message) is cut to fit, on a character boundary,
/// and then sent by `close` and read whole by the peer.
fn close_frame_truncating_cuts_on_a_char_boundary(role: Role) {
    let t0 = Instant::now();
    let cases: [(String, usize); 6] = [
        ("short".into(), 5),
        ("a".repeat(123), 123),
        ("a".repeat(124), 123),
        ("é".repeat(100), 122), // 2-byte characters: 61 fit
        ("€".repeat(42), 123),  // 3-byte characters: exactly 41 fit
        ("😀".repeat(31), 120), // 4-byte characters: 30 fit
    ];
    for (reason, expected_len) in cases {
        let close = CloseFrame::truncating(CloseCode::POLICY_VIOLATION, &reason).unwrap();
        assert_eq!(close.reason.len(), expected_len, "{reason:?}");
        assert!(reason.starts_with(&close.reason));
        assert_eq!(close.code, CloseCode::POLICY_VIOLATION);
        let mut body = Vec::new();
        close.encode(&mut body);
        assert_eq!(CloseFrame::decode(&body), Ok(Some(close.clone())), "the body decodes as valid UTF-8");

        let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
        conn.close(t0, close.code, &close.reason).unwrap();
        peer.receive(t0, &output(&mut conn));
        let outcome = only_closed(events(&mut peer));
        assert_eq!((outcome.code(), outcome.reason()), (close.code, close.reason.as_str()));
    }
    assert_eq!(
        CloseFrame::truncating(CloseCode::NO_STATUS_RCVD, "x"),
        Err(SendError::UnsendableCloseCode(CloseCode::NO_STATUS_RCVD))
    );
}
both_roles!(
    client_close_frame_truncating_cuts_on_a_char_boundary,
    server_close_frame_truncating_cuts_on_a_char_boundary,
    close_frame_truncating_cuts_on_a_char_boundary
);

// ---------------------------------------------------------------------------------------------
// ServerHandshake (§4.2, §4.4)
// ---------------------------------------------------------------------------------------------

/// A plain HTTP request (no `Upgrade: websocket`) is reported for the application to answer
/// (a page on the WebSocket's port); the answer is the `HttpResponse`'s bytes exactly, then the
/// transport shuts down writing once they are written, and closes on the peer's EOF.
/// Checks §4.2.1 (a request that is not an upgrade); the issue's "a Close (or an HTTP answer) that is sent
/// must arrive".
#[test]
fn server_handshake_answers_a_plain_request() {
    let t0 = Instant::now();
    let input = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let (mut handshake, event) = server_handshake(handshake_config(), t0, input);
    let Some(ServerEvent::Request(request)) = event else { panic!("Request expected: {event:?}") };
    assert_eq!((request.method.as_str(), request.path()), ("GET", "/index.html"));
    assert_eq!(handshake.bytes_to_send(), b"");

    let page = HttpResponse::text(200, "hello\n").with_header("Server", "test");
    handshake.respond(t0, &page).unwrap();
    let mut expected = Vec::new();
    page.encode(&mut expected);
    assert_eq!(handshake.bytes_to_send(), &expected[..]);
    assert_eq!(handshake.poll_transport(t0), Transport::Open, "the answer is unsent");
    handshake.mark_sent(10);
    assert_eq!(handshake.poll_transport(t0), Transport::Open);
    handshake.mark_sent(expected.len() - 10);
    assert_eq!(handshake.poll_transport(t0), Transport::ShutdownWrite);
    assert_eq!(handshake.poll_timeout(), Some(t0 + LINGER_TIMEOUT));
    handshake.receive(t0, b"GET /favicon.ico HTTP/1.1\r\n\r\n"); // discarded
    assert_eq!(handshake.poll_event(), None);
    handshake.receive_eof(t0);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
    assert_eq!(handshake.respond(t0, &page), Err(HandshakeError::NotAwaitingAnswer), "answered once");
}

/// §4.2.1, §4.4: a bad upgrade request is answered by the core with its status (426 with
/// `Sec-WebSocket-Version: 13` for another version: "the server MUST ... send a
/// |Sec-WebSocket-Version| header field"), reported as `Failed`, and the transport ended.
#[test]
fn server_handshake_rejects_a_bad_upgrade_with_its_status() {
    let t0 = Instant::now();
    let cases: [(&[u8], HandshakeError, u16); 3] = [
        (
            b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            HandshakeError::UnsupportedVersion(Some("8".into())),
            426,
        ),
        (
            b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
            HandshakeError::InvalidKey,
            400,
        ),
        (
            b"POST /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            HandshakeError::MethodNotGet("POST".into()),
            400,
        ),
    ];
    for (input, error, status) in cases {
        let (mut handshake, event) = server_handshake(handshake_config(), t0, input);
        assert_eq!(event, Some(ServerEvent::Failed(error.clone())));
        assert_eq!(error.status(), Some(status));
        let mut expected = Vec::new();
        HttpResponse::from_error(&error).encode(&mut expected);
        assert_eq!(handshake.bytes_to_send(), &expected[..], "{error:?}");
        let text = String::from_utf8(expected.clone()).unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        if status == 426 {
            assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
        }
        assert_eq!(handshake.poll_transport(t0), Transport::Open);
        handshake.mark_sent(expected.len());
        assert_eq!(handshake.poll_transport(t0), Transport::ShutdownWrite);
        handshake.receive_eof(t0);
        assert_eq!(handshake.poll_transport(t0), Transport::Close);
    }
}

/// RFC 6585 §5: a head over `HeadLimits::max_head_size` is refused with 431 as soon as that
/// many bytes arrived.
#[test]
fn server_handshake_answers_431_to_a_head_over_the_limit() {
    let t0 = Instant::now();
    let limits = HeadLimits { max_head_size: 64, ..HeadLimits::default() };
    let config = HandshakeConfig { limits, ..handshake_config() };
    let mut handshake = ServerHandshake::new(config, t0);
    handshake.receive(t0, &REQUEST[..63]);
    assert_eq!(handshake.poll_event(), None);
    handshake.receive(t0, &REQUEST[63..64]);
    assert_eq!(handshake.poll_event(), Some(ServerEvent::Failed(HandshakeError::HeadTooLarge(64))));
    assert!(handshake.bytes_to_send().starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

/// §4.2.2: accepting gives the connection with the 101 first in its output, and the frames the
/// client sent right behind its request already processed (no byte after the head is lost).
#[test]
fn server_handshake_accept_gives_the_connection_with_the_101_and_the_frames_after_the_head() {
    let t0 = Instant::now();
    let mut input = REQUEST.to_vec();
    input.extend_from_slice(&MASKED_HELLO);
    input.extend_from_slice(&frame_from(Role::Client, Opcode::Ping, b"p"));
    let (mut handshake, event) = server_handshake(handshake_config(), t0, &input);
    let request = upgrade_of(event);
    let response = request.accept().with_header("Server", "t");
    let mut head = Vec::new();
    response.encode(&mut head);
    assert!(head.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(head.windows(ACCEPT.len()).any(|window| window == ACCEPT.as_bytes()));

    let mut conn = handshake.accept(t0, response, Config::default()).unwrap();
    assert_eq!(events(&mut conn), vec![text("Hello")]);
    let out = output(&mut conn);
    assert!(out.starts_with(&head), "the 101 goes first");
    let pong = frames(&out[head.len()..], Role::Server);
    assert_eq!(pong.len(), 1, "then the Pong: {pong:?}");
    assert_eq!((pong[0].header.opcode, &pong[0].payload[..]), (Opcode::Pong, &b"p"[..]));
    assert_eq!(handshake.poll_transport(t0), Transport::Open, "the connection owns the transport now");
    assert_eq!(handshake.poll_timeout(), None);
}

/// §4.2.2 items 5.5, 5.6: the server selects from what the client offered. An unoffered
/// subprotocol or extension is an error and changes nothing: the request can still be answered.
#[test]
fn server_handshake_accept_refuses_what_was_not_offered_and_changes_nothing() {
    let t0 = Instant::now();
    let (mut handshake, event) = server_handshake(handshake_config(), t0, REQUEST);
    let request = upgrade_of(event);
    assert_eq!(
        handshake.accept(t0, request.accept().with_protocol("chat"), Config::default()).map(|_| ()),
        Err(HandshakeError::UnofferedProtocol("chat".into()))
    );
    assert_eq!(
        handshake
            .accept(t0, request.accept().with_extension(Box::new(Invert)), Config::default())
            .map(|_| ()),
        Err(HandshakeError::UnofferedExtension("x-invert".into()))
    );
    assert_eq!(handshake.bytes_to_send(), b"", "nothing written");
    assert_eq!(handshake.poll_event(), None);
    assert_eq!(handshake.poll_timeout(), Some(t0 + HANDSHAKE_TIMEOUT), "still deciding");
    handshake.respond(t0, &HttpResponse::text(403, "no")).unwrap();
    assert!(handshake.bytes_to_send().starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
}

/// Accepting twice (or after answering) is `NotAwaitingAnswer`.
/// Checks §4.2.2 (one answer per request); STYLE.md §5: a misuse is a plain error, state unchanged.
#[test]
fn server_handshake_accept_twice_is_not_awaiting_an_answer() {
    let t0 = Instant::now();
    let (mut handshake, event) = server_handshake(handshake_config(), t0, REQUEST);
    let request = upgrade_of(event);
    handshake.accept(t0, request.accept(), Config::default()).unwrap();
    assert_eq!(
        handshake.accept(t0, request.accept(), Config::default()).map(|_| ()),
        Err(HandshakeError::NotAwaitingAnswer)
    );
    assert_eq!(handshake.respond(t0, &HttpResponse::new(500)), Err(HandshakeError::NotAwaitingAnswer));
    // Before any request, too.
    let mut fresh = ServerHandshake::new(handshake_config(), t0);
    assert_eq!(
        fresh.accept(t0, request.accept(), Config::default()).map(|_| ()),
        Err(HandshakeError::NotAwaitingAnswer)
    );
}

/// §9.1: an extension codec given to the `AcceptResponse` is both the 101's
/// `Sec-WebSocket-Extensions` and the connection's codec: the RSV bit it claims is accepted and
/// its messages pass through it.
#[test]
fn server_handshake_accept_installs_the_extension_codec_and_lists_it() {
    let t0 = Instant::now();
    let mut input = REQUEST.strip_suffix(b"\r\n").unwrap().to_vec();
    input.extend_from_slice(b"Sec-WebSocket-Extensions: x-invert\r\n\r\n");
    // A masked Text "Hi" inverted by the extension, with RSV3 set (§5.2: only once negotiated).
    let mut header = FrameHeader::new(true, Opcode::Text, 2);
    header.rsv3 = true;
    header.masking_key = Some(PEER_KEY);
    rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(&[!b'H', !b'i']) }.encode(&mut input);
    let (mut handshake, event) = server_handshake(handshake_config(), t0, &input);
    let request = upgrade_of(event);
    assert_eq!(request.extensions(), [Extension::new("x-invert")]);
    let mut conn =
        handshake.accept(t0, request.accept().with_extension(Box::new(Invert)), Config::default()).unwrap();
    assert_eq!(events(&mut conn), vec![text("Hi")], "RSV3 accepted, payload decoded by the codec");
    let out = String::from_utf8_lossy(&output(&mut conn)).into_owned();
    assert!(out.contains("\r\nSec-WebSocket-Extensions: x-invert\r\n"), "{out}");
}

/// The peer's EOF while the application decides: an accepted connection gets it (closes
/// abnormally, 1006) after the frames that came before it; a response is written, then the
/// transport closes without lingering.
/// Checks §4.2.2, §7.1.5; the "no byte is lost", EOF included.
#[test]
fn server_handshake_passes_an_eof_during_the_decision_on() {
    let t0 = Instant::now();
    let mut input = REQUEST.to_vec();
    input.extend_from_slice(&MASKED_HELLO);
    let (mut handshake, event) = server_handshake(handshake_config(), t0, &input);
    handshake.receive_eof(t0);
    let request = upgrade_of(event);
    let mut conn = handshake.accept(t0, request.accept(), Config::default()).unwrap();
    let received = events(&mut conn);
    assert_eq!(received[0], text("Hello"));
    assert!(
        matches!(&received[1..], [Event::Closed(outcome)] if outcome.code() == CloseCode::ABNORMAL_CLOSURE)
    );

    let (mut handshake, _) = server_handshake(handshake_config(), t0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    handshake.receive_eof(t0);
    handshake.respond(t0, &HttpResponse::text(200, "bye")).unwrap();
    let written = handshake.bytes_to_send().len();
    handshake.mark_sent(written);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
}

// ---------------------------------------------------------------------------------------------
// ClientHandshake (§4.1)
// ---------------------------------------------------------------------------------------------

/// The request is the `ClientRequest`'s bytes; a valid 101 is `Accepted`, and `into_connection`
/// feeds the frames that followed it (§5.7's unmasked "Hello") to the connection.
#[test]
fn client_handshake_accepts_a_valid_101_and_keeps_the_frames_after_it() {
    let t0 = Instant::now();
    let mut handshake = ClientHandshake::new(client_request(), handshake_config(), t0);
    let mut request = Vec::new();
    client_request().encode(&mut request);
    assert_eq!(handshake.bytes_to_send(), &request[..]);
    handshake.mark_sent(request.len());
    assert_eq!(handshake.poll_timeout(), Some(t0 + HANDSHAKE_TIMEOUT));

    let mut input = RESPONSE_101.to_vec();
    input.extend_from_slice(&UNMASKED_HELLO);
    handshake.receive(t0, &input);
    let Some(ClientEvent::Accepted(accepted)) = handshake.poll_event() else { panic!("Accepted expected") };
    assert_eq!(accepted.protocol(), None);
    assert_eq!(handshake.poll_event(), None, "one event");
    let mut conn = handshake.into_connection(t0, Config::default(), Vec::new()).unwrap();
    assert_eq!(conn.role(), Role::Client);
    assert_eq!(events(&mut conn), vec![text("Hello")]);
}

/// §4.1: "If the |Sec-WebSocket-Accept| contains a value other than ... the client MUST _Fail
/// the WebSocket Connection_": `Failed(AcceptMismatch)`, and the transport is ended.
#[test]
fn client_handshake_fails_on_a_wrong_accept() {
    let t0 = Instant::now();
    let mut handshake = client_handshake(handshake_config(), t0);
    let wrong = String::from_utf8(RESPONSE_101.to_vec()).unwrap().replace(ACCEPT, &accept_key("other"));
    handshake.receive(t0, wrong.as_bytes());
    assert_eq!(handshake.poll_event(), Some(ClientEvent::Failed(HandshakeError::AcceptMismatch)));
    assert_eq!(handshake.poll_transport(t0), Transport::ShutdownWrite, "the request was written: linger");
    handshake.receive_eof(t0);
    assert_eq!(handshake.poll_transport(t0), Transport::Close);
    assert!(handshake.into_connection(t0, Config::default(), Vec::new()).is_err());
}

/// §4.1: another status is handled "per HTTP procedures": a 3xx with `Location` is a
/// `Redirect`, reported once its body (by `Content-Length`) is read.
#[test]
fn client_handshake_reports_a_redirect_after_its_body() {
    let t0 = Instant::now();
    let mut handshake = client_handshake(handshake_config(), t0);
    handshake.receive(
        t0,
        b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/chat\r\nContent-Length: 5\r\n\r\nmov",
    );
    assert_eq!(handshake.poll_event(), None, "2 bytes of body to come");
    handshake.receive(t0, b"ed");
    assert_eq!(
        handshake.poll_event(),
        Some(ClientEvent::Redirect { status: 302, location: "ws://elsewhere.example/chat".into() })
    );
    assert_eq!(handshake.poll_transport(t0), Transport::ShutdownWrite);
}

/// A 403 with a `Content-Length` body: `Rejected` with its status, header fields and body.
/// Checks §4.1: "the client handles the response per HTTP procedures".
#[test]
fn client_handshake_reports_a_rejection_with_its_body() {
    let t0 = Instant::now();
    let mut handshake = client_handshake(handshake_config(), t0);
    handshake.receive(t0, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: origin\r\n\r\nforbidden");
    let Some(ClientEvent::Rejected(response)) = handshake.poll_event() else { panic!("Rejected expected") };
    assert_eq!((response.status, response.reason.as_str()), (403, "Forbidden"));
    assert_eq!(response.headers.get("x-why"), Some("origin"));
    assert_eq!(&response.body[..], b"forbidden");
}

/// RFC 9112 §6.3: a body without `Content-Length` lasts until the server closes: reported at
/// EOF, with everything that came.
#[test]
fn client_handshake_reads_a_body_without_length_until_eof() {
    let t0 = Instant::now();
    let mut handshake = client_handshake(handshake_config(), t0);
    handshake.receive(t0, b"HTTP/1.1 404 Not Found\r\n\r\nno such");
    handshake.receive(t0, b" page");
    assert_eq!(handshake.poll_event(), None);
    handshake.receive_eof(t0);
    let Some(ClientEvent::Rejected(response)) = handshake.poll_event() else { panic!("Rejected expected") };
    assert_eq!(&response.body[..], b"no such page");
    assert_eq!(handshake.poll_transport(t0), Transport::Close, "written, and the server closed");
}

/// `HandshakeConfig::max_body_size` bounds the body kept: with a longer `Content-Length`, or
/// none, the response is reported once that many bytes arrived, the rest not waited for.
/// Checks §4.1; the bounded buffering of a peer's bytes.
#[test]
fn client_handshake_bounds_the_body_by_max_body_size() {
    let t0 = Instant::now();
    let config = HandshakeConfig { max_body_size: 10, ..handshake_config() };
    for head in [
        &b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000\r\n\r\n"[..],
        b"HTTP/1.1 500 Oops\r\n\r\n",
    ] {
        let mut handshake = client_handshake(config, t0);
        handshake.receive(t0, head);
        handshake.receive(t0, b"0123456");
        assert_eq!(handshake.poll_event(), None);
        handshake.receive(t0, b"789abcdef");
        let Some(ClientEvent::Rejected(response)) = handshake.poll_event() else {
            panic!("Rejected expected")
        };
        assert_eq!(&response.body[..], b"0123456789");
    }
}

/// §9.1: the codecs given to `into_connection` must be those of the extensions the server
/// accepted, by name and in order; otherwise `ExtensionMismatch` (a client that cannot use what
/// the server chose must fail the connection). Before a valid 101: `NotAwaitingAnswer`.
#[test]
fn client_handshake_into_connection_checks_the_codecs_against_the_accepted_extensions() {
    let t0 = Instant::now();
    let request = client_request().with_extension(Extension::new("x-invert"));
    let accepted_101 = String::from_utf8(RESPONSE_101.to_vec())
        .unwrap()
        .replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: x-invert\r\n\r\n");
    let accepted = |codecs: Vec<Box<dyn ExtensionCodec>>| {
        let mut handshake = ClientHandshake::new(request.clone(), handshake_config(), t0);
        handshake.receive(t0, accepted_101.as_bytes());
        assert!(matches!(handshake.poll_event(), Some(ClientEvent::Accepted(_))));
        handshake.into_connection(t0, Config::default(), codecs).map(|_| ())
    };
    assert_eq!(accepted(vec![Box::new(Invert)]), Ok(()));
    assert!(matches!(accepted(vec![]), Err(HandshakeError::ExtensionMismatch(_))));
    assert!(matches!(
        accepted(vec![Box::new(Negotiated(Extension::new("x-other")))]),
        Err(HandshakeError::ExtensionMismatch(_))
    ));
    assert!(matches!(
        accepted(vec![Box::new(Invert), Box::new(Negotiated(Extension::new("x-invert")))]),
        Err(HandshakeError::ExtensionMismatch(_))
    ));
    // And codecs for extensions the server did not accept.
    let mut plain = client_handshake(handshake_config(), t0);
    plain.receive(t0, RESPONSE_101);
    plain.poll_event();
    assert!(matches!(
        plain.into_connection(t0, Config::default(), vec![Box::new(Invert)]),
        Err(HandshakeError::ExtensionMismatch(_))
    ));
    let waiting = client_handshake(handshake_config(), t0);
    assert_eq!(
        waiting.into_connection(t0, Config::default(), Vec::new()).map(|_| ()),
        Err(HandshakeError::NotAwaitingAnswer)
    );
}

/// The response type decodes any status on its own, with where its head ends.
/// Checks §4.1; STYLE.md §1: "every decoder reports how many bytes it consumed".
#[test]
fn client_response_decode_reports_where_the_head_ends() {
    let input = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\nbody";
    let (response, consumed) = Response::decode(input, &HeadLimits::default()).unwrap().complete().unwrap();
    assert_eq!((response.status, consumed), (401, input.len() - 4));
    assert!(response.body.is_empty());
    assert_eq!(Response::decode(&input[..10], &HeadLimits::default()).unwrap().complete(), None);
}

// ---------------------------------------------------------------------------------------------
// Chunking: no byte after the head is lost (STYLE.md §1, §7)
// ---------------------------------------------------------------------------------------------

/// Frames a client sends right behind its request (§5.7's masked "Hello", a Ping, a fragmented
/// message and a Close), so that the connection has several events to give.
fn client_frames_after_the_head() -> Vec<u8> {
    let mut frames = MASKED_HELLO.to_vec();
    frames.extend(frame_from(Role::Client, Opcode::Ping, b"ping"));
    let mut first = FrameHeader::new(false, Opcode::Binary, 3);
    first.masking_key = Some(PEER_KEY);
    rfc6455::Frame { header: first, payload: bytes::Bytes::copy_from_slice(b"abc") }.encode(&mut frames);
    let mut last = FrameHeader::new(true, Opcode::Continuation, 2);
    last.masking_key = Some([1, 2, 3, 4]);
    rfc6455::Frame { header: last, payload: bytes::Bytes::copy_from_slice(b"de") }.encode(&mut frames);
    frames.extend(close_from(Role::Client, 1000, "bye"));
    frames
}

/// The same for a server behind its 101.
fn server_frames_after_the_head() -> Vec<u8> {
    let mut frames = UNMASKED_HELLO.to_vec();
    frames.extend(frame_from(Role::Server, Opcode::Ping, b"ping"));
    frames.extend(frame_from(Role::Server, Opcode::Binary, &[7; 300]));
    frames.extend(close_from(Role::Server, 1001, "going"));
    frames
}

/// `input` cut at `cuts` (sorted, deduplicated, within the input).
fn chunks<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|window| &input[window[0]..window[1]]).collect()
}

/// A server handshake fed `pieces`, accepting as soon as the request is reported (or after
/// every piece, if `late`): its event, and the events of its connection.
fn server_events(pieces: &[&[u8]], late: bool) -> (ServerEvent, Vec<Event>) {
    let t0 = Instant::now();
    let mut handshake = ServerHandshake::new(handshake_config(), t0);
    let mut event = None;
    let mut conn: Option<Connection> = None;
    for piece in pieces {
        match &mut conn {
            Some(conn) => conn.receive(t0, piece),
            None => handshake.receive(t0, piece),
        }
        if event.is_none() {
            event = handshake.poll_event();
            assert_eq!(handshake.poll_event(), None, "one event");
        }
        if let (Some(ServerEvent::Upgrade(request)), None, false) = (&event, &conn, late) {
            conn = Some(handshake.accept(t0, request.accept(), Config::default()).unwrap());
        }
    }
    let event = event.expect("the request was reported");
    let mut conn = match (conn, &event) {
        (Some(conn), _) => conn,
        (None, ServerEvent::Upgrade(request)) => {
            handshake.accept(t0, request.accept(), Config::default()).unwrap()
        }
        (None, other) => panic!("not an upgrade: {other:?}"),
    };
    (event, events(&mut conn))
}

/// A client handshake fed `pieces`, taking its connection as soon as the 101 is reported (or
/// after every piece, if `late`): its event, and the events of its connection.
fn client_events(pieces: &[&[u8]], late: bool) -> (ClientEvent, Vec<Event>) {
    let t0 = Instant::now();
    let mut handshake = Some(client_handshake(handshake_config(), t0));
    let mut event = None;
    let mut conn: Option<Connection> = None;
    for piece in pieces {
        match (&mut conn, &mut handshake) {
            (Some(conn), _) => conn.receive(t0, piece),
            (None, Some(handshake)) => handshake.receive(t0, piece),
            (None, None) => unreachable!(),
        }
        if event.is_none() {
            event = handshake.as_mut().and_then(ClientHandshake::poll_event);
        }
        if event.is_some() && conn.is_none() && !late {
            conn =
                Some(handshake.take().unwrap().into_connection(t0, Config::default(), Vec::new()).unwrap());
        }
    }
    let event = event.expect("the response was reported");
    let mut conn = match conn {
        Some(conn) => conn,
        None => handshake.unwrap().into_connection(t0, Config::default(), Vec::new()).unwrap(),
    };
    (event, events(&mut conn))
}

/// One byte at a time, the extreme of chunking: the same event and connection events as one
/// read, for both handshakes, accepting early or late.
/// Checks §4.2.2, §5.2; STYLE.md §1: "no bytes are ever lost".
#[test]
fn server_handshake_one_byte_at_a_time_loses_nothing() {
    let input = [REQUEST, &client_frames_after_the_head()].concat();
    let whole = server_events(&[&input], false);
    assert_eq!(whole.1.len(), 3, "Hello, the fragmented message, Closed: {:?}", whole.1);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(server_events(&bytes, false), whole);
    assert_eq!(server_events(&bytes, true), whole);
}

/// The same for the client: a 101 plus the server's first frames, one byte at a time. Checks
/// §4.1, §5.2; STYLE.md §1: "no bytes are ever lost".
#[test]
fn client_handshake_one_byte_at_a_time_loses_nothing() {
    let input = [RESPONSE_101, &server_frames_after_the_head()].concat();
    let whole = client_events(&[&input], false);
    assert_eq!(whole.1.len(), 3, "Hello, the binary message, Closed: {:?}", whole.1);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(client_events(&bytes, false), whole);
    assert_eq!(client_events(&bytes, true), whole);
}

proptest! {
    /// For any chunking of a request head plus the frames behind it, the server handshake gives
    /// the same event and its connection the same events as with one read.
    #[test]
    fn server_handshake_events_do_not_depend_on_chunking(
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        late in any::<bool>(),
    ) {
        let input = [REQUEST, &client_frames_after_the_head()].concat();
        let whole = server_events(&[&input], false);
        prop_assert_eq!(server_events(&chunks(&input, &cuts), late), whole);
    }

    /// The same for the client handshake, with a 101 plus the server's first frames.
    #[test]
    fn client_handshake_events_do_not_depend_on_chunking(
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        late in any::<bool>(),
    ) {
        let input = [RESPONSE_101, &server_frames_after_the_head()].concat();
        let whole = client_events(&[&input], false);
        prop_assert_eq!(client_events(&chunks(&input, &cuts), late), whole);
    }
}

// ---------------------------------------------------------------------------------------------
// §10.2: the Origin policy
// ---------------------------------------------------------------------------------------------

/// The upgrade request of a head with `Host: host` and, if given, `Origin: origin`.
fn origin_request(host: &str, origin: Option<&str>) -> UpgradeRequest {
    let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
    let head = format!(
        "GET /chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    UpgradeRequest::decode(head.as_bytes(), &HeadLimits::default()).unwrap().complete().unwrap().0
}

/// Checks `policy` on each `(host, origin, allowed)`: `Ok`, or a 403.
fn check_origins(policy: &OriginPolicy, table: &[(&str, Option<&str>, bool)]) {
    let mut problems = Vec::new();
    for &(host, origin, allowed) in table {
        let result = policy.check(&origin_request(host, origin));
        let ok = match &result {
            Ok(()) => true,
            Err(response) => {
                assert_eq!(response.status(), 403, "{policy:?} {host} {origin:?}");
                false
            }
        };
        if ok != allowed {
            problems
                .push(format!("{policy:?}: Host {host}, Origin {origin:?}: {result:?}, expected {allowed}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// §10.2: "If the origin indicated is unacceptable to the server, then it SHOULD respond to the
/// WebSocket handshake with a reply containing HTTP 403 Forbidden status code". A request
/// without `Origin` is not from a browser: every policy lets it through.
#[test]
fn server_origin_policy_table() {
    let same_origin: [(&str, Option<&str>, bool); 17] = [
        ("example.com", None, true),
        ("example.com:8080", Some("http://example.com:8080"), true),
        ("example.com", Some("http://example.com"), true),
        ("example.com", Some("http://example.com:80"), true),
        ("example.com", Some("https://example.com"), true),
        ("example.com", Some("https://example.com:443"), true),
        ("example.com:80", Some("http://example.com"), true),
        ("example.com:443", Some("https://example.com"), true),
        ("example.com:8080", Some("http://example.com"), false),
        ("example.com:8080", Some("http://example.com:9090"), false),
        ("example.com", Some("http://evil.example"), false),
        ("example.com", Some("null"), false),
        ("EXAMPLE.com", Some("HTTP://Example.COM"), true),
        ("[::1]:8080", Some("http://[::1]:8080"), true),
        ("[::1]", Some("http://[::1]"), true),
        ("[::1]:8080", Some("http://[::2]:8080"), false),
        ("example.com", Some("http://example.com.evil.example"), false),
    ];
    check_origins(&OriginPolicy::SameOrigin, &same_origin);
    assert_eq!(OriginPolicy::default(), OriginPolicy::SameOrigin);

    let any: Vec<(&str, Option<&str>, bool)> =
        same_origin.iter().map(|&(host, origin, _)| (host, origin, true)).collect();
    check_origins(&OriginPolicy::Any, &any);

    let allow = OriginPolicy::AllowList(vec!["https://example.com".into(), "http://localhost:8080".into()]);
    check_origins(
        &allow,
        &[
            ("api.example", None, true),
            ("api.example", Some("https://example.com"), true),
            ("api.example", Some("https://example.com:443"), true),
            ("api.example", Some("HTTPS://EXAMPLE.COM"), true),
            ("api.example", Some("http://example.com"), false),
            ("api.example", Some("https://example.com:8443"), false),
            ("api.example", Some("http://localhost:8080"), true),
            ("api.example", Some("http://localhost"), false),
            ("api.example", Some("https://evil.example"), false),
            ("api.example", Some("null"), false),
            ("api.example", Some("https://user@example.com"), false),
        ],
    );
}

/// RFC 6454: an origin is scheme, host and port; a Host without a port names the default port
/// of the request's scheme (80 for `ws`, 443 for `wss`: RFC 7230 §5.4), so a page on another,
/// non-default port of the same host is another origin, refused by `SameOrigin`.
#[test]
fn server_origin_same_origin_refuses_another_port_when_host_has_none() {
    check_origins(
        &OriginPolicy::SameOrigin,
        &[
            ("example.com", Some("http://example.com:8080"), false),
            ("example.com", Some("https://example.com:8443"), false),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §3: WebSocket URIs
// ---------------------------------------------------------------------------------------------

/// §3: `ws://host[:port][/path][?query]` and `wss://`; default ports 80 and 443; the path and
/// query are the request-target (`/` when empty); IPv6 literals in brackets.
#[test]
fn client_ws_url_parse_table() {
    // (url, secure, host, port, target, Host field)
    let valid: [(&str, bool, &str, u16, &str, &str); 11] = [
        ("ws://example.com/chat", false, "example.com", 80, "/chat", "example.com"),
        ("wss://example.com", true, "example.com", 443, "/", "example.com"),
        ("ws://example.com:8080/a/b?c=d", false, "example.com", 8080, "/a/b?c=d", "example.com:8080"),
        ("ws://example.com?room=1", false, "example.com", 80, "/?room=1", "example.com"),
        ("ws://example.com:443/", false, "example.com", 443, "/", "example.com:443"),
        ("wss://example.com:80/x", true, "example.com", 80, "/x", "example.com:80"),
        ("ws://[::1]:1337/chat", false, "::1", 1337, "/chat", "[::1]:1337"),
        ("ws://[::1]", false, "::1", 80, "/", "[::1]"),
        ("wss://[2001:db8::1]/", true, "2001:db8::1", 443, "/", "[2001:db8::1]"),
        ("WS://example.com:65535", false, "example.com", 65535, "/", "example.com:65535"),
        ("ws://127.0.0.1:9001/getCaseCount", false, "127.0.0.1", 9001, "/getCaseCount", "127.0.0.1:9001"),
    ];
    for (text, secure, host, port, target, host_header) in valid {
        let url = WsUrl::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(
            (url.is_secure(), url.host(), url.port(), url.target(), url.host_header().as_str()),
            (secure, host, port, target, host_header),
            "{text}"
        );
        let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        assert_eq!(url.authority(), format!("{bracketed}:{port}"), "{text}");
        assert_eq!(WsUrl::parse(&url.to_string()), Ok(url.clone()), "{text}: Display parses back");
    }

    let invalid = [
        "http://example.com/",           // another scheme
        "example.com/chat",              // no scheme
        "ws://example.com/chat#frag",    // §3: "Fragment identifiers ... MUST NOT be used"
        "ws://example.com#",             // an empty fragment too
        "ws:///chat",                    // no host
        "ws://:8080/",                   // no host
        "ws://example.com:0/",           // port 0
        "ws://example.com:99999/",       // port over 65535
        "ws://example.com:port/",        // not a number
        "ws://example.com:/",            // empty port
        "ws://user:secret@example.com/", // user information
        "ws://[::1/",                    // unclosed IPv6 literal
        "ws://[::1]x/",                  // junk after the literal
    ];
    for text in invalid {
        assert!(
            matches!(WsUrl::parse(text), Err(HandshakeError::InvalidUrl(_))),
            "{text}: {:?}",
            WsUrl::parse(text)
        );
    }
}

/// §4.1 items 3-4: the request built from a URL has its target and `Host` field.
#[test]
fn client_request_from_url_uses_the_target_and_host_field() {
    let url = WsUrl::parse("ws://[::1]:9001/runCase?case=1&agent=rfc6455").unwrap();
    let mut head = Vec::new();
    ClientRequest::from_url(&url, &mut OsSeededRng::from_seed([1; 32])).encode(&mut head);
    assert!(head.starts_with(b"GET /runCase?case=1&agent=rfc6455 HTTP/1.1\r\nHost: [::1]:9001\r\n"));
}

// ---------------------------------------------------------------------------------------------
// The drive rule, followed literally by an in-memory pair
// ---------------------------------------------------------------------------------------------

/// One direction of an in-memory TCP connection: bytes in flight, at most `capacity` of them (a
/// peer that does not read fills it), and the FIN.
#[derive(Debug)]
struct Link {
    bytes: Vec<u8>,
    capacity: usize,
    fin: bool,
}

impl Link {
    fn new(capacity: usize) -> Link {
        Link { bytes: Vec::new(), capacity, fin: false }
    }
}

/// An endpoint and the adapter's view of its socket.
struct Side<E: Endpoint> {
    endpoint: E,
    /// Acted on `ShutdownWrite`: FIN sent, nothing more written.
    write_shut: bool,
    /// Acted on `Close`: the socket is dropped.
    closed: bool,
    /// Whether the application reads its socket (false: a peer that stopped reading; its timers
    /// still run).
    reading: bool,
    /// The whole process is stalled: no reads, no timers.
    stalled: bool,
    /// The EOF was passed on with `receive_eof`.
    eof_read: bool,
    /// Step 4's timer.
    timer: Option<Instant>,
    /// Every `poll_transport` answer, consecutive repeats folded.
    instructions: Vec<Transport>,
    /// Every event, in order.
    events: Vec<E::Event>,
    /// What the application does with an event (step 1).
    on_event: fn(&mut E, &E::Event),
}

impl<E: Endpoint> Side<E> {
    fn new(endpoint: E, on_event: fn(&mut E, &E::Event)) -> Side<E> {
        Side {
            endpoint,
            write_shut: false,
            closed: false,
            reading: true,
            stalled: false,
            eof_read: false,
            timer: None,
            instructions: Vec::new(),
            events: Vec::new(),
            on_event,
        }
    }
}

/// An echo application: every message goes back (`Err` once closing: dropped, as §5.5.1 asks).
fn echo(conn: &mut Connection, event: &Event) {
    if let Event::Message(message) = event {
        let _ = conn.send_message(message);
    }
}

/// An application that only watches.
fn watch<E>(_: &mut E, _: &E::Event)
where
    E: Endpoint,
{
}

/// The crate's drive rule, literally, after an input or a command on `side` at `now`:
/// 1. drain events (the application may send);
/// 2. write all of `bytes_to_send` the transport takes (`out` up to its capacity; the kernel
///    takes, and loses, what is written to a peer whose socket is dropped) and `mark_sent` it;
/// 3. act on `poll_transport(now)`: `ShutdownWrite` sends FIN once, `Close` drops the socket;
/// 4. re-arm the timer from `poll_timeout`.
fn drive_step<E: Endpoint>(side: &mut Side<E>, out: &mut Link, peer_closed: bool, now: Instant) {
    if side.closed {
        return;
    }
    // 1.
    while let Some(event) = side.endpoint.poll_event() {
        (side.on_event)(&mut side.endpoint, &event);
        side.events.push(event);
    }
    // 2.
    if !side.write_shut && side.endpoint.unsent_len() > 0 {
        let room = if peer_closed { usize::MAX } else { out.capacity.saturating_sub(out.bytes.len()) };
        let mut slices = [IoSlice::new(&[]); 64];
        let count = side.endpoint.bytes_to_send_vectored(&mut slices);
        let mut written = 0;
        for slice in &slices[..count] {
            let take = slice.len().min(room - written);
            if !peer_closed {
                out.bytes.extend_from_slice(&slice[..take]);
            }
            written += take;
        }
        side.endpoint.mark_sent(written);
    }
    // 3.
    let instruction = side.endpoint.poll_transport(now);
    if side.instructions.last() != Some(&instruction) {
        side.instructions.push(instruction);
    }
    match instruction {
        Transport::Open => {}
        Transport::ShutdownWrite => {
            if !side.write_shut {
                side.write_shut = true;
                out.fin = true;
            }
        }
        Transport::Close => {
            side.closed = true;
            out.fin = true;
        }
    }
    // 4.
    side.timer = if side.closed { None } else { side.endpoint.poll_timeout() };
}

/// Two endpoints joined by two links, and the clock.
struct Pair<A: Endpoint, B: Endpoint> {
    a: Side<A>,
    b: Side<B>,
    a_to_b: Link,
    b_to_a: Link,
    now: Instant,
}

impl<A: Endpoint, B: Endpoint> Pair<A, B> {
    fn new(a: Side<A>, b: Side<B>, now: Instant) -> Pair<A, B> {
        Pair { a, b, a_to_b: Link::new(usize::MAX), b_to_a: Link::new(usize::MAX), now }
    }

    /// The same transport and clock, side `a` replaced (a handshake by its connection).
    fn map_a<C: Endpoint>(self, f: impl FnOnce(A, Instant) -> Side<C>) -> Pair<C, B> {
        let a = f(self.a.endpoint, self.now);
        Pair { a, b: self.b, a_to_b: self.a_to_b, b_to_a: self.b_to_a, now: self.now }
    }

    /// The same transport and clock, side `b` replaced.
    fn map_b<D: Endpoint>(self, f: impl FnOnce(B, Instant) -> Side<D>) -> Pair<A, D> {
        let b = f(self.b.endpoint, self.now);
        Pair { a: self.a, b, a_to_b: self.a_to_b, b_to_a: self.b_to_a, now: self.now }
    }

    fn step_a(&mut self) {
        drive_step(&mut self.a, &mut self.a_to_b, self.b.closed, self.now);
    }

    fn step_b(&mut self) {
        drive_step(&mut self.b, &mut self.b_to_a, self.a.closed, self.now);
    }

    /// Runs the pair: deliver what is in flight (all of it in one read), else move the clock to
    /// the next deadline and handle it; `script` runs before each round and may stop the run.
    /// Returns the rounds taken; panics if `max_rounds` are not enough.
    fn run(&mut self, max_rounds: usize, mut script: impl FnMut(&mut Self) -> ControlFlow<()>) -> usize {
        for round in 0..max_rounds {
            if script(self).is_break() || (self.a.closed && self.b.closed) {
                return round;
            }
            if deliver(&mut self.b, &mut self.a_to_b, self.now) {
                self.step_b();
                continue;
            }
            if deliver(&mut self.a, &mut self.b_to_a, self.now) {
                self.step_a();
                continue;
            }
            let a_timer = self.a.timer.filter(|_| !self.a.stalled);
            let b_timer = self.b.timer.filter(|_| !self.b.stalled);
            let Some(next) = a_timer.into_iter().chain(b_timer).min() else {
                return round; // nothing will ever happen again
            };
            self.now = self.now.max(next);
            if a_timer.is_some_and(|timer| timer <= self.now) {
                self.a.endpoint.handle_timeout(self.now);
                self.step_a();
            }
            if b_timer.is_some_and(|timer| timer <= self.now) {
                self.b.endpoint.handle_timeout(self.now);
                self.step_b();
            }
        }
        panic!("not done after {max_rounds} rounds");
    }
}

/// Gives `side` what is in flight to it: the bytes in one `receive`, or the FIN as
/// `receive_eof` once they are read. `true` if it was given anything.
fn deliver<E: Endpoint>(side: &mut Side<E>, link: &mut Link, now: Instant) -> bool {
    if side.closed || !side.reading || side.stalled {
        return false;
    }
    if !link.bytes.is_empty() {
        let bytes = std::mem::take(&mut link.bytes);
        side.endpoint.receive(now, &bytes);
        true
    } else if link.fin && !side.eof_read {
        side.eof_read = true;
        side.endpoint.receive_eof(now);
        true
    } else {
        false
    }
}

/// An echo pair of connections: `role` is side `a`.
fn connection_pair(
    role: Role,
    config: Config,
    peer_config: Config,
    now: Instant,
) -> Pair<Connection, Connection> {
    let (conn, peer) = pair(role, config, peer_config, now);
    let mut pair = Pair::new(Side::new(conn, echo), Side::new(peer, echo), now);
    // The drive rule runs once the connections exist (after their handshakes).
    pair.step_a();
    pair.step_b();
    pair
}

/// The outcome in a side's events: the last event, `Closed`.
fn outcome_of(side: &Side<Connection>) -> &CloseOutcome {
    match side.events.last() {
        Some(Event::Closed(outcome)) => outcome,
        other => panic!("the last event is not Closed: {other:?}"),
    }
}

/// The instructions a side went through after a clean close: a server closes TCP first, a
/// client waits for it.
fn clean_instructions(role: Role) -> Vec<Transport> {
    match role {
        Role::Server => vec![Transport::Open, Transport::ShutdownWrite, Transport::Close],
        Role::Client => vec![Transport::Open, Transport::Close],
    }
}

/// §5.5.1, §7.1.2: a message and the peer's Close in one read: the echo of the message goes out
/// before the Close's echo, and the peer reads both; the closing handshake completes, the
/// server closes TCP first, both sides end with `Close`.
fn pair_echoes_a_message_and_a_close_read_together(role: Role) {
    let t0 = Instant::now();
    let mut pair = connection_pair(role, Config::default(), Config::default(), t0);
    pair.b.endpoint.send_text("hi").unwrap();
    pair.b.endpoint.close(t0, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    pair.step_b();
    assert!(pair.b_to_a.bytes.len() > 8, "both frames in flight, to be read at once");
    let rounds = pair.run(20, |_| ControlFlow::Continue(()));
    assert!(pair.a.closed && pair.b.closed, "after {rounds} rounds");
    assert_eq!(pair.a.events[0], text("hi"));
    assert_eq!(pair.b.events[0], text("hi"), "the echo arrived before the Close");
    for side in [&pair.a, &pair.b] {
        let outcome = outcome_of(side);
        assert!(outcome.clean, "{outcome}");
        assert_eq!((outcome.code(), outcome.reason()), (CloseCode::NORMAL_CLOSURE, "bye"));
    }
    assert_eq!(pair.a.events.len(), 2);
    assert_eq!(pair.b.events.len(), 2);
    assert_eq!(pair.a.instructions, clean_instructions(role));
    assert_eq!(pair.b.instructions, clean_instructions(role.peer()));
    assert_eq!(pair.now, t0, "no deadline was needed");
}
both_roles!(
    client_pair_echoes_a_message_and_a_close_read_together,
    server_pair_echoes_a_message_and_a_close_read_together,
    pair_echoes_a_message_and_a_close_read_together
);

/// §7.1.7: a violation behind messages not yet polled: the answers to the messages go out, then
/// the Close with 1002; the peer echoes it; `a` lingers until the peer's EOF.
fn pair_answers_messages_before_failing_on_a_violation_behind_them(role: Role) {
    let t0 = Instant::now();
    let mut pair = connection_pair(role, Config::default(), Config::default(), t0);
    pair.b.endpoint.send_text("one").unwrap();
    pair.b.endpoint.send_text("two").unwrap();
    pair.step_b();
    pair.b_to_a.bytes.extend(violation_from(role.peer()));
    pair.run(20, |_| ControlFlow::Continue(()));
    assert!(pair.a.closed && pair.b.closed);
    assert_eq!(pair.a.events[..2], [text("one"), text("two")]);
    let failed = outcome_of(&pair.a);
    assert_eq!(failed.error, Some(ConnectionError::Protocol(ProtocolError::ReservedOpcode(3))));
    assert_eq!(pair.b.events[..2], [text("one"), text("two")], "the answers came before the Close");
    let peer = outcome_of(&pair.b);
    assert_eq!((peer.code(), peer.clean), (CloseCode::PROTOCOL_ERROR, true));
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::ShutdownWrite, Transport::Close]);
    assert_eq!(pair.b.instructions, clean_instructions(role.peer()));
}
both_roles!(
    client_pair_answers_messages_before_failing_on_a_violation_behind_them,
    server_pair_answers_messages_before_failing_on_a_violation_behind_them,
    pair_answers_messages_before_failing_on_a_violation_behind_them
);

/// The non-reading peer: `b` stops taking bytes (its link has no room), `a` has
/// keepalive. The Ping cannot be written, the keepalive fails (1011) and `a` is disconnected
/// at the flush deadline, `close_timeout` after. When `b` reads again it finds the EOF
/// (nothing of `a`'s last bytes: they were never written) and closes too.
fn pair_disconnects_a_peer_that_stops_reading(role: Role) {
    let t0 = Instant::now();
    let interval = Duration::from_secs(30);
    let config = Config { keepalive_interval: Some(interval), ..Config::default() };
    let mut pair = connection_pair(role, config, Config::default(), t0);
    pair.a_to_b.capacity = 0;
    pair.b.reading = false;
    pair.step_a();
    let rounds = pair.run(20, |pair| {
        if pair.a.closed {
            pair.b.reading = true;
        }
        ControlFlow::Continue(())
    });
    assert!(pair.a.closed && pair.b.closed, "after {rounds} rounds");
    let failed = outcome_of(&pair.a);
    assert_eq!(failed.error, Some(ConnectionError::KeepaliveTimeout));
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::Close], "never written, never lingered");
    assert_eq!(pair.b.events.len(), 1, "none of `a`'s bytes ever reached `b`: {:?}", pair.b.events);
    let closed_at = t0 + 2 * interval;
    assert_eq!(pair.now, closed_at + CLOSE_TIMEOUT, "disconnected at the flush deadline");
    let peer = outcome_of(&pair.b);
    assert_eq!((peer.code(), peer.clean), (CloseCode::ABNORMAL_CLOSURE, false));
}
both_roles!(
    client_pair_disconnects_a_peer_that_stops_reading,
    server_pair_disconnects_a_peer_that_stops_reading,
    pair_disconnects_a_peer_that_stops_reading
);

/// Close timeout, then the linger's timeout: `a` closes; `b` has stopped reading (its socket
/// buffers `a`'s Close), so no answer comes. At `close_timeout` `a` lingers, at the linger's end
/// it closes. `b` reads again afterwards: the Close (its echo is lost) and the EOF, and closes.
/// Checks §7.1.1; the close timeout and lingering close, by the drive rule.
fn pair_close_timeout_then_linger_timeout(role: Role) {
    let t0 = Instant::now();
    let mut pair = connection_pair(role, Config::default(), Config::default(), t0);
    pair.b.reading = false;
    pair.a.endpoint.close(t0, CloseCode::GOING_AWAY, "maintenance").unwrap();
    pair.step_a();
    pair.run(20, |pair| {
        if pair.a.closed {
            pair.b.reading = true;
        }
        ControlFlow::Continue(())
    });
    assert!(pair.a.closed && pair.b.closed);
    assert_eq!(outcome_of(&pair.a).error, Some(ConnectionError::CloseTimeout));
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::ShutdownWrite, Transport::Close]);
    assert_eq!(pair.now, t0 + CLOSE_TIMEOUT + LINGER_TIMEOUT);
    let peer = outcome_of(&pair.b);
    assert_eq!((peer.code(), peer.reason()), (CloseCode::GOING_AWAY, "maintenance"));
    assert_eq!(pair.b.instructions.last(), Some(&Transport::Close));
}
both_roles!(
    client_pair_close_timeout_then_linger_timeout,
    server_pair_close_timeout_then_linger_timeout,
    pair_close_timeout_then_linger_timeout
);

/// The linger's byte limit: `a` lingers after its close timeout while `b`, not reading, keeps
/// sending; past `linger.max_bytes` discarded `a` closes, long before the linger's timeout.
/// `b` then reads `a`'s Close and EOF, and closes.
/// Checks §7.1.1; the lingering close bounded in bytes, by the drive rule.
fn pair_linger_ends_after_max_bytes(role: Role) {
    let t0 = Instant::now();
    let linger = Linger { max_bytes: 1000, ..Linger::default() };
    let mut pair = connection_pair(role, Config { linger, ..Config::default() }, Config::default(), t0);
    pair.b.reading = false;
    pair.a.endpoint.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    pair.step_a();
    let mut sent = 0;
    pair.run(100, |pair| {
        // `b`'s application sends while `a` lingers (it saw `a`'s FIN go out).
        if pair.a.write_shut && !pair.a.closed && pair.b_to_a.bytes.is_empty() {
            pair.b.endpoint.send_binary(&[0x55; 100]).unwrap();
            sent += 1;
            pair.step_b();
        }
        if pair.a.closed {
            pair.b.reading = true;
        }
        ControlFlow::Continue(())
    });
    assert!(pair.a.closed && pair.b.closed);
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::ShutdownWrite, Transport::Close]);
    assert_eq!(pair.now, t0 + CLOSE_TIMEOUT, "closed by the byte limit, not the linger's timeout");
    assert_eq!(sent, 10, "messages of 102 (server) or 106 (client) bytes: the 10th passes 1000");
    let peer = outcome_of(&pair.b);
    assert_eq!((peer.code(), peer.clean), (CloseCode::NORMAL_CLOSURE, true));
}
both_roles!(
    client_pair_linger_ends_after_max_bytes,
    server_pair_linger_ends_after_max_bytes,
    pair_linger_ends_after_max_bytes
);

/// §7.1.1 when the server does not close first: the server's process stalls right after it
/// sent its Close (no read, no FIN, no timer). The client echoes, waits `close_timeout` for the
/// server's EOF, then lingers, then closes at the linger's end. The server, resumed, reads the
/// echo and the client's FIN, and closes.
#[test]
fn client_pair_waits_for_the_servers_eof_then_lingers() {
    let t0 = Instant::now();
    let mut pair = connection_pair(Role::Client, Config::default(), Config::default(), t0);
    pair.b.endpoint.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    pair.step_b();
    pair.b.stalled = true;
    pair.run(30, |pair| {
        if pair.a.closed {
            pair.b.stalled = false;
        }
        ControlFlow::Continue(())
    });
    assert!(pair.a.closed && pair.b.closed);
    assert!(outcome_of(&pair.a).clean && outcome_of(&pair.b).clean);
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::ShutdownWrite, Transport::Close]);
    assert_eq!(pair.now, t0 + CLOSE_TIMEOUT + LINGER_TIMEOUT);
}

/// The opening handshake's deadline in the pair: the server's application never answers the
/// request. At `HandshakeConfig::timeout` the server fails (`Timeout`) and closes without a
/// word; the client reads its EOF before its own deadline and fails (`ConnectionClosed`).
/// Checks §4.1, §4.2; the "every phase has a deadline", by the drive rule.
#[test]
fn server_pair_handshake_times_out_an_application_that_never_answers() {
    let t0 = Instant::now();
    let server = ServerHandshake::new(handshake_config(), t0);
    let client = ClientHandshake::new(client_request(), handshake_config(), t0 + Duration::from_millis(1));
    let mut pair = Pair::new(Side::new(server, watch), Side::new(client, watch), t0);
    pair.step_b();
    pair.run(20, |_| ControlFlow::Continue(()));
    assert!(pair.a.closed && pair.b.closed);
    assert!(matches!(
        pair.a.events[..],
        [ServerEvent::Upgrade(_), ServerEvent::Failed(HandshakeError::Timeout)]
    ));
    assert_eq!(pair.b.events, [ClientEvent::Failed(HandshakeError::ConnectionClosed)]);
    assert_eq!(pair.now, t0 + HANDSHAKE_TIMEOUT);
    assert_eq!(pair.a.instructions, [Transport::Open, Transport::Close]);
}

/// Stops a run once `done`.
fn stop_when(done: bool) -> ControlFlow<()> {
    if done {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// The whole life by the drive rule: both handshakes, the server's 101, a message and its echo,
/// then the client closes; both end with `Close`, the server having closed TCP first (§7.1.1).
#[test]
fn server_pair_lives_from_the_handshake_to_the_close() {
    let t0 = Instant::now();
    let server = ServerHandshake::new(handshake_config(), t0);
    let client = ClientHandshake::new(client_request(), handshake_config(), t0);
    let mut handshakes = Pair::new(Side::new(server, watch), Side::new(client, watch), t0);
    handshakes.step_a();
    handshakes.step_b(); // the request goes out
    handshakes.run(10, |pair| stop_when(!pair.a.events.is_empty()));
    let Some(ServerEvent::Upgrade(request)) = handshakes.a.events.pop() else { panic!("no request") };

    // The server's application accepts: a command, so the drive rule follows at once.
    let mut accepted = handshakes.map_a(|mut handshake, now| {
        Side::new(handshake.accept(now, request.accept(), Config::default()).unwrap(), echo)
    });
    accepted.step_a(); // the 101
    accepted.run(10, |pair| stop_when(!pair.b.events.is_empty()));
    assert!(matches!(accepted.b.events[..], [ClientEvent::Accepted(_)]));

    let mut life = accepted.map_b(|handshake, now| {
        let mut client = handshake.into_connection(now, Config::default(), Vec::new()).unwrap();
        client.send_text("first").unwrap();
        Side::new(client, watch)
    });
    life.step_b();
    life.run(10, |pair| {
        if pair.b.events.first() == Some(&text("first")) && pair.b.endpoint.is_open() {
            pair.b.endpoint.close(pair.now, CloseCode::NORMAL_CLOSURE, "done").unwrap();
            pair.step_b();
        }
        ControlFlow::Continue(())
    });
    assert!(life.a.closed && life.b.closed);
    assert_eq!(life.a.events[0], text("first"));
    assert!(outcome_of(&life.a).clean && outcome_of(&life.b).clean);
    assert_eq!(outcome_of(&life.a).reason(), "done");
    assert_eq!(life.a.instructions, clean_instructions(Role::Server));
    assert_eq!(life.b.instructions, clean_instructions(Role::Client));
    assert_eq!(life.now, t0, "no deadline was needed");
}

/// RFC 9110 §9.3.2: the answer to a HEAD request has the header fields a GET would get,
/// `Content-Length` included, and no content: both for a page the application answers and for a
/// HEAD upgrade request the core rejects (§4.2.1 item 1: the method must be GET).
#[test]
fn server_handshake_answers_head_requests_without_a_body() {
    let t0 = Instant::now();
    let mut handshake = ServerHandshake::new(handshake_config(), t0);
    handshake.receive(t0, b"HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        matches!(handshake.poll_event(), Some(ServerEvent::Request(request)) if request.method == "HEAD")
    );
    handshake.respond(t0, &HttpResponse::text(200, "hello")).unwrap();
    let written = String::from_utf8(handshake.bytes_to_send().to_vec()).unwrap();
    assert!(written.starts_with("HTTP/1.1 200 OK\r\n") && written.contains("\r\nContent-Length: 5\r\n"));
    assert!(written.ends_with("\r\n\r\n"), "no body: {written:?}");

    let mut handshake = ServerHandshake::new(handshake_config(), t0);
    let head = String::from_utf8(REQUEST.to_vec()).unwrap().replacen("GET", "HEAD", 1);
    handshake.receive(t0, head.as_bytes());
    assert_eq!(
        handshake.poll_event(),
        Some(ServerEvent::Failed(HandshakeError::MethodNotGet("HEAD".into())))
    );
    let written = String::from_utf8(handshake.bytes_to_send().to_vec()).unwrap();
    assert!(
        written.starts_with("HTTP/1.1 400 Bad Request\r\n") && written.ends_with("\r\n\r\n"),
        "{written:?}"
    );
}
