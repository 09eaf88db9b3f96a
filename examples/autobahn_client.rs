//! Drives the Autobahn|Testsuite fuzzing server, so the client side of `rfc6455` (through
//! `rfc6455::tokio`) can be tested for conformance: `GET /getCaseCount`, then every
//! `/runCase?case=N&agent=AGENT` echoing every message until the server closes, then
//! `/updateReports?agent=AGENT`.
//!
//! ```text
//! cargo run --release --example autobahn_client -- [ws://127.0.0.1:9001] [AGENT]
//! ```

use std::process::ExitCode;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::Options;
use rfc6455::{Config, Event, Message, MessageLimits, OsSeededRng};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "rfc6455".to_owned());
    match run(&base, &agent).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("autobahn_client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(base: &str, agent: &str) -> Result<(), String> {
    let count: u32 = match session(base, "/getCaseCount", false).await?.first() {
        Some(Message::Text(text)) => text.trim().parse().map_err(|_| format!("bad case count {text:?}"))?,
        other => return Err(format!("no case count: {other:?}")),
    };
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        session(base, &format!("/runCase?case={case}&agent={agent}"), true).await?;
    }
    session(base, &format!("/updateReports?agent={agent}"), false).await?;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

/// One connection to `target`: echoes every message if `echo`, returns the messages received.
async fn session(base: &str, target: &str, echo: bool) -> Result<Vec<Message>, String> {
    let url = WsUrl::parse(&format!("{}{target}", base.trim_end_matches('/')))
        .map_err(|error| error.to_string())?;
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    // The suite sends messages up to 16 MiB (cases 9.*).
    let config = Config { limits: MessageLimits::unlimited(), ..Config::default() };
    // Offers permessage-deflate (the suite's cases 12.* and 13.*).
    let options = Options { config, deflate: Some(DeflateConfig::default()), ..Options::default() };
    let (mut ws, _) = rfc6455::tokio::connect_with(&url, request, &options)
        .await
        .map_err(|error| format!("{target}: {error}"))?;
    let mut received = Vec::new();
    // Every event until the connection has ended, however it ended: how it closes is what the
    // suite tests.
    while let Some(event) = ws.next_event().await {
        if let Event::Message(message) = event {
            if echo {
                // Err only once the connection is closing (the message is then dropped) or has
                // failed (its end is the next event).
                let _ = ws.send(message).await;
            } else {
                received.push(message);
            }
        }
    }
    Ok(received)
}
