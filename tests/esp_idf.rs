//! The ESP-IDF WebSocket server's features (`esp_http_server`, example `ws_echo_server`), on
//! this crate's core, through the public API only: no sockets, a fake clock (`Instant`s plus
//! `Duration`s).
//!
//! | ESP-IDF                                              | here                                   | RFC 6455        |
//! |------------------------------------------------------|----------------------------------------|-----------------|
//! | `httpd_uri_t.supported_subprotocol = "chat"`         | `UpgradeRequest::select_protocol`, `AcceptResponse::with_protocol`; the client's check | §4.1, §4.2.2 |
//! | `httpd_uri_t.handle_ws_control_frames = true`        | `Config::deliver_control_frames` (+ `auto_pong`) | §5.5.2, §5.5.3, §5.5.1 |
//! | `httpd_ws_frame_t.fragmented` / `.final`             | `Connection::begin_message` + `send_fragment` | §5.4         |
//! | (none: ESP-IDF "does not automatically fragment")    | `Config::max_send_frame_size`          | §5.4            |
//! | `httpd_queue_work` + `httpd_ws_send_frame_async`     | `Connection: Send`, moved to the task that sends | -     |

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{events, frames, output, pair, pump};
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::server::UpgradeRequest;
use rfc6455::handshake::HeadLimits;
use rfc6455::{
    CloseCode, CloseFrame, CloseInitiator, Config, Connection, DecodeRules, Decoded, Event, Frame,
    HandshakeError, Message, MessageKind, Opcode, Role, SendError, Transport, Utf8Bytes,
};

/// `Config::close_timeout`'s documented default.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The one subprotocol the ESP-IDF example's `/ws` handler supports.
const SUPPORTED: &[&str] = &["chat"];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Byte 0 (FIN, RSV1-3, opcode) of each frame in `bytes`, as sent by an endpoint of `sender`.
fn first_bytes(bytes: &[u8], sender: Role) -> Vec<u8> {
    let rules = DecodeRules::new(sender.peer());
    let mut first = Vec::new();
    let mut rest = bytes;
    while let Some((_, consumed)) = Frame::decode(rest, &rules).ok().and_then(Decoded::complete) {
        first.push(rest[0]);
        rest = &rest[consumed..];
    }
    assert!(rest.is_empty(), "{sender:?} sent bytes that are not whole valid frames");
    first
}

/// `(fin, opcode, payload)` of each frame: what the ESP-IDF API calls `final`, `type`, `payload`.
fn summary(frames: &[Frame]) -> Vec<(bool, Opcode, Vec<u8>)> {
    frames.iter().map(|frame| (frame.header.fin, frame.header.opcode, frame.payload.to_vec())).collect()
}

fn text(text: &str) -> Event {
    Event::Message(Message::Text(Utf8Bytes::from(text.to_owned())))
}

fn binary(data: &[u8]) -> Event {
    Event::Message(Message::Binary(Bytes::copy_from_slice(data)))
}

fn ping(payload: &'static [u8]) -> Event {
    Event::Ping(Bytes::from_static(payload))
}

fn pong(payload: &'static [u8]) -> Event {
    Event::Pong(Bytes::from_static(payload))
}

/// The ESP-IDF example's handler options: `.handle_ws_control_frames = true`.
fn control_frames() -> Config {
    Config { deliver_control_frames: true, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------
// (a) Subprotocol negotiation: `.supported_subprotocol = "chat"`
// ---------------------------------------------------------------------------------------------

/// A client for `/ws` offering `protocols`, with the §1.3 key so the answers are fixed bytes.
fn client_offering(protocols: &[&str]) -> ClientRequest {
    ClientRequest::new("esp32.local", "/ws", &mut rfc6455::OsSeededRng::new())
        .with_key("dGhlIHNhbXBsZSBub25jZQ==")
        .with_protocols(protocols.iter().copied())
}

/// The server's side: decodes the request `head`, selects a subprotocol among [`SUPPORTED`] as
/// the ESP-IDF server does, and returns it with the 101 response as text.
fn esp_idf_accept(head: &[u8]) -> (Option<String>, String) {
    let Decoded::Complete { value: upgrade, consumed } =
        UpgradeRequest::decode(head, &HeadLimits::default()).expect("a valid upgrade request")
    else {
        panic!("the request head is complete")
    };
    assert_eq!(consumed, head.len());
    assert_eq!(upgrade.path(), "/ws");
    let selected = upgrade.select_protocol(SUPPORTED).map(str::to_owned);
    let mut accept = upgrade.accept();
    if let Some(protocol) = &selected {
        accept = accept.with_protocol(protocol.as_str());
    }
    let mut response = Vec::new();
    accept.encode(&mut response);
    (selected, String::from_utf8(response).expect("an ASCII head"))
}

fn encode_request(client: &ClientRequest) -> Vec<u8> {
    let mut head = Vec::new();
    client.encode(&mut head);
    head
}

/// §4.2.2, /subprotocol/: "The value chosen MUST be derived from the client's handshake,
/// specifically by selecting one of the values from the |Sec-WebSocket-Protocol| field that the
/// server is willing to use for this connection (if any)." A request offering "chat" gets
/// `Sec-WebSocket-Protocol: chat` in the 101, also when it prefers a protocol the server does not
/// know.
#[test]
fn server_selects_chat_when_offered() {
    for offered in [&["chat"][..], &["superchat", "chat"], &["chat", "superchat"]] {
        let (selected, response) = esp_idf_accept(&encode_request(&client_offering(offered)));
        assert_eq!(selected.as_deref(), Some("chat"), "{offered:?}");
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{response}");
        assert!(response.contains("\r\nSec-WebSocket-Protocol: chat\r\n"), "{offered:?}: {response}");
        assert_eq!(response.matches("Sec-WebSocket-Protocol").count(), 1, "{response}");
    }
}

/// §4.2.2: "If the server does not wish to agree to one of the suggested subprotocols, it MUST
/// NOT send back a |Sec-WebSocket-Protocol| header field in its response." A request offering
/// only "superchat" (or nothing) is accepted without one, as the ESP-IDF server does.
#[test]
fn server_sends_no_protocol_when_chat_is_not_offered() {
    for offered in [&["superchat"][..], &[], &["Chat"]] {
        let (selected, response) = esp_idf_accept(&encode_request(&client_offering(offered)));
        assert_eq!(selected, None, "{offered:?}");
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{response}");
        assert!(!response.contains("Sec-WebSocket-Protocol"), "{offered:?}: {response}");
    }
}

/// §11.3.4: "The |Sec-WebSocket-Protocol| header field MAY appear multiple times in an HTTP
/// request (which is logically the same as a single |Sec-WebSocket-Protocol| header field that
/// contains all values)."
#[test]
fn server_selects_chat_offered_on_a_second_header_line() {
    let head = b"GET /ws HTTP/1.1\r\nHost: esp32.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: superchat\r\n\
        Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let (selected, response) = esp_idf_accept(head);
    assert_eq!(selected.as_deref(), Some("chat"));
    assert!(response.contains("\r\nSec-WebSocket-Protocol: chat\r\n"), "{response}");
}

/// §4.1, item 6 of the response checks: a subprotocol the client offered is accepted, and
/// reported by `Accepted::protocol`; a response without one is accepted with none (§4.2.2: the
/// server "MUST NOT send back" a protocol it does not agree to).
#[test]
fn client_accepts_the_chat_it_offered_or_none() {
    let client = client_offering(&["superchat", "chat"]);
    let (_, response) = esp_idf_accept(&encode_request(&client));
    let Decoded::Complete { value: accepted, consumed } =
        client.decode_response(response.as_bytes(), &HeadLimits::default()).expect("a valid 101")
    else {
        panic!("the response head is complete")
    };
    assert_eq!(consumed, response.len());
    assert_eq!(accepted.protocol(), Some("chat"));

    let client = client_offering(&["superchat"]);
    let (_, response) = esp_idf_accept(&encode_request(&client));
    let (accepted, _) =
        client.decode_response(response.as_bytes(), &HeadLimits::default()).unwrap().complete().unwrap();
    assert_eq!(accepted.protocol(), None);
}

/// §4.1, item 6: "If the response includes a |Sec-WebSocket-Protocol| header field and this
/// header field indicates the use of a subprotocol that was not present in the client's handshake
/// (the server has indicated a subprotocol not requested by the client), the client MUST _Fail
/// the WebSocket Connection_." §4.2.2 also asks for a single value.
#[test]
fn client_rejects_a_protocol_it_did_not_offer() {
    let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; // §1.3, for the key of `client_offering`
    let answer = |protocol_lines: &str| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{protocol_lines}\r\n"
        )
    };
    let cases: [(&[&str], String, HandshakeError); 4] = [
        (&["chat"], answer("Sec-WebSocket-Protocol: superchat\r\n"), unoffered("superchat")),
        (&[], answer("Sec-WebSocket-Protocol: chat\r\n"), unoffered("chat")),
        // Subprotocol names are compared exactly, as `select_protocol` does on the server.
        (&["chat"], answer("Sec-WebSocket-Protocol: Chat\r\n"), unoffered("Chat")),
        (&["chat", "superchat"], answer("Sec-WebSocket-Protocol: chat, superchat\r\n"), invalid()),
    ];
    for (offered, response, expected) in cases {
        let result = client_offering(offered).decode_response(response.as_bytes(), &HeadLimits::default());
        assert_eq!(result, Err(expected.clone()), "offered {offered:?}, answered {response:?}");
        if let HandshakeError::UnofferedProtocol(_) = expected {
            assert_eq!(expected.status(), None, "a client-side error has no HTTP status");
        }
    }
}

fn unoffered(protocol: &str) -> HandshakeError {
    HandshakeError::UnofferedProtocol(protocol.to_owned())
}

fn invalid() -> HandshakeError {
    HandshakeError::InvalidProtocolHeader
}

// ---------------------------------------------------------------------------------------------
// (b) `.handle_ws_control_frames = true`: Config::deliver_control_frames
// ---------------------------------------------------------------------------------------------

/// §5.5.2, §5.5.3 with `deliver_control_frames`: the application sees the peer's Ping and Pong
/// with their payloads, and `auto_pong` has already answered the Ping: "A Pong frame sent in
/// response to a Ping frame must have identical "Application data" as found in the message body
/// of the Ping frame being replied to."
fn reports_ping_and_pong_and_still_answers(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, control_frames(), control_frames(), t0);
    peer.send_ping(b"hello esp").unwrap();
    peer.send_pong(b"heartbeat").unwrap();
    pump(&mut peer, &mut conn, t0);
    assert_eq!(events(&mut conn), vec![ping(b"hello esp"), pong(b"heartbeat")]);

    let wire = output(&mut conn);
    assert_eq!(summary(&frames(&wire, role)), vec![(true, Opcode::Pong, b"hello esp".to_vec())]);
    if role == Role::Server {
        // Unmasked, FIN + opcode 0xA, 9 bytes: the Pong exactly as an ESP32 client reads it.
        assert_eq!(wire, [&[0x8a, 0x09][..], b"hello esp"].concat());
    }
    peer.receive(t0, &wire);
    assert_eq!(events(&mut peer), vec![pong(b"hello esp")]);
}
both_roles!(
    client_reports_ping_and_pong_and_still_answers,
    server_reports_ping_and_pong_and_still_answers,
    reports_ping_and_pong_and_still_answers
);

/// §5.5.2 with `auto_pong: false` (the ESP-IDF handler answering Pings itself): nothing goes out
/// until the application sends its Pong, which then carries the Ping's payload.
fn leaves_the_pong_to_the_application_without_auto_pong(role: Role) {
    let t0 = Instant::now();
    let config = Config { auto_pong: false, ..control_frames() };
    let (mut conn, mut peer) = pair(role, config, control_frames(), t0);
    peer.send_ping(b"are you there").unwrap();
    pump(&mut peer, &mut conn, t0);
    assert_eq!(conn.unsent_len(), 0, "no automatic Pong");
    assert_eq!(output(&mut conn), b"");
    let Some(Event::Ping(payload)) = conn.poll_event() else { panic!("a Ping event") };
    conn.send_pong(&payload).unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    assert_eq!(summary(&frames(&wire, role)), vec![(true, Opcode::Pong, b"are you there".to_vec())]);
    assert_eq!(events(&mut peer), vec![pong(b"are you there")]);
}
both_roles!(
    client_leaves_the_pong_to_the_application_without_auto_pong,
    server_leaves_the_pong_to_the_application_without_auto_pong,
    leaves_the_pong_to_the_application_without_auto_pong
);

/// §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response". With
/// `auto_pong: false` the application answers, so it sees every Ping even with
/// `deliver_control_frames: false`; nothing is sent for it automatically.
fn reports_pings_without_auto_pong_even_without_control_frames(role: Role) {
    let t0 = Instant::now();
    let config = Config { auto_pong: false, deliver_control_frames: false, ..Config::default() };
    let (mut conn, mut peer) = pair(role, config, Config::default(), t0);
    peer.send_ping(b"anyone?").unwrap();
    peer.send_pong(b"unsolicited").unwrap();
    pump(&mut peer, &mut conn, t0);
    assert_eq!(events(&mut conn), vec![ping(b"anyone?")], "the Ping is reported, the Pong is not");
    assert!(output(&mut conn).is_empty(), "no automatic Pong");
    conn.send_pong(b"anyone?").unwrap();
    let wire = output(&mut conn);
    assert_eq!(summary(&frames(&wire, role)), vec![(true, Opcode::Pong, b"anyone?".to_vec())]);
}
both_roles!(
    client_reports_pings_without_auto_pong_even_without_control_frames,
    server_reports_pings_without_auto_pong_even_without_control_frames,
    reports_pings_without_auto_pong_even_without_control_frames
);

/// `deliver_control_frames` off (the ESP-IDF default, `.handle_ws_control_frames = false`): no
/// Ping or Pong event, and the Ping is still answered (§5.5.2).
fn reports_no_ping_or_pong_by_default(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    peer.send_ping(b"p").unwrap();
    peer.send_text("between").unwrap();
    peer.send_pong(b"q").unwrap();
    pump(&mut peer, &mut conn, t0);
    assert_eq!(events(&mut conn), vec![text("between")]);
    let wire = output(&mut conn);
    assert_eq!(summary(&frames(&wire, role)), vec![(true, Opcode::Pong, b"p".to_vec())]);
}
both_roles!(
    client_reports_no_ping_or_pong_by_default,
    server_reports_no_ping_or_pong_by_default,
    reports_no_ping_or_pong_by_default
);

/// §5.5.1, §7.1.5 with `deliver_control_frames`: the peer's Close is not a control event but
/// `Event::Closed`, last, with its code and reason; the Ping before it is reported and answered
/// first, then the Close is echoed with the same code and reason (§5.5.1: "the endpoint MUST
/// send a Close frame in response. (When sending a Close frame in response, the endpoint
/// typically echos the status code it received.)").
#[test]
fn server_reports_the_close_through_closed() {
    let t0 = Instant::now();
    let (mut server, mut client) = pair(Role::Server, control_frames(), control_frames(), t0);
    client.send_ping(b"last ping").unwrap();
    client.close(t0, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    pump(&mut client, &mut server, t0);

    let server_events = events(&mut server);
    assert_eq!(server_events.len(), 2, "{server_events:?}");
    assert_eq!(server_events[0], ping(b"last ping"));
    let Event::Closed(outcome) = &server_events[1] else { panic!("Event::Closed last: {server_events:?}") };
    assert!(outcome.clean);
    assert_eq!(outcome.initiator, CloseInitiator::Remote);
    assert_eq!((outcome.code(), outcome.reason()), (CloseCode::NORMAL_CLOSURE, "bye"));
    assert_eq!(outcome.sent, Some(CloseFrame { code: CloseCode::NORMAL_CLOSURE, reason: "bye".into() }));

    let wire = pump(&mut server, &mut client, t0);
    let sent = frames(&wire, Role::Server);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!((sent[0].header.opcode, &sent[0].payload[..]), (Opcode::Pong, &b"last ping"[..]));
    assert_eq!(
        CloseFrame::decode(&sent[1].payload).unwrap(),
        Some(CloseFrame { code: CloseCode::NORMAL_CLOSURE, reason: "bye".into() })
    );
    assert_eq!(server.poll_transport(t0), Transport::ShutdownWrite, "§7.1.1: the server closes TCP first");

    // The client sees the Pong, then the completed closing handshake.
    let client_events = events(&mut client);
    assert_eq!(client_events.len(), 2, "{client_events:?}");
    assert_eq!(client_events[0], pong(b"last ping"));
    assert!(matches!(&client_events[1], Event::Closed(outcome) if outcome.clean));
    // §7.1.1: the client waits for the server to close TCP, at most the close timeout (fake
    // clock); then it shuts down writing itself and lingers.
    assert_eq!(client.poll_transport(t0), Transport::Open);
    assert_eq!(client.poll_timeout(), Some(t0 + CLOSE_TIMEOUT));
    let early = t0 + CLOSE_TIMEOUT - Duration::from_millis(1);
    client.handle_timeout(early);
    assert_eq!(client.poll_transport(early), Transport::Open);
    client.handle_timeout(t0 + CLOSE_TIMEOUT);
    assert_eq!(client.poll_transport(t0 + CLOSE_TIMEOUT), Transport::ShutdownWrite);
}

// ---------------------------------------------------------------------------------------------
// (c) Manual fragmentation: `httpd_ws_frame_t.fragmented` and `.final`
// ---------------------------------------------------------------------------------------------

/// §5.4: one message sent as three parts is three frames on the wire: the first with the
/// message's opcode and FIN clear, a continuation (opcode 0x0) with FIN clear, a continuation
/// with FIN set; the peer reassembles one message.
fn sends_one_message_as_three_fragments(role: Role) {
    let t0 = Instant::now();
    for (kind, first_byte) in [(MessageKind::Text, 0x01), (MessageKind::Binary, 0x02)] {
        let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
        conn.begin_message(kind).unwrap();
        conn.send_fragment(b"Hello, ", false).unwrap();
        conn.send_fragment(b"fragmented ", false).unwrap();
        conn.send_fragment(b"world", true).unwrap();
        let wire = pump(&mut conn, &mut peer, t0);

        let sent = frames(&wire, role);
        assert_eq!(
            summary(&sent),
            vec![
                (false, kind.opcode(), b"Hello, ".to_vec()),
                (false, Opcode::Continuation, b"fragmented ".to_vec()),
                (true, Opcode::Continuation, b"world".to_vec()),
            ],
            "{kind:?}"
        );
        // Byte 0 of each frame (§5.2): FIN 0 + opcode 1 or 2, FIN 0 + opcode 0, FIN 1 + opcode 0.
        assert_eq!(first_bytes(&wire, role), [first_byte, 0x00, 0x80], "{kind:?}");

        let expected = match kind {
            MessageKind::Text => text("Hello, fragmented world"),
            MessageKind::Binary => binary(b"Hello, fragmented world"),
        };
        assert_eq!(events(&mut peer), vec![expected], "{kind:?}");
    }
}
both_roles!(
    client_sends_one_message_as_three_fragments,
    server_sends_one_message_as_three_fragments,
    sends_one_message_as_three_fragments
);

/// §5.4: "An endpoint MUST be capable of handling control frames in the middle of a fragmented
/// message." A Ping sent between parts goes out between their frames; the peer reports and
/// answers it before the message is complete, and its Pong comes back while the message is still
/// open. An empty last part (a FIN continuation with no payload) ends the message.
fn sends_a_ping_between_fragments(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, control_frames(), control_frames(), t0);
    conn.begin_message(MessageKind::Text).unwrap();
    conn.send_fragment("Trigger ".as_bytes(), false).unwrap();
    conn.send_ping(b"mid-message").unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    assert_eq!(
        summary(&frames(&wire, role)),
        vec![(false, Opcode::Text, b"Trigger ".to_vec()), (true, Opcode::Ping, b"mid-message".to_vec())]
    );
    assert_eq!(events(&mut peer), vec![ping(b"mid-message")], "the message is not complete yet");
    pump(&mut peer, &mut conn, t0);
    assert_eq!(events(&mut conn), vec![pong(b"mid-message")]);

    conn.send_fragment("fragments".as_bytes(), false).unwrap();
    conn.send_fragment(b"", true).unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    assert_eq!(
        summary(&frames(&wire, role)),
        vec![(false, Opcode::Continuation, b"fragments".to_vec()), (true, Opcode::Continuation, vec![])]
    );
    assert_eq!(events(&mut peer), vec![text("Trigger fragments")]);
}
both_roles!(
    client_sends_a_ping_between_fragments,
    server_sends_a_ping_between_fragments,
    sends_a_ping_between_fragments
);

/// §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of another
/// message unless an extension has been negotiated that can interpret the interleaving." Starting
/// a second message before the first ended is the caller's error (`SendError`), nothing is
/// queued, and the first message goes on unharmed.
fn refuses_a_second_message_before_the_first_ends(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    assert_eq!(conn.send_fragment(b"orphan", false), Err(SendError::NoMessageInProgress));
    conn.begin_message(MessageKind::Text).unwrap();
    conn.send_fragment(b"first, ", false).unwrap();
    let queued = conn.unsent_len();
    assert_eq!(conn.begin_message(MessageKind::Text), Err(SendError::MessageInProgress));
    assert_eq!(conn.begin_message(MessageKind::Binary), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_text("Async data"), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_binary(b"\x00"), Err(SendError::MessageInProgress));
    assert_eq!(conn.unsent_len(), queued, "a refused call queues nothing");
    assert!(conn.is_open(), "a caller's error is not the peer's: the connection stays open");

    conn.send_fragment(b"then done", true).unwrap();
    conn.send_text("Async data").unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    let opcodes: Vec<Opcode> = frames(&wire, role).iter().map(|frame| frame.header.opcode).collect();
    assert_eq!(opcodes, [Opcode::Text, Opcode::Continuation, Opcode::Text], "no interleaving");
    assert_eq!(events(&mut peer), vec![text("first, then done"), text("Async data")]);
}
both_roles!(
    client_refuses_a_second_message_before_the_first_ends,
    server_refuses_a_second_message_before_the_first_ends,
    refuses_a_second_message_before_the_first_ends
);

/// §5.5.1, §5.4: a Close is a control frame and may be sent in the middle of a fragmented
/// message; after it, "the application MUST NOT send any more data frames", so the rest of the
/// message is refused. The peer drops the unfinished message and completes the closing handshake.
fn closes_in_the_middle_of_a_fragmented_message(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.begin_message(MessageKind::Text).unwrap();
    conn.send_fragment(b"never ", false).unwrap();
    conn.close(t0, CloseCode::GOING_AWAY, "rebooting").unwrap();
    assert_eq!(conn.send_fragment(b"finished", true), Err(SendError::Closing));
    pump(&mut conn, &mut peer, t0);
    let peer_events = events(&mut peer);
    assert_eq!(peer_events.len(), 1, "no partial message: {peer_events:?}");
    assert!(
        matches!(&peer_events[0], Event::Closed(outcome)
            if outcome.clean && outcome.code() == CloseCode::GOING_AWAY && outcome.reason() == "rebooting"),
        "{peer_events:?}"
    );
    pump(&mut peer, &mut conn, t0);
    let Some(Event::Closed(outcome)) = conn.poll_event() else { panic!("Event::Closed") };
    assert!(outcome.clean);
    assert_eq!(outcome.initiator, CloseInitiator::Local);
}
both_roles!(
    client_closes_in_the_middle_of_a_fragmented_message,
    server_closes_in_the_middle_of_a_fragmented_message,
    closes_in_the_middle_of_a_fragmented_message
);

// ---------------------------------------------------------------------------------------------
// (d) Automatic fragmentation: Config::max_send_frame_size
// ---------------------------------------------------------------------------------------------

/// Text of `len` bytes with 1- to 4-byte code points, so that frame boundaries fall inside them.
fn mixed_text(len: usize) -> String {
    let mut text = String::new();
    for c in ['a', 'é', '€', '😀'].iter().cycle() {
        if text.len() + c.len_utf8() > len {
            break;
        }
        text.push(*c);
    }
    while text.len() < len {
        text.push('z');
    }
    text
}

/// §5.4: with `max_send_frame_size`, every frame's payload is at most the limit, only the first
/// carries the message's opcode, only the last has FIN, and the peer gets the same message
/// (§5.4: a fragment boundary may fall inside a UTF-8 code point; §5.6 checks the whole message).
fn splits_messages_to_max_send_frame_size(role: Role) {
    const LIMIT: usize = 16;
    let t0 = Instant::now();
    let config = Config { max_send_frame_size: Some(LIMIT), ..Config::default() };
    let (mut conn, mut peer) = pair(role, config, Config::default(), t0);
    // (length, expected frame count): under, at and just over the limit, several, empty.
    for (len, count) in [(5, 1), (LIMIT, 1), (LIMIT + 1, 2), (100, 7), (0, 1)] {
        for kind in [MessageKind::Text, MessageKind::Binary] {
            let payload = mixed_text(len);
            match kind {
                MessageKind::Text => conn.send_text(&payload).unwrap(),
                MessageKind::Binary => conn.send_binary(payload.as_bytes()).unwrap(),
            }
            let wire = pump(&mut conn, &mut peer, t0);
            let sent = frames(&wire, role);
            assert_eq!(sent.len(), count, "{kind:?} of {len} bytes");
            for (index, frame) in sent.iter().enumerate() {
                assert!(frame.payload.len() <= LIMIT, "{kind:?} of {len}: frame {index} too large");
                let opcode = if index == 0 { kind.opcode() } else { Opcode::Continuation };
                assert_eq!(frame.header.opcode, opcode, "{kind:?} of {len}: frame {index}");
                assert_eq!(frame.header.fin, index + 1 == count, "{kind:?} of {len}: frame {index}");
            }
            let joined: Vec<u8> = sent.iter().flat_map(|frame| frame.payload.to_vec()).collect();
            assert_eq!(joined, payload.as_bytes());
            let expected = match kind {
                MessageKind::Text => text(&payload),
                MessageKind::Binary => binary(payload.as_bytes()),
            };
            assert_eq!(events(&mut peer), vec![expected], "{kind:?} of {len} bytes");
        }
    }
}
both_roles!(
    client_splits_messages_to_max_send_frame_size,
    server_splits_messages_to_max_send_frame_size,
    splits_messages_to_max_send_frame_size
);

/// §5.4 with both: a part larger than `max_send_frame_size` is split further, so the frames of
/// a message sent in parts are also no larger than the limit, and FIN is only on the very last.
fn splits_parts_to_max_send_frame_size(role: Role) {
    const LIMIT: usize = 10;
    let t0 = Instant::now();
    let config = Config { max_send_frame_size: Some(LIMIT), ..Config::default() };
    let (mut conn, mut peer) = pair(role, config, Config::default(), t0);
    let parts = [mixed_text(25), mixed_text(3), mixed_text(10)];
    conn.begin_message(MessageKind::Text).unwrap();
    for (index, part) in parts.iter().enumerate() {
        conn.send_fragment(part.as_bytes(), index + 1 == parts.len()).unwrap();
    }
    let wire = pump(&mut conn, &mut peer, t0);
    let sent = frames(&wire, role);
    let lengths: Vec<usize> = sent.iter().map(|frame| frame.payload.len()).collect();
    assert_eq!(lengths, [10, 10, 5, 3, 10]);
    let fins: Vec<bool> = sent.iter().map(|frame| frame.header.fin).collect();
    assert_eq!(fins, [false, false, false, false, true]);
    assert_eq!(sent[0].header.opcode, Opcode::Text);
    assert!(sent[1..].iter().all(|frame| frame.header.opcode == Opcode::Continuation));
    assert_eq!(events(&mut peer), vec![text(&parts.concat())]);
}
both_roles!(
    client_splits_parts_to_max_send_frame_size,
    server_splits_parts_to_max_send_frame_size,
    splits_parts_to_max_send_frame_size
);

/// §5.5: "Control frames themselves MUST NOT be fragmented." A Ping and a Close longer than
/// `max_send_frame_size` each go out as one frame.
fn never_fragments_control_frames(role: Role) {
    let t0 = Instant::now();
    let config = Config { max_send_frame_size: Some(4), ..Config::default() };
    let (mut conn, mut peer) = pair(role, config, control_frames(), t0);
    conn.send_ping(&[7; 100]).unwrap();
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "a reason well over four bytes").unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    let sent = frames(&wire, role);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|frame| frame.header.fin));
    assert_eq!((sent[0].header.opcode, sent[0].payload.len()), (Opcode::Ping, 100));
    assert_eq!(sent[1].header.opcode, Opcode::Close);
    let peer_events = events(&mut peer);
    assert_eq!(peer_events[0], Event::Ping(Bytes::from(vec![7; 100])));
    assert!(
        matches!(&peer_events[1], Event::Closed(outcome) if outcome.reason() == "a reason well over four bytes")
    );
}
both_roles!(
    client_never_fragments_control_frames,
    server_never_fragments_control_frames,
    never_fragments_control_frames
);

// ---------------------------------------------------------------------------------------------
// (e) `httpd_queue_work` + `httpd_ws_send_frame_async`: sending from another task
// ---------------------------------------------------------------------------------------------

fn assert_send<T: Send>() {}

/// A `Connection` (and everything it hands out) is `Send`: an adapter can move it to whatever
/// task or thread owns the socket, and other tasks reach it through a channel, as ESP-IDF's
/// `httpd_queue_work` reaches the server task.
#[test]
fn connection_is_send() {
    assert_send::<Connection>();
    assert_send::<Event>();
    assert_send::<Message>();
    assert_send::<SendError>();
    assert_send::<Config>();
}

/// The ESP-IDF example's pattern without an adapter: on "Trigger async" the server's task hands
/// the work to another thread, which asks the connection's owner (through a channel) to send
/// "Async data"; the owner then moves the connection itself to a second thread and back (it is
/// `Send`), which sends the echo. The peer gets both, in the order the sends were made.
#[test]
fn server_sends_async_data_from_another_thread() {
    let t0 = Instant::now();
    let (mut server, mut client) = pair(Role::Server, control_frames(), Config::default(), t0);
    client.send_text("Trigger async").unwrap();
    pump(&mut client, &mut server, t0);
    let Some(Event::Message(Message::Text(trigger))) = server.poll_event() else { panic!("a message") };
    assert_eq!(trigger.as_str(), "Trigger async");

    // httpd_queue_work(ws_async_send): another thread decides what to send...
    let (outbox, inbox) = mpsc::channel::<String>();
    let worker = std::thread::spawn(move || outbox.send("Async data".to_owned()).unwrap());
    worker.join().unwrap();
    // ...and the connection's owner makes the call.
    server.send_text(&inbox.recv().unwrap()).unwrap();

    // The connection itself moves to another thread, sends there, and comes back.
    let echo = trigger.as_str().to_owned();
    let mover = std::thread::spawn(move || {
        server.send_text(&echo).unwrap();
        server
    });
    let mut server = mover.join().unwrap();

    pump(&mut server, &mut client, t0 + Duration::from_millis(10));
    assert_eq!(events(&mut client), vec![text("Async data"), text("Trigger async")]);
}
