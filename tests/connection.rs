//! RFC 6455 §5.4 (fragmentation), §5.5 (control frames) and §7 (closing): layer 2, the
//! connection state machine, through the public API only.
//!
//! An in-memory client/server pair with a fake clock (one `Instant`, plus `Duration`s: no sleeps,
//! no sockets) drives every behaviour for both roles:
//! - round trips in all three length encodings, fragmentation both ways (by
//!   `Config::max_send_frame_size` and by `begin_message`/`send_fragment`), masking by role;
//! - Ping/Pong (§5.5.2, §5.5.3), the closing handshake and its timeouts (§5.5.1, §7.1);
//! - a failure table (§7.1.7): each violation queues a Close with its code and nothing after it
//!   is processed;
//! - keepalive, backpressure, streaming mode;
//! - proptest: chunking invariance and fragmentation invariance.

mod common;

use std::io::IoSlice;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{events, frames, output, pair, pump};
use proptest::prelude::*;
use proptest::sample::Index;
use rfc6455::frame::{MASK_BIT, RSV1_BIT, RSV2_BIT, RSV3_BIT};
use rfc6455::{
    apply_mask, CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, Connection, ConnectionError,
    Event, Frame, FrameHeader, Message, MessageFragment, MessageKind, MessageLimits, Opcode, ProtocolError,
    RandomSource, Role, SendError, Transport, Utf8Bytes,
};

/// The masking key of every masked frame this file builds by hand (the §5.7 examples' key).
const PEER_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// `Config::close_timeout`'s documented default.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// `Linger::timeout`'s documented default.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// The smallest step of the fake clock.
const TICK: Duration = Duration::from_nanos(1);

// ---------------------------------------------------------------------------------------------
// The in-memory pair
// ---------------------------------------------------------------------------------------------

/// Moves everything `from` has to send to `to`, `chunk` bytes per write and per `receive`, as a
/// transport that takes a little at a time; returns the bytes moved.
fn pump_chunked(from: &mut Connection, to: &mut Connection, now: Instant, chunk: usize) -> Vec<u8> {
    let mut moved = Vec::new();
    loop {
        let pending = from.bytes_to_send();
        if pending.is_empty() {
            return moved;
        }
        let piece = pending[..pending.len().min(chunk)].to_vec();
        from.mark_sent(piece.len());
        to.receive(now, &piece);
        moved.extend_from_slice(&piece);
    }
}

/// The Close body of `frame`, checking it is a Close frame.
fn close_body(frame: &Frame) -> Option<CloseFrame> {
    assert_eq!(frame.header.opcode, Opcode::Close, "{frame:?}");
    CloseFrame::decode(&frame.payload).expect("a valid Close body")
}

/// The one event in `events`, which must be `Event::Closed`.
fn only_closed(events: Vec<Event>) -> CloseOutcome {
    match <[Event; 1]>::try_from(events) {
        Ok([Event::Closed(outcome)]) => outcome,
        other => panic!("expected exactly one Event::Closed, got {other:?}"),
    }
}

fn status(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame { code: CloseCode(code), reason: reason.to_owned() })
}

/// A frame as an endpoint of `sender` puts it on the wire (built with `encode_frame`): masked
/// with [`PEER_KEY`] if the sender is a client, unmasked if it is a server.
fn frame_from(sender: Role, fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    frame_with_mask(sender == Role::Client, fin, opcode, payload)
}

fn frame_with_mask(masked: bool, fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut header = FrameHeader::new(fin, opcode, payload.len() as u64);
    header.masking_key = masked.then_some(PEER_KEY);
    let mut out = Vec::new();
    rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(payload) }.encode(&mut out);
    out
}

/// A frame whose first byte and length field are given as raw bits (for headers `FrameHeader`
/// cannot express): `length` is the 7-bit Payload len followed by its extended bytes, if any.
/// Masked with [`PEER_KEY`] if the sender is a client.
fn raw_frame(sender: Role, first: u8, length: &[u8], payload: &[u8]) -> Vec<u8> {
    let masked = sender == Role::Client;
    let mut out = vec![first, length[0] | if masked { MASK_BIT } else { 0 }];
    out.extend_from_slice(&length[1..]);
    let mut payload = payload.to_vec();
    if masked {
        out.extend_from_slice(&PEER_KEY);
        apply_mask(PEER_KEY, &mut payload, 0);
    }
    out.extend_from_slice(&payload);
    out
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// Text of exactly `len` bytes mixing 1-, 2-, 3- and 4-byte code points.
fn text_of_len(len: usize) -> String {
    let mut text = String::with_capacity(len);
    let cycle = ['a', 'é', '€', '😀', 'z'];
    let mut i = 0;
    while text.len() < len {
        let c = cycle[i % cycle.len()];
        text.push(if text.len() + c.len_utf8() <= len { c } else { 'a' });
        i += 1;
    }
    text
}

/// Deterministic, non-constant bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)).collect()
}

fn text(text: &str) -> Event {
    Event::Message(Message::Text(Utf8Bytes::from(text.to_owned())))
}

fn binary(data: &[u8]) -> Event {
    Event::Message(Message::Binary(Bytes::copy_from_slice(data)))
}

fn streaming() -> Config {
    Config { streaming: true, ..Config::default() }
}

fn with_control_frames() -> Config {
    Config { deliver_control_frames: true, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------
// Data messages: §5.2 length encodings, §5.4 fragmentation, §5.6 data frames
// ---------------------------------------------------------------------------------------------

/// Sizes covering the three length encodings of §5.2 and their boundaries.
const SIZES: [usize; 7] = [0, 1, 125, 126, 65535, 65536, 1 << 20];

/// §5.2, §5.6: a Text and a Binary message of every size arrive whole and unchanged, each sent
/// as one frame with the minimal length encoding, whether the transport takes the bytes at once
/// or 1000 at a time.
fn round_trips(role: Role) {
    let t0 = Instant::now();
    for size in SIZES {
        for chunk in [usize::MAX, 1000] {
            let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
            let text_payload = text_of_len(size);
            let binary_payload = pattern(size);
            conn.send_text(&text_payload).unwrap();
            conn.send_binary(&binary_payload).unwrap();
            let wire = pump_chunked(&mut conn, &mut peer, t0, chunk);

            let sent = frames(&wire, role);
            assert_eq!(sent.len(), 2, "size {size}");
            for (frame, (opcode, payload)) in
                sent.iter().zip([(Opcode::Text, text_payload.as_bytes()), (Opcode::Binary, &binary_payload)])
            {
                assert!(frame.header.fin);
                assert_eq!((frame.header.opcode, frame.header.payload_len), (opcode, size as u64));
                assert_eq!(&frame.payload[..], payload, "size {size}");
            }
            let expected_header_len = match size {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            } + if role == Role::Client { 4 } else { 0 };
            assert_eq!(wire.len(), 2 * (expected_header_len + size), "size {size}");

            assert_eq!(events(&mut peer), vec![text(&text_payload), binary(&binary_payload)], "size {size}");
            assert!(peer.bytes_to_send().is_empty(), "nothing to answer");
        }
    }
}
both_roles!(
    client_round_trips_text_and_binary_of_every_length_encoding,
    server_round_trips_text_and_binary_of_every_length_encoding,
    round_trips
);

/// §5.2, §5.6: `send_message` sends a received message back as it was (an echo).
fn echoes_with_send_message(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    peer.send_text("κόσμε").unwrap();
    peer.send_binary(&[0, 1, 2, 255]).unwrap();
    pump(&mut peer, &mut conn, t0);
    for event in events(&mut conn) {
        let Event::Message(message) = event else { panic!("{event:?}") };
        conn.send_message(&message).unwrap();
    }
    pump(&mut conn, &mut peer, t0);
    assert_eq!(events(&mut peer), vec![text("κόσμε"), binary(&[0, 1, 2, 255])]);
}
both_roles!(client_echoes_with_send_message, server_echoes_with_send_message, echoes_with_send_message);

/// §5.4: with `max_send_frame_size` a message goes out as a Text frame then continuation
/// frames of at most that size (splitting code points), FIN on the last only, and arrives whole.
fn fragments_with_max_send_frame_size(role: Role) {
    let t0 = Instant::now();
    let config = Config { max_send_frame_size: Some(1000), ..Config::default() };
    let (mut conn, mut peer) = pair(role, config, Config::default(), t0);
    let message = "€".repeat(1667); // 5001 bytes: every 1000-byte boundary splits a code point
    conn.send_text(&message).unwrap();
    conn.send_binary(&pattern(2000)).unwrap();
    conn.send_binary(&[]).unwrap();
    let wire = pump(&mut conn, &mut peer, t0);

    let sent: Vec<(bool, Opcode, usize)> =
        frames(&wire, role).iter().map(|f| (f.header.fin, f.header.opcode, f.payload.len())).collect();
    assert_eq!(
        sent,
        vec![
            (false, Opcode::Text, 1000),
            (false, Opcode::Continuation, 1000),
            (false, Opcode::Continuation, 1000),
            (false, Opcode::Continuation, 1000),
            (false, Opcode::Continuation, 1000),
            (true, Opcode::Continuation, 1),
            (false, Opcode::Binary, 1000),
            (true, Opcode::Continuation, 1000),
            (true, Opcode::Binary, 0),
        ]
    );
    assert_eq!(events(&mut peer), vec![text(&message), binary(&pattern(2000)), binary(&[])]);
}
both_roles!(
    client_fragments_with_max_send_frame_size,
    server_fragments_with_max_send_frame_size,
    fragments_with_max_send_frame_size
);

/// §5.4: a message sent in parts (splitting "€" between two parts) is one Text frame then
/// continuations; "control frames MAY be injected in the middle of a fragmented message", and
/// the Ping sent between parts arrives before the message completes.
fn sends_a_message_in_parts_with_a_ping_between(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), with_control_frames(), t0);
    let euro = "€".as_bytes();
    conn.begin_message(MessageKind::Text).unwrap();
    conn.send_fragment(&euro[..1], false).unwrap();
    conn.send_fragment(&[&euro[1..], b"abc"].concat(), false).unwrap();
    conn.send_ping(b"between").unwrap();
    conn.send_fragment(b"", false).unwrap();
    conn.send_fragment(b"end", true).unwrap();
    let wire = pump(&mut conn, &mut peer, t0);

    let sent: Vec<(bool, Opcode, Vec<u8>)> =
        frames(&wire, role).iter().map(|f| (f.header.fin, f.header.opcode, f.payload.to_vec())).collect();
    assert_eq!(
        sent,
        vec![
            (false, Opcode::Text, vec![0xe2]),
            (false, Opcode::Continuation, vec![0x82, 0xac, b'a', b'b', b'c']),
            (true, Opcode::Ping, b"between".to_vec()),
            (false, Opcode::Continuation, vec![]),
            (true, Opcode::Continuation, b"end".to_vec()),
        ]
    );
    assert_eq!(events(&mut peer), vec![Event::Ping(Bytes::from_static(b"between")), text("€abcend")]);

    // The message is finished: a whole message can follow.
    conn.send_binary(b"next").unwrap();
    pump(&mut conn, &mut peer, t0);
    assert_eq!(events(&mut peer), vec![binary(b"next")]);
}
both_roles!(
    client_sends_a_message_in_parts_with_a_ping_between,
    server_sends_a_message_in_parts_with_a_ping_between,
    sends_a_message_in_parts_with_a_ping_between
);

/// §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of another
/// message": a whole message while one sent in parts is open is refused, and nothing is sent.
fn refuses_a_whole_message_while_parts_are_open(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.begin_message(MessageKind::Binary).unwrap();
    assert_eq!(conn.bytes_to_send(), b"", "begin_message sends nothing by itself");
    conn.send_fragment(b"first", false).unwrap();
    let before = conn.unsent_len();
    assert_eq!(conn.send_text("x"), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_binary(b"x"), Err(SendError::MessageInProgress));
    assert_eq!(
        conn.send_message(&Message::Binary(Bytes::from_static(b"x"))),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(conn.begin_message(MessageKind::Text), Err(SendError::MessageInProgress));
    assert_eq!(conn.unsent_len(), before, "nothing queued by the refused calls");
    conn.send_fragment(b"second", true).unwrap();
    conn.send_text("after").unwrap();
    pump(&mut conn, &mut peer, t0);
    assert_eq!(events(&mut peer), vec![binary(b"firstsecond"), text("after")]);
}
both_roles!(
    client_refuses_a_whole_message_while_parts_are_open,
    server_refuses_a_whole_message_while_parts_are_open,
    refuses_a_whole_message_while_parts_are_open
);

/// §5.4: a part with no message begun is refused and sends nothing.
fn refuses_a_part_without_begin(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    assert_eq!(conn.send_fragment(b"x", false), Err(SendError::NoMessageInProgress));
    assert_eq!(conn.send_fragment(b"x", true), Err(SendError::NoMessageInProgress));
    conn.begin_message(MessageKind::Binary).unwrap();
    conn.send_fragment(b"x", true).unwrap();
    assert_eq!(conn.send_fragment(b"y", true), Err(SendError::NoMessageInProgress), "the message ended");
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].header.fin, sent[0].header.opcode, &sent[0].payload[..]),
        (true, Opcode::Binary, &b"x"[..])
    );
}
both_roles!(
    client_refuses_a_part_without_begin,
    server_refuses_a_part_without_begin,
    refuses_a_part_without_begin
);

/// §5.6, §8.1: a Text part that is not UTF-8, or a last part that ends inside a code point, is
/// refused with nothing sent; the message stays open and can be finished correctly.
fn refuses_invalid_utf8_parts_and_sends_nothing(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.begin_message(MessageKind::Text).unwrap();
    conn.send_fragment(b"ok", false).unwrap();
    let wire = pump(&mut conn, &mut peer, t0);
    assert_eq!(frames(&wire, role).len(), 1);

    assert_eq!(conn.send_fragment(&[0xff], false), Err(SendError::InvalidUtf8));
    assert_eq!(conn.send_fragment(b"a\xc3\x28", false), Err(SendError::InvalidUtf8));
    // A surrogate (U+D800) is not UTF-8.
    assert_eq!(conn.send_fragment(&[0xed, 0xa0, 0x80], false), Err(SendError::InvalidUtf8));
    // The message cannot end inside "€".
    assert_eq!(conn.send_fragment(&[0xe2, 0x82], true), Err(SendError::InvalidUtf8));
    assert_eq!(conn.unsent_len(), 0);
    assert_eq!(conn.bytes_to_send(), b"", "nothing sent for refused parts");

    // Nothing of the refused parts was kept: "€" split over two parts finishes the message.
    conn.send_fragment(&[0xe2], false).unwrap();
    assert_eq!(conn.send_fragment(&[0x41], true), Err(SendError::InvalidUtf8), "0x41 cannot continue 0xe2");
    conn.send_fragment(&[0x82, 0xac], true).unwrap();
    pump(&mut conn, &mut peer, t0);
    assert_eq!(events(&mut peer), vec![text("ok€")]);
}
both_roles!(
    client_refuses_invalid_utf8_parts_and_sends_nothing,
    server_refuses_invalid_utf8_parts_and_sends_nothing,
    refuses_invalid_utf8_parts_and_sends_nothing
);

// ---------------------------------------------------------------------------------------------
// §5.1, §5.3: masking by role
// ---------------------------------------------------------------------------------------------

/// A random source that gives 0, 1, 2, 3... : each masking key is the next four numbers.
fn counting_random() -> Box<dyn RandomSource + Send> {
    let mut next = 0u8;
    Box::new(move |bytes: &mut [u8]| {
        for byte in bytes {
            *byte = next;
            next = next.wrapping_add(1);
        }
    })
}

/// §5.1: "a client MUST mask all frames that it sends to the server"; §5.3: "a new masking key
/// MUST be chosen for each frame", drawn from the injected source: data, continuation, control
/// and Close frames alike, and the automatic Pong.
#[test]
fn client_masks_every_frame_with_a_fresh_key() {
    let t0 = Instant::now();
    let mut client = Connection::new(Role::Client, with_control_frames(), t0).with_random(counting_random());
    let mut server = Connection::new(Role::Server, with_control_frames(), t0);
    client.send_text("Hello").unwrap();
    client.send_binary(&pattern(300)).unwrap();
    client.begin_message(MessageKind::Binary).unwrap();
    client.send_fragment(b"ab", false).unwrap();
    client.send_fragment(b"cd", true).unwrap();
    client.send_ping(b"ping").unwrap();
    client.send_pong(b"pong").unwrap();
    client.receive(t0, &frame_from(Role::Server, true, Opcode::Ping, b"auto"));
    client.close(t0, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    let wire = client.bytes_to_send().to_vec();
    client.mark_sent(wire.len());

    let sent = frames(&wire, Role::Client);
    let keys: Vec<Option<[u8; 4]>> = sent.iter().map(|frame| frame.header.masking_key).collect();
    let expected_keys: Vec<Option<[u8; 4]>> =
        (0..8u8).map(|i| Some([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3])).collect();
    assert_eq!(keys, expected_keys);
    let payloads: Vec<(Opcode, &[u8])> = sent.iter().map(|f| (f.header.opcode, &f.payload[..])).collect();
    let binary_300 = pattern(300);
    let close = close_payload(1000, b"bye");
    assert_eq!(
        payloads,
        vec![
            (Opcode::Text, &b"Hello"[..]),
            (Opcode::Binary, &binary_300[..]),
            (Opcode::Binary, b"ab"),
            (Opcode::Continuation, b"cd"),
            (Opcode::Ping, b"ping"),
            (Opcode::Pong, b"pong"),
            (Opcode::Pong, b"auto"),
            (Opcode::Close, &close[..]),
        ]
    );
    // On the wire the first frame is "Hello" XOR 00 01 02 03.
    assert_eq!(wire[..11], [0x81, 0x85, 0, 1, 2, 3, b'H', b'e' ^ 1, b'l' ^ 2, b'l' ^ 3, b'o']);

    server.receive(t0, &wire);
    let received = events(&mut server);
    assert_eq!(
        received[..5],
        [
            text("Hello"),
            binary(&binary_300),
            binary(b"abcd"),
            Event::Ping(Bytes::from_static(b"ping")),
            Event::Pong(Bytes::from_static(b"pong"))
        ]
    );
}

/// §5.1: "A server MUST NOT mask any frames that it sends to the client": the MASK bit is clear
/// in every frame, whatever random source is installed.
#[test]
fn server_sends_unmasked_frames() {
    let t0 = Instant::now();
    let mut server = Connection::new(Role::Server, Config::default(), t0).with_random(counting_random());
    server.send_text("Hello").unwrap();
    server.send_binary(&pattern(300)).unwrap();
    server.send_ping(b"ping").unwrap();
    server.receive(t0, &frame_from(Role::Client, true, Opcode::Ping, b"auto"));
    server.close(t0, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    let wire = output(&mut server);
    // §5.7 "A single-frame unmasked text message".
    assert_eq!(wire[..7], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    let sent = frames(&wire, Role::Server);
    assert_eq!(sent.len(), 5);
    for frame in &sent {
        assert_eq!(frame.header.masking_key, None, "{frame:?}");
    }
    assert_eq!(&sent[3].payload[..], b"auto");
}

// ---------------------------------------------------------------------------------------------
// §5.5.2, §5.5.3: Ping and Pong
// ---------------------------------------------------------------------------------------------

/// §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response";
/// §5.5.3: "A Pong frame sent in response to a Ping frame must have identical 'Application
/// data' as found in the message body of the Ping frame being replied to."
fn answers_a_ping_with_a_pong_of_the_same_payload(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    for payload in [&b""[..], b"Hello", &pattern(125)] {
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, payload));
        assert_eq!(events(&mut conn), vec![], "pings are not reported by default");
        let sent = frames(&output(&mut conn), role);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].header.fin, sent[0].header.opcode), (true, Opcode::Pong));
        assert_eq!(&sent[0].payload[..], payload);
    }
    // A Ping between the fragments of a message is answered too, and the message still arrives.
    let mut input = frame_from(role.peer(), false, Opcode::Text, b"Hel");
    input.extend(frame_from(role.peer(), true, Opcode::Ping, b"mid"));
    input.extend(frame_from(role.peer(), true, Opcode::Continuation, b"lo"));
    conn.receive(t0, &input);
    assert_eq!(events(&mut conn), vec![text("Hello")]);
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].header.opcode, &sent[0].payload[..]), (Opcode::Pong, &b"mid"[..]));
}
both_roles!(
    client_answers_a_ping_with_a_pong_of_the_same_payload,
    server_answers_a_ping_with_a_pong_of_the_same_payload,
    answers_a_ping_with_a_pong_of_the_same_payload
);

/// §5.5.3: "If an endpoint receives a Ping frame and has not yet sent Pong frame(s) in response
/// to previous Ping frame(s), the endpoint MAY elect to send a Pong frame for only the most
/// recently processed Ping frame." Every Ping gets its own Pong while the output is short; while
/// more than 16 KiB wait to be sent (backpressure), only the latest Ping is answered.
fn answers_several_unsent_pings_with_one_pong_for_the_latest(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    // Three Pings in three inputs, then two in one input: five Pongs, in order.
    for payload in [b"1", b"2", b"3"] {
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, payload));
    }
    let mut input = frame_from(role.peer(), true, Opcode::Ping, b"4");
    input.extend(frame_from(role.peer(), true, Opcode::Ping, b"5"));
    conn.receive(t0, &input);
    let sent = frames(&output(&mut conn), role);
    let payloads: Vec<&[u8]> = sent.iter().map(|frame| &frame.payload[..]).collect();
    assert_eq!(payloads, [b"1", b"2", b"3", b"4", b"5"], "{sent:?}");
    assert!(sent.iter().all(|frame| frame.header.opcode == Opcode::Pong));

    // Under backpressure: 20 KiB unsent, then three Pings: one Pong, for the latest, after it.
    conn.send_binary(&[7u8; 20 * 1024]).unwrap();
    for payload in [b"6", b"7", b"8"] {
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, payload));
    }
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].header.opcode, Opcode::Binary);
    assert_eq!((sent[1].header.opcode, &sent[1].payload[..]), (Opcode::Pong, &b"8"[..]));

    // Pings whose Pongs were written in between each get their own.
    let mut pongs = Vec::new();
    for payload in [b"6", b"7"] {
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, payload));
        pongs.extend(frames(&output(&mut conn), role));
    }
    let pongs: Vec<&[u8]> = pongs.iter().map(|f| &f.payload[..]).collect();
    assert_eq!(pongs, vec![b"6", b"7"]);
    assert_eq!(output(&mut conn), b"", "nothing more");
}
both_roles!(
    client_answers_several_unsent_pings_with_one_pong_for_the_latest,
    server_answers_several_unsent_pings_with_one_pong_for_the_latest,
    answers_several_unsent_pings_with_one_pong_for_the_latest
);

/// §5.5.2 with `auto_pong: false`: the application answers, the connection does not.
fn sends_no_pong_without_auto_pong(role: Role) {
    let t0 = Instant::now();
    let config = Config { auto_pong: false, deliver_control_frames: true, ..Config::default() };
    let mut conn = Connection::new(role, config, t0);
    conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, b"x"));
    assert_eq!(conn.unsent_len(), 0);
    assert_eq!(output(&mut conn), b"");
    assert_eq!(events(&mut conn), vec![Event::Ping(Bytes::from_static(b"x"))]);
    conn.send_pong(b"x").unwrap();
    let sent = frames(&output(&mut conn), role);
    assert_eq!((sent.len(), sent[0].header.opcode, &sent[0].payload[..]), (1, Opcode::Pong, &b"x"[..]));
}
both_roles!(
    client_sends_no_pong_without_auto_pong,
    server_sends_no_pong_without_auto_pong,
    sends_no_pong_without_auto_pong
);

/// §5.5.2, §5.5.3 with `deliver_control_frames`: Pings and Pongs are reported in order, with
/// their payloads, between the messages around them; Pings are still answered.
fn delivers_control_frames_when_asked(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, with_control_frames(), t0);
    let peer = role.peer();
    let mut input = frame_from(peer, true, Opcode::Text, b"a");
    input.extend(frame_from(peer, true, Opcode::Ping, b"p1"));
    input.extend(frame_from(peer, true, Opcode::Pong, b"unsolicited"));
    input.extend(frame_from(peer, true, Opcode::Binary, b"b"));
    input.extend(frame_from(peer, true, Opcode::Pong, b""));
    conn.receive(t0, &input);
    assert_eq!(
        events(&mut conn),
        vec![
            text("a"),
            Event::Ping(Bytes::from_static(b"p1")),
            Event::Pong(Bytes::from_static(b"unsolicited")),
            binary(b"b"),
            Event::Pong(Bytes::new()),
        ]
    );
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].header.opcode, &sent[0].payload[..]), (Opcode::Pong, &b"p1"[..]));

    // Without the option, neither is reported.
    let mut quiet = Connection::new(role, Config::default(), t0);
    quiet.receive(t0, &input);
    assert_eq!(events(&mut quiet), vec![text("a"), binary(b"b")]);
}
both_roles!(
    client_delivers_control_frames_when_asked,
    server_delivers_control_frames_when_asked,
    delivers_control_frames_when_asked
);

/// §5.5: control payloads over 125 bytes are refused; 125 is fine.
fn refuses_control_payloads_over_125_bytes(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    assert_eq!(conn.send_ping(&[0; 126]), Err(SendError::ControlPayloadTooLong(126)));
    assert_eq!(conn.send_pong(&[0; 126]), Err(SendError::ControlPayloadTooLong(126)));
    assert_eq!(conn.unsent_len(), 0);
    conn.send_ping(&[0; 125]).unwrap();
    let sent = frames(&output(&mut conn), role);
    assert_eq!((sent.len(), sent[0].payload.len()), (1, 125));
}
both_roles!(
    client_refuses_control_payloads_over_125_bytes,
    server_refuses_control_payloads_over_125_bytes,
    refuses_control_payloads_over_125_bytes
);

// ---------------------------------------------------------------------------------------------
// §5.5.1, §7: the closing handshake
// ---------------------------------------------------------------------------------------------

/// §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame,
/// the endpoint MUST send a Close frame in response. (When sending a Close frame in response,
/// the endpoint typically echos the status code it received.)" §7.1.5, §7.1.6: the outcome
/// carries the peer's code and reason; `Event::Closed` is reported once, clean (§7.1.4).
fn echoes_the_peers_close_with_its_code(role: Role) {
    let t0 = Instant::now();
    for code in [1000, 1001, 1003, 1011, 3000, 4999] {
        let mut conn = Connection::new(role, Config::default(), t0);
        conn.receive(
            t0,
            &frame_from(role.peer(), true, Opcode::Close, &close_payload(code, b"bye \xe2\x82\xac")),
        );
        assert!(!conn.is_open());
        let wire = output(&mut conn);
        let sent = frames(&wire, role);
        assert_eq!(sent.len(), 1, "code {code}: {sent:?}");
        let echo = close_body(&sent[0]).expect("the echo has a code");
        assert_eq!(echo.code, CloseCode(code));
        assert_eq!(echo.reason, "bye €", "the reason is echoed with the code");

        let outcome = only_closed(events(&mut conn));
        assert_eq!(
            outcome,
            CloseOutcome {
                initiator: CloseInitiator::Remote,
                sent: Some(CloseFrame { code: CloseCode(code), reason: echo.reason.clone() }),
                received: status(code, "bye €"),
                clean: true,
                error: None,
            }
        );
        assert_eq!((outcome.code(), outcome.reason()), (CloseCode(code), "bye €"));

        // Never reported again, whatever comes next.
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Close, &close_payload(1000, b"")));
        conn.handle_timeout(t0 + CLOSE_TIMEOUT);
        conn.receive_eof(t0 + CLOSE_TIMEOUT);
        conn.handle_timeout(t0 + 10 * CLOSE_TIMEOUT);
        assert_eq!(events(&mut conn), vec![]);
        assert_eq!(output(&mut conn), b"", "one Close only");
    }
}
both_roles!(
    client_echoes_the_peers_close_with_its_code,
    server_echoes_the_peers_close_with_its_code,
    echoes_the_peers_close_with_its_code
);

/// §7.1.5: "If this Close control frame contains no status code, _The WebSocket Connection
/// Close Code_ is considered to be 1005." The echo of an empty Close is an empty Close (1005
/// "MUST NOT be set as a status code in a Close control frame").
fn reports_1005_for_an_empty_close(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.receive(t0, &frame_from(role.peer(), true, Opcode::Close, b""));
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header.opcode, Opcode::Close);
    assert_eq!(&sent[0].payload[..], b"", "an empty echo");
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Remote,
            sent: status(1005, ""),
            received: status(1005, ""),
            clean: true,
            error: None,
        }
    );
    assert_eq!((outcome.code(), outcome.reason()), (CloseCode::NO_STATUS_RCVD, ""));
}
both_roles!(
    client_reports_1005_for_an_empty_close,
    server_reports_1005_for_an_empty_close,
    reports_1005_for_an_empty_close
);

/// §5.5.1: after the peer's Close, "the endpoint ... MUST NOT send any more data frames"; data
/// after the Close is discarded (§1.4), in the same input and later: no message, no Pong.
fn discards_data_after_the_peers_close(role: Role) {
    let t0 = Instant::now();
    let peer = role.peer();
    let mut conn = Connection::new(role, with_control_frames(), t0);
    let mut input = frame_from(peer, true, Opcode::Text, b"before");
    input.extend(frame_from(peer, true, Opcode::Close, &close_payload(1000, b"")));
    input.extend(frame_from(peer, true, Opcode::Text, b"after"));
    input.extend(frame_from(peer, true, Opcode::Ping, b"after"));
    conn.receive(t0, &input);
    conn.receive(t0, &frame_from(peer, true, Opcode::Binary, b"later"));
    conn.receive(t0, &[0xff, 0xff, 0xff]); // not even a frame: ignored as well
    let received = events(&mut conn);
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[0], text("before"));
    assert!(matches!(&received[1], Event::Closed(outcome) if outcome.clean && outcome.error.is_none()));
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1, "only the echo: {sent:?}");
    assert_eq!(close_body(&sent[0]).map(|c| c.code), Some(CloseCode::NORMAL_CLOSURE));
    assert_eq!(conn.send_text("x"), Err(SendError::Closing));
}
both_roles!(
    client_discards_data_after_the_peers_close,
    server_discards_data_after_the_peers_close,
    discards_data_after_the_peers_close
);

/// §7.1.2: `close` sends a Close with the code and reason; the peer's reply completes the
/// closing handshake cleanly (§7.1.4), reported once with this endpoint as initiator.
fn completes_the_closing_handshake_it_started(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.close(t0, CloseCode::GOING_AWAY, "done").unwrap();
    assert!(!conn.is_open() && !conn.is_closed());
    assert_eq!(conn.poll_timeout(), Some(t0 + CLOSE_TIMEOUT), "waiting for the reply");
    let wire = pump(&mut conn, &mut peer, t0);
    let sent = frames(&wire, role);
    assert_eq!(sent.len(), 1);
    assert_eq!(close_body(&sent[0]), Some(CloseFrame { code: CloseCode::GOING_AWAY, reason: "done".into() }));
    assert_eq!(events(&mut conn), vec![], "nothing to report before the reply");

    // The peer (a real connection of the other role) echoes.
    let t1 = t0 + Duration::from_millis(100);
    pump(&mut peer, &mut conn, t1);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Local,
            sent: status(1001, "done"),
            // §5.5.1: the peer echoes the code, and its reason too.
            received: status(1001, "done"),
            clean: true,
            error: None,
        }
    );
    let peer_outcome = only_closed(events(&mut peer));
    assert_eq!((peer_outcome.initiator, peer_outcome.clean), (CloseInitiator::Remote, true));
    assert_eq!((peer_outcome.code(), peer_outcome.reason()), (CloseCode::GOING_AWAY, "done"));
    assert_eq!(output(&mut conn), b"", "no second Close");

    // §7.1.1: "the server SHOULD close the underlying TCP connection first": once its last
    // bytes are written it shuts down writing (FIN) and lingers; the client waits for that EOF.
    let (server, client) = match role {
        Role::Server => (&mut conn, &mut peer),
        Role::Client => (&mut peer, &mut conn),
    };
    assert_eq!(server.poll_transport(t1), Transport::ShutdownWrite, "the server closes TCP first");
    assert_eq!(server.poll_timeout(), Some(t1 + LINGER_TIMEOUT), "lingering, bounded");
    assert_eq!(client.poll_transport(t1), Transport::Open, "the client waits for the server");
    assert_eq!(client.poll_timeout(), Some(t1 + CLOSE_TIMEOUT));
    client.receive_eof(t1);
    assert_eq!(client.poll_transport(t1), Transport::Close);
    assert_eq!(client.poll_timeout(), None);
    server.receive_eof(t1); // the client dropped its socket
    assert_eq!(server.poll_transport(t1), Transport::Close);
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(events(&mut peer), vec![]);
}
both_roles!(
    client_completes_the_closing_handshake_it_started,
    server_completes_the_closing_handshake_it_started,
    completes_the_closing_handshake_it_started
);

/// §1.4, §7.1.2: after sending a Close an endpoint waits for the peer's, and the data the peer
/// sent before it is still delivered (only data after the peer's Close is discarded).
fn delivers_messages_while_its_close_is_unanswered(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    let close = output(&mut conn);
    // The peer sends before it sees our Close.
    peer.send_text("in flight").unwrap();
    peer.begin_message(MessageKind::Binary).unwrap();
    peer.send_fragment(b"frag", false).unwrap();
    peer.send_fragment(b"mented", true).unwrap();
    pump(&mut peer, &mut conn, t0);
    assert_eq!(events(&mut conn), vec![text("in flight"), binary(b"fragmented")]);
    assert_eq!(output(&mut conn), b"", "data needs no answer");
    peer.receive(t0, &close);
    pump(&mut peer, &mut conn, t0);
    let outcome = only_closed(events(&mut conn));
    assert!(outcome.clean);
    assert_eq!(outcome.code(), CloseCode::NORMAL_CLOSURE);
}
both_roles!(
    client_delivers_messages_while_its_close_is_unanswered,
    server_delivers_messages_while_its_close_is_unanswered,
    delivers_messages_while_its_close_is_unanswered
);

/// §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response,
/// unless it already received a Close frame." Having *sent* a Close does not lift the MUST
/// (§5.5.1 forbids only data frames after it): a Ping that arrives while our Close is unanswered
/// gets its Pong, and is reported like the Pong after it.
fn answers_a_ping_while_its_close_is_unanswered(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, with_control_frames(), t0);
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    output(&mut conn);
    let mut input = frame_from(role.peer(), true, Opcode::Ping, b"still there?");
    input.extend(frame_from(role.peer(), true, Opcode::Pong, b"pong"));
    conn.receive(t0, &input);
    assert_eq!(
        events(&mut conn),
        vec![Event::Ping(Bytes::from_static(b"still there?")), Event::Pong(Bytes::from_static(b"pong"))]
    );
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1, "one Pong: {sent:?}");
    assert_eq!((sent[0].header.opcode, &sent[0].payload[..]), (Opcode::Pong, &b"still there?"[..]));
}
both_roles!(
    client_answers_a_ping_while_its_close_is_unanswered,
    server_answers_a_ping_while_its_close_is_unanswered,
    answers_a_ping_while_its_close_is_unanswered
);

/// §7.1.5: the transport ends after our Close but before the peer's: closed, not clean, code
/// 1006; we started it; no error of ours.
fn closes_abnormally_on_eof_after_its_close(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.close(t0, CloseCode::GOING_AWAY, "later").unwrap();
    output(&mut conn);
    conn.receive_eof(t0 + Duration::from_secs(1));
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Local,
            sent: status(1001, "later"),
            received: None,
            clean: false,
            error: None,
        }
    );
    assert_eq!(outcome.code(), CloseCode::ABNORMAL_CLOSURE);
    // Our Close is written and the peer closed: nothing more to write or read.
    assert_eq!(conn.poll_transport(t0 + Duration::from_secs(1)), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(t0 + CLOSE_TIMEOUT);
    assert_eq!(events(&mut conn), vec![], "no close timeout after the transport ended");
}
both_roles!(
    client_closes_abnormally_on_eof_after_its_close,
    server_closes_abnormally_on_eof_after_its_close,
    closes_abnormally_on_eof_after_its_close
);

/// §5.5.1: "After sending a Close frame, the application MUST NOT send any more data frames":
/// every command is refused with `SendError::Closing`, after our Close and after the peer's.
fn refuses_to_send_after_close(role: Role) {
    let t0 = Instant::now();
    let ours = {
        let mut conn = Connection::new(role, Config::default(), t0);
        conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
        conn
    };
    let theirs = {
        let mut conn = Connection::new(role, Config::default(), t0);
        conn.receive(t0, &frame_from(role.peer(), true, Opcode::Close, &close_payload(1000, b"")));
        conn
    };
    let in_parts = {
        let mut conn = Connection::new(role, Config::default(), t0);
        conn.begin_message(MessageKind::Text).unwrap();
        conn.send_fragment(b"a", false).unwrap();
        conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
        conn
    };
    for (name, mut conn) in
        [("after close()", ours), ("after the peer's Close", theirs), ("mid-message", in_parts)]
    {
        let before = output(&mut conn);
        assert_eq!(conn.send_text("x"), Err(SendError::Closing), "{name}");
        assert_eq!(conn.send_binary(b"x"), Err(SendError::Closing), "{name}");
        assert_eq!(
            conn.send_message(&Message::Binary(Bytes::from_static(b"x"))),
            Err(SendError::Closing),
            "{name}"
        );
        assert_eq!(conn.begin_message(MessageKind::Binary), Err(SendError::Closing), "{name}");
        assert_eq!(conn.send_fragment(b"x", true), Err(SendError::Closing), "{name}");
        assert_eq!(conn.send_ping(b"x"), Err(SendError::Closing), "{name}");
        assert_eq!(conn.send_pong(b"x"), Err(SendError::Closing), "{name}");
        assert_eq!(conn.close(t0, CloseCode::NORMAL_CLOSURE, ""), Err(SendError::Closing), "{name}");
        assert_eq!(conn.unsent_len(), 0, "{name}");
        let sent = frames(&before, role);
        assert_eq!(sent.last().map(|f| f.header.opcode), Some(Opcode::Close), "{name}");
    }
}
both_roles!(
    client_refuses_to_send_after_close,
    server_refuses_to_send_after_close,
    refuses_to_send_after_close
);

/// §7.4.1, §7.4.2: 1005, 1006, 1015 and codes outside the defined ranges may not be sent;
/// §5.5.1: a reason over 123 bytes does not fit a control frame. The connection stays open and
/// sends nothing.
fn refuses_an_unsendable_close_and_stays_open(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            conn.close(t0, CloseCode(code), ""),
            Err(SendError::UnsendableCloseCode(CloseCode(code))),
            "{code}"
        );
    }
    let long = "a".repeat(124);
    assert_eq!(conn.close(t0, CloseCode::NORMAL_CLOSURE, &long), Err(SendError::CloseReasonTooLong(124)));
    // 41 three-byte characters: 123 bytes is the most that fits.
    assert_eq!(
        conn.close(t0, CloseCode::NORMAL_CLOSURE, &"€".repeat(42)),
        Err(SendError::CloseReasonTooLong(126))
    );
    assert!(conn.is_open());
    assert_eq!(conn.unsent_len(), 0);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(events(&mut conn), vec![]);

    conn.send_text("still open").unwrap();
    conn.close(t0, CloseCode::NORMAL_CLOSURE, &"€".repeat(41)).unwrap();
    pump(&mut conn, &mut peer, t0);
    let received = events(&mut peer);
    assert_eq!(received[0], text("still open"));
    let Event::Closed(outcome) = &received[1] else { panic!("{received:?}") };
    assert_eq!(outcome.reason(), "€".repeat(41));
}
both_roles!(
    client_refuses_an_unsendable_close_and_stays_open,
    server_refuses_an_unsendable_close_and_stays_open,
    refuses_an_unsendable_close_and_stays_open
);

/// §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was received by
/// the endpoint ... _The WebSocket Connection Close Code_ is considered to be 1006." Not clean.
fn closes_abnormally_on_eof_while_open(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.receive(t0, &frame_from(role.peer(), false, Opcode::Text, b"unfinished"));
    conn.receive_eof(t0);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Remote,
            sent: None,
            received: None,
            clean: false,
            error: None
        }
    );
    assert_eq!(outcome.code(), CloseCode::ABNORMAL_CLOSURE);
    assert!(conn.is_closed());
    assert_eq!(conn.poll_transport(t0), Transport::Close, "nothing unsent, nothing more to read");
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(output(&mut conn), b"", "nothing can be sent to a closed transport");
    conn.receive_eof(t0);
    assert_eq!(events(&mut conn), vec![]);
}
both_roles!(
    client_closes_abnormally_on_eof_while_open,
    server_closes_abnormally_on_eof_while_open,
    closes_abnormally_on_eof_while_open
);

/// §7.1.1, §7.1.7: our Close gets no reply within `close_timeout`: closed, not clean, with
/// `ConnectionError::CloseTimeout`. Not a moment before the deadline.
fn fails_with_close_timeout_when_the_peer_never_answers(role: Role) {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(2);
    let mut conn = Connection::new(role, Config { close_timeout: timeout, ..Config::default() }, t0);
    let t1 = t0 + Duration::from_secs(7);
    conn.close(t1, CloseCode::NORMAL_CLOSURE, "bye").unwrap();
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!(conn.poll_timeout(), Some(t1 + timeout));
    conn.handle_timeout(t1 + timeout - TICK);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(conn.poll_transport(t1 + timeout - TICK), Transport::Open);
    conn.handle_timeout(t1 + timeout);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Local,
            sent: status(1000, "bye"),
            received: None,
            clean: false,
            error: Some(ConnectionError::CloseTimeout),
        }
    );
    assert_eq!(outcome.code(), CloseCode::ABNORMAL_CLOSURE);
    // Our Close was written: shut down writing and linger, so a late Close from the peer is
    // read instead of reset; the linger is bounded too.
    let linger_end = t1 + timeout + LINGER_TIMEOUT;
    assert_eq!(conn.poll_transport(t1 + timeout), Transport::ShutdownWrite);
    assert_eq!(conn.poll_timeout(), Some(linger_end));
    assert_eq!(output(&mut conn), b"");
    conn.handle_timeout(linger_end - TICK);
    assert_eq!(conn.poll_transport(linger_end - TICK), Transport::ShutdownWrite);
    conn.handle_timeout(linger_end);
    assert_eq!(conn.poll_transport(linger_end), Transport::Close);
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(t1 + 2 * timeout);
    assert_eq!(events(&mut conn), vec![]);
}
both_roles!(
    client_fails_with_close_timeout_when_the_peer_never_answers,
    server_fails_with_close_timeout_when_the_peer_never_answers,
    fails_with_close_timeout_when_the_peer_never_answers
);

/// §7.1.1: "the server SHOULD close the underlying TCP connection first": once its echo is
/// written, and not before, it shuts down writing (FIN) and lingers until the client's EOF.
#[test]
fn server_shuts_down_writing_once_the_echo_is_written() {
    let t0 = Instant::now();
    let mut server = Connection::new(Role::Server, Config::default(), t0);
    server.receive(t0, &frame_from(Role::Client, true, Opcode::Close, &close_payload(1000, b"")));
    assert!(server.is_closed());
    assert_eq!(server.poll_timeout(), Some(t0 + CLOSE_TIMEOUT), "the echo must be taken in time");
    let len = server.bytes_to_send().len();
    assert_eq!(len, 4, "88 02 03 e8");
    assert_eq!(server.poll_transport(t0), Transport::Open, "the echo is not written yet");
    server.mark_sent(3);
    assert_eq!(server.poll_transport(t0), Transport::Open, "one byte of the echo left");
    server.mark_sent(1);
    assert_eq!(server.poll_transport(t0), Transport::ShutdownWrite);
    server.receive_eof(t0);
    assert_eq!(server.poll_transport(t0), Transport::Close);
}

/// §7.1.1: after the closing handshake the client waits for the server to close TCP; the
/// transport's EOF closes it at once.
#[test]
fn client_waits_for_eof_after_the_closing_handshake() {
    let t0 = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default(), t0);
    client.receive(t0, &frame_from(Role::Server, true, Opcode::Close, &close_payload(1000, b"")));
    assert!(only_closed(events(&mut client)).clean);
    output(&mut client);
    assert_eq!(client.poll_transport(t0), Transport::Open, "the server closes first");
    assert_eq!(client.poll_timeout(), Some(t0 + CLOSE_TIMEOUT));
    client.receive_eof(t0 + Duration::from_secs(1));
    assert_eq!(client.poll_transport(t0 + Duration::from_secs(1)), Transport::Close);
    assert!(client.is_closed());
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(events(&mut client), vec![], "Closed was reported once already");
}

/// §7.1.1: a client whose server does not close TCP closes it itself after `close_timeout`:
/// `poll_timeout` gives the deadline, `handle_timeout` before it does nothing, at it shuts
/// down writing and lingers like any endpoint, then closes at the linger's end.
#[test]
fn client_closes_after_close_timeout_without_eof() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(Role::Client, Config::default(), Config::default(), t0);
    let t1 = t0 + Duration::from_secs(3);
    server.close(t1, CloseCode::NORMAL_CLOSURE, "").unwrap();
    pump(&mut server, &mut client, t1);
    pump(&mut client, &mut server, t1);
    assert!(only_closed(events(&mut client)).clean);
    assert_eq!(server.poll_transport(t1), Transport::ShutdownWrite);
    // The server's FIN is lost (or never sent): the client sees no EOF.

    assert_eq!(client.poll_transport(t1), Transport::Open);
    assert_eq!(client.poll_timeout(), Some(t1 + CLOSE_TIMEOUT));
    client.handle_timeout(t1);
    client.handle_timeout(t1 + CLOSE_TIMEOUT - TICK);
    assert_eq!(client.poll_transport(t1 + CLOSE_TIMEOUT - TICK), Transport::Open);
    assert_eq!(client.poll_timeout(), Some(t1 + CLOSE_TIMEOUT));
    client.handle_timeout(t1 + CLOSE_TIMEOUT);
    assert_eq!(client.poll_transport(t1 + CLOSE_TIMEOUT), Transport::ShutdownWrite);
    let linger_end = t1 + CLOSE_TIMEOUT + LINGER_TIMEOUT;
    assert_eq!(client.poll_timeout(), Some(linger_end));
    client.handle_timeout(linger_end);
    assert_eq!(client.poll_transport(linger_end), Transport::Close);
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(events(&mut client), vec![], "the timeout after a clean close is no failure");
}

/// An idle open connection without keepalive needs no timer, and time passing changes nothing.
fn needs_no_timer_while_idle(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(conn.is_open());
    assert_eq!((conn.unsent_len(), events(&mut conn)), (0, vec![]));
}
both_roles!(client_needs_no_timer_while_idle, server_needs_no_timer_while_idle, needs_no_timer_while_idle);

// ---------------------------------------------------------------------------------------------
// §7.1.7: the failure table
// ---------------------------------------------------------------------------------------------

/// A violation by the peer: its bytes, the close code the endpoint must send, and the error it
/// must report.
struct Failure {
    name: &'static str,
    /// Limits of the endpoint under test, if not the default.
    limits: MessageLimits,
    /// The peer's bytes up to and including the violation (for `partial` cases, the violating
    /// frame is cut short).
    bytes: Vec<u8>,
    /// The violating frame is incomplete: nothing may follow it in the same input.
    partial: bool,
    /// Messages before the violation, which are delivered.
    delivered: Vec<Event>,
    code: u16,
    error: ProtocolError,
}

/// Every violation of §5 and §7.4 a receiver must fail on, as sent by an endpoint of `peer`.
fn failures(peer: Role) -> Vec<Failure> {
    let frame = |fin, opcode, payload: &[u8]| frame_from(peer, fin, opcode, payload);
    let concat = |parts: &[Vec<u8>]| parts.concat();
    let defaults = MessageLimits::default();
    let case = |name, bytes, code, error| Failure {
        name,
        limits: defaults,
        bytes,
        partial: false,
        delivered: vec![],
        code,
        error,
    };
    let mut cases = vec![
        case(
            "reserved data opcode 0x3",
            raw_frame(peer, 0x83, &[1], b"x"),
            1002,
            ProtocolError::ReservedOpcode(0x3),
        ),
        case(
            "reserved data opcode 0x7",
            raw_frame(peer, 0x87, &[0], b""),
            1002,
            ProtocolError::ReservedOpcode(0x7),
        ),
        case(
            "reserved control opcode 0xb",
            raw_frame(peer, 0x8b, &[0], b""),
            1002,
            ProtocolError::ReservedOpcode(0xb),
        ),
        case(
            "reserved control opcode 0xf",
            raw_frame(peer, 0x8f, &[1], b"x"),
            1002,
            ProtocolError::ReservedOpcode(0xf),
        ),
        case(
            "rsv1 without extension",
            raw_frame(peer, 0x81 | RSV1_BIT, &[1], b"x"),
            1002,
            ProtocolError::ReservedBitsSet(RSV1_BIT),
        ),
        case(
            "rsv2 without extension",
            raw_frame(peer, 0x82 | RSV2_BIT, &[1], b"x"),
            1002,
            ProtocolError::ReservedBitsSet(RSV2_BIT),
        ),
        case(
            "rsv3 on a ping",
            raw_frame(peer, 0x89 | RSV3_BIT, &[0], b""),
            1002,
            ProtocolError::ReservedBitsSet(RSV3_BIT),
        ),
        case(
            "fragmented ping",
            raw_frame(peer, 0x09, &[1], b"x"),
            1002,
            ProtocolError::FragmentedControlFrame,
        ),
        case(
            "fragmented close",
            raw_frame(peer, 0x08, &[2], &[0x03, 0xe8]),
            1002,
            ProtocolError::FragmentedControlFrame,
        ),
        case(
            "ping of 126 bytes",
            raw_frame(peer, 0x89, &[126, 0, 126], &[0; 126]),
            1002,
            ProtocolError::ControlFrameTooLong(126),
        ),
        case(
            "close of 126 bytes",
            raw_frame(peer, 0x88, &[126, 0, 126], &close_payload(1000, &[b'a'; 124])),
            1002,
            ProtocolError::ControlFrameTooLong(126),
        ),
        case(
            "5-byte payload in a 16-bit length",
            raw_frame(peer, 0x82, &[126, 0, 5], b"abcde"),
            1002,
            ProtocolError::NonMinimalLength(5),
        ),
        case(
            "125-byte payload in a 16-bit length",
            raw_frame(peer, 0x82, &[126, 0, 125], &[0; 125]),
            1002,
            ProtocolError::NonMinimalLength(125),
        ),
        case(
            "200-byte payload in a 64-bit length",
            raw_frame(peer, 0x82, &[127, 0, 0, 0, 0, 0, 0, 0, 200], &[0; 200]),
            1002,
            ProtocolError::NonMinimalLength(200),
        ),
        case(
            "64-bit length with its most significant bit set",
            raw_frame(peer, 0x82, &[127, 0x80, 0, 0, 0, 0, 0, 0, 1], b""),
            1002,
            ProtocolError::LengthMostSignificantBitSet,
        ),
        case(
            "continuation without a started message",
            frame(true, Opcode::Continuation, b"x"),
            1002,
            ProtocolError::UnexpectedContinuation,
        ),
        Failure {
            delivered: vec![text("done")],
            ..case(
                "continuation after a finished message",
                concat(&[frame(true, Opcode::Text, b"done"), frame(false, Opcode::Continuation, b"x")]),
                1002,
                ProtocolError::UnexpectedContinuation,
            )
        },
        case(
            "new text inside a fragmented message",
            concat(&[frame(false, Opcode::Text, b"a"), frame(true, Opcode::Text, b"b")]),
            1002,
            ProtocolError::ExpectedContinuation,
        ),
        case(
            "new binary inside a fragmented message, after a ping",
            concat(&[
                frame(false, Opcode::Binary, b"a"),
                frame(true, Opcode::Ping, b""),
                frame(false, Opcode::Binary, b"b"),
            ]),
            1002,
            ProtocolError::ExpectedContinuation,
        ),
        case("invalid utf-8 text", frame(true, Opcode::Text, b"ok\xff"), 1007, ProtocolError::InvalidUtf8),
        case(
            "text that is a utf-16 surrogate",
            frame(true, Opcode::Text, b"\xed\xa0\x80"),
            1007,
            ProtocolError::InvalidUtf8,
        ),
        case(
            "text ending inside a code point",
            frame(true, Opcode::Text, b"\xe2\x82"),
            1007,
            ProtocolError::InvalidUtf8,
        ),
        case(
            "invalid utf-8 in the first fragment",
            concat(&[frame(false, Opcode::Text, b"a\xffb"), frame(true, Opcode::Continuation, b"c")]),
            1007,
            ProtocolError::InvalidUtf8,
        ),
        case(
            "invalid code point split across fragments",
            concat(&[frame(false, Opcode::Text, b"\xe2"), frame(true, Opcode::Continuation, b"\x28\xa1")]),
            1007,
            ProtocolError::InvalidUtf8,
        ),
        case(
            "fragmented text ending inside a code point",
            concat(&[frame(false, Opcode::Text, b"a"), frame(true, Opcode::Continuation, b"\xf0\x9f")]),
            1007,
            ProtocolError::InvalidUtf8,
        ),
        case(
            "close with a 1-byte payload",
            frame(true, Opcode::Close, &[0x03]),
            1002,
            ProtocolError::CloseBodyTooShort,
        ),
        case(
            "close with code 1005",
            frame(true, Opcode::Close, &close_payload(1005, b"")),
            1002,
            ProtocolError::InvalidCloseCode(1005),
        ),
        case(
            "close with code 1006",
            frame(true, Opcode::Close, &close_payload(1006, b"")),
            1002,
            ProtocolError::InvalidCloseCode(1006),
        ),
        case(
            "close with code 999",
            frame(true, Opcode::Close, &close_payload(999, b"")),
            1002,
            ProtocolError::InvalidCloseCode(999),
        ),
        case(
            "close with code 5000",
            frame(true, Opcode::Close, &close_payload(5000, b"")),
            1002,
            ProtocolError::InvalidCloseCode(5000),
        ),
        case(
            "close with code 1004",
            frame(true, Opcode::Close, &close_payload(1004, b"")),
            1002,
            ProtocolError::InvalidCloseCode(1004),
        ),
        case(
            "close with code 1015",
            frame(true, Opcode::Close, &close_payload(1015, b"")),
            1002,
            ProtocolError::InvalidCloseCode(1015),
        ),
        case(
            "close with code 0",
            frame(true, Opcode::Close, &close_payload(0, b"")),
            1002,
            ProtocolError::InvalidCloseCode(0),
        ),
        case(
            "close reason not utf-8",
            frame(true, Opcode::Close, &close_payload(1000, b"bye\xff")),
            1007,
            ProtocolError::InvalidUtf8,
        ),
    ];
    // §5.1: a server receives masked frames only, a client unmasked ones.
    cases.push(match peer {
        Role::Client => case(
            "unmasked frame to a server",
            frame_with_mask(false, true, Opcode::Text, b"x"),
            1002,
            ProtocolError::UnmaskedFrame,
        ),
        Role::Server => case(
            "masked frame to a client",
            frame_with_mask(true, true, Opcode::Text, b"x"),
            1002,
            ProtocolError::MaskedFrame,
        ),
    });
    // §8.1: invalid UTF-8 fails "as soon as" it arrives: the frame's end has not.
    let mut cut = frame(true, Opcode::Text, b"abc\xffdefghijklmnop");
    cut.truncate(cut.len() - 10);
    cases.push(Failure {
        partial: true,
        ..case("invalid utf-8 in a frame whose end has not arrived", cut, 1007, ProtocolError::InvalidUtf8)
    });
    let mut cut = frame(false, Opcode::Text, b"\xed\xa0\x80 and more text");
    cut.truncate(cut.len() - 5);
    cases.push(Failure {
        partial: true,
        ..case("surrogate in an unfinished first fragment", cut, 1007, ProtocolError::InvalidUtf8)
    });
    let mut cut = concat(&[
        frame(false, Opcode::Text, b"abc"),
        frame(true, Opcode::Continuation, b"d\xc0\xafefghijklmnop"),
    ]);
    cut.truncate(cut.len() - 10);
    cases.push(Failure {
        partial: true,
        ..case("overlong encoding in an unfinished continuation", cut, 1007, ProtocolError::InvalidUtf8)
    });
    // Limits: 1009, checked on the header, before the payload arrives or is allocated.
    let small = |max_frame_size, max_message_size, max_fragments| MessageLimits {
        max_frame_size,
        max_message_size,
        max_fragments,
    };
    cases.push(Failure {
        limits: small(100, 1000, 100),
        ..case(
            "frame over max_frame_size",
            frame(true, Opcode::Binary, &[0; 101]),
            1009,
            ProtocolError::FrameTooLarge { payload_len: 101, max: 100 },
        )
    });
    let mut header_only = frame(true, Opcode::Binary, &[0; 70000]);
    header_only.truncate(if peer == Role::Client { 14 } else { 10 });
    cases.push(Failure {
        limits: small(65536, 1 << 20, 100),
        partial: true,
        ..case(
            "frame over max_frame_size, header only",
            header_only,
            1009,
            ProtocolError::FrameTooLarge { payload_len: 70000, max: 65536 },
        )
    });
    cases.push(Failure {
        limits: small(1000, 100, 100),
        ..case(
            "single-frame message over max_message_size",
            frame(true, Opcode::Text, &[b'a'; 101]),
            1009,
            ProtocolError::MessageTooLarge { size: 101, max: 100 },
        )
    });
    cases.push(Failure {
        limits: small(100, 100, 100),
        ..case(
            "message over max_message_size (sum of fragments)",
            concat(&[
                frame(false, Opcode::Binary, &[0; 60]),
                frame(true, Opcode::Ping, b""),
                frame(true, Opcode::Continuation, &[0; 50]),
            ]),
            1009,
            ProtocolError::MessageTooLarge { size: 110, max: 100 },
        )
    });
    cases.push(Failure {
        limits: small(100, 1000, 3),
        ..case(
            "too many fragments",
            concat(&[
                frame(false, Opcode::Text, b"a"),
                frame(false, Opcode::Continuation, b"b"),
                frame(false, Opcode::Continuation, b"c"),
                frame(true, Opcode::Continuation, b"d"),
            ]),
            1009,
            ProtocolError::TooManyFragments(3),
        )
    });
    cases
}

/// §7.1.7 "Fail the WebSocket Connection": for each violation, the endpoint queues exactly one
/// Close with the violation's code, reports `Event::Closed` with the protocol error, processes
/// nothing after the violation (no message, no Pong, even from valid frames in the same input
/// or later) and closes the transport once the Close is written.
fn fails_the_connection_for_every_violation(role: Role) {
    let t0 = Instant::now();
    let peer = role.peer();
    let mut problems = Vec::new();
    for failure in failures(peer) {
        let config = Config { limits: failure.limits, deliver_control_frames: true, ..Config::default() };
        let mut conn = Connection::new(role, config, t0);
        let mut valid_after = frame_from(peer, true, Opcode::Text, b"after");
        valid_after.extend(frame_from(peer, true, Opcode::Ping, b"after"));
        let mut input = failure.bytes.clone();
        if !failure.partial {
            input.extend_from_slice(&valid_after);
        }
        conn.receive(t0, &input);
        conn.receive(t0, &valid_after);

        let mut report = |what: String| problems.push(format!("{role:?} / {}: {what}", failure.name));
        // Events: the messages before the violation, then the Closed event only (a Ping before
        // the violation may be reported).
        let mut received: Vec<Event> =
            events(&mut conn).into_iter().filter(|event| !matches!(event, Event::Ping(_))).collect();
        let before: Vec<Event> = received.drain(..failure.delivered.len().min(received.len())).collect();
        if before != failure.delivered {
            report(format!("delivered {before:?}, expected {:?}", failure.delivered));
        }
        let expected_outcome = CloseOutcome {
            initiator: CloseInitiator::Local,
            sent: None, // compared separately: the reason is the connection's to choose
            received: None,
            clean: false,
            error: Some(ConnectionError::Protocol(failure.error.clone())),
        };
        match received.as_slice() {
            [Event::Closed(outcome)] => {
                if (CloseOutcome { sent: None, ..outcome.clone() }) != expected_outcome {
                    report(format!("outcome {outcome:?}, expected {expected_outcome:?}"));
                }
                if outcome.sent.as_ref().map(|sent| sent.code) != Some(CloseCode(failure.code)) {
                    report(format!("outcome.sent {:?}, expected code {}", outcome.sent, failure.code));
                }
            }
            other => report(format!("events {other:?}, expected one Closed")),
        }
        // Output: Pongs for Pings that came before the violation, then exactly one frame more, a
        // Close with the code.
        let wire = conn.bytes_to_send().to_vec();
        let sent = frames(&wire, role);
        let codes: Vec<Option<u16>> = sent
            .iter()
            .skip_while(|frame| frame.header.opcode == Opcode::Pong)
            .map(|frame| match frame.header.opcode {
                Opcode::Close => CloseFrame::decode(&frame.payload).ok().flatten().map(|close| close.code.0),
                _ => None,
            })
            .collect();
        if codes != [Some(failure.code)] {
            report(format!("sent {sent:?}, expected one Close with code {}", failure.code));
        }
        // The only deadline left: the peer must take the Close within close_timeout.
        if !conn.is_closed() || conn.poll_timeout() != Some(t0 + CLOSE_TIMEOUT) {
            report(format!("state after the failure: {conn:?}, timeout {:?}", conn.poll_timeout()));
        }
        let transport = conn.poll_transport(t0);
        if transport != Transport::Open {
            report(format!("transport {transport:?} before the Close was written"));
        }
        conn.mark_sent(wire.len());
        let transport = conn.poll_transport(t0);
        if transport != Transport::ShutdownWrite {
            report(format!("transport {transport:?} once the Close was written, expected ShutdownWrite"));
        }
        conn.receive_eof(t0);
        let transport = conn.poll_transport(t0);
        if transport != Transport::Close {
            report(format!("transport {transport:?} after the peer's EOF, expected Close"));
        }
        if conn.send_text("x") != Err(SendError::Closing) {
            report("can still send".into());
        }
    }
    assert!(problems.is_empty(), "{} failing cases:\n{}", problems.len(), problems.join("\n"));
}
both_roles!(
    client_fails_the_connection_for_every_violation,
    server_fails_the_connection_for_every_violation,
    fails_the_connection_for_every_violation
);

/// The limits are inclusive: a frame of exactly `max_frame_size`, a message of exactly
/// `max_message_size` (the sum of its fragments) in exactly `max_fragments` fragments arrive.
fn accepts_messages_at_the_limits(role: Role) {
    let t0 = Instant::now();
    let limits = MessageLimits { max_frame_size: 100, max_message_size: 150, max_fragments: 3 };
    let mut conn = Connection::new(role, Config { limits, ..Config::default() }, t0);
    let peer = role.peer();
    let mut input = frame_from(peer, true, Opcode::Binary, &pattern(100));
    input.extend(frame_from(peer, false, Opcode::Text, &[b'a'; 50]));
    input.extend(frame_from(peer, false, Opcode::Continuation, &[b'b'; 50]));
    input.extend(frame_from(peer, true, Opcode::Continuation, &[b'c'; 50]));
    conn.receive(t0, &input);
    let expected = ["a", "b", "c"].map(|letter| letter.repeat(50)).concat();
    assert_eq!(events(&mut conn), vec![binary(&pattern(100)), text(&expected)]);
    assert!(conn.is_open());
    assert_eq!(conn.unsent_len(), 0);
}
both_roles!(
    client_accepts_messages_at_the_limits,
    server_accepts_messages_at_the_limits,
    accepts_messages_at_the_limits
);

/// §7.1.7: a violation after our own Close sends no second Close, and is still reported.
fn fails_without_a_second_close_while_closing(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    output(&mut conn);
    conn.receive(t0, &frame_from(role.peer(), true, Opcode::Close, &[0x03]));
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::Protocol(ProtocolError::CloseBodyTooShort)));
    assert!(!outcome.clean);
    assert_eq!(output(&mut conn), b"", "our Close is already out");
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
}
both_roles!(
    client_fails_without_a_second_close_while_closing,
    server_fails_without_a_second_close_while_closing,
    fails_without_a_second_close_while_closing
);

/// §7.1.7: messages before the violation in the same input are delivered; a Pong owed for a
/// Ping before the violation is dropped with everything else after the failure ("the endpoint
/// MUST NOT continue to attempt to process data").
fn delivers_what_came_before_a_violation(role: Role) {
    let t0 = Instant::now();
    let peer = role.peer();
    let mut conn = Connection::new(role, Config::default(), t0);
    let mut input = frame_from(peer, true, Opcode::Text, b"first");
    input.extend(frame_from(peer, true, Opcode::Binary, b"second"));
    input.extend(raw_frame(peer, 0x83, &[0], b""));
    input.extend(frame_from(peer, true, Opcode::Text, b"third"));
    conn.receive(t0, &input);
    let received = events(&mut conn);
    assert_eq!(received[..2], [text("first"), binary(b"second")]);
    assert_eq!(received.len(), 3, "{received:?}");
    assert!(matches!(&received[2], Event::Closed(outcome)
        if outcome.error == Some(ConnectionError::Protocol(ProtocolError::ReservedOpcode(3)))));
}
both_roles!(
    client_delivers_what_came_before_a_violation,
    server_delivers_what_came_before_a_violation,
    delivers_what_came_before_a_violation
);

// ---------------------------------------------------------------------------------------------
// §5.5.2: keepalive, with a fake clock
// ---------------------------------------------------------------------------------------------

const INTERVAL: Duration = Duration::from_secs(30);

fn keepalive() -> Config {
    Config { keepalive_interval: Some(INTERVAL), ..Config::default() }
}

/// The one Ping in `bytes`, sent by `role`: its payload.
fn only_ping(bytes: &[u8], role: Role) -> Bytes {
    let sent = frames(bytes, role);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].header.opcode, Opcode::Ping);
    sent[0].payload.clone()
}

/// §5.5.2 "A Ping frame MAY serve either as a keepalive": the first Ping goes out at t0+30s, not
/// before; the peer's matching Pong clears it, so the next deadline sends another Ping instead
/// of failing.
fn keepalive_pings_and_a_matching_pong_clears_it(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, keepalive(), Config::default(), t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + INTERVAL));
    conn.handle_timeout(t0 + INTERVAL - TICK);
    assert_eq!(conn.unsent_len(), 0, "not yet");
    assert_eq!(conn.poll_timeout(), Some(t0 + INTERVAL));

    conn.handle_timeout(t0 + INTERVAL);
    let first = only_ping(&pump(&mut conn, &mut peer, t0 + INTERVAL), role);
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * INTERVAL));
    pump(&mut peer, &mut conn, t0 + INTERVAL + Duration::from_millis(50)); // the peer's auto Pong
    assert_eq!(events(&mut conn), vec![], "a keepalive Pong is not an event by default");
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * INTERVAL));

    conn.handle_timeout(t0 + 2 * INTERVAL);
    assert!(conn.is_open());
    let second = only_ping(&pump(&mut conn, &mut peer, t0 + 2 * INTERVAL), role);
    assert_ne!(first, second, "each keepalive Ping has its own payload");
    pump(&mut peer, &mut conn, t0 + 2 * INTERVAL);
    conn.handle_timeout(t0 + 3 * INTERVAL);
    assert!(conn.is_open());
    assert_eq!(frames(&output(&mut conn), role).len(), 1);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(events(&mut peer), vec![]);
}
both_roles!(
    client_keepalive_pings_and_a_matching_pong_clears_it,
    server_keepalive_pings_and_a_matching_pong_clears_it,
    keepalive_pings_and_a_matching_pong_clears_it
);

/// Keepalive without a Pong: at the next deadline the connection fails with 1011 (Internal
/// Error) and `ConnectionError::KeepaliveTimeout`. A Pong with another payload does not count.
fn keepalive_without_pong_fails_with_1011(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, keepalive(), t0);
    conn.handle_timeout(t0 + INTERVAL);
    let ping = only_ping(&output(&mut conn), role);
    conn.receive(t0 + INTERVAL, &frame_from(role.peer(), true, Opcode::Pong, b"not the ping"));
    conn.receive(t0 + INTERVAL, &frame_from(role.peer(), true, Opcode::Pong, &[&ping[..], b"x"].concat()));
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * INTERVAL));
    conn.handle_timeout(t0 + 2 * INTERVAL - TICK);
    assert!(conn.is_open());
    assert_eq!(conn.unsent_len(), 0);

    conn.handle_timeout(t0 + 2 * INTERVAL);
    let wire = conn.bytes_to_send().to_vec();
    let sent = frames(&wire, role);
    assert_eq!(sent.len(), 1, "a Close and no new Ping: {sent:?}");
    assert_eq!(
        close_body(&sent[0]),
        Some(CloseFrame { code: CloseCode::INTERNAL_ERROR, reason: "keepalive timeout".into() })
    );
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome,
        CloseOutcome {
            initiator: CloseInitiator::Local,
            sent: status(1011, "keepalive timeout"),
            received: None,
            clean: false,
            error: Some(ConnectionError::KeepaliveTimeout),
        }
    );
    assert!(conn.is_closed());
    // The Close must be taken within close_timeout (a peer that stopped reading is dropped).
    assert_eq!(conn.poll_timeout(), Some(t0 + 2 * INTERVAL + CLOSE_TIMEOUT));
    assert_eq!(conn.poll_transport(t0 + 2 * INTERVAL), Transport::Open);
    conn.mark_sent(wire.len());
    assert_eq!(conn.poll_transport(t0 + 2 * INTERVAL), Transport::ShutdownWrite);
}
both_roles!(
    client_keepalive_without_pong_fails_with_1011,
    server_keepalive_without_pong_fails_with_1011,
    keepalive_without_pong_fails_with_1011
);

/// `handle_timeout` is idempotent: the same `now` twice sends one Ping, and a late call (the
/// timer fired late) sends one Ping too.
fn keepalive_handle_timeout_is_idempotent(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, keepalive(), t0);
    conn.handle_timeout(t0 + INTERVAL);
    conn.handle_timeout(t0 + INTERVAL);
    only_ping(&output(&mut conn), role);
    conn.handle_timeout(t0 + INTERVAL + Duration::from_secs(1));
    assert_eq!(conn.unsent_len(), 0);

    let mut late = Connection::new(role, keepalive(), t0);
    late.handle_timeout(t0 + INTERVAL + Duration::from_secs(10));
    late.handle_timeout(t0 + INTERVAL + Duration::from_secs(10));
    only_ping(&output(&mut late), role);
    assert_eq!(late.poll_timeout(), Some(t0 + 2 * INTERVAL + Duration::from_secs(10)));
}
both_roles!(
    client_keepalive_handle_timeout_is_idempotent,
    server_keepalive_handle_timeout_is_idempotent,
    keepalive_handle_timeout_is_idempotent
);

/// `keepalive_timeout` shorter than the interval: the deadline is the Ping's time plus the
/// timeout, and `poll_timeout` says so.
fn keepalive_timeout_shorter_than_the_interval(role: Role) {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(10);
    let config = Config { keepalive_timeout: Some(timeout), ..keepalive() };
    let mut conn = Connection::new(role, config, t0);
    conn.handle_timeout(t0 + INTERVAL);
    only_ping(&output(&mut conn), role);
    assert_eq!(conn.poll_timeout(), Some(t0 + INTERVAL + timeout));
    conn.handle_timeout(t0 + INTERVAL + timeout - TICK);
    assert!(conn.is_open());
    conn.handle_timeout(t0 + INTERVAL + timeout);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::KeepaliveTimeout));
    assert_eq!(outcome.sent.map(|sent| sent.code), Some(CloseCode::INTERNAL_ERROR));
}
both_roles!(
    client_keepalive_timeout_shorter_than_the_interval,
    server_keepalive_timeout_shorter_than_the_interval,
    keepalive_timeout_shorter_than_the_interval
);

/// Keepalive stops with the closing handshake: after `close`, the only deadline is the close
/// timeout, and no Ping is sent.
fn keepalive_stops_once_closing(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, keepalive(), t0);
    let t1 = t0 + INTERVAL - Duration::from_secs(1);
    conn.close(t1, CloseCode::NORMAL_CLOSURE, "").unwrap();
    output(&mut conn);
    assert_eq!(conn.poll_timeout(), Some(t1 + CLOSE_TIMEOUT));
    conn.handle_timeout(t0 + INTERVAL);
    assert_eq!(conn.unsent_len(), 0, "no Ping after our Close");
}
both_roles!(
    client_keepalive_stops_once_closing,
    server_keepalive_stops_once_closing,
    keepalive_stops_once_closing
);

// ---------------------------------------------------------------------------------------------
// Backpressure
// ---------------------------------------------------------------------------------------------

/// `unsent_len` counts the bytes queued, grows with each message and shrinks with `mark_sent`;
/// the frames of 100 small messages accumulate into one buffer, ready for one write; a partial
/// `mark_sent` leaves the rest, in order.
fn unsent_len_tracks_queued_and_sent_bytes(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    let frame_len = 2 + 10 + if role == Role::Client { 4 } else { 0 };
    for i in 0..100 {
        assert_eq!(conn.unsent_len(), i * frame_len);
        conn.send_text(&format!("message {i:02}")).unwrap();
    }
    assert_eq!(conn.unsent_len(), 100 * frame_len);
    let all = conn.bytes_to_send().to_vec();
    assert_eq!(all.len(), 100 * frame_len, "one buffer with every frame");
    let sent = frames(&all, role);
    assert_eq!(sent.len(), 100);

    // Written a few bytes at a time, in uneven pieces.
    let mut written = 0;
    for (i, step) in [1usize, 7, 100, 333, 5, 1000].iter().cycle().enumerate() {
        let pending = conn.bytes_to_send().to_vec();
        assert_eq!(pending, all[written..], "step {i}: the rest, in order");
        if pending.is_empty() {
            break;
        }
        let n = (*step).min(pending.len());
        peer.receive(t0, &pending[..n]);
        conn.mark_sent(n);
        written += n;
        assert_eq!(conn.unsent_len(), all.len() - written);
    }
    let expected: Vec<Event> = (0..100).map(|i| text(&format!("message {i:02}"))).collect();
    assert_eq!(events(&mut peer), expected);
    conn.mark_sent(10);
    assert_eq!(conn.unsent_len(), 0, "marking more than there is does nothing");
}
both_roles!(
    client_unsent_len_tracks_queued_and_sent_bytes,
    server_unsent_len_tracks_queued_and_sent_bytes,
    unsent_len_tracks_queued_and_sent_bytes
);

/// `unsent_len` is what waits to be written, a Pong owed for a Ping included: exactly the
/// length `bytes_to_send` then returns.
fn unsent_len_counts_a_pending_pong_exactly(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    conn.send_text("abc").unwrap();
    conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, b"ping"));
    let header = if role == Role::Client { 6 } else { 2 };
    let expected = (header + 3) + (header + 4);
    assert_eq!(conn.unsent_len(), expected, "before bytes_to_send");
    assert_eq!(conn.bytes_to_send().len(), expected);
    assert_eq!(conn.unsent_len(), expected, "after bytes_to_send");
}
both_roles!(
    client_unsent_len_counts_a_pending_pong_exactly,
    server_unsent_len_counts_a_pending_pong_exactly,
    unsent_len_counts_a_pending_pong_exactly
);

/// Collects every piece `bytes_to_send_vectored` gives with `slots` slices, and checks they are
/// non-empty and, with enough slices, add up to `unsent_len`.
fn vectored(conn: &mut Connection, slots: usize) -> Vec<Vec<u8>> {
    let unsent = conn.unsent_len();
    let mut slices = vec![IoSlice::new(&[]); slots];
    let count = conn.bytes_to_send_vectored(&mut slices);
    let pieces: Vec<Vec<u8>> = slices[..count].iter().map(|slice| slice.to_vec()).collect();
    assert!(pieces.iter().all(|piece| !piece.is_empty()), "an empty piece");
    let total: usize = pieces.iter().map(Vec::len).sum();
    if count < slots {
        assert_eq!(total, unsent, "the pieces cover all that is unsent");
    }
    pieces
}

/// A large payload sent with `send_message` goes out exactly as if copied: the vectored pieces,
/// joined, are the contiguous bytes, and written in uneven pieces (across the boundaries between
/// header, payload and the frames after it) the peer gets every message. A server hands the
/// payload out by reference: header, payload and the next frames are separate pieces.
fn sends_large_messages_by_reference_in_order(role: Role) {
    let t0 = Instant::now();
    let (mut conn, mut peer) = pair(role, Config::default(), Config::default(), t0);
    let large = Bytes::from((0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let long_text: String = "é".repeat(3000); // 6000 bytes
    conn.send_text("before").unwrap();
    conn.send_message(&Message::Binary(large.clone())).unwrap();
    conn.send_ping(b"between").unwrap();
    conn.send_message(&Message::Text(long_text.clone().into())).unwrap();
    conn.send_text("after").unwrap();

    let pieces = vectored(&mut conn, 64);
    let joined = pieces.concat();
    if role == Role::Server {
        // "before" + the header of the 70000 bytes, the payload itself, the ping + the next
        // header, the text, "after".
        assert_eq!(pieces.len(), 5, "pieces {:?}", pieces.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(pieces[1], large[..], "the payload, not copied into the buffer");
    }
    // Only the first piece with one slice; the rest after it is marked sent.
    assert_eq!(vectored(&mut conn, 1), vec![pieces[0].clone()]);

    let mut written = 0;
    for step in [1usize, 3, 7, 4096, 65_000, 11, 100_000].iter().cycle() {
        let pieces = vectored(&mut conn, 3);
        if pieces.is_empty() {
            break;
        }
        let available: Vec<u8> = pieces.concat();
        assert_eq!(available[..], joined[written..written + available.len()], "the rest, in order");
        let n = (*step).min(available.len());
        peer.receive(t0, &available[..n]);
        conn.mark_sent(n);
        written += n;
        assert_eq!(conn.unsent_len(), joined.len() - written);
    }
    assert_eq!(written, joined.len());
    let expected =
        vec![text("before"), Event::Message(Message::Binary(large)), text(&long_text), text("after")];
    assert_eq!(events(&mut peer), expected);
    let ping = &frames(&joined, role)[2];
    assert_eq!((ping.header.opcode, &ping.payload[..]), (Opcode::Ping, &b"between"[..]));
    assert_eq!(conn.buffered_capacity(), 0, "nothing held once all is written");
}
both_roles!(
    client_sends_large_messages_by_reference_in_order,
    server_sends_large_messages_by_reference_in_order,
    sends_large_messages_by_reference_in_order
);

/// `bytes_to_send` after `send_message` of a large payload gives the same bytes as the pieces,
/// in one slice; a Pong owed for a Ping goes after what was queued before it.
fn bytes_to_send_joins_the_pieces(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    let large = Bytes::from(vec![b'x'; 5000]);
    conn.send_message(&Message::Binary(large.clone())).unwrap();
    conn.receive(t0, &frame_from(role.peer(), true, Opcode::Ping, b"ping"));
    let joined = vectored(&mut conn, 64).concat();
    assert_eq!(conn.bytes_to_send(), &joined[..]);
    assert_eq!(conn.unsent_len(), joined.len());
    let sent: Vec<(Opcode, Vec<u8>)> = frames(&joined, role)
        .into_iter()
        .map(|frame| (frame.header.opcode, frame.payload.to_vec()))
        .collect();
    assert_eq!(sent, vec![(Opcode::Binary, large.to_vec()), (Opcode::Pong, b"ping".to_vec())]);
    conn.mark_sent(joined.len() - 3);
    assert_eq!(vectored(&mut conn, 64).concat(), joined[joined.len() - 3..]);
}
both_roles!(
    client_bytes_to_send_joins_the_pieces,
    server_bytes_to_send_joins_the_pieces,
    bytes_to_send_joins_the_pieces
);

// ---------------------------------------------------------------------------------------------
// Streaming mode
// ---------------------------------------------------------------------------------------------

/// The chunks streaming mode must give for `wire` (frames sent by `sender`, one data message)
/// fed in `pieces`: one per non-empty overlap of a frame's payload with an input piece, plus an
/// empty one for an empty final frame. Computed from the frame layout alone.
fn expected_chunks(wire: &[u8], sender: Role, pieces: &[usize], kind: MessageKind) -> Vec<MessageFragment> {
    let mut piece_ends = Vec::new();
    let mut end = 0;
    for piece in pieces {
        end += piece;
        piece_ends.push(end);
    }
    let mut chunks = Vec::new();
    let mut position = 0;
    let mut message_offset = 0u64;
    for frame in frames(wire, sender) {
        let header_len =
            FrameHeader { payload_len: frame.payload.len() as u64, ..frame.header }.encoded_len();
        let start = position + header_len;
        let stop = start + frame.payload.len();
        position = stop;
        if frame.header.opcode.is_control() {
            continue;
        }
        let mut cursor = start;
        for &piece_end in &piece_ends {
            if piece_end <= cursor || cursor >= stop {
                continue;
            }
            let until = piece_end.min(stop);
            let data = Bytes::copy_from_slice(&frame.payload[cursor - start..until - start]);
            chunks.push(MessageFragment {
                kind,
                frame_offset: (cursor - start) as u64,
                frame_len: frame.payload.len() as u64,
                message_offset,
                ends_frame: until == stop,
                ends_message: until == stop && frame.header.fin,
                data,
            });
            message_offset += (until - cursor) as u64;
            cursor = until;
        }
        if frame.payload.is_empty() && frame.header.fin {
            chunks.push(MessageFragment {
                kind,
                data: Bytes::new(),
                frame_offset: 0,
                frame_len: 0,
                message_offset,
                ends_frame: true,
                ends_message: true,
            });
        }
    }
    chunks
}

/// Streaming mode: a 100 000-byte message in four frames, fed in uneven pieces, comes out as
/// chunks no larger than the input that carried them, with exact offsets and flags, whose
/// concatenation is the message; a Ping between frames is answered on the way.
fn streams_chunks_no_larger_than_each_input(role: Role) {
    let t0 = Instant::now();
    for kind in [MessageKind::Binary, MessageKind::Text] {
        let peer_config = Config { max_send_frame_size: Some(30_000), ..Config::default() };
        let (mut conn, mut peer) = pair(role, streaming(), peer_config, t0);
        let payload = match kind {
            MessageKind::Binary => pattern(100_000),
            MessageKind::Text => text_of_len(100_000).into_bytes(),
        };
        peer.begin_message(kind).unwrap();
        peer.send_fragment(&payload[..70_000], false).unwrap();
        peer.send_ping(b"between").unwrap();
        peer.send_fragment(&payload[70_000..], true).unwrap();
        let wire = output(&mut peer);
        assert_eq!(frames(&wire, role.peer()).len(), 5, "30000, 30000, 10000, the ping, 30000");

        let pieces: Vec<usize> = [1usize, 3, 7777, 20_000, 9, 65_536, 1]
            .iter()
            .cycle()
            .scan(0, |fed, &piece| {
                let piece = piece.min(wire.len() - *fed);
                *fed += piece;
                (piece > 0).then_some(piece)
            })
            .collect();
        let mut chunks = Vec::new();
        let mut fed = 0;
        for &piece in &pieces {
            conn.receive(t0, &wire[fed..fed + piece]);
            fed += piece;
            for event in events(&mut conn) {
                let Event::Fragment(chunk) = event else { panic!("{event:?}") };
                assert!(
                    chunk.data.len() <= piece,
                    "a chunk of {} from an input of {piece}",
                    chunk.data.len()
                );
                chunks.push(chunk);
            }
        }
        assert_eq!(chunks, expected_chunks(&wire, role.peer(), &pieces, kind), "{kind:?}");
        assert_eq!(chunks.iter().flat_map(|chunk| chunk.data.to_vec()).collect::<Vec<u8>>(), payload);
        assert_eq!(chunks.iter().filter(|chunk| chunk.ends_message).count(), 1);
        let pong = frames(&output(&mut conn), role);
        assert_eq!((pong.len(), &pong[0].payload[..]), (1, &b"between"[..]));

        // The next message starts at offset 0 again.
        peer.send_binary(b"next").unwrap();
        pump(&mut peer, &mut conn, t0);
        assert_eq!(
            events(&mut conn),
            vec![Event::Fragment(MessageFragment {
                kind: MessageKind::Binary,
                data: Bytes::from_static(b"next"),
                frame_offset: 0,
                frame_len: 4,
                message_offset: 0,
                ends_frame: true,
                ends_message: true,
            })]
        );
    }
}
both_roles!(
    client_streams_chunks_no_larger_than_each_input,
    server_streams_chunks_no_larger_than_each_input,
    streams_chunks_no_larger_than_each_input
);

/// Streaming mode, §8.1: invalid UTF-8 fails with 1007 as soon as the bad byte arrives, long
/// before the frame ends; the valid chunks before it were delivered, nothing after.
fn streaming_fails_fast_on_invalid_utf8(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, streaming(), t0);
    let mut payload = text_of_len(10_000).into_bytes();
    payload[5000] = 0xff;
    let wire = frame_from(role.peer(), true, Opcode::Text, &payload);
    let header_len = wire.len() - payload.len();
    conn.receive(t0, &wire[..header_len + 100]);
    let first = events(&mut conn);
    assert_eq!(
        first,
        vec![Event::Fragment(MessageFragment {
            kind: MessageKind::Text,
            data: Bytes::copy_from_slice(&payload[..100]),
            frame_offset: 0,
            frame_len: 10_000,
            message_offset: 0,
            ends_frame: false,
            ends_message: false,
        })]
    );
    conn.receive(t0, &wire[header_len + 100..header_len + 5001]);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(outcome.error, Some(ConnectionError::Protocol(ProtocolError::InvalidUtf8)));
    let sent = frames(&output(&mut conn), role);
    assert_eq!(sent.len(), 1);
    assert_eq!(close_body(&sent[0]).map(|close| close.code), Some(CloseCode::INVALID_FRAME_PAYLOAD_DATA));
    conn.receive(t0, &wire[header_len + 5001..]);
    assert_eq!(events(&mut conn), vec![]);
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
}
both_roles!(
    client_streaming_fails_fast_on_invalid_utf8,
    server_streaming_fails_fast_on_invalid_utf8,
    streaming_fails_fast_on_invalid_utf8
);

/// Streaming mode keeps the limits: a frame over `max_frame_size` fails with 1009 on its header.
fn streaming_keeps_the_limits(role: Role) {
    let t0 = Instant::now();
    let limits = MessageLimits { max_frame_size: 1000, ..MessageLimits::default() };
    let mut conn = Connection::new(role, Config { limits, ..streaming() }, t0);
    let wire = frame_from(role.peer(), true, Opcode::Binary, &[0; 1001]);
    conn.receive(t0, &wire[..10]);
    let outcome = only_closed(events(&mut conn));
    assert_eq!(
        outcome.error,
        Some(ConnectionError::Protocol(ProtocolError::FrameTooLarge { payload_len: 1001, max: 1000 }))
    );
    let sent = frames(&output(&mut conn), role);
    assert_eq!(close_body(&sent[0]).map(|close| close.code), Some(CloseCode::MESSAGE_TOO_BIG));
}
both_roles!(client_streaming_keeps_the_limits, server_streaming_keeps_the_limits, streaming_keeps_the_limits);

// ---------------------------------------------------------------------------------------------
// proptest: chunking invariance, fragmentation invariance
// ---------------------------------------------------------------------------------------------

/// Something an endpoint sends.
#[derive(Debug, Clone)]
enum Item {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A message sent in parts split at these byte offsets (modulo its length plus one), with a
    /// Ping after the first part.
    Parts(MessageKind, Vec<u8>, Vec<usize>),
}

fn item_strategy() -> impl Strategy<Value = Item> {
    let splits = prop::collection::vec(any::<usize>(), 0..5);
    prop_oneof![
        "\\PC{0,80}".prop_map(Item::Text),
        prop::collection::vec(any::<u8>(), 0..400).prop_map(Item::Binary),
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Pong),
        ("\\PC{0,80}", splits.clone()).prop_map(|(text, splits)| Item::Parts(
            MessageKind::Text,
            text.into_bytes(),
            splits
        )),
        (prop::collection::vec(any::<u8>(), 0..300), splits).prop_map(|(data, splits)| Item::Parts(
            MessageKind::Binary,
            data,
            splits
        )),
    ]
}

/// `data` cut at `splits` (modulo its length plus one: anywhere, repeats giving empty parts).
fn parts<'a>(data: &'a [u8], splits: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = splits.iter().map(|split| split % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for cut in cuts {
        parts.push(&data[start..cut]);
        start = cut;
    }
    parts.push(&data[start..]);
    parts
}

fn message_event(kind: MessageKind, data: &[u8]) -> Event {
    match kind {
        MessageKind::Text => text(std::str::from_utf8(data).unwrap()),
        MessageKind::Binary => binary(data),
    }
}

/// The bytes an endpoint of `sender` sends for `items` then a Close, and the events its peer
/// must report (with `deliver_control_frames`) before `Event::Closed`.
fn stream_of(sender: Role, items: &[Item], max_send_frame_size: Option<usize>) -> (Vec<u8>, Vec<Event>) {
    let t0 = Instant::now();
    let config = Config { max_send_frame_size, ..Config::default() };
    let mut conn = Connection::new(sender, config, t0);
    let mut expected = Vec::new();
    for item in items {
        match item {
            Item::Text(text) => {
                conn.send_text(text).unwrap();
                expected.push(message_event(MessageKind::Text, text.as_bytes()));
            }
            Item::Binary(data) => {
                conn.send_binary(data).unwrap();
                expected.push(binary(data));
            }
            Item::Ping(payload) => {
                conn.send_ping(payload).unwrap();
                expected.push(Event::Ping(Bytes::copy_from_slice(payload)));
            }
            Item::Pong(payload) => {
                conn.send_pong(payload).unwrap();
                expected.push(Event::Pong(Bytes::copy_from_slice(payload)));
            }
            Item::Parts(kind, data, splits) => {
                conn.begin_message(*kind).unwrap();
                let parts = parts(data, splits);
                let last = parts.len() - 1;
                for (i, part) in parts.into_iter().enumerate() {
                    conn.send_fragment(part, i == last).unwrap();
                    if i == last {
                        expected.push(message_event(*kind, data));
                    }
                    if i == 0 {
                        // Between parts if there are several; after the message otherwise.
                        conn.send_ping(b"between parts").unwrap();
                        expected.push(Event::Ping(Bytes::from_static(b"between parts")));
                    }
                }
            }
        }
    }
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "done").unwrap();
    (output(&mut conn), expected)
}

/// Feeds `wire` to a fresh endpoint of `role` at the given split points; returns its events and
/// everything it has to send at the end (masked with the same keys every time).
fn feed(role: Role, wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, with_control_frames(), t0).with_random(counting_random());
    let mut start = 0;
    for &cut in cuts.iter().chain([wire.len()].iter()) {
        conn.receive(t0, &wire[start..cut]);
        start = cut;
    }
    let events = events(&mut conn);
    (events, output(&mut conn))
}

/// Chunking invariance: any split of the peer's bytes gives the events (and the answers) that
/// feeding them whole gives, and those are the messages, Pings and Pongs sent, then one clean
/// Closed.
fn check_chunking(
    role: Role,
    items: &[Item],
    max_send_frame_size: Option<usize>,
    splits: &[Index],
) -> Result<(), TestCaseError> {
    let (wire, expected) = stream_of(role.peer(), items, max_send_frame_size);
    let (whole_events, whole_output) = feed(role, &wire, &[]);
    prop_assert_eq!(&whole_events[..whole_events.len() - 1], &expected[..]);
    let Some(Event::Closed(outcome)) = whole_events.last() else {
        return Err(TestCaseError::fail(format!("no Closed last: {whole_events:?}")));
    };
    prop_assert!(outcome.clean);
    prop_assert_eq!((outcome.code(), outcome.reason()), (CloseCode::NORMAL_CLOSURE, "done"));

    let mut cuts: Vec<usize> = splits.iter().map(|index| index.index(wire.len() + 1)).collect();
    cuts.sort_unstable();
    let (chunked_events, chunked_output) = feed(role, &wire, &cuts);
    prop_assert_eq!(&chunked_events, &whole_events);
    prop_assert_eq!(chunked_output, whole_output);
    Ok(())
}

/// One byte at a time: the finest chunking, for a fixed stream covering every kind of item.
fn one_byte_at_a_time_gives_the_same_events(role: Role) {
    let items = vec![
        Item::Text("Hello, κόσμε 😀".into()),
        Item::Binary(pattern(300)),
        Item::Ping(b"ping".to_vec()),
        Item::Pong(vec![]),
        Item::Parts(MessageKind::Text, "€uro 😀".as_bytes().to_vec(), vec![1, 5]),
        Item::Binary(pattern(70_000)),
        Item::Text(String::new()),
    ];
    for max_send_frame_size in [None, Some(3)] {
        let (wire, _) = stream_of(role.peer(), &items, max_send_frame_size);
        let (whole_events, whole_output) = feed(role, &wire, &[]);
        let cuts: Vec<usize> = (1..wire.len()).collect();
        let (events, output) = feed(role, &wire, &cuts);
        assert_eq!(events, whole_events);
        assert_eq!(output, whole_output);
        check_chunking(role, &items, max_send_frame_size, &[]).unwrap();
    }
}
both_roles!(
    client_one_byte_at_a_time_gives_the_same_events,
    server_one_byte_at_a_time_gives_the_same_events,
    one_byte_at_a_time_gives_the_same_events
);

/// Fragmentation invariance: a message sent in any parts (cut anywhere, inside code points too,
/// empty parts included) by an endpoint of `sender` arrives as the one message.
fn check_fragmentation(
    sender: Role,
    kind: MessageKind,
    data: &[u8],
    splits: &[usize],
    max_send_frame_size: Option<usize>,
) -> Result<(), TestCaseError> {
    let t0 = Instant::now();
    let config = Config { max_send_frame_size, ..Config::default() };
    let (mut conn, mut peer) = pair(sender, config, Config::default(), t0);
    conn.begin_message(kind).unwrap();
    let parts = parts(data, splits);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        prop_assert_eq!(conn.send_fragment(part, i == last), Ok(()));
    }
    pump(&mut conn, &mut peer, t0);
    prop_assert_eq!(events(&mut peer), vec![message_event(kind, data)]);
    Ok(())
}

/// Streaming mode for any fragmentation and any chunking: the chunks are exactly the overlaps
/// of the frames' payloads with the inputs (see [`expected_chunks`]).
fn check_streaming(
    role: Role,
    kind: MessageKind,
    data: &[u8],
    splits: &[usize],
    cuts: &[Index],
) -> Result<(), TestCaseError> {
    let t0 = Instant::now();
    let mut sender = Connection::new(role.peer(), Config::default(), t0);
    sender.begin_message(kind).unwrap();
    let parts = parts(data, splits);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        sender.send_fragment(part, i == last).unwrap();
    }
    let wire = output(&mut sender);
    let mut cuts: Vec<usize> = cuts.iter().map(|index| index.index(wire.len() + 1)).collect();
    cuts.push(wire.len());
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut conn = Connection::new(role, streaming(), t0);
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        conn.receive(t0, &wire[start..cut]);
        pieces.push(cut - start);
        start = cut;
        for event in events(&mut conn) {
            let Event::Fragment(chunk) = event else {
                return Err(TestCaseError::fail(format!("{event:?}")));
            };
            chunks.push(chunk);
        }
    }
    prop_assert_eq!(&chunks, &expected_chunks(&wire, role.peer(), &pieces, kind));
    prop_assert_eq!(chunks.iter().flat_map(|chunk| chunk.data.to_vec()).collect::<Vec<u8>>(), data);
    Ok(())
}

fn message_strategy() -> impl Strategy<Value = (MessageKind, Vec<u8>)> {
    prop_oneof![
        "\\PC{0,200}".prop_map(|text| (MessageKind::Text, text.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..500).prop_map(|data| (MessageKind::Binary, data)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// §5.4, chunking invariance, as a client receives a server's stream.
    #[test]
    fn client_events_do_not_depend_on_chunking(
        items in prop::collection::vec(item_strategy(), 0..8),
        max_send_frame_size in prop::option::of(1usize..64),
        splits in prop::collection::vec(any::<Index>(), 0..40),
    ) {
        check_chunking(Role::Client, &items, max_send_frame_size, &splits)?;
    }

    /// §5.4, chunking invariance, as a server receives a client's stream.
    #[test]
    fn server_events_do_not_depend_on_chunking(
        items in prop::collection::vec(item_strategy(), 0..8),
        max_send_frame_size in prop::option::of(1usize..64),
        splits in prop::collection::vec(any::<Index>(), 0..40),
    ) {
        check_chunking(Role::Server, &items, max_send_frame_size, &splits)?;
    }

    /// Streaming mode, any fragmentation, any chunking, as a client receives.
    #[test]
    fn client_streams_exact_chunks_for_any_fragmentation_and_chunking(
        (kind, data) in message_strategy(),
        splits in prop::collection::vec(any::<usize>(), 0..6),
        cuts in prop::collection::vec(any::<Index>(), 0..20),
    ) {
        check_streaming(Role::Client, kind, &data, &splits, &cuts)?;
    }

    /// Streaming mode, any fragmentation, any chunking, as a server receives.
    #[test]
    fn server_streams_exact_chunks_for_any_fragmentation_and_chunking(
        (kind, data) in message_strategy(),
        splits in prop::collection::vec(any::<usize>(), 0..6),
        cuts in prop::collection::vec(any::<Index>(), 0..20),
    ) {
        check_streaming(Role::Server, kind, &data, &splits, &cuts)?;
    }

    /// §5.4, §8.1, fragmentation invariance, a client sending to a server.
    #[test]
    fn client_sends_any_fragmentation_as_the_same_message(
        (kind, data) in message_strategy(),
        splits in prop::collection::vec(any::<usize>(), 0..12),
        max_send_frame_size in prop::option::of(1usize..16),
    ) {
        check_fragmentation(Role::Client, kind, &data, &splits, max_send_frame_size)?;
    }

    /// §5.4, §8.1, fragmentation invariance, a server sending to a client.
    #[test]
    fn server_sends_any_fragmentation_as_the_same_message(
        (kind, data) in message_strategy(),
        splits in prop::collection::vec(any::<usize>(), 0..12),
        max_send_frame_size in prop::option::of(1usize..16),
    ) {
        check_fragmentation(Role::Server, kind, &data, &splits, max_send_frame_size)?;
    }
}

/// §5.5.1: the Close answering the peer's goes out after the application's answers to the
/// messages that arrived before that Close, even when both arrive in one read (the order a peer
/// such as Autobahn|Testsuite checks).
fn answers_earlier_messages_before_echoing_a_close_in_the_same_input(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    let mut input = frame_from(role.peer(), true, Opcode::Text, b"first");
    input.extend(frame_from(role.peer(), true, Opcode::Close, &[0x03, 0xe8]));
    input.extend(frame_from(role.peer(), true, Opcode::Text, b"after the close"));
    conn.receive(t0, &input);
    assert!(conn.bytes_to_send().is_empty(), "nothing goes out before the application saw the message");
    assert_eq!(conn.poll_event(), Some(text("first")));
    conn.send_text("echo: first").unwrap();
    let Some(Event::Closed(outcome)) = conn.poll_event() else { panic!("Closed expected") };
    assert_eq!((outcome.code(), outcome.clean), (CloseCode::NORMAL_CLOSURE, true));
    assert_eq!(conn.poll_event(), None);
    let sent = frames(&output(&mut conn), role);
    let opcodes: Vec<Opcode> = sent.iter().map(|frame| frame.header.opcode).collect();
    assert_eq!(opcodes, [Opcode::Text, Opcode::Close]);
    assert_eq!(&sent[0].payload[..], b"echo: first");
}
both_roles!(
    client_answers_earlier_messages_before_echoing_a_close_in_the_same_input,
    server_answers_earlier_messages_before_echoing_a_close_in_the_same_input,
    answers_earlier_messages_before_echoing_a_close_in_the_same_input
);

/// §7.1.7: failing the connection sends a Close; messages that arrived before the violation are
/// still delivered, and the application's answers to them go out before that Close.
fn answers_earlier_messages_before_failing(role: Role) {
    let t0 = Instant::now();
    let mut conn = Connection::new(role, Config::default(), t0);
    let mut input = frame_from(role.peer(), true, Opcode::Text, b"first");
    input.extend(frame_from(role.peer(), true, Opcode::Text, &[0xff])); // invalid UTF-8: 1007
    conn.receive(t0, &input);
    assert!(conn.bytes_to_send().is_empty());
    assert_eq!(conn.poll_event(), Some(text("first")));
    conn.send_text("echo: first").unwrap();
    let Some(Event::Closed(outcome)) = conn.poll_event() else { panic!("Closed expected") };
    assert_eq!(outcome.error, Some(ConnectionError::Protocol(ProtocolError::InvalidUtf8)));
    let sent = frames(&output(&mut conn), role);
    let opcodes: Vec<Opcode> = sent.iter().map(|frame| frame.header.opcode).collect();
    assert_eq!(opcodes, [Opcode::Text, Opcode::Close]);
    assert_eq!(
        CloseFrame::decode(&sent[1].payload).unwrap().unwrap().code,
        CloseCode::INVALID_FRAME_PAYLOAD_DATA
    );
    assert_eq!(conn.poll_transport(t0), Transport::ShutdownWrite);
}
both_roles!(
    client_answers_earlier_messages_before_failing,
    server_answers_earlier_messages_before_failing,
    answers_earlier_messages_before_failing
);

/// A read that is exactly one message (one `receive`, nothing before it) is the connection's
/// common case, taken on a path of its own: it makes every check the general path makes. Each
/// frame here, received whole, gives the same events and the same output as received a byte at
/// a time (which never takes that path), for both roles.
#[test]
fn a_read_of_exactly_one_message_is_checked_as_any_other() {
    for receiver in [Role::Server, Role::Client] {
        let sender = receiver.peer();
        let invalid_utf8 = [0x48, 0xc3, 0x28];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("binary", frame_from(sender, true, Opcode::Binary, &pattern(16))),
            ("text", frame_from(sender, true, Opcode::Text, text_of_len(40).as_bytes())),
            ("empty text", frame_from(sender, true, Opcode::Text, b"")),
            ("16-bit length", frame_from(sender, true, Opcode::Binary, &pattern(300))),
            ("64-bit length", frame_from(sender, true, Opcode::Binary, &pattern(70_000))),
            ("invalid UTF-8 (§8.1: 1007)", frame_from(sender, true, Opcode::Text, &invalid_utf8)),
            ("over max_message_size (1009)", frame_from(sender, true, Opcode::Binary, &pattern(65))),
            (
                "masked as the other role (§5.1: 1002)",
                frame_with_mask(sender == Role::Server, true, Opcode::Binary, b"x"),
            ),
            ("RSV1 without an extension (§5.2: 1002)", raw_frame(sender, 0x80 | RSV1_BIT | 0x2, &[1], b"x")),
            ("reserved opcode (§5.2: 1002)", raw_frame(sender, 0x83, &[1], b"x")),
            ("first fragment only", frame_from(sender, false, Opcode::Binary, b"part")),
            (
                "continuation without a start (§5.4: 1002)",
                frame_from(sender, true, Opcode::Continuation, b"x"),
            ),
            ("ping", frame_from(sender, true, Opcode::Ping, b"ping")),
            (
                "16-bit length of 125 bytes (§5.2: not minimal, 1002)",
                raw_frame(sender, 0x82, &[126, 0, 125], &pattern(125)),
            ),
        ];
        let mut config = Config::default();
        config.limits.max_message_size = 128 * 1024;
        config.limits.max_frame_size = 128 * 1024;
        let mut small = Config::default();
        small.limits.max_message_size = 64;
        for (name, frame) in cases {
            let config =
                if name.starts_with("over max_message_size") { small.clone() } else { config.clone() };
            let now = Instant::now();
            let mut whole = Connection::new(receiver, config.clone(), now);
            whole.receive(now, &frame);
            let mut bytewise = Connection::new(receiver, config, now);
            for byte in &frame {
                bytewise.receive(now, std::slice::from_ref(byte));
            }
            let (whole_events, bytewise_events) = (events(&mut whole), events(&mut bytewise));
            let (whole_output, bytewise_output) = (output(&mut whole), output(&mut bytewise));
            let something = !whole_events.is_empty() || !whole_output.is_empty();
            assert!(something || name == "first fragment only", "{receiver:?}, {name}: nothing happened");
            assert_eq!(whole_events, bytewise_events, "{receiver:?}, {name}: events");
            // (Compared as frames: a client masks each with a key of its own.)
            let sent = |bytes: &[u8]| {
                let frames = frames(bytes, receiver);
                frames
                    .into_iter()
                    .map(|frame| (frame.header.fin, frame.header.opcode, frame.payload))
                    .collect::<Vec<_>>()
            };
            assert_eq!(sent(&whole_output), sent(&bytewise_output), "{receiver:?}, {name}: output");
        }
    }
}
