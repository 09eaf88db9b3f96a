//! The sans-IO core without the tokio module, a reference point for `scripts/echo-bench.sh`: each
//! connection's task drives a [`ServerHandshake`], then the [`Connection`] it gives, with a loop
//! written by hand over a `TcpStream` (the drive rule of the README, as an `async fn`), and
//! echoes every message. Beside `examples/echo_server.rs` it shows what `rfc6455::tokio` costs
//! over the core; beside fastwebsockets, what the core costs.
//!
//! ```text
//! BIND_ADDRESS=127.0.0.1 BIND_PORT=0 cargo run --release --example echo_core
//! ```
//!
//! What the loop leaves out, and the tokio module does not: its state lives in the task's
//! future, so it cannot be split, given senders or polled as a `Stream`; it waits for each write
//! to finish before it reads on (no high-water mark); a deadline is only watched while it
//! reads. The core's defaults otherwise: no keepalive (the other peers of the benchmark send no
//! pings, and the echo server runs with `HEARTBEAT_INTERVAL=0` there), the default message
//! limits, the handshake's 10-second deadline. Reads go into a 16 KiB buffer per connection,
//! allocated when the connection is accepted, as in `echo_raw`.
//! Environment: `BIND_ADDRESS` (default `::`) and `BIND_PORT` (default 1337; 0: the system
//! picks one), as `examples/echo_server.rs`; it says `echo_core: listening on ws://ADDRESS:PORT`.

#[path = "peer.rs"]
mod peer;

use std::io::IoSlice;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use rfc6455::handshake::{HandshakeConfig, ServerEvent, ServerHandshake};
use rfc6455::{Config, Connection, Endpoint, Event, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read at a time.
const BUFFER_SIZE: usize = 16 * 1024;

/// Pieces of output per vectored write.
const WRITE_SLICES: usize = 16;

#[tokio::main]
async fn main() -> ExitCode {
    peer::serve_from_env("echo_core", "ws", echo).await
}

/// The opening handshake (anything but an upgrade is refused by the core), then the echo.
async fn echo(mut stream: TcpStream) {
    let mut buffer = vec![0; BUFFER_SIZE];
    let mut handshake = ServerHandshake::new(HandshakeConfig::default(), Instant::now());
    let mut accepted = None;
    drive(&mut stream, &mut handshake, &mut buffer, |handshake, event| match event {
        ServerEvent::Upgrade(request) => {
            accepted = handshake.accept(Instant::now(), request.accept(), Config::default()).ok();
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .await;
    let Some(mut connection) = accepted else { return };
    drive(&mut stream, &mut connection, &mut buffer, |connection: &mut Connection, event| {
        if let Event::Message(message) = event {
            // Err once the connection is closing: the message is dropped then.
            let _ = connection.send_message(&message);
        }
        ControlFlow::Continue(())
    })
    .await;
}

/// The drive rule until the core closes the transport or `on` breaks: write what the endpoint
/// has to send, act on the transport instruction, hand every event to `on`, then read once
/// (until the endpoint's next deadline, which is handled if it comes first).
async fn drive<E: Endpoint>(
    stream: &mut TcpStream,
    endpoint: &mut E,
    buffer: &mut [u8],
    mut on: impl FnMut(&mut E, E::Event) -> ControlFlow<()>,
) {
    let mut write_shut = false;
    loop {
        while endpoint.unsent_len() > 0 && !write_shut {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let count = endpoint.bytes_to_send_vectored(&mut slices);
            match stream.write_vectored(&slices[..count]).await {
                Ok(written) if written > 0 => endpoint.mark_sent(written),
                // A write of 0 bytes (the transport takes no more, ever) or an error: the core
                // hears of a reset, and says to close the transport.
                _ => {
                    endpoint.receive_reset(Instant::now());
                    break;
                }
            }
        }
        match endpoint.poll_transport(Instant::now()) {
            Transport::Open => {}
            Transport::ShutdownWrite if !write_shut => {
                write_shut = true;
                let _ = stream.shutdown().await;
            }
            Transport::ShutdownWrite => {}
            Transport::Close => return,
        }
        while let Some(event) = endpoint.poll_event() {
            if on(endpoint, event).is_break() {
                return;
            }
        }
        if endpoint.unsent_len() > 0 && !write_shut {
            continue;
        }
        let read = match endpoint.poll_timeout() {
            None => stream.read(buffer).await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), stream.read(buffer)).await {
                Ok(read) => read,
                Err(_) => {
                    endpoint.handle_timeout(Instant::now());
                    continue;
                }
            },
        };
        match read {
            Ok(0) => endpoint.receive_eof(Instant::now()),
            Ok(read) => endpoint.receive(Instant::now(), &buffer[..read]),
            Err(_) => endpoint.receive_reset(Instant::now()),
        }
    }
}
