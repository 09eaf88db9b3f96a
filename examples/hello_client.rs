//! The course's Python `websockets` "hello" client, on `rfc6455`: reads a name from stdin,
//! sends it, prints the server's greeting.
//!
//! ```text
//! cargo run --example hello_client [-- ws://localhost:8765]
//! ```

#[path = "adapter/blocking.rs"]
mod adapter;

use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::{CloseCode, Config, Event, Message, OsSeededRng};

fn main() -> ExitCode {
    let address = std::env::args().nth(1).unwrap_or_else(|| "ws://localhost:8765".to_owned());
    let url = match WsUrl::parse(&address) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("hello_client: {error}");
            return ExitCode::from(2);
        }
    };
    print!("What's your name? ");
    let _ = std::io::stdout().flush();
    let mut name = String::new();
    if std::io::stdin().lock().read_line(&mut name).is_err() {
        return ExitCode::FAILURE;
    }
    let name = name.trim_end_matches(['\r', '\n']);

    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    let (mut stream, mut connection, _) = match adapter::connect(&url, request, Config::default()) {
        Ok(connected) => connected,
        Err(error) => {
            eprintln!("hello_client: cannot connect to {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if connection.send_text(name).is_err() {
        return ExitCode::FAILURE;
    }
    println!(">>> {name}");
    let mut greeted = false;
    let result = adapter::drive(&mut stream, &mut connection, |connection, event| {
        if let Event::Message(Message::Text(greeting)) = event {
            println!("<<< {greeting}");
            greeted = true;
            // Err only if the server already started closing: its Close is then echoed.
            let _ = connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "");
        }
        ControlFlow::Continue(())
    });
    match (result, greeted) {
        (Ok(_), true) => ExitCode::SUCCESS,
        (Ok(_), false) => {
            eprintln!("hello_client: the server closed without a greeting");
            ExitCode::FAILURE
        }
        (Err(error), _) => {
            eprintln!("hello_client: {error}");
            ExitCode::FAILURE
        }
    }
}
