//! The course's echo server, on `rfc6455` and tokio: a drop-in replacement for the Node
//! `websocket-echo-server` of the lab, where a browser page opens
//! `new WebSocket("ws://[::1]:1337")`, sends "WebSocket Rocks!" and closes after 5 seconds.
//!
//! ```text
//! cargo run --release --example echo_server
//! ```
//!
//! Echoes text as text and binary as binary, fragmented or not, up to `MAX_MESSAGE_SIZE`.
//! A plain HTTP request gets 426 Upgrade Required; a bad upgrade gets the status the core chose.
//! One line per connection, close and error on stderr. Ctrl-C closes every connection with 1001
//! (Going Away) and exits once they are closed, or after 3 seconds.
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
//! | `PERMESSAGE_DEFLATE` | `0`     | 1: accept permessage-deflate (RFC 7692) when a client offers it, the server's compressor reset after each message; `no-context-takeover`: both directions reset (least memory) |
//!
//! Every phase is bounded by the core: the request head must arrive within 10 s, a closing
//! peer has 5 s to take our last bytes, and the lingering close lasts at most 2 s.

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;
#[path = "adapter/echo_settings.rs"]
mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use adapter::Site;
use rfc6455::Event;
use settings::Settings;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> ExitCode {
    settings::serve_from_env("echo_server", serve).await
}

/// One client, from its HTTP request to the end of its WebSocket connection. The handshake's
/// future is made here, on the heap ([`adapter::upgrade`]), so the connection's task holds only
/// what [`echo`] needs for the connection's whole life.
fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    settings: Settings,
    shutdown: adapter::Shutdown,
) -> impl Future<Output = ()> + Send {
    let upgrade = adapter::upgrade(stream, peer, &WEBSOCKET_ONLY, settings.options(), move |request| {
        eprintln!("{peer}: connected to {} (origin {})", request.path(), request.origin().unwrap_or("-"));
        request.accept()
    });
    echo(upgrade, peer, shutdown)
}

/// The site: WebSocket only, at every path, from every origin.
static WEBSOCKET_ONLY: Site<'static> = Site::websocket_only();

/// Echoes every message back until the connection ends.
async fn echo(upgrade: adapter::Upgrade<'static>, peer: SocketAddr, mut shutdown: adapter::Shutdown) {
    let upgraded = upgrade.await;
    let Some(mut ws) = upgraded else { return };
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        let message = match event {
            Event::Message(message) => message,
            Event::Closed(outcome) => {
                eprintln!("{peer}: {outcome}");
                continue;
            }
            _ => continue,
        };
        // Err only once the connection is closing (the message is then dropped, as the RFC
        // asks) or has failed (its end is the next event).
        drop(ws.send(message).await);
    }
    if let Some(error) = ws.io_error() {
        eprintln!("{peer}: error: {error}");
    }
}
