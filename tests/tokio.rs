//! The tokio module (feature `tokio`): both roles over in-memory pipes and TCP, the Stream and
//! Sink, split halves, senders, cancellation at random points, backpressure, and every deadline
//! on tokio's paused clock.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::{HttpResponse, OriginPolicy, WsUrl};
use rfc6455::tokio::{
    accept, accept_with, client, connect, Error, Handshake, Options, TrySendError, WebSocket,
};
use rfc6455::{
    CloseCode, Config, Connection, ConnectionError, Event, HandshakeError, Message, OsSeededRng, Role,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A client request for `ws://localhost/`.
fn request() -> ClientRequest {
    let url = WsUrl::parse("ws://localhost/").unwrap();
    ClientRequest::from_url(&url, &mut OsSeededRng::new())
}

/// A raw upgrade request, for peers that misbehave after it.
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Reads from `io` until the end of an HTTP head; returns the head.
async fn read_head(io: &mut DuplexStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(io.read(&mut byte).await.unwrap(), 1, "the head ended early: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// An echo server on `io`: returns the messages it received and how the connection closed.
async fn echo(io: DuplexStream, options: Options) -> (Vec<Message>, Option<rfc6455::CloseOutcome>) {
    let mut ws = accept_with(io, &options, |upgrade| Ok(upgrade.accept())).await.unwrap();
    let mut received = Vec::new();
    while let Some(Ok(message)) = ws.recv().await {
        received.push(message.clone());
        // Err once the client is closing: the echo is then moot.
        if ws.send(message).await.is_err() {
            break;
        }
    }
    while ws.recv().await.is_some() {}
    (received, ws.close_outcome())
}

#[tokio::test]
async fn client_and_server_echo_over_duplex() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(echo(server_io, Options::default()));
    let (mut ws, accepted) = client(client_io, request(), &Options::default()).await.unwrap();
    assert_eq!(accepted.protocol(), None);
    let mut sent = Vec::new();
    for index in 0..200 {
        let message = if index % 2 == 0 {
            Message::text(format!("message {index}"))
        } else {
            Message::binary(vec![index as u8; index * 97])
        };
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
        sent.push(message);
    }
    ws.close(CloseCode::NORMAL_CLOSURE, "bye").await.unwrap();
    assert!(ws.recv().await.is_none(), "a normal close ends the stream without an error");
    let outcome = ws.close_outcome().unwrap();
    assert!(outcome.clean && outcome.error.is_none(), "{outcome}");
    let (received, server_outcome) = server.await.unwrap();
    assert_eq!(received, sent);
    let server_outcome = server_outcome.unwrap();
    assert!(server_outcome.clean, "{server_outcome}");
    assert_eq!((server_outcome.code(), server_outcome.reason()), (CloseCode::NORMAL_CLOSURE, "bye"));
}

#[tokio::test]
async fn stream_and_sink_echo_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = accept(stream).await.unwrap();
        // The usual combinators: the stream of messages forwarded into the sink.
        let (mut write, read) = ws.split();
        let mut read = read.take_while(|message| std::future::ready(message.is_ok())).map(|message| message);
        write.send_all(&mut read).await.unwrap();
    });
    let (mut ws, _) = connect(&format!("ws://{address}/echo")).await.unwrap();
    for index in 0..50usize {
        let message = Message::binary(vec![7u8; index * 1000]);
        SinkExt::send(&mut ws, message.clone()).await.unwrap();
        assert_eq!(StreamExt::next(&mut ws).await.unwrap().unwrap(), message);
    }
    SinkExt::close(&mut ws).await.unwrap();
    assert!(StreamExt::next(&mut ws).await.is_none());
    assert!(ws.close_outcome().unwrap().clean);
    server.await.unwrap();
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    let (client_io, server_io) = tokio::io::duplex(1024);
    let server = tokio::spawn(echo(server_io, Options::default()));
    let (ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
    let (mut write, mut read) = ws.split();
    const COUNT: usize = 500;
    let writer = tokio::spawn(async move {
        for index in 0..COUNT {
            write.send(Message::text(format!("{index}"))).await.unwrap();
        }
        write
    });
    let reader = tokio::spawn(async move {
        for index in 0..COUNT {
            assert_eq!(read.recv().await.unwrap().unwrap(), Message::text(format!("{index}")));
        }
        read
    });
    let mut write = writer.await.unwrap();
    let mut read = reader.await.unwrap();
    // Closing from the writing half ends the reading half's stream.
    let closing = tokio::spawn(async move { write.close(CloseCode::NORMAL_CLOSURE, "").await });
    assert!(read.recv().await.is_none());
    closing.await.unwrap().unwrap();
    assert_eq!(server.await.unwrap().0.len(), COUNT);
}

#[tokio::test]
async fn senders_in_other_tasks_see_the_connection_end() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(echo(server_io, Options::default()));
    let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
    let sender = ws.sender();
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let sender = sender.clone();
            tokio::spawn(async move {
                for index in 0..25 {
                    sender.send(&Message::text(format!("{task}:{index}"))).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    while seen.len() < 100 {
        let Message::Text(text) = ws.recv().await.unwrap().unwrap() else { panic!("text expected") };
        assert!(seen.insert(text.to_string()), "{text} twice");
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(!sender.is_closed());
    sender.close(CloseCode::GOING_AWAY, "done").unwrap();
    assert!(sender.is_closed());
    assert_eq!(sender.try_send(&Message::text("late")), Err(TrySendError::Closed));
    assert!(ws.recv().await.is_none(), "1001 is a normal end");
    drop(ws);
    assert_eq!(sender.send(&Message::text("later")).await, Err(TrySendError::Closed));
    assert_eq!(server.await.unwrap().0.len(), 100);
}

/// A tiny xorshift: the cancellation test's random points, repeatable by seed.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Ready after being polled `polls` times: cancels whatever it races in `select!` at a point
/// chosen by the number of polls, not by the clock.
async fn after_polls(polls: u64) {
    for _ in 0..polls {
        tokio::task::yield_now().await;
    }
}

/// The message numbered `index`: its bytes say its number and its length, so a corrupted,
/// shortened or mixed-up message is seen.
fn numbered(index: u64, random: &mut Random) -> Message {
    let len = 8 + random.next(12_000) as usize;
    let mut data: Vec<u8> =
        (0..len).map(|at| (at as u64).wrapping_mul(31).wrapping_add(index) as u8).collect();
    data[..8].copy_from_slice(&index.to_be_bytes());
    Message::binary(data)
}

fn number_of(message: &Message) -> u64 {
    let data = message.payload();
    let index = u64::from_be_bytes(data[..8].try_into().unwrap());
    for (at, byte) in data.iter().enumerate().skip(8) {
        assert_eq!(
            *byte,
            (at as u64).wrapping_mul(31).wrapping_add(index) as u8,
            "message {index} corrupted at {at}"
        );
    }
    index
}

#[tokio::test]
async fn reads_and_writes_cancelled_at_random_points_lose_and_repeat_nothing() {
    for seed in 1..=8u64 {
        let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // A small pipe and large messages: sends wait for room and for the write, reads for
        // the rest of a message, so cancellations land in the middle of both.
        let (client_io, server_io) = tokio::io::duplex(2048);
        let options = Options { high_water_mark: 8 * 1024, ..Options::default() };
        let server = tokio::spawn(echo(server_io, options.clone()));
        let (mut ws, _) = client(client_io, request(), &options).await.unwrap();
        let mut attempted = BTreeSet::new();
        let mut completed = BTreeSet::new();
        let mut received = Vec::new();
        let mut next = 0u64;
        let mut cancelled = (0, 0);
        while next < 150 {
            // Up to 40 polls: some operations finish, others are cut at any point of theirs.
            let polls = random.next(40);
            if random.next(2) == 0 {
                let message = numbered(next, &mut random);
                attempted.insert(next);
                tokio::select! {
                    biased;
                    sent = ws.send(message) => {
                        sent.unwrap();
                        completed.insert(next);
                    }
                    () = after_polls(polls) => cancelled.0 += 1,
                }
                next += 1;
            } else {
                tokio::select! {
                    biased;
                    message = ws.recv() => received.push(number_of(&message.unwrap().unwrap())),
                    () = after_polls(polls) => cancelled.1 += 1,
                }
            }
        }
        // A last message, sent whole while the other half reads until its echo: every echo is
        // in by then. (Sending without reading would wait on the echo server, which waits for
        // us to read its echoes: backpressure, on both sides.)
        let last = next;
        attempted.insert(last);
        completed.insert(last);
        let (mut write, mut read) = ws.split();
        let message = numbered(last, &mut random);
        let reading = async {
            loop {
                let index = number_of(&read.recv().await.unwrap().unwrap());
                received.push(index);
                if index == last {
                    break;
                }
            }
        };
        let (sent, ()) = tokio::join!(write.send(message), reading);
        sent.unwrap();
        let (closed, end) = tokio::join!(write.close(CloseCode::NORMAL_CLOSURE, ""), read.recv());
        closed.unwrap();
        assert!(end.is_none());
        let (server_received, outcome) = server.await.unwrap();
        let server_received: Vec<u64> = server_received.iter().map(number_of).collect();
        assert!(outcome.unwrap().clean, "seed {seed}");
        assert!(cancelled.0 > 10 && cancelled.1 > 10, "seed {seed}: too few cancelled: {cancelled:?}");
        assert!(completed.len() > 10, "seed {seed}: too few sends completed: {}", completed.len());
        // What the server received: in order, each once, intact, only what was attempted,
        // and every send that completed.
        assert!(server_received.windows(2).all(|pair| pair[0] < pair[1]), "seed {seed}: {server_received:?}");
        assert!(server_received.iter().all(|index| attempted.contains(index)), "seed {seed}");
        assert!(
            completed.iter().all(|index| server_received.contains(index)),
            "seed {seed}: a completed send was lost"
        );
        // What came back: exactly what the server echoed, whatever reads were cancelled.
        assert_eq!(received, server_received, "seed {seed}");
    }
}

#[tokio::test]
async fn a_peer_that_never_reads_holds_the_sender_at_the_high_water_mark() {
    let (mut peer, server_io) = tokio::io::duplex(16 * 1024);
    let options = Options { high_water_mark: 64 * 1024, ..Options::default() };
    let server = tokio::spawn(async move {
        let ws = accept_with(server_io, &options, |upgrade| Ok(upgrade.accept())).await.unwrap();
        let sender = ws.sender();
        let message = Message::binary(vec![1u8; 10_000]);
        let (mut queued, mut full) = (0, 0);
        let mut most_unsent = 0;
        for _ in 0..1000 {
            match sender.try_send(&message) {
                Ok(()) => queued += 1,
                Err(TrySendError::Full) => full += 1,
                Err(other) => panic!("{other}"),
            }
            most_unsent = most_unsent.max(ws.with_connection(|connection| connection.unsent_len()));
            tokio::task::yield_now().await;
        }
        // A send that waits for room does not complete while the peer does not read.
        let mut ws = ws;
        let waiting = tokio::time::timeout(Duration::from_millis(200), ws.send(message.clone())).await;
        (queued, full, most_unsent, waiting.is_err())
    });
    peer.write_all(UPGRADE).await.unwrap();
    read_head(&mut peer).await;
    let (queued, full, most_unsent, send_waited) = server.await.unwrap();
    // The pipe holds 16 KiB and the high-water mark 64 KiB: a handful of 10 KB messages.
    assert!(queued <= 10, "{queued} queued");
    assert!(full >= 990, "{full} refused");
    assert!(most_unsent <= 64 * 1024 + 10_000 + 14, "{most_unsent} bytes held");
    assert!(send_waited);
}

#[tokio::test]
async fn answers_to_messages_before_a_violation_go_out_before_its_close() {
    // A masked Text "a", then a frame with RSV2 set (no extension): 1002, in one read.
    let (mut peer, server_io) = tokio::io::duplex(64 * 1024);
    peer.write_all(UPGRADE).await.unwrap();
    peer.write_all(&[0x81, 0x81, 0, 0, 0, 0, b'a', 0xA1, 0x80, 0, 0, 0, 0]).await.unwrap();
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let mut echoed = 0;
        while let Some(Ok(message)) = ws.recv().await {
            ws.send(message).await.unwrap();
            echoed += 1;
        }
        echoed
    });
    read_head(&mut peer).await;
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert_eq!(server.await.unwrap(), 1);
    assert_eq!(&rest[..3], &[0x81, 1, b'a'], "the echo first: {rest:02x?}");
    assert_eq!(&rest[3..7], &[0x88, rest[4], 0x03, 0xea], "then the Close, 1002: {rest:02x?}");
}

#[tokio::test]
async fn recv_ends_with_an_error_when_the_close_is_not_normal() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        ws.close(CloseCode::POLICY_VIOLATION, "no").await.unwrap();
        ws.close_outcome().unwrap()
    });
    let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
    match ws.recv().await {
        Some(Err(Error::Closed(outcome))) => {
            assert_eq!((outcome.code(), outcome.reason()), (CloseCode::POLICY_VIOLATION, "no"));
            assert!(outcome.clean);
        }
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().await.is_none(), "one error, then the end");
    assert!(server.await.unwrap().clean);
}

#[tokio::test]
async fn a_transport_that_ends_without_a_close_is_an_error() {
    let (mut peer, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        ws.recv().await
    });
    peer.write_all(UPGRADE).await.unwrap();
    read_head(&mut peer).await;
    drop(peer);
    match server.await.unwrap() {
        Some(Err(Error::Closed(outcome))) => {
            assert_eq!(outcome.code(), CloseCode::ABNORMAL_CLOSURE);
            assert!(!outcome.clean);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn next_event_gives_pieces_pings_and_the_close() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let config = Config { streaming: true, deliver_control_frames: true, ..Config::default() };
    let options = Options { config, ..Options::default() };
    let server = tokio::spawn(async move {
        let mut ws = accept_with(server_io, &options, |upgrade| Ok(upgrade.accept())).await.unwrap();
        let mut events = Vec::new();
        while let Some(event) = ws.next_event().await {
            events.push(event);
        }
        events
    });
    let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
    ws.send_ping(b"are you there").await.unwrap();
    ws.send(Message::text("in pieces")).await.unwrap();
    ws.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
    let events = server.await.unwrap();
    assert!(matches!(&events[0], Event::Ping(payload) if payload.as_ref() == b"are you there"), "{events:?}");
    let text: Vec<u8> = events
        .iter()
        .filter_map(|event| match event {
            Event::Fragment(chunk) => Some(chunk.data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(text, b"in pieces");
    assert!(matches!(events.last(), Some(Event::Closed(outcome)) if outcome.clean), "{events:?}");
}

#[tokio::test]
async fn recv_in_streaming_mode_hands_over_the_piece_in_an_error() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let options = Options { config: Config { streaming: true, ..Config::default() }, ..Options::default() };
    let server = tokio::spawn(async move {
        let mut ws = accept_with(server_io, &options, |upgrade| Ok(upgrade.accept())).await.unwrap();
        ws.recv().await
    });
    let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
    ws.send(Message::text("x")).await.unwrap();
    match server.await.unwrap() {
        Some(Err(Error::Unexpected(event))) => assert!(matches!(*event, Event::Fragment(_))),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn from_connection_drives_a_connection_made_elsewhere() {
    let (a, b) = tokio::io::duplex(4096);
    let now = std::time::Instant::now();
    let options = Options::default();
    let mut server =
        WebSocket::from_connection(a, Connection::new(Role::Server, Config::default(), now), &options);
    let mut client =
        WebSocket::from_connection(b, Connection::new(Role::Client, Config::default(), now), &options);
    client.send(Message::text("over a pipe")).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("over a pipe"));
    let closing = tokio::spawn(async move {
        server.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
        server
    });
    assert!(client.recv().await.is_none());
    assert!(closing.await.unwrap().close_outcome().unwrap().clean);
}

#[tokio::test]
async fn a_plain_request_gets_426_and_a_page_can_be_served_on_the_same_port() {
    let (mut peer, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(accept(server_io));
    peer.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let head = read_head(&mut peer).await;
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Version: 13\r\n"), "{head}");
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(HandshakeError::NotWebSocketUpgrade))));

    let (mut peer, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let handshake = Handshake::read(server_io, &Options::default()).await.unwrap();
        assert!(handshake.upgrade().is_none());
        assert_eq!(handshake.request().path(), "/index.html");
        handshake.respond(&HttpResponse::text(200, "a page\n")).await.unwrap();
    });
    peer.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    peer.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("\r\n\r\na page\n"), "{answer}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_refused_upgrade_reaches_the_client_with_its_status_and_body() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let policy = OriginPolicy::AllowList(vec!["https://example.com".into()]);
        accept_with(server_io, &Options::default(), |upgrade| {
            policy.check(upgrade).map(|()| upgrade.accept())
        })
        .await
    });
    let request = request().with_origin("https://elsewhere.example");
    match client(client_io, request, &Options::default()).await {
        Err(Error::Rejected(response)) => assert_eq!(response.status, 403),
        other => panic!("{other:?}"),
    }
    assert!(matches!(server.await.unwrap(), Err(Error::Refused(403))));
}

#[tokio::test]
async fn a_subprotocol_is_chosen_by_the_server() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept_with(server_io, &Options::default(), |upgrade| {
            let protocol = upgrade.select_protocol(&["chat"]).map(str::to_owned);
            Ok(protocol.map_or(upgrade.accept(), |protocol| upgrade.accept().with_protocol(protocol)))
        })
        .await?;
        // The 101 is written as the socket is driven: keep it until the client is done.
        while ws.recv().await.is_some() {}
        Ok::<(), Error>(())
    });
    let request = request().with_protocols(["superchat", "chat"]);
    let (ws, accepted) = client(client_io, request, &Options::default()).await.unwrap();
    assert_eq!(accepted.protocol(), Some("chat"));
    drop(ws);
    server.await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Deadlines, on tokio's paused clock: it moves only when every task waits, straight to the next
// timer, so these take no real time.

#[tokio::test(start_paused = true)]
async fn server_handshake_times_out_after_10_s_without_a_head() {
    let (mut peer, server_io) = tokio::io::duplex(4096);
    let start = tokio::time::Instant::now();
    peer.write_all(b"GET / HTTP/1.1\r\nHost: slow").await.unwrap();
    let result = accept(server_io).await;
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::Timeout))), "{result:?}");
    assert_eq!(start.elapsed().as_secs(), 10);
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "a head that did not arrive in time gets no answer: {rest:?}");
}

#[tokio::test(start_paused = true)]
async fn client_handshake_times_out_after_10_s_without_an_answer() {
    let (client_io, _server_io) = tokio::io::duplex(4096);
    let start = tokio::time::Instant::now();
    let result = client(client_io, request(), &Options::default()).await;
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::Timeout))), "{result:?}");
    assert_eq!(start.elapsed().as_secs(), 10);
}

#[tokio::test(start_paused = true)]
async fn keepalive_drops_a_peer_that_never_answers_pings() {
    let (mut peer, server_io) = tokio::io::duplex(64 * 1024);
    let config = Config { keepalive_interval: Some(Duration::from_secs(1)), ..Config::default() };
    let options = Options { config, ..Options::default() };
    let start = tokio::time::Instant::now();
    let server = tokio::spawn(async move {
        let mut ws = accept_with(server_io, &options, |upgrade| Ok(upgrade.accept())).await.unwrap();
        ws.recv().await
    });
    peer.write_all(UPGRADE).await.unwrap();
    read_head(&mut peer).await;
    // The peer reads (pings, then the 1011 Close) but never answers.
    let reading = tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = peer.read_to_end(&mut sink).await;
        sink
    });
    match server.await.unwrap() {
        Some(Err(Error::Closed(outcome))) => {
            assert_eq!(outcome.error, Some(ConnectionError::KeepaliveTimeout));
            assert_eq!(outcome.sent.unwrap().code, CloseCode::INTERNAL_ERROR);
        }
        other => panic!("{other:?}"),
    }
    // Ping at 1 s, no Pong by 2 s: failed; then 5 s for the peer's Close, then the 2 s linger.
    let elapsed = start.elapsed().as_secs();
    assert!((2..=9).contains(&elapsed), "{elapsed} s");
    let bytes = reading.await.unwrap();
    assert_eq!(bytes[0], 0x89, "a Ping first");
}

#[tokio::test(start_paused = true)]
async fn close_waits_at_most_the_close_timeout_for_a_silent_peer() {
    let (mut peer, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let start = tokio::time::Instant::now();
        ws.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
        (start.elapsed(), ws.close_outcome().unwrap())
    });
    peer.write_all(UPGRADE).await.unwrap();
    read_head(&mut peer).await;
    // Reads our Close, never answers, never closes.
    let mut close = [0u8; 4];
    peer.read_exact(&mut close).await.unwrap();
    assert_eq!(close, [0x88, 2, 0x03, 0xe8]);
    let (elapsed, outcome) = server.await.unwrap();
    assert_eq!(outcome.error, Some(ConnectionError::CloseTimeout));
    // 5 s for the Close, then at most the 2 s linger.
    assert!((5..=7).contains(&elapsed.as_secs()), "{elapsed:?}");
    drop(peer);
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_while_we_close_is_dropped_in_bounded_time() {
    let (mut peer, server_io) = tokio::io::duplex(1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        let sender = ws.sender();
        // Fill the pipe and the high-water mark: the peer does not read.
        while sender.try_send(&Message::binary(vec![0u8; 8 * 1024])).is_ok() {}
        let start = tokio::time::Instant::now();
        ws.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
        start.elapsed()
    });
    peer.write_all(UPGRADE).await.unwrap();
    read_head(&mut peer).await;
    let elapsed = server.await.unwrap();
    // The flush deadline is the close timeout (5 s); the lingering close then ends at once or
    // within its 2 s.
    assert!((5..=7).contains(&elapsed.as_secs()), "{elapsed:?}");
    drop(peer);
}

#[test]
fn the_error_type_is_send_sync_and_has_sources() {
    fn send_sync<T: Send + Sync + 'static + std::error::Error>() {}
    send_sync::<Error>();
    send_sync::<TrySendError>();
    let error = Error::from(std::io::Error::other("gone"));
    assert!(std::error::Error::source(&error).is_some());
    let back: std::io::Error = Error::Handshake(HandshakeError::Timeout).into();
    assert!(back.get_ref().unwrap().downcast_ref::<Error>().is_some());
}

#[tokio::test(start_paused = true)]
async fn connect_gives_up_after_the_connect_timeout() {
    // A listener that never accepts, its queue full: Linux drops further SYNs, so a connect
    // waits (retransmitting) until it gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break,
        }
    }
    let url = WsUrl::parse(&format!("ws://{address}/")).unwrap();
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    let options = Options { connect_timeout: Duration::from_secs(3), ..Options::default() };
    let start = tokio::time::Instant::now();
    match rfc6455::tokio::connect_with(&url, request, &options).await {
        Err(Error::Io(error)) => assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}"),
        other => panic!("{:?}", other.map(drop)),
    }
    assert_eq!(start.elapsed().as_secs(), 3);
    drop((queued, listener));
}

#[tokio::test(start_paused = true)]
async fn a_clean_close_ends_both_transports_without_waiting_for_a_deadline() {
    // On tokio's paused clock, any wait for a deadline (the 2 s linger, the client's 5 s wait
    // for the server's TCP close) shows as elapsed time: a clean close needs none. Over TCP,
    // where each end's FIN is what the other waits for.
    for split in [false, true] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client_io = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server_io, _) = listener.accept().await.unwrap();
        // Without it, a small frame after another waits for the delayed ACK (40 ms), which the
        // paused clock would skip to the next deadline.
        client_io.set_nodelay(true).unwrap();
        server_io.set_nodelay(true).unwrap();
        let start = tokio::time::Instant::now();
        let server = tokio::spawn(async move {
            let mut ws = accept(server_io).await.unwrap();
            let mut events = 0;
            while ws.next_event().await.is_some() {
                events += 1;
            }
            (events, start.elapsed())
        });
        let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
        ws.send(Message::text("one")).await.unwrap();
        if split {
            let (mut write, mut read) = ws.split();
            let (closed, end) = tokio::join!(write.close(CloseCode::NORMAL_CLOSURE, ""), read.recv());
            closed.unwrap();
            assert!(end.is_none());
        } else {
            ws.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "split: {split}");
        let (events, server_elapsed) = server.await.unwrap();
        assert_eq!(events, 2, "the message, then Closed");
        assert_eq!(server_elapsed, Duration::ZERO, "split: {split}");
    }
}

#[tokio::test]
async fn input_that_arrives_after_a_send_found_none_is_read() {
    // Each send drives the connection: its read finds nothing yet and leaves the transport to
    // wake the connection. The recv after it must read what arrived since, not take that read's
    // answer as still true. (Both ends do this; a lost wake-up hangs one of them.)
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.unwrap();
        for round in 0..50 {
            ws.send(Message::text(format!("ping {round}"))).await.unwrap();
            let answer = ws.recv().await.unwrap().unwrap();
            assert_eq!(answer, Message::text(format!("pong {round}")));
        }
        ws.close(CloseCode::NORMAL_CLOSURE, "").await.unwrap();
    });
    let client = async {
        let (mut ws, _) = client(client_io, request(), &Options::default()).await.unwrap();
        for round in 0..50 {
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(format!("ping {round}")));
            // The server's send has returned, its read left waiting, before the answer goes out.
            tokio::time::sleep(Duration::from_millis(1)).await;
            ws.send(Message::text(format!("pong {round}"))).await.unwrap();
        }
        assert!(ws.recv().await.is_none());
    };
    tokio::time::timeout(Duration::from_secs(20), client).await.expect("every message is read in time");
    tokio::time::timeout(Duration::from_secs(20), server).await.expect("the server is done in time").unwrap();
}

#[tokio::test]
async fn what_changes_the_connection_while_its_task_waits_for_input_goes_out() {
    // A task waiting for input has driven the connection until nothing was left to do, and its
    // next poll skips the drive unless the transport or the timer woke it since, or something
    // changed the connection. A sender's message and the holder's own Ping change it without
    // any input: each must be written at once.
    let (client_io, server_io) = tokio::io::duplex(4096);
    let options = Options::default();
    let (server, client) = tokio::join!(accept(server_io), client(client_io, request(), &options));
    let (mut server, (mut client, _)) = (server.unwrap(), client.unwrap());
    let within = |seconds| Duration::from_secs(seconds);

    // Nothing to read: the recv settles, and is cancelled (cancel-safe).
    assert!(tokio::time::timeout(Duration::from_millis(20), server.recv()).await.is_err());
    tokio::time::timeout(within(5), server.send_ping(b"settled")).await.expect("written").unwrap();
    let sender = server.sender();
    let waiting = tokio::spawn(async move {
        let message = server.recv().await;
        (server, message)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    sender.send(&Message::text("from a sender")).await.unwrap();
    let received = tokio::time::timeout(within(5), client.recv()).await.expect("written at once");
    assert_eq!(received.unwrap().unwrap(), Message::text("from a sender"));

    client.send(Message::text("input")).await.unwrap();
    let (mut server, message) = tokio::time::timeout(within(5), waiting).await.expect("read").unwrap();
    assert_eq!(message.unwrap().unwrap(), Message::text("input"));
    assert!(tokio::time::timeout(Duration::from_millis(20), server.recv()).await.is_err());
    // (The client answers the Close as it reads.)
    let (closed, end) = tokio::join!(server.close(CloseCode::NORMAL_CLOSURE, ""), client.recv());
    closed.unwrap();
    assert!(end.is_none());
}

#[tokio::test]
async fn accept_returns_once_the_101_is_written() {
    // Both handshakes in one task: the server's socket is not polled until both are done, so
    // the client gets its 101 only if `accept` wrote it before returning.
    let (client_io, server_io) = tokio::io::duplex(4096);
    let options = Options::default();
    let both = async { tokio::join!(accept(server_io), client(client_io, request(), &options)) };
    let (server, client) = tokio::time::timeout(Duration::from_secs(5), both).await.expect("both done");
    let (mut server, (mut client, _)) = (server.unwrap(), client.unwrap());
    client.send(Message::text("hello")).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hello"));
}

/// A transport whose peer never pauses: every read finds a hundred masked Pongs (which the
/// connection takes without an event), every write is taken.
struct EndlessPongs;

impl tokio::io::AsyncRead for EndlessPongs {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        for _ in 0..100 {
            buffer.put_slice(&[0x8a, 0x80, 1, 2, 3, 4]);
        }
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for EndlessPongs {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(bytes.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[test]
fn a_peer_that_sends_without_pause_does_not_hold_the_thread() {
    // One thread for every task: a recv that kept reading as long as input came would never
    // let the other task run. It yields after a budget of drives, and goes on after.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let connection = Connection::new(Role::Server, Config::default(), std::time::Instant::now());
            let mut ws = WebSocket::from_connection(EndlessPongs, connection, &Options::default());
            let reader = tokio::spawn(async move { ws.recv().await.map(|message| message.is_ok()) });
            tokio::spawn(async {}).await.unwrap();
            reader.abort();
        });
        let _ = done.send(());
    });
    finished.recv_timeout(Duration::from_secs(20)).expect("the other task ran");
}
