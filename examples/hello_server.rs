//! The course's Python `websockets` "hello" server, on `rfc6455`: receives a name, answers
//! `Hello {name}!`, then closes.
//!
//! ```text
//! cargo run --example hello_server [-- PORT]      # default 8765, on localhost (IPv4 and IPv6)
//! ```
//!
//! It interoperates with the Python client of the course (`websockets.connect`), and
//! `hello_client` interoperates with the Python server. Ctrl-C closes every connection with 1001
//! (Going Away) and exits once they are closed, or after 3 seconds.
//!
//! Environment:
//!
//! | variable          | default | meaning                                                      |
//! |-------------------|---------|--------------------------------------------------------------|
//! | `MAX_CONNECTIONS` | `1024`  | most connections served at once (more wait in the listen queue) |

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use adapter::Site;
use rfc6455::tokio::Options;
use rfc6455::{CloseCode, Event, Message};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|port| port.parse()) {
        None => 8765,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("usage: hello_server [PORT]");
            return ExitCode::from(2);
        }
    };
    let max_connections = match env::variable("MAX_CONNECTIONS", 1024) {
        Ok(max_connections) => max_connections,
        Err(message) => {
            eprintln!("hello_server: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(listener) = adapter::listen("hello_server", IpAddr::from([0u16; 8]), port, |local| {
        format!("ws://localhost:{}", local.port())
    })
    .await
    else {
        return ExitCode::FAILURE;
    };
    adapter::serve_until_ctrl_c("hello_server", listener, max_connections, greet).await;
    ExitCode::SUCCESS
}

async fn greet(stream: TcpStream, peer: SocketAddr, mut shutdown: adapter::Shutdown) {
    let (site, options) = (Site::websocket_only(), Options::default());
    let upgraded = adapter::upgrade(stream, peer, &site, options, |request| request.accept()).await;
    let Some(mut ws) = upgraded else { return };
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        if let Event::Message(Message::Text(name)) = event {
            eprintln!("{peer}: <<< {name}");
            let greeting = format!("Hello {name}!");
            eprintln!("{peer}: >>> {greeting}");
            // Err only if the client already started closing: its Close is then echoed.
            let _ = ws.send(Message::text(greeting)).await;
            let _ = ws.close(CloseCode::NORMAL_CLOSURE, "").await;
        }
    }
}
