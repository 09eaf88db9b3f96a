//! The course's echo server behind hyper 1.x: hyper reads the HTTP request and writes the
//! answer, the crate's `http` feature decides it (RFC 6455 §4.2), hyper hands over the
//! connection (`hyper::upgrade::on`, served `.with_upgrades()`), and `rfc6455::tokio` drives the
//! WebSocket on it. The way to add a WebSocket to a server whose HTTP layer is hyper (or axum,
//! which is hyper underneath).
//!
//! ```text
//! cargo run --release --example hyper_server
//! ```
//!
//! A drop-in for `echo_server` and the lab's Node `websocket-echo-server`: the same echo, the
//! same environment, the same log lines. Echoes text as text and binary as binary, fragmented
//! or not, up to `MAX_MESSAGE_SIZE`. A plain HTTP request gets 426 Upgrade Required with
//! `Sec-WebSocket-Version: 13` (§4.4); a bad upgrade gets the status the core chose (400, or
//! 426 for a version other than 13). One line per connection, close and error on stderr.
//! Ctrl-C closes every connection with 1001 (Going Away) and exits once they are closed, or
//! after 3 seconds.
//!
//! Environment (the Node server's names and defaults):
//!
//! | variable             | default | meaning                                                  |
//! |----------------------|---------|----------------------------------------------------------|
//! | `BIND_ADDRESS`       | `::`    | address to listen on (`::` also accepts IPv4 on Linux)   |
//! | `BIND_PORT`          | `1337`  | port                                                     |
//! | `HEARTBEAT_INTERVAL` | `30000` | ms between pings; a client that did not answer the previous ping is dropped (0: off) |
//! | `HIGH_WATER_MARK`    | `16384` | stop reading from a client while more than this many bytes wait to be sent to it |
//! | `MAX_MESSAGE_SIZE`   | `65536` | largest message in bytes; a larger one closes the connection with 1009 |
//! | `MAX_CONNECTIONS`    | `1024`  | most connections served at once (more wait in the listen queue) |
//!
//! The request head must arrive within 10 s (hyper's header timeout, set to the core's
//! handshake deadline); from the upgrade on, every phase is bounded by the core: a closing peer
//! has 5 s to take our last bytes, and the lingering close lasts at most 2 s.

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;
#[path = "adapter/echo_settings.rs"]
mod settings;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use rfc6455::handshake::server::{AcceptResponse, UpgradeRequest};
use rfc6455::handshake::{HttpResponse, DEFAULT_HANDSHAKE_TIMEOUT};
use rfc6455::http::request_from_http;
use rfc6455::tokio::WebSocket;
use rfc6455::{Event, HandshakeError};
use settings::Settings;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> ExitCode {
    settings::serve_from_env("hyper_server", serve).await
}

/// After Ctrl-C, how long a connection still in its HTTP request has to finish it (the
/// accept loop waits 3 s for every connection to close).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// An accepted upgrade, handed from hyper's service to the task that serves the connection:
/// hyper's promise of the connection once the 101 is written, and the 101 the core made.
type Accepted = Arc<Mutex<Option<(OnUpgrade, AcceptResponse)>>>;

/// One client, from its HTTP request to the end of its WebSocket connection.
async fn serve(stream: TcpStream, peer: SocketAddr, settings: Settings, mut shutdown: adapter::Shutdown) {
    let _ = stream.set_nodelay(true);
    let accepted = Accepted::default();
    let service = {
        let accepted = Arc::clone(&accepted);
        service_fn(move |request| std::future::ready(Ok::<_, Infallible>(answer(request, peer, &accepted))))
    };
    // One request per connection, as the core's own handshake: an answer other than 101 ends it.
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(DEFAULT_HANDSHAKE_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(http);
    // Resolves once the answer is written: after a 101, with the connection handed to the upgrade.
    let served = tokio::select! {
        served = http.as_mut() => served,
        () = async { shutdown.signalled().await; } => {
            // Ctrl-C before the upgrade: hyper ends an idle connection at once and finishes an
            // answer under way; a head still arriving is dropped after the grace period.
            http.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, http).await {
                Ok(served) => served,
                Err(_) => return,
            }
        }
    };
    if let Err(error) = served {
        eprintln!("{peer}: handshake failed: {error}");
        return;
    }
    let Some((upgrade, response)) = accepted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    else {
        return; // answered with something else than 101
    };
    let io = match upgrade.await {
        Ok(upgraded) => TokioIo::new(upgraded),
        Err(error) => {
            eprintln!("{peer}: error: {error}");
            return;
        }
    };
    // The 101 is hyper's to write; the connection starts after it, with nothing queued.
    let connection = match response.into_connection(Instant::now(), settings.config()) {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("{peer}: error: {error}");
            return;
        }
    };
    let options = settings.options();
    let mut ws = WebSocket::from_connection(io, connection, &options);
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        match event {
            // Queued whole; reading pauses while more than the high-water mark waits to be
            // written. Err only once the connection is closing: the message is then dropped, as
            // the RFC asks.
            Event::Message(message) => {
                drop(ws.with_connection(|connection| connection.send_message(&message)))
            }
            Event::Closed(outcome) => eprintln!("{peer}: {outcome}"),
            _ => {}
        }
    }
}

/// hyper's service: the answer to one request. An opening handshake the core accepts gets its
/// 101, and the upgrade is left in `accepted` for [`serve`]; anything else, the refusal.
fn answer(mut request: Request<Incoming>, peer: SocketAddr, accepted: &Accepted) -> Response<Full<Bytes>> {
    let upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();
    let response = match decide(&parts, peer) {
        Ok(response) => response,
        Err(refusal) => return http_response(&refusal),
    };
    match response.to_http() {
        Ok(switching) => {
            *accepted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((upgrade, response));
            switching.map(|()| Full::default())
        }
        Err(error) => http_response(&refused(peer, &error)),
    }
}

/// The core's decision on a request, logged as `echo_server` logs it: the 101 of a valid
/// opening handshake, or the response that refuses it.
fn decide(parts: &http::request::Parts, peer: SocketAddr) -> Result<AcceptResponse, HttpResponse> {
    let request = request_from_http(parts).map_err(|error| refused(peer, &error))?;
    if !request.is_websocket_upgrade() {
        // A plain request, at any path, with any method: 426 Upgrade Required, as §4.4 suggests.
        let response = HttpResponse::from_error(&HandshakeError::NotWebSocketUpgrade);
        eprintln!("{peer}: {} {} {}", request.method, request.target, response.status());
        return Err(response);
    }
    // §4.2.1, checked by the core: a bad handshake gets the status it chose (400; 426 with
    // `Sec-WebSocket-Version: 13` for a version other than 13).
    let upgrade = UpgradeRequest::validate(request).map_err(|error| refused(peer, &error))?;
    eprintln!("{peer}: connected to {} (origin {})", upgrade.path(), upgrade.origin().unwrap_or("-"));
    Ok(upgrade.accept())
}

/// The answer to a request the core found wrong, logged.
fn refused(peer: SocketAddr, error: &HandshakeError) -> HttpResponse {
    let response = HttpResponse::from_error(error);
    eprintln!("{peer}: answered {}: {error}", response.status());
    response
}

/// The core's HTTP response as hyper's (hyper adds `Content-Length`).
fn http_response(response: &HttpResponse) -> Response<Full<Bytes>> {
    match response.to_http() {
        Ok(response) => response.map(Full::new),
        // Not reached: the core's responses are valid HTTP.
        Err(_) => Response::builder().status(500).body(Full::default()).unwrap_or_default(),
    }
}
