//! A sans-IO implementation of the WebSocket protocol, [RFC 6455].
//!
//! Bytes, time and randomness go in; bytes to send and decoded values come out. Nothing here
//! touches a socket, reads a clock or spawns a thread, so the same code runs under a blocking
//! loop, tokio, an embedded executor or a fuzzer.
//!
//! # Layers
//!
//! | layer | what                         | where                                              |
//! |-------|------------------------------|----------------------------------------------------|
//! | 0     | wire format, no state        | [`frame`], [`mask`], [`close`], [`handshake`]      |
//! | 1     | message assembly             | [`message`] ([`ReferenceReassembler`] to read beside the RFC, [`Reassembler`] its fast engine, [`Utf8Validator`]), [`extension`] |
//! | 2     | connection state machine     | [`connection`] ([`Connection`]), [`event`], [`config`] |
//!
//! Each layer is usable alone and built only from the ones below it: a student can stop at
//! layer 0 or 1. A framework can build its own state machine on layer 1's public API, but the
//! batched path the [`Connection`] takes through the [`Reassembler`] (a run of whole messages
//! handed out without copying) is internal: for the fastest path, drive a [`Connection`].
//!
//! Every decoder takes a byte slice and answers [`Decoded::Complete`] with the number of bytes it
//! consumed, or [`Decoded::Incomplete`] with how many more bytes it knows it needs. Bytes beyond
//! `consumed` are never touched, so nothing that follows an HTTP head or a frame is lost.
//!
//! # The drive rule
//!
//! An adapter (blocking, tokio, embedded) owns the socket and a timer; the core owns the
//! protocol, from the first byte to the last: a [`handshake::ServerHandshake`] or
//! [`handshake::ClientHandshake`] first, then the [`Connection`] it produces. All three answer to
//! the same rule. After any input (`receive`, `receive_eof`, `receive_reset`, `handle_timeout`)
//! or command (`send_*`, `close`, `accept`, `respond`), the adapter:
//!
//! 1. **drains events** (`poll_event`): handling one may send, or queue our answer to the
//!    peer's Close;
//! 2. **writes** `bytes_to_send` and reports how much went out with `mark_sent` (a partial write
//!    needs no copy);
//! 3. **acts on the transport instruction**, `poll_transport(now)`: [`Transport::Open`] (go
//!    on), [`Transport::ShutdownWrite`] (shut down writing once, keep reading and feeding what
//!    arrives, which is discarded) or [`Transport::Close`] (drop the socket, done);
//! 4. **re-arms its timer** from `poll_timeout`, then waits for input, writability (while bytes
//!    are unsent) or the deadline.
//!
//! No step creates work for an earlier one: writing creates no event, the transport instruction
//! creates neither events nor bytes, and the deadline is read last. Every phase has a deadline
//! owned by the core (the head, the closing handshake, flushing to a peer that stopped reading,
//! the lingering close), so an adapter that follows the rule never waits without bound.
//!
//! ```
//! use std::time::Instant;
//! use rfc6455::{Config, Connection, Event, Role, Transport};
//!
//! /// An echo server's reaction to one read from the socket, `input`; `false` once the socket
//! /// is to be dropped.
//! fn on_read(connection: &mut Connection, input: &[u8], socket_out: &mut Vec<u8>) -> bool {
//!     let now = Instant::now(); // the adapter's clock, passed in
//!     connection.receive(now, input);
//!     // 1. Events.
//!     while let Some(event) = connection.poll_event() {
//!         if let Event::Message(message) = event {
//!             let _ = connection.send_message(&message); // Err only once closing
//!         }
//!     }
//!     // 2. Write.
//!     let bytes = connection.bytes_to_send();
//!     socket_out.extend_from_slice(bytes); // a real socket may take fewer
//!     let written = bytes.len();
//!     connection.mark_sent(written);
//!     // 3. The transport; 4. then the timer from connection.poll_timeout().
//!     connection.poll_transport(now) != Transport::Close
//! }
//! # let mut server = Connection::new(Role::Server, Config::default(), Instant::now());
//! # let mut out = Vec::new();
//! # // §5.7: a masked "Hello" from a client.
//! # assert!(on_read(&mut server, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], &mut out));
//! # assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
//! ```
//!
//! `examples/adapter/blocking.rs` is the rule over `std::net::TcpStream` in about 150 lines.
//!
//! # Example: the RFC's §5.7 frames, both ways
//!
//! ```
//! use rfc6455::{Decoded, DecodeRules, Frame, Opcode};
//!
//! // "A single-frame masked text message", as a server receives it from a client.
//! let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let Decoded::Complete { value: frame, consumed } = Frame::decode(&wire, &DecodeRules::server())?
//! else { unreachable!("all 11 bytes are there") };
//! assert_eq!(consumed, 11);
//! assert_eq!(frame.header.opcode, Opcode::Text);
//! assert_eq!(&frame.payload[..], b"Hello");
//!
//! // Encoding with the same masking key gives the same bytes.
//! let mut out = Vec::new();
//! frame.encode(&mut out);
//! assert_eq!(out, wire);
//!
//! // Fed one byte at a time, the decoder asks for more until the frame is whole.
//! assert_eq!(Frame::decode(&wire[..1], &DecodeRules::server())?, Decoded::Incomplete { needed: 1 });
//! assert_eq!(Frame::decode(&wire[..2], &DecodeRules::server())?, Decoded::Incomplete { needed: 4 });
//! # Ok::<(), rfc6455::ProtocolError>(())
//! ```
//!
//! # Where is §X of RFC 6455?
//!
//! | section                        | module                                         |
//! |--------------------------------|------------------------------------------------|
//! | §4 opening handshake           | [`handshake`], [`handshake::client`] (§4.1), [`handshake::server`] (§4.2) |
//! | §5.2 base framing              | [`frame`]                                      |
//! | §5.3 masking, §10.3            | [`mask`]                                       |
//! | §5.5.1 close body, §7.4 codes  | [`close`]                                      |
//! | §9.1 extension negotiation     | [`handshake::extension`]                       |
//! | §5.4 fragmentation, §8.1 UTF-8 | [`message`]                                    |
//! | §9 extensions (RSV bits, data) | [`extension`]                                  |
//! | §5.5 control frames, §7 closing| [`connection`], [`event`]                      |
//! | errors and their close codes   | [`error`]                                      |
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455

#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod audited;
pub mod close;
pub mod config;
pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod event;
pub mod extension;
pub mod frame;
pub mod handshake;
#[cfg(feature = "http")]
pub mod http;
pub mod mask;
pub mod message;
mod output;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod transport;

// Layer 0: the wire format (bit-field constants stay in `frame`).
pub use close::{CloseCode, CloseCodeRange, CloseFrame};
pub use frame::{DecodeRules, Frame, FrameHeader, Opcode};
pub use handshake::{
    accept_key, generate_key, ClientEvent, ClientHandshake, HttpResponse, OriginPolicy, ServerEvent,
    ServerHandshake, WsUrl,
};
pub use mask::{apply_mask, apply_mask_rfc, extend_masked, OsSeededRng, RandomSource};

// Layer 1: message assembly.
pub use extension::{DecodeOutput, ExtensionCodec};
pub use message::{
    Incoming, Message, MessageFragment, MessageKind, MessageLimits, Reassembler, ReferenceReassembler,
    Utf8Bytes, Utf8Validator,
};

// Layer 2: a connection's whole life.
pub use config::Config;
pub use connection::Connection;
pub use error::{ConnectionError, HandshakeError, ProtocolError, SendError};
pub use event::{CloseInitiator, CloseOutcome, Event};
pub use transport::{Endpoint, Linger, Transport};

/// Which end of the connection an endpoint is (§1.2, §5.1): clients mask what they send,
/// servers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that opened the connection and sent the handshake request.
    Client,
    /// The endpoint that accepted the connection and answered the handshake.
    Server,
}

impl Role {
    /// The role of the other endpoint.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// The outcome of decoding from a byte slice that may not hold a whole item yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole item was decoded from the first `consumed` bytes; bytes after them were not read.
    Complete {
        /// The decoded item.
        value: T,
        /// How many bytes it took from the start of the input.
        consumed: usize,
    },
    /// The input ends before the item does.
    Incomplete {
        /// How many more bytes are known to be needed, at least (never 0). Feed at least these
        /// before decoding again: more may turn out to be needed once they are read.
        needed: usize,
    },
}

impl<T> Decoded<T> {
    /// The value and bytes consumed if complete, else `None`.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete { value, consumed } => Some((value, consumed)),
            Decoded::Incomplete { .. } => None,
        }
    }
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
