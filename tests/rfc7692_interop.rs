//! RFC 7692 with a peer that implements no extension: tungstenite 0.30 (it has no
//! permessage-deflate) over real loopback sockets, against the tokio module with
//! permessage-deflate enabled (`Options::deflate`), in both roles.
//!
//! §5: an extension is in use only if the server answers the client's offer with it. tungstenite
//! offers nothing, so our server must answer without `Sec-WebSocket-Extensions`; tungstenite as a
//! server ignores our offer, so our client must go on without the extension. Either way, RFC 6455
//! §5.2: RSV1 "MUST be 0 unless an extension is negotiated that defines meanings for non-zero
//! values": every frame on the wire, both directions, is checked for it, and every data frame
//! carries its message uncompressed (its payload is the message's length).
//!
//! A control shows the server side is not vacuous: the same server negotiates permessage-deflate
//! with our client, which offers it. Nothing can hang CI: tungstenite's sockets have read and
//! write timeouts, its loops are bounded, and our side runs under a time limit.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener as StdTcpListener, TcpStream as StdTcpStream};
use std::time::Duration;

use bytes::Bytes;
use rfc6455::deflate::{DeflateConfig, PERMESSAGE_DEFLATE};
use rfc6455::frame::RSV1_BIT;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{accept_with, client, Options, WebSocket};
use rfc6455::{CloseCode, DecodeRules, Decoded, Frame, Message, Opcode, OsSeededRng, Utf8Bytes};
use tokio::net::{TcpListener, TcpStream};
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tungstenite::protocol::CloseFrame as TCloseFrame;
use tungstenite::Message as TMessage;

/// Read and write timeout of tungstenite's sockets.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long either side may take in all.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Bound on the reads of any tungstenite loop.
const MAX_READS: usize = 1000;
/// Around the 7-bit, 16-bit and 64-bit length encodings (RFC 6455 §5.2), the 1 KiB threshold
/// from which a deflate codec compresses, and 1 MiB.
const SIZES: [usize; 11] = [0, 1, 125, 126, 1023, 1024, 1025, 65535, 65536, 65537, 1 << 20];

/// The tokio module's options with permessage-deflate accepted (server) or offered (client).
fn deflate_options() -> Options {
    Options { deflate: Some(DeflateConfig::default()), ..Options::default() }
}

/// Text and binary messages of every size in [`SIZES`], all very compressible: a codec in use
/// would compress every one of at least 1 KiB.
fn messages() -> Vec<Message> {
    SIZES
        .iter()
        .flat_map(|&len| {
            let text: String = "permessage-deflate? ".chars().cycle().take(len).collect();
            let binary: Vec<u8> = (0..len).map(|index| (index % 7) as u8).collect();
            [Message::Text(Utf8Bytes::from(text)), Message::Binary(Bytes::from(binary))]
        })
        .collect()
}

fn to_tungstenite(message: &Message) -> TMessage {
    match message {
        Message::Text(text) => TMessage::Text(text.as_str().into()),
        Message::Binary(data) => TMessage::Binary(data.clone()),
    }
}

/// Asserts that tungstenite received `expected`, without printing megabytes on failure.
fn assert_same(received: &TMessage, expected: &Message) {
    let same = match (received, expected) {
        (TMessage::Text(got), Message::Text(sent)) => got.as_str() == sent.as_str(),
        (TMessage::Binary(got), Message::Binary(sent)) => got == sent,
        _ => false,
    };
    assert!(
        same,
        "tungstenite received a {}-byte message, expected {:?} of {} bytes",
        received.len(),
        expected.kind(),
        expected.len()
    );
}

/// A transport that keeps a copy of every byte read from and written to it.
struct Recorder {
    stream: StdTcpStream,
    read: Vec<u8>,
    written: Vec<u8>,
}

impl Recorder {
    fn new(stream: StdTcpStream) -> Recorder {
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
        let _ = stream.set_nodelay(true);
        Recorder { stream, read: Vec::new(), written: Vec::new() }
    }
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.stream.read(buf)?;
        self.read.extend_from_slice(&buf[..read]);
        Ok(read)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.stream.write(buf)?;
        self.written.extend_from_slice(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The recorder of a tungstenite WebSocket whose closing handshake is over, its socket shut down
/// as the peer expects (a WebSocket over TCP ends with the TCP connection, RFC 6455 §7.1.1).
fn into_closed(websocket: tungstenite::WebSocket<Recorder>) -> Recorder {
    let recorder = websocket.into_inner();
    let _ = recorder.stream.shutdown(Shutdown::Both);
    recorder
}

/// The HTTP head at the start of `bytes`, and the bytes after it.
fn split_head(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n").expect("an HTTP head") + 4;
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), &bytes[end..])
}

/// Whether an HTTP head has a `Sec-WebSocket-Extensions` field.
fn has_extensions_field(head: &str) -> bool {
    head.lines().any(|line| line.to_ascii_lowercase().starts_with("sec-websocket-extensions:"))
}

/// The frames in `bytes` (sent by an endpoint of the role opposite to `rules.role`), decoded with
/// RSV1 allowed so that a set bit is seen, not a decoding error: (opcode, rsv1, payload length).
fn frames(mut bytes: &[u8], rules: DecodeRules) -> Vec<(Opcode, bool, usize)> {
    let rules = rules.with_rsv_allowed(RSV1_BIT);
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        match Frame::decode(bytes, &rules).expect("valid frames on the wire") {
            Decoded::Complete { value, consumed } => {
                frames.push((value.header.opcode, value.header.rsv1, value.payload.len()));
                bytes = &bytes[consumed..];
            }
            Decoded::Incomplete { .. } => panic!("a frame cut short on the wire"),
        }
    }
    frames
}

/// Asserts that no frame has RSV1 and that the data frames are the messages, uncompressed and
/// unfragmented, in order; `who` says whose frames.
fn assert_uncompressed(who: &str, frames: &[(Opcode, bool, usize)], messages: &[Message]) {
    let rsv1 = frames.iter().filter(|(_, rsv1, _)| *rsv1).count();
    assert_eq!(rsv1, 0, "{who}: {rsv1} frame(s) with RSV1, though no extension was negotiated");
    let data: Vec<(Opcode, usize)> = frames
        .iter()
        .filter(|(opcode, _, _)| !opcode.is_control())
        .map(|&(opcode, _, len)| (opcode, len))
        .collect();
    let expected: Vec<(Opcode, usize)> =
        messages.iter().map(|message| (message.kind().opcode(), message.len())).collect();
    assert_eq!(data, expected, "{who}: data frames (opcode, payload length)");
}

/// A loopback listener on an ephemeral port.
/// Sends each message, checks its echo is equal, then closes with 1000.
async fn send_and_check_echoes(ws: &mut WebSocket<TcpStream>, sent: &[Message]) {
    for message in sent {
        ws.send(message.clone()).await.expect("send");
        let echo = ws.recv().await.expect("an echo").expect("a valid message");
        assert!(
            echo == *message,
            "echo of a {:?} message of {} bytes differs",
            message.kind(),
            message.len()
        );
    }
    ws.close(CloseCode::NORMAL_CLOSURE, "").await.expect("close");
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port on loopback");
    let address = listener.local_addr().expect("local address");
    (listener, address)
}

/// Our server with permessage-deflate enabled, for one connection: echoes every message until
/// the client closes. Returns what the client offered and how many messages it echoed.
async fn our_deflate_server(listener: TcpListener) -> (Vec<String>, usize) {
    let (stream, _) = listener.accept().await.expect("accept");
    let mut offered = Vec::new();
    let mut ws = accept_with(stream, &deflate_options(), |upgrade| {
        offered = upgrade.extensions().iter().map(ToString::to_string).collect();
        Ok(upgrade.accept())
    })
    .await
    .expect("our server accepts the handshake");
    let mut echoed = 0;
    while let Some(message) = ws.recv().await {
        let message = message.expect("a valid message");
        if ws.send(message).await.is_err() {
            break; // the client is closing
        }
        echoed += 1;
    }
    let outcome = ws.close_outcome().expect("closed");
    assert!(outcome.clean && outcome.code() == CloseCode::NORMAL_CLOSURE, "our server: {outcome}");
    (offered, echoed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_with_deflate_negotiates_nothing_with_tungstenite_and_sends_no_rsv1() {
    let (listener, address) = listen().await;
    let server = tokio::spawn(tokio::time::timeout(TIME_LIMIT, our_deflate_server(listener)));
    let sent = messages();
    let expected = sent.clone();
    let recorder = tokio::task::spawn_blocking(move || {
        let stream = StdTcpStream::connect(address).expect("connect");
        let (mut websocket, response) =
            tungstenite::client(format!("ws://{address}/deflate"), Recorder::new(stream)).expect("handshake");
        assert!(
            response.headers().get("Sec-WebSocket-Extensions").is_none(),
            "our server answered an extension to tungstenite: {:?}",
            response.headers().get("Sec-WebSocket-Extensions")
        );
        for message in &expected {
            websocket.send(to_tungstenite(message)).expect("send");
            let echo = (0..MAX_READS)
                .map(|_| websocket.read().expect("read the echo"))
                .find(|received| received.is_text() || received.is_binary())
                .expect("an echo within the bound on reads");
            assert_same(&echo, message);
        }
        websocket.close(Some(TCloseFrame { code: TCloseCode::Normal, reason: "".into() })).expect("close");
        for _ in 0..MAX_READS {
            match websocket.read() {
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(error) => panic!("tungstenite ended with {error}"),
            }
        }
        into_closed(websocket)
    })
    .await
    .expect("the tungstenite client");

    let (offered, echoed) =
        server.await.expect("our server's task").expect("our server within the time limit");
    assert!(offered.is_empty(), "tungstenite offered {offered:?}");
    assert_eq!(echoed, sent.len());

    let (request, to_server) = split_head(&recorder.written);
    let (response, to_client) = split_head(&recorder.read);
    assert!(!has_extensions_field(&request), "tungstenite offered an extension:\n{request}");
    assert!(!has_extensions_field(&response), "our server answered an extension:\n{response}");
    assert_uncompressed("our server", &frames(to_client, DecodeRules::client()), &sent);
    assert_uncompressed("tungstenite client", &frames(to_server, DecodeRules::server()), &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_offering_deflate_goes_on_without_it_with_a_tungstenite_server() {
    let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on loopback");
    let address = listener.local_addr().expect("local address");
    // tungstenite's server: echoes until our Close.
    let server = tokio::task::spawn_blocking(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut websocket =
            tungstenite::accept(Recorder::new(stream)).expect("tungstenite accepts our handshake");
        for _ in 0..MAX_READS {
            match websocket.read() {
                Ok(message) if message.is_text() || message.is_binary() => {
                    websocket.send(message).expect("echo");
                }
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(error) => panic!("tungstenite ended with {error}"),
            }
        }
        into_closed(websocket)
    });

    let sent = messages();
    let ours = async {
        let stream = TcpStream::connect(address).await.expect("connect");
        let url = WsUrl::parse(&format!("ws://{address}/deflate")).expect("a ws:// URL");
        let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
        let (mut ws, accepted) = client(stream, request, &deflate_options()).await.expect("handshake");
        assert!(accepted.extensions().is_empty(), "tungstenite accepted {:?}", accepted.extensions());
        send_and_check_echoes(&mut ws, &sent).await;
        assert!(ws.recv().await.is_none());
        let outcome = ws.close_outcome().expect("closed");
        assert!(outcome.clean, "our client: {outcome}");
    };
    tokio::time::timeout(TIME_LIMIT, ours).await.expect("our client within the time limit");

    let recorder = server.await.expect("the tungstenite server");
    let (response, to_client) = split_head(&recorder.written);
    let (request, to_server) = split_head(&recorder.read);
    let offer = format!("sec-websocket-extensions: {PERMESSAGE_DEFLATE}");
    assert!(
        request.to_ascii_lowercase().contains(&offer),
        "our client offered no permessage-deflate:\n{request}"
    );
    assert!(!has_extensions_field(&response), "tungstenite answered an extension:\n{response}");
    assert_uncompressed("our client", &frames(to_server, DecodeRules::server()), &sent);
    assert_uncompressed("tungstenite server", &frames(to_client, DecodeRules::client()), &sent);
}

/// The control: the server of the first test is not deflate-less by accident. With a client that
/// offers permessage-deflate (ours), it answers with it, and messages still echo equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_with_deflate_negotiates_it_with_a_client_that_offers_it() {
    let (listener, address) = listen().await;
    let server = tokio::spawn(tokio::time::timeout(TIME_LIMIT, our_deflate_server(listener)));
    let sent = messages();
    let ours = async {
        let stream = TcpStream::connect(address).await.expect("connect");
        let url = WsUrl::parse(&format!("ws://{address}/deflate")).expect("a ws:// URL");
        let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
        let (mut ws, accepted) = client(stream, request, &deflate_options()).await.expect("handshake");
        let names: Vec<&str> =
            accepted.extensions().iter().map(|extension| extension.name.as_str()).collect();
        assert_eq!(names, [PERMESSAGE_DEFLATE], "what the server accepted");
        send_and_check_echoes(&mut ws, &sent).await;
        assert!(ws.recv().await.is_none());
    };
    tokio::time::timeout(TIME_LIMIT, ours).await.expect("our client within the time limit");
    let (offered, echoed) =
        server.await.expect("our server's task").expect("our server within the time limit");
    assert!(offered.iter().any(|offer| offer.starts_with(PERMESSAGE_DEFLATE)), "offered {offered:?}");
    assert_eq!(echoed, sent.len());
}
