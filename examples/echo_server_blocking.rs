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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use env::variable;
use rfc6455::handshake::{HandshakeConfig, HttpResponse, ServerEvent};
use rfc6455::{Config, Event, MessageLimits};

fn main() -> ExitCode {
    let (address, config, max_connections) = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("echo_server_blocking: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("echo_server_blocking: cannot listen on {address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("echo_server_blocking: listening on ws://{address}");
    let active = Arc::new(AtomicUsize::new(0));
    let mut failing_since = None;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // Out of descriptors, say: retrying at once would spin. Log once per burst, and
                // back off.
                if failing_since.is_none() {
                    eprintln!("echo_server_blocking: accept failed: {error} (backing off)");
                }
                failing_since.get_or_insert_with(Instant::now);
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if let Some(since) = failing_since.take() {
            eprintln!("echo_server_blocking: accepting again after {:.1} s", since.elapsed().as_secs_f64());
        }
        if active.load(Ordering::Relaxed) >= max_connections {
            // A thread each: past the cap, answer 503 from here and drop.
            drop(refuse(stream));
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (config, active) = (config.clone(), Arc::clone(&active));
        std::thread::spawn(move || {
            serve(stream, config);
            active.fetch_sub(1, Ordering::Relaxed);
        });
    }
    ExitCode::SUCCESS
}

/// Answers a connection over the cap with 503, without waiting for its request.
fn refuse(mut stream: TcpStream) -> std::io::Result<()> {
    use std::io::Write;
    stream.set_write_timeout(Some(Duration::from_millis(100)))?;
    let mut answer = Vec::new();
    HttpResponse::text(503, "too many connections\n").encode(&mut answer);
    stream.write_all(&answer)
}

/// One client: the handshake, then echo until the connection closes.
fn serve(mut stream: TcpStream, config: Config) {
    let peer = stream.peer_addr().map_or_else(|_| "?".to_owned(), |address| address.to_string());
    let _ = stream.set_nodelay(true);
    let accepted = adapter::accept(&mut stream, HandshakeConfig::default(), |handshake, event| {
        let now = Instant::now();
        match event {
            ServerEvent::Upgrade(request) => {
                eprintln!(
                    "{peer}: connected to {} (origin {})",
                    request.path(),
                    request.origin().unwrap_or("-")
                );
                handshake.accept(now, request.accept(), config.clone()).ok()
            }
            ServerEvent::Request(_) => {
                let _ = handshake
                    .respond(now, &HttpResponse::from_error(&rfc6455::HandshakeError::NotWebSocketUpgrade));
                None
            }
            ServerEvent::Failed(error) => {
                eprintln!("{peer}: handshake failed: {error}");
                None
            }
            _ => None,
        }
    });
    let mut connection = match accepted {
        Ok(Some(connection)) => connection,
        Ok(None) => return,
        Err(error) => return eprintln!("{peer}: error during the handshake: {error}"),
    };
    let result = adapter::drive(&mut stream, &mut connection, |connection, event| {
        match event {
            // Err only once the connection is closing: the message is then dropped, as the RFC asks.
            Event::Message(message) => drop(connection.send_message(&message)),
            Event::Closed(outcome) => eprintln!("{peer}: {outcome}"),
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    });
    if let Err(error) = result {
        eprintln!("{peer}: error: {error}");
    }
}

/// The listening address, the connection settings and the connection cap, from the
/// environment.
fn settings_from_env() -> Result<(SocketAddr, Config, usize), String> {
    let address: IpAddr = variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?;
    let port: u16 = variable("BIND_PORT", 1337)?;
    let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
    let max_message_size: u64 = variable("MAX_MESSAGE_SIZE", 65_536)?;
    let _high_water_mark: usize = variable("HIGH_WATER_MARK", 16_384)?; // validated, see above
    let max_connections: usize = variable("MAX_CONNECTIONS", 1024)?;
    let config = Config {
        limits: MessageLimits {
            max_frame_size: max_message_size,
            max_message_size,
            ..MessageLimits::default()
        },
        keepalive_interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
        ..Config::default()
    };
    Ok((SocketAddr::new(address, port), config, max_connections))
}
