//! The course's Python `websockets` "hello" server, on `rfc6455`: receives a name, answers
//! `Hello {name}!`, then closes.
//!
//! ```text
//! cargo run --example hello_server [-- PORT]      # default 8765, on localhost (IPv4 and IPv6)
//! ```
//!
//! It interoperates with the Python client of the course (`websockets.connect`), and
//! `hello_client` interoperates with the Python server.

#[path = "adapter/tokio.rs"]
mod adapter;

use std::net::SocketAddr;
use std::time::Instant;

use adapter::Handshake;
use rfc6455::handshake::HeadLimits;
use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1).map(|port| port.parse()) {
        None => 8765,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("usage: hello_server [PORT]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 0], port))).await?;
    eprintln!("hello_server: listening on ws://localhost:{port}");
    // Never signalled: this server runs until it is stopped.
    let (_keep, shutdown) = watch::channel(false);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(greet(stream, peer, shutdown.clone()));
    }
}

async fn greet(mut stream: TcpStream, peer: SocketAddr, shutdown: watch::Receiver<bool>) {
    let Ok(Handshake::Upgrade { request, leftover }) =
        adapter::read_request(&mut stream, &HeadLimits::default()).await
    else {
        return;
    };
    let connection = Connection::new(Role::Server, Config::default(), Instant::now());
    let Ok(mut connection) = adapter::accept(&mut stream, &request.accept(), connection, &leftover).await
    else {
        return;
    };
    let _ = adapter::drive(&mut stream, &mut connection, 16 * 1024, shutdown, None, |connection, event| {
        if let Event::Message(Message::Text(name)) = event {
            eprintln!("{peer}: <<< {name}");
            let greeting = format!("Hello {name}!");
            eprintln!("{peer}: >>> {greeting}");
            // Err only if the client already started closing.
            let _ = connection.send_text(&greeting);
            let _ = connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "");
        }
    })
    .await;
}
