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
//!
//! Every phase is bounded by the core: the request head must arrive within 10 s, a closing
//! peer has 5 s to take our last bytes, and the lingering close lasts at most 2 s.

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use adapter::Site;
use env::variable;
use rfc6455::{Config, Event, MessageLimits};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The server's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    address: IpAddr,
    port: u16,
    heartbeat: Option<Duration>,
    high_water_mark: usize,
    max_message_size: u64,
    max_connections: usize,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
        Ok(Settings {
            address: variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?,
            port: variable("BIND_PORT", 1337)?,
            heartbeat: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
            high_water_mark: variable("HIGH_WATER_MARK", 16_384)?,
            max_message_size: variable("MAX_MESSAGE_SIZE", 65_536)?,
            max_connections: variable("MAX_CONNECTIONS", 1024)?,
        })
    }

    fn config(&self) -> Config {
        Config {
            limits: MessageLimits {
                max_frame_size: self.max_message_size,
                max_message_size: self.max_message_size,
                ..MessageLimits::default()
            },
            keepalive_interval: self.heartbeat,
            ..Config::default()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("echo_server: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(listener) =
        adapter::listen("echo_server", settings.address, settings.port, |local| format!("ws://{local}"))
            .await
    else {
        return ExitCode::FAILURE;
    };

    adapter::serve_until_ctrl_c(
        "echo_server",
        listener,
        settings.max_connections,
        |stream, peer, shutdown| serve(stream, peer, settings.clone(), shutdown),
    )
    .await;
    ExitCode::SUCCESS
}

/// One client, from its HTTP request to the end of its WebSocket connection.
async fn serve(mut stream: TcpStream, peer: SocketAddr, settings: Settings, shutdown: watch::Receiver<bool>) {
    let upgraded = adapter::upgrade(&mut stream, peer, &Site::websocket_only(), |request| {
        eprintln!("{peer}: connected to {} (origin {})", request.path(), request.origin().unwrap_or("-"));
        (request.accept(), settings.config())
    })
    .await;
    let Some(mut connection) = upgraded else { return };
    let result = adapter::drive(
        &mut stream,
        &mut connection,
        settings.high_water_mark,
        shutdown,
        None,
        |connection, event| {
            match event {
                // Err only once the connection is closing: the message is then dropped, as the RFC asks.
                Event::Message(message) => drop(connection.send_message(&message)),
                Event::Closed(outcome) => eprintln!("{peer}: {outcome}"),
                _ => {}
            }
        },
    )
    .await;
    if let Err(error) = result {
        eprintln!("{peer}: error: {error}");
    }
}
