//! RFC 6455 §9: the data side of extensions.
//!
//! Negotiation (the `Sec-WebSocket-Extensions` header, §9.1) lives in
//! [`crate::handshake::extension`]. Once negotiated, an extension may "define additional opcodes
//! or values for the RSV bits" and transform "Extension data" (§5.2, §9). This module is that
//! seam: an [`ExtensionCodec`] claims RSV bits and transforms message payloads on the way in
//! and out. permessage-deflate (RFC 7692) is one such codec: it claims RSV1 and compresses
//! messages.
//!
//! The [`crate::Connection`] holds the negotiated codec, installed by the handshake objects
//! (or [`crate::Connection::with_extension`]), and uses it both ways: its reassembler grants the
//! codec's bits to the frame decoder and passes the payload of every message whose first frame
//! carries them through [`ExtensionCodec::decode`], piece by piece as it arrives, before UTF-8
//! validation; its send path passes outgoing messages through [`ExtensionCodec::encode`]. A
//! codec keeps one state per direction (RFC 7692 §7.1: each endpoint's compressor and its peer's
//! decompressor share a context that the other direction never touches). A
//! [`crate::Reassembler`] used on its own takes a codec with
//! [`crate::Reassembler::set_extension`].

use bytes::BytesMut;

use crate::error::ProtocolError;
use crate::handshake::extension::Extension;
use crate::message::MessageKind;

/// A negotiated extension's payload transform.
///
/// # Examples
///
/// A toy extension that claims RSV3 and inverts every bit of the messages it marks:
///
/// ```
/// use bytes::BytesMut;
/// use rfc6455::handshake::extension::Extension;
/// use rfc6455::{DecodeOutput, ExtensionCodec, MessageKind, ProtocolError};
/// use rfc6455::frame::{RSV3_BIT};
///
/// struct Invert;
///
/// impl ExtensionCodec for Invert {
///     fn rsv_bits(&self) -> u8 {
///         RSV3_BIT
///     }
///     fn negotiated(&self) -> Extension {
///         Extension::new("x-invert")
///     }
///     fn decode(&mut self, input: &[u8], _fin: bool, output: &mut DecodeOutput<'_>) -> Result<(), ProtocolError> {
///         for byte in input {
///             output.extend_from_slice(&[!byte])?;
///         }
///         Ok(())
///     }
///     fn encode(&mut self, _kind: MessageKind, input: &[u8], _fin: bool, output: &mut BytesMut) -> u8 {
///         output.extend(input.iter().map(|byte| !byte));
///         RSV3_BIT
///     }
/// }
/// ```
pub trait ExtensionCodec: Send {
    /// The RSV bits this extension uses, as a mask of [`crate::frame::RSV1_BIT`], [`crate::frame::RSV2_BIT`],
    /// [`crate::frame::RSV3_BIT`]. Frames may carry them only once the extension is negotiated.
    fn rsv_bits(&self) -> u8;

    /// The extension as negotiated: its name and the parameters a server's response lists for
    /// it (§9.1). A server's 101 is written from this, so the header and the codec cannot
    /// disagree; a client's codec is checked against the server's answer by name.
    fn negotiated(&self) -> Extension;

    /// Transforms a piece of an incoming message whose first frame carried this extension's RSV
    /// bits, appending the result to `output`. `fin` marks the message's last piece.
    ///
    /// `output` takes at most [`DecodeOutput::remaining`] bytes (the rest of the message's
    /// allowed size): a codec that would produce more gets
    /// [`ProtocolError::MessageTooLarge`] from [`DecodeOutput::extend_from_slice`] and returns
    /// it. Keep what the codec holds per direction apart from what [`ExtensionCodec::encode`]
    /// uses (RFC 7692 keeps one compression context per direction).
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the data cannot be transformed, or the one `output` gave: the
    /// connection is failed with its close code.
    fn decode(&mut self, input: &[u8], fin: bool, output: &mut DecodeOutput<'_>)
        -> Result<(), ProtocolError>;

    /// Transforms a piece of an outgoing message of `kind`, appending the result to `output`,
    /// and returns the RSV bits to set on the message's first frame. Returning 0 means "send this
    /// message as it is": `output` must then be left untouched, and the answer for the first
    /// piece holds for the whole message.
    fn encode(&mut self, kind: MessageKind, input: &[u8], fin: bool, output: &mut BytesMut) -> u8;
}

/// Where [`ExtensionCodec::decode`] writes: a buffer that takes no more than the message may
/// still grow to, so a decoder that expands its input (an inflater) is stopped at the limit.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use rfc6455::{DecodeOutput, ProtocolError};
///
/// let mut buffer = BytesMut::new();
/// // A message limited to 10 bytes, 4 of which came out of earlier pieces.
/// let mut output = DecodeOutput::new(&mut buffer, 4, 10);
/// assert_eq!(output.remaining(), 6);
/// output.extend_from_slice(b"12345")?;
/// assert_eq!(
///     output.extend_from_slice(b"67"),
///     Err(ProtocolError::MessageTooLarge { size: 11, max: 10 })
/// );
/// assert_eq!(&buffer[..], b"12345"); // nothing over the limit was written
/// # Ok::<(), ProtocolError>(())
/// ```
#[derive(Debug)]
pub struct DecodeOutput<'a> {
    buffer: &'a mut BytesMut,
    /// The message's bytes produced before this piece.
    before: u64,
    /// `max_message_size`.
    max: u64,
    /// `buffer`'s length when this piece started.
    start: usize,
}

/// Passes a piece of a message through `codec`, bounded by construction: what it produces may
/// take the message (which produced `before` bytes already) up to `max` bytes, no further. The
/// one way both reassemblers call [`ExtensionCodec::decode`].
pub(crate) fn decode_bounded(
    codec: &mut dyn ExtensionCodec,
    piece: &[u8],
    fin: bool,
    before: u64,
    max: u64,
) -> Result<bytes::Bytes, ProtocolError> {
    let mut buffer = BytesMut::new();
    codec.decode(piece, fin, &mut DecodeOutput::new(&mut buffer, before, max))?;
    Ok(buffer.freeze())
}

impl<'a> DecodeOutput<'a> {
    /// An output appending to `buffer`, for a message that produced `before` bytes already and
    /// may not exceed `max` bytes.
    pub fn new(buffer: &'a mut BytesMut, before: u64, max: u64) -> DecodeOutput<'a> {
        let start = buffer.len();
        DecodeOutput { buffer, before, max, start }
    }

    /// Bytes written through this output so far.
    pub fn len(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// Whether nothing was written through this output yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many more bytes the message may take.
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.before.saturating_add(self.len() as u64))
    }

    /// Appends `bytes`, or none of them if the message would then exceed its limit.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MessageTooLarge`] (1009), with the size the message would have had.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if bytes.len() as u64 > self.remaining() {
            return Err(ProtocolError::MessageTooLarge {
                size: self.before.saturating_add((self.len() + bytes.len()) as u64),
                max: self.max,
            });
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }
}
