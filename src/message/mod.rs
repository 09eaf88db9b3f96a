//! RFC 6455 §5.4 (fragmentation), §5.6 (data frames) and §8.1 (UTF-8 handling): layer 1,
//! from bytes to messages.
//!
//! Read [`ReferenceReassembler`] (`reference.rs`) beside the RFC: wire order, no fast path,
//! every MUST quoted. [`Reassembler`] (`engine.rs`) is its accelerator with the same public
//! behaviour, proven equal by the property test `tests/reassembler.rs` and the differential fuzz
//! target `reassembler`. The UTF-8 validator is in `utf8.rs`, the limits in `limits.rs`.
//!
//! Both take the bytes that follow the opening handshake and give
//! [`Incoming`] items: whole messages (or, in streaming mode, [`MessageFragment`]s as the data
//! arrives) and control frames, which they do not interpret (that is the connection's job,
//! layer 2).
//!
//! - §5.4: "control frames MAY be injected in the middle of a fragmented message"; a
//!   continuation without a started message and a new data frame inside a fragmented message are
//!   protocol errors.
//! - §8.1: Text is validated as UTF-8 as its bytes arrive: an invalid byte fails at once, even in
//!   the middle of a frame whose end has not arrived; a code point split across fragments is
//!   valid. The reference and streamed messages use [`Utf8Validator`]; the engine builds a whole
//!   Text message with `crate::audited`'s `TextBuilder`, which checks each piece where it lies,
//!   so a [`Utf8Bytes`] is only ever made of bytes checked in that file.
//! - Limits ([`MessageLimits`]) fail with 1009 before the memory is spent; an extension decodes
//!   into a [`crate::DecodeOutput`] that stops at the message limit.
//! - The engine splits a single-frame message off the read buffer without copying its payload
//!   (whole runs of them at once); the fragments of a fragmented one are copied once, into the
//!   message.

mod engine;
mod limits;
mod reference;
mod utf8;

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use crate::audited::ValidUtf8;
use crate::frame::{Frame, Opcode};

pub use engine::Reassembler;
pub(crate) use engine::WholeRun;
pub use limits::{MessageLimits, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE};
pub use reference::ReferenceReassembler;
pub use utf8::Utf8Validator;

/// The kind of a data message: its first frame's opcode (§5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Text: UTF-8 (opcode 0x1).
    Text,
    /// Binary: arbitrary bytes (opcode 0x2).
    Binary,
}

impl MessageKind {
    /// The opcode of the message's first frame.
    pub fn opcode(self) -> Opcode {
        match self {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        }
    }
}

/// Bytes known to be valid UTF-8: the payload of a Text message, shared without copying.
///
/// # Examples
///
/// ```
/// let text = rfc6455::Utf8Bytes::from("κόσμε");
/// assert_eq!(text.as_str(), "κόσμε");
/// assert_eq!(text.len(), "κόσμε".len()); // bytes, through `Deref<Target = str>`
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(ValidUtf8);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// The UTF-8 bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl Utf8Bytes {
    /// Text the crate checked (see `crate::audited`).
    pub(crate) fn from_valid(text: ValidUtf8) -> Utf8Bytes {
        Utf8Bytes(text)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Utf8Bytes {
        Utf8Bytes(ValidUtf8::from_string(text))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Utf8Bytes {
        Utf8Bytes(ValidUtf8::from_static(text))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    fn try_from(bytes: Bytes) -> Result<Utf8Bytes, Self::Error> {
        ValidUtf8::new(bytes).map(Utf8Bytes)
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole data message (§5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A Text message: valid UTF-8.
    Text(Utf8Bytes),
    /// A Binary message.
    Binary(Bytes),
}

impl Message {
    /// Text or Binary.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload().is_empty()
    }
}

impl Message {
    /// A Text message.
    ///
    /// ```
    /// use rfc6455::Message;
    ///
    /// assert_eq!(Message::text("hi"), Message::from("hi"));
    /// assert_eq!(Message::binary(vec![1, 2]).len(), 2);
    /// ```
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(Utf8Bytes::from(text.into()))
    }

    /// A Binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }
}

/// A Text message.
impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(Utf8Bytes::from(text))
    }
}

/// A Text message.
impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(Utf8Bytes::from(text.to_owned()))
    }
}

/// A Binary message.
impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(Bytes::from(data))
    }
}

/// A Binary message.
impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

/// A fragment of a message's data, as it arrives (streaming mode).
///
/// The crate says "fragment" for every piece of a message, as RFC 6455 §5.4 does: on the wire a
/// fragment is a frame of a fragmented message; streamed, it is as much of one as has arrived
/// ([`MessageFragment::frame_offset`] and [`MessageFragment::ends_frame`] place it in its frame).
///
/// The fields follow the ESP-IDF client's `data_len`, `payload_len` and `payload_offset`. For a
/// Text message, a piece may end inside a code point; the concatenation of the pieces is valid
/// UTF-8, checked as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFragment {
    /// The message's kind (from its first frame).
    pub kind: MessageKind,
    /// The data: unmasked (and transformed by an extension, if the message uses one).
    pub data: Bytes,
    /// Offset of `data` in its frame's payload (`payload_offset`). Wire bytes: for a message
    /// transformed by an extension, this counts the frame's bytes before the transform.
    pub frame_offset: u64,
    /// The frame's payload length, from its header (`payload_len`).
    pub frame_len: u64,
    /// Offset of `data` in the whole message.
    pub message_offset: u64,
    /// Whether this piece ends its frame.
    pub ends_frame: bool,
    /// Whether this piece ends the message.
    pub ends_message: bool,
}

/// What the reassembler hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole message (whole-message mode).
    Message(Message),
    /// A fragment of a message as it arrives (streaming mode).
    Fragment(MessageFragment),
    /// A control frame (Close, Ping or Pong), whole and unmasked, for the connection to act on.
    Control(Frame),
}
