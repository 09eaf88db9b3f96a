//! What an endpoint does with its transport (the TCP connection) at the end of a connection's
//! life: the one instruction every adapter follows, so that a Close (or an HTTP rejection) that
//! is sent also arrives.
//!
//! A socket closed while the peer is still sending makes the kernel answer the peer's next
//! segment with a reset, and a reset discards what the peer had not read yet: our Close. So once
//! its last bytes are written, an endpoint *half-closes* (shuts down writing, which sends FIN)
//! and reads and discards what still arrives until the peer closes too, bounded in time and
//! bytes: the lingering close of nginx, Node `ws` and Python `websockets`.
//!
//! ```text
//!   last bytes queued ──▶ Flushing ──(all written)──▶ Lingering ──(EOF, time, bytes)──▶ Done
//!        (Transport::Open)  │ deadline       (Transport::ShutdownWrite)          (Transport::Close)
//!                           ▼                          ▲
//!                          Done          client: AwaitingEof (the server closes first, §7.1.1)
//! ```
//!
//! [`crate::Connection`], [`crate::handshake::ServerHandshake`] and
//! [`crate::handshake::ClientHandshake`] each answer `poll_transport(now)` with a [`Transport`].

use std::time::{Duration, Instant};

/// Default of [`Linger::timeout`]: 2 seconds.
pub const DEFAULT_LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Default of [`Linger::max_bytes`]: 1 MiB.
pub const DEFAULT_MAX_LINGER_BYTES: usize = 1024 * 1024;

/// What to do with the transport now: the answer of `poll_transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Keep it open: write what there is to send, and read (unless a high-water mark of unsent
    /// bytes says to pause).
    Open,
    /// Everything this endpoint will ever send is written: shut the transport down for writing
    /// (TCP: `shutdown(Write)`, which sends FIN) if not done yet, then keep reading and pass
    /// what arrives to `receive` (it is discarded) and end-of-file to `receive_eof`, until the
    /// answer is [`Transport::Close`].
    ShutdownWrite,
    /// Close the transport now (drop the socket).
    Close,
}

/// Bounds on the lingering close: how long, and how many bytes, an endpoint reads and discards
/// after shutting down writing, waiting for the peer's end-of-file.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use rfc6455::transport::Linger;
///
/// let linger = Linger { timeout: Duration::from_millis(500), ..Linger::default() };
/// assert_eq!(linger.max_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linger {
    /// Longest wait for the peer's end-of-file. Default [`DEFAULT_LINGER_TIMEOUT`] (2 s).
    pub timeout: Duration,
    /// Most bytes read and discarded. Default [`DEFAULT_MAX_LINGER_BYTES`] (1 MiB).
    pub max_bytes: usize,
}

impl Default for Linger {
    fn default() -> Linger {
        Linger { timeout: DEFAULT_LINGER_TIMEOUT, max_bytes: DEFAULT_MAX_LINGER_BYTES }
    }
}

/// Where the end of a transport's life is, once the endpoint has queued its last bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Teardown {
    /// The last bytes are being written; a peer that does not take them by `deadline` is
    /// disconnected. Once they are written, `then`.
    Flushing { deadline: Instant, then: AfterFlush },
    /// Client, after a clean closing handshake: everything is written; the server closes TCP
    /// first (§7.1.1), by `deadline`.
    AwaitingEof { deadline: Instant, linger: Linger },
    /// Writing is shut down; reading and discarding until end-of-file, `deadline` or
    /// `max_bytes`.
    Lingering { deadline: Instant, discarded: usize, max_bytes: usize },
    /// Close the transport.
    Done,
}

/// What follows once the last bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFlush {
    /// Shut down writing and linger.
    Linger(Linger),
    /// Wait up to `wait` for the peer to close first (a client, §7.1.1), then linger.
    AwaitEof { wait: Duration, linger: Linger },
    /// Close: the peer already closed its side, so nothing more will arrive.
    Close,
}

impl Teardown {
    /// The last bytes are queued at `now`: they must be written within `flush_timeout`, then
    /// `then`.
    pub(crate) fn new(now: Instant, flush_timeout: Duration, then: AfterFlush) -> Teardown {
        Teardown::Flushing { deadline: now + flush_timeout, then }
    }

    /// The instruction at `now`, moving on once the output is written (`unsent` is 0).
    pub(crate) fn poll(&mut self, now: Instant, unsent: usize) -> Transport {
        self.advance(now, unsent);
        match self {
            Teardown::Flushing { .. } | Teardown::AwaitingEof { .. } => Transport::Open,
            Teardown::Lingering { .. } => Transport::ShutdownWrite,
            Teardown::Done => Transport::Close,
        }
    }

    /// Leaves the flushing phase once nothing is unsent, whichever call notices first.
    fn advance(&mut self, now: Instant, unsent: usize) {
        if let Teardown::Flushing { then, .. } = *self {
            if unsent == 0 {
                *self = match then {
                    AfterFlush::Linger(linger) => Teardown::lingering(now, linger),
                    AfterFlush::AwaitEof { wait, linger } => {
                        Teardown::AwaitingEof { deadline: now + wait, linger }
                    }
                    AfterFlush::Close => Teardown::Done,
                };
            }
        }
    }

    /// Shut down writing at `now` and linger.
    pub(crate) fn lingering(now: Instant, linger: Linger) -> Teardown {
        Teardown::Lingering { deadline: now + linger.timeout, discarded: 0, max_bytes: linger.max_bytes }
    }

    /// The next deadline, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match *self {
            Teardown::Flushing { deadline, .. }
            | Teardown::AwaitingEof { deadline, .. }
            | Teardown::Lingering { deadline, .. } => Some(deadline),
            Teardown::Done => None,
        }
    }

    /// Time passed: a peer that did not take our bytes (`unsent` of them are left), or did not
    /// close, is given up on.
    pub(crate) fn handle_timeout(&mut self, now: Instant, unsent: usize) {
        self.advance(now, unsent);
        match *self {
            Teardown::Flushing { deadline, .. } | Teardown::Lingering { deadline, .. } if now >= deadline => {
                *self = Teardown::Done;
            }
            // The server did not close first: the client closes, lingering like any endpoint.
            Teardown::AwaitingEof { deadline, linger } if now >= deadline => {
                *self = Teardown::lingering(now, linger)
            }
            _ => {}
        }
    }

    /// Whether the transport is to be closed: nothing is written any more.
    pub(crate) fn is_done(&self) -> bool {
        *self == Teardown::Done
    }

    /// `count` bytes arrived: discarded, and counted while lingering.
    pub(crate) fn receive(&mut self, count: usize) {
        if let Teardown::Lingering { discarded, max_bytes, .. } = self {
            *discarded = discarded.saturating_add(count);
            if *discarded > *max_bytes {
                *self = Teardown::Done;
            }
        }
    }

    /// The peer closed its side. What is still unsent keeps its flush deadline (a peer that shut
    /// down writing may still read); then the transport closes, as nothing more will arrive.
    pub(crate) fn receive_eof(&mut self) {
        match self {
            Teardown::Flushing { then, .. } => *then = AfterFlush::Close,
            _ => *self = Teardown::Done,
        }
    }

    /// The transport failed (a reset, a broken pipe): nothing more can be written or read.
    pub(crate) fn receive_reset(&mut self) {
        *self = Teardown::Done;
    }
}

/// The verbs every sans-IO endpoint of this crate shares, so one adapter loop drives them all:
/// [`crate::Connection`], [`crate::handshake::ServerHandshake`] and
/// [`crate::handshake::ClientHandshake`]. Each method is the type's own, documented there; an
/// adapter follows the drive rule of the crate docs with them.
pub trait Endpoint {
    /// What the endpoint reports.
    type Event;

    /// Bytes received at `now`.
    fn receive(&mut self, now: Instant, bytes: &[u8]);
    /// The peer shut down writing (a read returned 0 bytes).
    fn receive_eof(&mut self, now: Instant);
    /// The transport failed (a read or write error, a write of 0 bytes).
    fn receive_reset(&mut self, now: Instant);
    /// Time passed: act on every deadline up to `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// Fills `slices` with the bytes to write, in order; returns how many slices it used.
    fn bytes_to_send_vectored<'a>(&'a mut self, slices: &mut [std::io::IoSlice<'a>]) -> usize;
    /// How many bytes wait to be written.
    fn unsent_len(&self) -> usize;
    /// The first `count` bytes to send were written.
    fn mark_sent(&mut self, count: usize);
    /// What to do with the transport.
    fn poll_transport(&mut self, now: Instant) -> Transport;
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Implements [`Endpoint`] for a type with inherent methods of the same names.
macro_rules! endpoint {
    ($type:ty, $event:ty, |$self_:ident, $slices:ident| $vectored:expr, |$me:ident| $unsent:expr) => {
        impl $crate::transport::Endpoint for $type {
            type Event = $event;
            #[inline]
            fn receive(&mut self, now: std::time::Instant, bytes: &[u8]) {
                <$type>::receive(self, now, bytes)
            }
            #[inline]
            fn receive_eof(&mut self, now: std::time::Instant) {
                <$type>::receive_eof(self, now)
            }
            #[inline]
            fn receive_reset(&mut self, now: std::time::Instant) {
                <$type>::receive_reset(self, now)
            }
            #[inline]
            fn handle_timeout(&mut self, now: std::time::Instant) {
                <$type>::handle_timeout(self, now)
            }
            #[inline]
            fn poll_event(&mut self) -> Option<$event> {
                <$type>::poll_event(self)
            }
            #[inline]
            fn bytes_to_send_vectored<'a>(&'a mut self, $slices: &mut [std::io::IoSlice<'a>]) -> usize {
                let $self_ = self;
                $vectored
            }
            #[inline]
            fn unsent_len(&self) -> usize {
                let $me = self;
                $unsent
            }
            #[inline]
            fn mark_sent(&mut self, count: usize) {
                <$type>::mark_sent(self, count)
            }
            #[inline]
            fn poll_transport(&mut self, now: std::time::Instant) -> $crate::transport::Transport {
                <$type>::poll_transport(self, now)
            }
            #[inline]
            fn poll_timeout(&self) -> Option<std::time::Instant> {
                <$type>::poll_timeout(self)
            }
        }
    };
}

endpoint!(crate::Connection, crate::Event, |this, slices| this.bytes_to_send_vectored(slices), |this| this
    .unsent_len());
endpoint!(
    crate::handshake::ServerHandshake,
    crate::handshake::ServerEvent,
    |this, slices| one_slice(this.bytes_to_send(), slices),
    |this| this.bytes_to_send().len()
);
endpoint!(
    crate::handshake::ClientHandshake,
    crate::handshake::ClientEvent,
    |this, slices| one_slice(this.bytes_to_send(), slices),
    |this| this.bytes_to_send().len()
);

/// `bytes` as the first of `slices`.
fn one_slice<'a>(bytes: &'a [u8], slices: &mut [std::io::IoSlice<'a>]) -> usize {
    match slices.first_mut() {
        Some(slice) if !bytes.is_empty() => {
            *slice = std::io::IoSlice::new(bytes);
            1
        }
        _ => 0,
    }
}
