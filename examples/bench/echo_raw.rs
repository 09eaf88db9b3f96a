//! A TCP echo with no WebSocket at all, the floor of `scripts/echo-bench.sh`: each connection
//! reads into a buffer and writes back what it read, until the peer closes.
//!
//! ```text
//! BIND_ADDRESS=127.0.0.1 BIND_PORT=0 cargo run --release --example echo_raw
//! cargo run --release --example echo_load -- --raw --url tcp://127.0.0.1:PORT
//! ```
//!
//! The buffer is 16 KiB per connection, what `rfc6455::tokio` reads into at a time, allocated
//! when the connection is accepted (a page of it is touched by a small message).
//! Environment: `BIND_ADDRESS` (default `::`) and `BIND_PORT` (default 1337; 0: the system
//! picks one), as `examples/echo_server.rs`; it says `echo_raw: listening on tcp://ADDRESS:PORT`.

#[path = "peer.rs"]
mod peer;

use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read at a time.
const BUFFER_SIZE: usize = 16 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    peer::serve_from_env("echo_raw", "tcp", echo).await
}

/// Echoes until the peer closes its side or the connection fails.
async fn echo(mut stream: TcpStream) {
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
        }
    }
}
