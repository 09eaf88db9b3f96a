//! ESP-IDF's `ws_echo_server` example (`examples/protocols/http_server/ws_echo_server`), on
//! `rfc6455` and tokio: what the ESP32's `esp_http_server` does, on a desktop.
//!
//! ```text
//! cargo run --example esp_idf_server                     # ws://[::]:8080/ws
//! BIND_ADDRESS=127.0.0.1 BIND_PORT=9000 cargo run --example esp_idf_server
//! scripts/esp-idf-check.sh                               # a raw-socket client checks it all
//! ```
//!
//! | ESP-IDF (`httpd_uri_t` and friends)                   | here                                           |
//! |-------------------------------------------------------|------------------------------------------------|
//! | `.uri = "/ws"`, `.is_websocket = true`                | only `/ws` upgrades; any other path gets 404, a plain request for `/ws` 426 |
//! | `.supported_subprotocol = "chat"`                     | `UpgradeRequest::select_protocol(&["chat"])`, `AcceptResponse::with_protocol` |
//! | `.handle_ws_control_frames = true`                    | `Config { deliver_control_frames: true, .. }`: every Ping, Pong and Close is logged |
//! | `httpd_ws_send_frame` (echo)                          | `WebSocket::send` in the event handler         |
//! | "Trigger async": `httpd_queue_work` + `httpd_ws_send_frame_async` | a spawned tokio task sends "Async data" through the connection's `Sender` |
//! | "Ping": `ws_ping_send` from the work queue            | the same, with `Sender::send_ping`             |
//! | `ws_pkt.fragmented` / `ws_pkt.final`                  | "Trigger fragments": `begin_message` + three `send_fragment` calls, in `WebSocket::with_connection` |
//! | `httpd_config_t.max_open_sockets`                     | `MAX_CONNECTIONS`: more wait in the listen queue |
//!
//! Differences, on purpose:
//! - every text message is echoed, triggers included (ESP-IDF's handler returns without echoing
//!   a trigger), so a client always knows its message arrived;
//! - Pings are answered and Closes echoed by the core even though the application sees them
//!   (ESP-IDF leaves both to the handler once it asks for control frames): RFC 6455 §5.5.1 and
//!   §5.5.2 make them MUSTs, and this crate does every MUST itself;
//! - the port defaults to 8080, not 80, so no privileges are needed;
//! - triggers match the whole message, not a prefix (`strncmp` in the C code).
//!
//! The log imitates ESP-IDF's `ESP_LOGI` lines on stderr (`I (milliseconds) tag: message`), one
//! per frame the handler sees, with the peer's address where ESP-IDF has a socket number:
//!
//! ```text
//! I (3051) ws_echo_server: 127.0.0.1:50312: Got packet with message: Trigger async
//! I (3051) ws_echo_server: 127.0.0.1:50312: Packet type: 1
//! I (3052) ws_echo_server: 127.0.0.1:50312: Received PING message, payload "hi"
//! I (3060) ws_echo_server: 127.0.0.1:50312: Received CLOSE message, code 1000
//! ```
//!
//! Try it from a browser's console (browsers answer Pings but never send them):
//!
//! ```text
//! ws = new WebSocket("ws://localhost:8080/ws", ["chat"]);
//! ws.onmessage = (event) => console.log(event.data);
//! ws.onopen = () => { console.log("protocol:", ws.protocol); ws.send("Trigger async"); };
//! ws.send("Trigger fragments");   // arrives as one message: the browser reassembles it
//! ws.close(1000);
//! ```
//!
//! or from Python with only the standard library, as `scripts/python/esp_idf_check.py` does (it
//! sends Pings and reads the frames of the fragmented message one by one).
//!
//! Environment:
//!
//! | variable          | default | meaning                                                      |
//! |-------------------|---------|--------------------------------------------------------------|
//! | `BIND_ADDRESS`    | `::`    | address to listen on (`::` also accepts IPv4 on Linux)       |
//! | `BIND_PORT`       | `8080`  | port (0: any free port; the log's first line says which)     |
//! | `MAX_CONNECTIONS` | `1024`  | most connections served at once (ESP-IDF's `max_open_sockets` is 7) |

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

use adapter::Site;
use env::variable;
use rfc6455::handshake::server::{AcceptResponse, UpgradeRequest};
use rfc6455::handshake::OriginPolicy;
use rfc6455::tokio::{Options, Sender, WebSocket};
use rfc6455::{CloseOutcome, Config, Connection, Event, Message, MessageKind};
use tokio::net::{TcpListener, TcpStream};

/// The ESP-IDF example's log tag.
const TAG: &str = "ws_echo_server";
/// The one WebSocket path, as registered with `httpd_register_uri_handler`.
const WS_PATH: &str = "/ws";
/// The handler's `.supported_subprotocol`.
const SUPPORTED_SUBPROTOCOLS: &[&str] = &["chat"];
/// Stop reading from a client, and make sends wait, while more than this many bytes wait to be
/// sent to it.
const HIGH_WATER_MARK: usize = 16 * 1024;
/// What "Trigger fragments" sends: one text message, three frames.
const FRAGMENTS: [&str; 3] = ["This message ", "was sent as ", "three fragments"];

/// ESP-IDF's `ESP_LOGI`: `I (milliseconds since start) tag: message`, on stderr.
#[derive(Debug, Clone, Copy)]
struct Log {
    start: Instant,
}

impl Log {
    fn info(&self, peer: &SocketAddr, message: impl std::fmt::Display) {
        eprintln!("I ({}) {TAG}: {peer}: {message}", self.start.elapsed().as_millis());
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let log = Log { start: Instant::now() };
    let address: IpAddr = match variable("BIND_ADDRESS", IpAddr::from([0u16; 8])) {
        Ok(address) => address,
        Err(message) => return usage(&message),
    };
    let port: u16 = match variable("BIND_PORT", 8080) {
        Ok(port) => port,
        Err(message) => return usage(&message),
    };
    let max_connections: usize = match variable("MAX_CONNECTIONS", 1024) {
        Ok(max_connections) => max_connections,
        Err(message) => return usage(&message),
    };
    let listener = match TcpListener::bind(SocketAddr::new(address, port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("E (0) {TAG}: cannot listen on {address}:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => eprintln!("I (0) {TAG}: listening on ws://{local}{WS_PATH}"),
        Err(error) => eprintln!("I (0) {TAG}: listening ({error})"),
    }

    // Ctrl-C: `httpd_stop`, every connection closed with 1001 (Going Away).
    adapter::serve_until_ctrl_c(TAG, listener, max_connections, |stream, peer, shutdown| {
        serve(stream, peer, log, shutdown)
    })
    .await;
    eprintln!("I ({}) {TAG}: webserver stopped", log.start.elapsed().as_millis());
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!("esp_idf_server: {message}");
    ExitCode::from(2)
}

/// The handler's configuration: `.handle_ws_control_frames = true`.
fn options() -> Options {
    let config = Config { deliver_control_frames: true, ..Config::default() };
    Options { config, high_water_mark: HIGH_WATER_MARK, ..Options::default() }
}

/// One client: the URI match and the opening handshake, then the `/ws` handler.
async fn serve(stream: TcpStream, peer: SocketAddr, log: Log, mut shutdown: adapter::Shutdown) {
    // No assets: any other path gets ESP-IDF's "Nothing matches the given URI" 404. No origin
    // check: `esp_http_server` makes none.
    let site = Site { path: Some(WS_PATH), origins: OriginPolicy::Any, assets: &[] };
    let upgraded = adapter::upgrade(stream, peer, &site, options(), |request| {
        let response = accept(request);
        match response.protocol() {
            Some(protocol) => log.info(&peer, format_args!("handshake done, subprotocol {protocol:?}")),
            None => log.info(
                &peer,
                format_args!("handshake done, no subprotocol (offered {:?})", request.protocols()),
            ),
        }
        response
    })
    .await;
    let Some(mut ws) = upgraded else { return };
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        echo_handler(&mut ws, event, &peer, log).await;
    }
}

/// The 101 answer, with `chat` if the client offered it (§4.2.2: no header otherwise).
fn accept(request: &UpgradeRequest) -> AcceptResponse {
    let response = request.accept();
    match request.select_protocol(SUPPORTED_SUBPROTOCOLS) {
        Some(protocol) => response.with_protocol(protocol),
        None => response,
    }
}

/// ESP-IDF's `echo_handler`: sees every frame (control frames too), echoes data, and acts on the
/// triggers. It runs on the connection's task, so it sends through `ws` itself; the async sends
/// go through a `Sender` from another task, as `httpd_queue_work` does.
async fn echo_handler(ws: &mut WebSocket<TcpStream>, event: Event, peer: &SocketAddr, log: Log) {
    match event {
        Event::Message(message) => {
            match &message {
                Message::Text(text) => log.info(peer, format_args!("Got packet with message: {text}")),
                Message::Binary(data) => log.info(peer, format_args!("Got packet with {} bytes", data.len())),
            }
            let opcode = match message.kind() {
                MessageKind::Text => 1,
                MessageKind::Binary => 2,
            };
            log.info(peer, format_args!("Packet type: {opcode}"));
            // Err once the connection is closing (the echo is then dropped, as the RFC asks) or
            // has failed (the next event says how it ended).
            let _ = ws.send(message.clone()).await;
            if let Message::Text(text) = &message {
                match text.as_str() {
                    "Trigger async" => {
                        trigger_async_send(ws.sender(), AsyncFrame::Text("Async data"), peer, log)
                    }
                    "Ping" => trigger_async_send(ws.sender(), AsyncFrame::Ping, peer, log),
                    "Trigger fragments" => {
                        ws.with_connection(|connection| send_fragments(connection, peer, log))
                    }
                    _ => {}
                }
            }
        }
        Event::Ping(payload) => log.info(
            peer,
            format_args!("Received PING message, payload {:?}", String::from_utf8_lossy(&payload)),
        ),
        Event::Pong(payload) => log.info(
            peer,
            format_args!("Received PONG message, payload {:?}", String::from_utf8_lossy(&payload)),
        ),
        Event::Closed(outcome) => log_close(&outcome, peer, log),
        _ => {}
    }
}

/// What a trigger has another task send: `ws_async_send`'s text frame, or `ws_ping_send`'s Ping.
#[derive(Debug, Clone, Copy)]
enum AsyncFrame {
    Text(&'static str),
    Ping,
}

/// `trigger_async_send` / `trigger_ping_send`: another task makes the send, later.
fn trigger_async_send(sender: Sender, frame: AsyncFrame, peer: &SocketAddr, log: Log) {
    let peer = *peer;
    tokio::spawn(async move {
        let sent = match frame {
            // Waits while more than the high-water mark waits to be written to the client.
            AsyncFrame::Text(text) => sender.send(&Message::text(text)).await,
            // A control frame may always go out.
            AsyncFrame::Ping => sender.send_ping(&[]),
        };
        // Err only once the connection is closing or gone: nobody to send to.
        match sent {
            Ok(()) => log.info(&peer, format_args!("async send queued: {frame:?}")),
            Err(error) => log.info(&peer, format_args!("async send dropped ({error:?}): {frame:?}")),
        }
    });
}

/// One text message as three frames: `fragmented = true`, `final` on the last (§5.4).
fn send_fragments(connection: &mut Connection, peer: &SocketAddr, log: Log) {
    let sent = connection.begin_message(MessageKind::Text).and_then(|()| {
        FRAGMENTS.iter().enumerate().try_for_each(|(index, part)| {
            connection.send_fragment(part.as_bytes(), index + 1 == FRAGMENTS.len())
        })
    });
    match sent {
        Ok(()) => log.info(peer, format_args!("Sent fragmented message: {} frames", FRAGMENTS.len())),
        Err(error) => log.info(peer, format_args!("fragmented send failed: {error}")),
    }
}

/// The peer's Close (Packet type 8) or how the connection otherwise ended.
fn log_close(outcome: &CloseOutcome, peer: &SocketAddr, log: Log) {
    match &outcome.received {
        Some(received) if received.reason.is_empty() => {
            log.info(peer, format_args!("Received CLOSE message, code {}", received.code))
        }
        Some(received) => log.info(
            peer,
            format_args!("Received CLOSE message, code {}, reason {:?}", received.code, received.reason),
        ),
        None => {}
    }
    log.info(peer, format_args!("connection {outcome}"));
}
