//! The course's Python `websockets` "hello" client, on `rfc6455` and tokio: reads a name from
//! stdin, sends it, prints the server's greeting.
//!
//! ```text
//! cargo run --example hello_client [-- ws://localhost:8765]
//! ```

use std::io::Write;
use std::process::ExitCode;

use rfc6455::handshake::WsUrl;
use rfc6455::{CloseCode, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> ExitCode {
    let address = std::env::args().nth(1).unwrap_or_else(|| "ws://localhost:8765".to_owned());
    // A bad URL is said before asking for a name.
    if let Err(error) = WsUrl::parse(&address) {
        eprintln!("hello_client: {error}");
        return ExitCode::from(2);
    }
    print!("What's your name? ");
    let _ = std::io::stdout().flush();
    let mut name = String::new();
    if BufReader::new(tokio::io::stdin()).read_line(&mut name).await.is_err() {
        return ExitCode::FAILURE;
    }
    let name = name.trim_end_matches(['\r', '\n']);

    let (mut ws, _) = match rfc6455::tokio::connect(&address).await {
        Ok(connected) => connected,
        Err(error) => {
            eprintln!("hello_client: cannot connect to {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if ws.send(Message::text(name)).await.is_err() {
        return ExitCode::FAILURE;
    }
    println!(">>> {name}");
    let mut greeted = false;
    // `None` once the connection has closed normally (1000 or 1001), after the closing handshake.
    while let Some(received) = ws.recv().await {
        match received {
            Ok(Message::Text(greeting)) => {
                println!("<<< {greeting}");
                greeted = true;
                // Err only if the transport failed: `recv` says so next.
                let _ = ws.close(CloseCode::NORMAL_CLOSURE, "").await;
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("hello_client: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !greeted {
        eprintln!("hello_client: the server closed without a greeting");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
