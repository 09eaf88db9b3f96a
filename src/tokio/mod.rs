//! WebSockets over tokio (cargo feature `tokio`): the sans-IO core driven over any
//! `AsyncRead + AsyncWrite`, a TCP stream, a TLS stream, hyper's upgraded connection or an
//! in-memory pipe.
//!
//! Nothing here knows WebSocket rules: the core does the handshake, the frames, the deadlines
//! and every close code. This module runs the crate's drive rule (drain events, write, act on
//! the transport instruction, re-arm the timer) as poll functions over a struct, so every future
//! it returns is cancel-safe.
//!
//! | to | use |
//! |---|---|
//! | accept a WebSocket with the defaults | [`accept`] |
//! | choose the subprotocol, check the Origin, refuse | [`accept_with`] |
//! | serve pages on the same port too | [`Handshake::read`], then [`Handshake::accept`] or [`Handshake::respond`] |
//! | connect to a `ws://` URL | [`connect`], [`connect_with`] |
//! | connect over TLS (`wss://`) or any transport | [`client`] |
//! | drive a connection upgraded elsewhere (hyper, axum) | [`WebSocket::from_connection`] |
//! | read and write from two tasks | [`WebSocket::split`] |
//! | send from any number of other tasks | [`WebSocket::sender`] |
//!
//! An echo server:
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         stream.set_nodelay(true)?; // small frames go out at once
//!         tokio::spawn(async move {
//!             let mut ws = rfc6455::tokio::accept(stream).await?;
//!             while let Some(message) = ws.recv().await {
//!                 ws.send(message?).await?;
//!             }
//!             Ok::<(), rfc6455::tokio::Error>(())
//!         });
//!     }
//! }
//! ```
//!
//! Every deadline is the core's and runs on tokio's clock (so `tokio::time::pause` drives them
//! in tests); the runtime needs its time driver (`#[tokio::main]` has it).

mod driver;
mod error;
mod handshake;
mod sender;
mod wakers;
mod websocket;

use std::time::Duration;

pub use error::Error;
pub use handshake::{accept, accept_with, client, connect, connect_with, Handshake};
pub use sender::{Sender, TrySendError};
pub use websocket::{ReadHalf, WebSocket, WriteHalf};

use crate::handshake::HandshakeConfig;
use crate::Config;

/// Everything this module adds to the core's settings, with the core's own: the connection's
/// [`Config`] and the handshake's [`HandshakeConfig`].
///
/// ```
/// use std::time::Duration;
/// use rfc6455::tokio::Options;
///
/// let options = Options {
///     config: rfc6455::Config { keepalive_interval: Some(Duration::from_secs(20)), ..Default::default() },
///     high_water_mark: 16 * 1024,
///     ..Options::default()
/// };
/// assert_eq!(options.max_queue, 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The connection's settings: limits, keepalive, close timeout, lingering close. Default
    /// [`Config::default`].
    pub config: Config,
    /// The opening handshake's limits and deadline. Default [`HandshakeConfig::default`]: the
    /// head within 10 s.
    pub handshake: HandshakeConfig,
    /// How long [`connect`] waits for the TCP connection (name resolution included). Default
    /// 10 s.
    pub connect_timeout: Duration,
    /// Sending waits ([`WebSocket::send`], [`Sender::send`]) or is refused
    /// ([`Sender::try_send`]) while more than this many bytes wait to be written: a peer that
    /// does not read holds an application that answers before reading on, which then stops
    /// reading from it. Default 64 KiB.
    pub high_water_mark: usize,
    /// While [`WebSocket::close`] waits for the end, reading goes on so the peer's Close is
    /// read whatever else it sent first: this many events are kept for
    /// [`WebSocket::recv`], the rest dropped. Default 16.
    pub max_queue: usize,
    /// permessage-deflate (RFC 7692, feature `deflate`): a server accepts a client's offer with
    /// these settings (unless its answer installs an extension itself), a client offers it.
    /// Default `None`: off.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

/// Default [`Options::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Options::high_water_mark`].
pub const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;

/// Default [`Options::max_queue`].
pub const DEFAULT_MAX_QUEUE: usize = 16;

impl Default for Options {
    fn default() -> Options {
        Options {
            config: Config::default(),
            handshake: HandshakeConfig::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            high_water_mark: DEFAULT_HIGH_WATER_MARK,
            max_queue: DEFAULT_MAX_QUEUE,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}
