//! Settings of a [`crate::Connection`], each with a documented default.

use std::time::Duration;

use crate::message::MessageLimits;
use crate::transport::Linger;

/// Default of [`Config::close_timeout`]: 5 seconds.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a [`crate::Connection`] behaves.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use rfc6455::{Config, MessageLimits};
///
/// // The course's echo server: 64 KiB messages, a ping every 30 s.
/// let config = Config {
///     limits: MessageLimits { max_message_size: 65536, ..MessageLimits::default() },
///     keepalive_interval: Some(Duration::from_secs(30)),
///     ..Config::default()
/// };
/// assert!(config.auto_pong);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Limits on incoming frames and messages (each fails the connection with 1009). Default
    /// [`MessageLimits::default`]: 16 MiB frames, 64 MiB messages.
    pub limits: MessageLimits,
    /// Hand incoming data over in pieces as it arrives ([`crate::Event::Fragment`]) instead of
    /// whole messages ([`crate::Event::Message`]). Default `false`.
    pub streaming: bool,
    /// Answer every Ping with a Pong (§5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
    /// send a Pong frame in response"). Unsent Pongs are coalesced into one for the latest Ping,
    /// as §5.5.3 allows. Default `true`. When `false`, every Ping is reported as
    /// [`crate::Event::Ping`] (whatever [`Config::deliver_control_frames`] says), and answering
    /// it with [`crate::Connection::send_pong`] is the application's duty.
    pub auto_pong: bool,
    /// Report received Pings and Pongs as [`crate::Event::Ping`] / [`crate::Event::Pong`].
    /// Default `false`. (Pings are reported anyway when [`Config::auto_pong`] is off.)
    pub deliver_control_frames: bool,
    /// Split outgoing messages into frames of at most this many payload bytes. Default `None`:
    /// one frame per message.
    pub max_send_frame_size: Option<usize>,
    /// How long to wait for the peer's Close after sending ours; how long a closed connection
    /// gives the peer to take its last bytes (a peer that stops reading is disconnected then);
    /// and, for a client, how long it waits for the server to close TCP after the closing
    /// handshake (§7.1.1). Default [`DEFAULT_CLOSE_TIMEOUT`] (5 s).
    pub close_timeout: Duration,
    /// The lingering close: once its last bytes are written, the connection asks to shut down
    /// writing and reads and discards until the peer's end-of-file, for at most this long and
    /// this many bytes, so the peer reads our Close instead of a reset. Default
    /// [`Linger::default`]: 2 s, 1 MiB.
    pub linger: Linger,
    /// Send a Ping this often while the connection is open (at least 1 ms). Default `None`: no
    /// keepalive.
    pub keepalive_interval: Option<Duration>,
    /// Fail the connection with 1011 (Internal Error, reason "keepalive timeout") when a
    /// keepalive Ping has no matching Pong after this long (at least 1 ms). Default `None`: the
    /// interval, so a peer that did not answer the previous Ping is dropped at the next one.
    pub keepalive_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: MessageLimits::default(),
            streaming: false,
            auto_pong: true,
            deliver_control_frames: false,
            max_send_frame_size: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            linger: Linger::default(),
            keepalive_interval: None,
            keepalive_timeout: None,
        }
    }
}
