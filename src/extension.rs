//! RFC 6455 §9: the data side of extensions.
//!
//! Negotiation (the `Sec-WebSocket-Extensions` header, §9.1) lives in
//! [`crate::handshake::extension`]. Once negotiated, an extension may "define additional opcodes
//! or values for the RSV bits" and transform "Extension data" (§5.2, §9). This module is that
//! seam: an [`ExtensionCodec`] claims RSV bits and transforms message payloads on the way in
//! and out. permessage-deflate (RFC 7692) is one such codec: it claims RSV1 and compresses
//! messages.
//!
//! The reassembler ([`crate::Reassembler`]) grants the codec's bits to the frame decoder and
//! passes the payload of every message whose first frame carries them through
//! [`ExtensionCodec::decode`], piece by piece as it arrives, before UTF-8 validation.

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
/// use rfc6455::{ExtensionCodec, MessageKind, ProtocolError, RSV3_BIT};
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
///     fn decode(&mut self, input: &[u8], _fin: bool, output: &mut BytesMut) -> Result<(), ProtocolError> {
///         output.extend(input.iter().map(|byte| !byte));
///         Ok(())
///     }
///     fn encode(&mut self, _kind: MessageKind, input: &[u8], _fin: bool, output: &mut BytesMut) -> u8 {
///         output.extend(input.iter().map(|byte| !byte));
///         RSV3_BIT
///     }
/// }
/// ```
pub trait ExtensionCodec: Send {
    /// The RSV bits this extension uses, as a mask of [`crate::RSV1_BIT`], [`crate::RSV2_BIT`],
    /// [`crate::RSV3_BIT`]. Frames may carry them only once the extension is negotiated.
    fn rsv_bits(&self) -> u8;

    /// The extension as negotiated: its name and the parameters a server's response lists for
    /// it (§9.1). A server's 101 is written from this, so the header and the codec cannot
    /// disagree; a client's codec is checked against the server's answer by name.
    fn negotiated(&self) -> Extension;

    /// Transforms a piece of an incoming message whose first frame carried this extension's RSV
    /// bits, appending the result to `output`. `fin` marks the message's last piece.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the data cannot be transformed: the connection is failed with its
    /// close code.
    fn decode(&mut self, input: &[u8], fin: bool, output: &mut BytesMut) -> Result<(), ProtocolError>;

    /// Transforms a piece of an outgoing message of `kind`, appending the result to `output`,
    /// and returns the RSV bits to set on the message's first frame. Returning 0 means "send this
    /// message as it is": `output` must then be left untouched, and the answer for the first
    /// piece holds for the whole message.
    fn encode(&mut self, kind: MessageKind, input: &[u8], fin: bool, output: &mut BytesMut) -> u8;
}
