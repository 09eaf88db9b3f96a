//! An echo server on tokio-tungstenite, a peer for `scripts/echo-bench.sh`, written the way its
//! users write one: `accept_async` on the TCP stream, then `StreamExt::next` for each message
//! and `SinkExt::send` (which flushes) for each echo of a Text or Binary message. tungstenite
//! answers Ping and Close by itself, on the next read.
//!
//! ```text
//! BIND_ADDRESS=127.0.0.1 BIND_PORT=0 cargo run --release --example echo_tungstenite
//! ```
//!
//! tungstenite's default limits (messages up to 64 MiB), no keepalive.
//! Environment: `BIND_ADDRESS` (default `::`) and `BIND_PORT` (default 1337; 0: the system
//! picks one), as `examples/echo_server.rs`; it says `echo_tungstenite: listening on
//! ws://ADDRESS:PORT`.

#[path = "peer.rs"]
mod peer;

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::Error;

#[tokio::main]
async fn main() -> ExitCode {
    peer::serve_from_env("echo_tungstenite", "ws", echo).await
}

/// One client, from its opening handshake to the end of the connection; failures other than
/// the peer going away are said on stderr.
async fn echo(stream: TcpStream) {
    let mut ws = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(error) => {
            eprintln!("echo_tungstenite: handshake failed: {error}");
            return;
        }
    };
    while let Some(received) = ws.next().await {
        let result = match received {
            Ok(message) if message.is_text() || message.is_binary() => ws.send(message).await,
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => {}
            Err(
                Error::ConnectionClosed
                | Error::AlreadyClosed
                | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake),
            ) => return,
            Err(error) => {
                eprintln!("echo_tungstenite: {error}");
                return;
            }
        }
    }
}
