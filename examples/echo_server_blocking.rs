//! The course's echo server with the standard library only: a thread per connection.
//!
//! ```text
//! cargo run --example echo_server_blocking
//! ```
//!
//! The same behaviour as `echo_server` (same environment variables: `BIND_ADDRESS`, `BIND_PORT`,
//! `HEARTBEAT_INTERVAL`, `MAX_MESSAGE_SIZE`), in the simplest form a student can read from top to
//! bottom. Two differences: the standard library has no portable Ctrl-C handler, so Ctrl-C ends
//! the process at once; and a thread blocks while it writes, so `HIGH_WATER_MARK` has nothing to
//! do (a client is never read from while something waits to be sent to it).

#[path = "adapter/blocking.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use adapter::Handshake;
use env::variable;
use rfc6455::handshake::HeadLimits;
use rfc6455::{Config, Connection, Event, MessageLimits, Role};

fn main() -> ExitCode {
    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("echo_server_blocking: {message}");
            return ExitCode::from(2);
        }
    };
    let (address, config) = settings;
    let listener = match TcpListener::bind(address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("echo_server_blocking: cannot listen on {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("echo_server_blocking: listening on ws://{address}");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let config = config.clone();
                std::thread::spawn(move || serve(stream, config));
            }
            Err(error) => eprintln!("echo_server_blocking: accept failed: {error}"),
        }
    }
    ExitCode::SUCCESS
}

/// One client: the handshake, then echo until the connection closes.
fn serve(mut stream: TcpStream, config: Config) {
    let peer = stream.peer_addr().map_or_else(|_| "?".to_owned(), |address| address.to_string());
    let _ = stream.set_nodelay(true);
    let (request, leftover) = match adapter::read_request(&mut stream, &HeadLimits::default()) {
        Ok(Handshake::Upgrade { request, leftover }) => (request, leftover),
        Ok(Handshake::Rejected(error)) => {
            return eprintln!("{peer}: answered {}: {error}", error.status().unwrap_or(400));
        }
        Ok(Handshake::Closed) => return,
        Err(error) => return eprintln!("{peer}: error during the handshake: {error}"),
    };
    eprintln!("{peer}: connected to {} (origin {})", request.path(), request.origin().unwrap_or("-"));
    let connection = Connection::new(Role::Server, config, Instant::now());
    let mut connection = match adapter::accept(&mut stream, &request.accept(), connection, &leftover) {
        Ok(connection) => connection,
        Err(error) => return eprintln!("{peer}: error: {error}"),
    };
    let result = adapter::drive(&mut stream, &mut connection, |connection, event| match event {
        // Err only once the connection is closing: the message is then dropped, as the RFC asks.
        Event::Message(message) => drop(connection.send_message(&message)),
        Event::Closed(outcome) => eprintln!("{peer}: {outcome}"),
        _ => {}
    });
    if let Err(error) = result {
        eprintln!("{peer}: error: {error}");
    }
}

/// The listening address and the connection settings, from the environment.
fn settings_from_env() -> Result<(SocketAddr, Config), String> {
    let address: IpAddr = variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?;
    let port: u16 = variable("BIND_PORT", 1337)?;
    let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
    let max_message_size: u64 = variable("MAX_MESSAGE_SIZE", 65_536)?;
    let _high_water_mark: usize = variable("HIGH_WATER_MARK", 16_384)?; // validated, see above
    let config = Config {
        limits: MessageLimits {
            max_frame_size: max_message_size,
            max_message_size,
            ..MessageLimits::default()
        },
        keepalive_interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
        ..Config::default()
    };
    Ok((SocketAddr::new(address, port), config))
}
