//! An echo server on fastwebsockets, a peer for `scripts/echo-bench.sh`, as its README and its
//! own `examples/echo_server.rs` write one: hyper 1.x serves the HTTP/1.1 connection,
//! `fastwebsockets::upgrade::upgrade` answers the upgrade, and a task echoes the frames of a
//! `FragmentCollector` (whole messages), one `write_frame` per message.
//!
//! ```text
//! BIND_ADDRESS=127.0.0.1 BIND_PORT=0 cargo run --release --example echo_fastwebsockets
//! ```
//!
//! fastwebsockets' documented defaults: Close and Ping answered by the library (`auto_close`,
//! `auto_pong`), vectored writes on (`writev`), messages up to 64 MiB. Unlike its own example,
//! which runs a current-thread runtime and its connections' tasks `unconstrained`, this one
//! runs the multi-threaded runtime every server of the benchmark runs, with plain tasks.
//! Environment: `BIND_ADDRESS` (default `::`) and `BIND_PORT` (default 1337; 0: the system
//! picks one), as `examples/echo_server.rs`; it says `echo_fastwebsockets: listening on
//! ws://ADDRESS:PORT`.

#[path = "peer.rs"]
mod peer;

use std::process::ExitCode;

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> ExitCode {
    peer::serve_from_env("echo_fastwebsockets", "ws", serve).await
}

/// One TCP connection: hyper reads the request and hands the upgraded stream to [`echo`].
async fn serve(stream: TcpStream) {
    let connection =
        http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer)).with_upgrades();
    if let Err(error) = connection.await {
        eprintln!("echo_fastwebsockets: {error}");
    }
}

/// The 101 for a WebSocket upgrade, and the task that echoes once it is sent.
async fn answer(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        if let Err(error) = echo(upgraded).await {
            eprintln!("echo_fastwebsockets: {error}");
        }
    });
    Ok(response)
}

/// Echoes every Text and Binary message until a Close (answered by the library) or the end of
/// the connection.
async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(upgraded.await?);
    loop {
        let frame = match ws.read_frame().await {
            Ok(frame) => frame,
            Err(WebSocketError::ConnectionClosed | WebSocketError::UnexpectedEOF) => return Ok(()),
            Err(error) => return Err(error),
        };
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
