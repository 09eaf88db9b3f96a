//! What the echo servers (`echo_server`, `hyper_server`) share: the Node
//! `websocket-echo-server`'s environment variables, names and defaults, read once at start, and
//! the accept loop they run with them.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::tokio::Options;
use rfc6455::{Config, MessageLimits};
use tokio::net::TcpStream;

use super::adapter;
use super::env::variable;

/// An echo server's `main`: reads the [`Settings`] (a wrong one exits with 2), listens, and
/// runs `serve(stream, peer, settings, shutdown)` in a task per connection until Ctrl-C.
pub async fn serve_from_env<Serve, Task>(name: &str, mut serve: Serve) -> ExitCode
where
    Serve: FnMut(TcpStream, SocketAddr, Settings, adapter::Shutdown) -> Task,
    Task: Future<Output = ()> + Send + 'static,
{
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{name}: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(listener) =
        adapter::listen(name, settings.address, settings.port, |local| format!("ws://{local}")).await
    else {
        return ExitCode::FAILURE;
    };
    adapter::serve_until_ctrl_c(name, listener, settings.max_connections, |stream, peer, shutdown| {
        serve(stream, peer, settings.clone(), shutdown)
    })
    .await;
    ExitCode::SUCCESS
}

/// The server's settings, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDRESS`, default `::`.
    pub address: IpAddr,
    /// `BIND_PORT`, default 1337.
    pub port: u16,
    /// `HEARTBEAT_INTERVAL` in ms, default 30000; 0: no pings.
    pub heartbeat: Option<Duration>,
    /// `HIGH_WATER_MARK`, default 16384 bytes.
    pub high_water_mark: usize,
    /// `MAX_MESSAGE_SIZE`, default 65536 bytes.
    pub max_message_size: u64,
    /// `MAX_CONNECTIONS`, default 1024.
    pub max_connections: usize,
    /// `PERMESSAGE_DEFLATE`: `1` to accept permessage-deflate (RFC 7692) with the recommended
    /// settings ([`DeflateConfig::default`]), `no-context-takeover` for the low-memory setting
    /// ([`DeflateConfig::NO_CONTEXT_TAKEOVER`]); default `0`, off.
    pub permessage_deflate: Option<DeflateConfig>,
}

impl Settings {
    /// Reads the environment; the message says which variable is wrong.
    pub fn from_env() -> Result<Settings, String> {
        let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
        Ok(Settings {
            address: variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?,
            port: variable("BIND_PORT", 1337)?,
            heartbeat: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
            high_water_mark: variable("HIGH_WATER_MARK", 16_384)?,
            max_message_size: variable("MAX_MESSAGE_SIZE", 65_536)?,
            max_connections: variable("MAX_CONNECTIONS", 1024)?,
            permessage_deflate: match variable("PERMESSAGE_DEFLATE", "0".to_owned())?.as_str() {
                "0" => None,
                "1" => Some(DeflateConfig::default()),
                "no-context-takeover" => Some(DeflateConfig::NO_CONTEXT_TAKEOVER),
                other => {
                    return Err(format!(
                        "invalid PERMESSAGE_DEFLATE: {other:?} (0, 1 or no-context-takeover)"
                    ))
                }
            },
        })
    }

    /// Each connection's settings: the message size limit (frames too) and the heartbeat.
    pub fn config(&self) -> Config {
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

    /// [`Settings::config`] with the high-water mark, for `rfc6455::tokio`.
    pub fn options(&self) -> Options {
        Options {
            config: self.config(),
            high_water_mark: self.high_water_mark,
            deflate: self.permessage_deflate,
            ..Options::default()
        }
    }
}
