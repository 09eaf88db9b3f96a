//! The reference reassembler: layer 1 written to be read beside RFC 6455 §5.4 (fragmentation),
//! §5.6 (data frames) and §8.1 (UTF-8), in wire order, with no fast path.
//!
//! [`ReferenceReassembler`] decodes one frame header, checks it against the fragmentation rules
//! and the limits, then reads that frame's payload as it arrives, unmasking it (§5.3), passing
//! it through a negotiated extension, validating Text as UTF-8 and handing it over; then the next
//! header. That is all of layer 1. [`super::Reassembler`] does the same faster (whole messages
//! split off the read buffer without copying, unmasking while copying): the property test
//! `tests/reassembler.rs` and the fuzz target `reassembler` check that both give the same items
//! and the same errors for any input, cut anywhere.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::limits::check_size;
use super::{Incoming, Message, MessageFragment, MessageKind, MessageLimits, Utf8Bytes, Utf8Validator};
use crate::error::ProtocolError;
use crate::extension::{decode_bounded, ExtensionCodec};
use crate::frame::{DecodeRules, Frame, FrameHeader, Opcode};
use crate::mask::apply_mask_rfc;
use crate::{Decoded, Role};

/// Layer 1 as the RFC states it: from the bytes after the handshake to messages (or, streaming,
/// [`MessageFragment`]s) and control frames. Same public behaviour as [`super::Reassembler`].
///
/// # Examples
///
/// ```
/// use rfc6455::{Incoming, Message, ReferenceReassembler, Role};
///
/// // §5.7: a fragmented unmasked text message, "Hel" then "lo", as a client receives it, with
/// // a Ping between the fragments.
/// let mut reassembler = ReferenceReassembler::new(Role::Client);
/// reassembler.receive(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
/// reassembler.receive(&[0x89, 0x00]);
/// reassembler.receive(&[0x80, 0x02, 0x6c, 0x6f]);
/// assert!(matches!(reassembler.poll()?, Some(Incoming::Control(_))));
/// assert_eq!(reassembler.poll()?, Some(Incoming::Message(Message::Text("Hello".into()))));
/// assert_eq!(reassembler.poll()?, None);
/// # Ok::<(), rfc6455::ProtocolError>(())
/// ```
pub struct ReferenceReassembler {
    /// §5.1 and §5.2 for this role, layer 0's job: masking ("a server MUST close the connection
    /// upon receiving a frame that is not masked", "a client MUST close a connection if it
    /// detects a masked frame"), reserved bits and opcodes, control frame rules, the frame size
    /// limit. Checked by [`FrameHeader::decode`].
    rules: DecodeRules,
    limits: MessageLimits,
    /// The mode the next message starts in.
    streaming: bool,
    codec: Option<Box<dyn ExtensionCodec>>,
    /// Bytes received and not yet read.
    input: BytesMut,
    /// Where the next byte of `input` belongs.
    reading: Reading,
    /// The data message whose frames are being read.
    message: Option<MessageState>,
    /// After a violation nothing more is read.
    failed: bool,
}

/// Where the next byte of the input belongs.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// The next byte starts a frame header.
    Header,
    /// It is payload byte `received` of the frame `header` announced.
    Payload { header: FrameHeader, received: u64 },
}

/// The data message being read.
#[derive(Debug)]
struct MessageState {
    kind: MessageKind,
    /// Frames so far, and the sum of their announced payload lengths.
    fragments: usize,
    announced: u64,
    /// Whether its first frame carried the extension's RSV bits.
    transformed: bool,
    /// Whether it is handed over in pieces (the mode when it started).
    streaming: bool,
    /// Bytes of data produced so far (after the extension, if any).
    produced: u64,
    utf8: Utf8Validator,
    /// The data so far (whole-message mode).
    data: BytesMut,
}

impl fmt::Debug for ReferenceReassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferenceReassembler")
            .field("rules", &self.rules)
            .field("limits", &self.limits)
            .field("streaming", &self.streaming)
            .field("buffered", &self.input.len())
            .field("reading", &self.reading)
            .field("message", &self.message)
            .field("codec", &self.codec.is_some())
            .field("failed", &self.failed)
            .finish()
    }
}

impl ReferenceReassembler {
    /// A reassembler for an endpoint of `role` (whose peer has the other role), default limits,
    /// whole messages, no extension.
    pub fn new(role: Role) -> ReferenceReassembler {
        ReferenceReassembler::with_limits(role, MessageLimits::default())
    }

    /// A reassembler with the given limits.
    pub fn with_limits(role: Role, limits: MessageLimits) -> ReferenceReassembler {
        ReferenceReassembler {
            rules: DecodeRules::new(role).with_max_frame_size(limits.max_frame_size),
            limits,
            streaming: false,
            codec: None,
            input: BytesMut::new(),
            reading: Reading::Header,
            message: None,
            failed: false,
        }
    }

    /// As [`super::Reassembler::set_streaming`]: takes effect at the next message.
    pub fn set_streaming(&mut self, streaming: bool) {
        self.streaming = streaming;
    }

    /// As [`super::Reassembler::set_extension`].
    pub fn set_extension(&mut self, codec: Box<dyn ExtensionCodec>) {
        self.rules = self.rules.with_rsv_allowed(codec.rsv_bits());
        self.codec = Some(codec);
    }

    /// Appends bytes received from the peer. Nothing is read until [`ReferenceReassembler::poll`].
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not yet handed over.
    pub fn buffered_len(&self) -> usize {
        self.input.len()
    }

    /// Whether a data message has started and not ended.
    pub fn is_in_message(&self) -> bool {
        self.message.is_some()
    }

    /// The next item from the bytes received, or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// The first [`ProtocolError`] in the input; every later call returns `Ok(None)`.
    pub fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.read();
        if result.is_err() {
            // §7.1.7: once the connection is to be failed, "the endpoint MUST NOT continue to
            // attempt to process data (including a responding Close frame) from the remote
            // endpoint".
            self.failed = true;
            self.input = BytesMut::new();
            self.message = None;
        }
        result
    }

    /// Reads until an item is complete or the input runs out.
    fn read(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let (header, received) = match self.reading {
                Reading::Header => {
                    let (header, consumed) = match FrameHeader::decode(&self.input, &self.rules)? {
                        Decoded::Complete { value, consumed } => (value, consumed),
                        Decoded::Incomplete { .. } => return Ok(None),
                    };
                    self.begin_frame(&header)?;
                    let _ = self.input.split_to(consumed);
                    self.reading = Reading::Payload { header, received: 0 };
                    (header, 0)
                }
                Reading::Payload { header, received } => (header, received),
            };
            if header.opcode.is_control() {
                // A control frame is handed over whole (§5.5: its payload is at most 125 bytes,
                // which `rules` checked).
                if (self.input.len() as u64) < header.payload_len {
                    return Ok(None);
                }
                let payload = unmask(&header, 0, self.input.split_to(header.payload_len as usize));
                self.reading = Reading::Header;
                return Ok(Some(Incoming::Control(Frame { header, payload })));
            }
            if let Some(item) = self.read_data(header, received)? {
                return Ok(Some(item));
            }
            if matches!(self.reading, Reading::Payload { .. }) {
                return Ok(None);
            }
        }
    }

    /// §5.4 and the limits, for a frame header just decoded.
    fn begin_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let rsv = header.rsv_bits();
        // Extension bits mean something on the first frame of a data message only (RFC 7692
        // §6.1: "an endpoint MUST NOT set the "Per-Message Compressed" bit of control frames
        // and non-first fragments of a data message").
        if rsv != 0 && (header.opcode.is_control() || header.opcode == Opcode::Continuation) {
            return Err(ProtocolError::ReservedBitsSet(rsv));
        }
        // §5.4: "Control frames MAY be injected in the middle of a fragmented message."
        if header.opcode.is_control() {
            return Ok(());
        }
        let message = match (header.opcode, &mut self.message) {
            // §5.4: "A fragmented message consists of a single frame with the FIN bit clear and
            // an opcode other than 0, followed by zero or more frames with the FIN bit clear and
            // the opcode set to 0, and terminated by a single frame with the FIN bit set and an
            // opcode of 0." A continuation frame continues the message that is being read...
            (Opcode::Continuation, Some(message)) => {
                message.fragments += 1;
                message.announced = message.announced.saturating_add(header.payload_len);
                message
            }
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            // ..."the fragments of one message MUST NOT be interleaved between the fragments of
            // another message".
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => self.message.insert(MessageState {
                kind: if opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary },
                fragments: 1,
                announced: header.payload_len,
                transformed: rsv != 0,
                streaming: self.streaming,
                produced: 0,
                utf8: Utf8Validator::new(),
                data: BytesMut::new(),
            }),
        };
        // §10.4: limits on the frame (in `rules`) and on the message, before its data arrives.
        check_size(message.fragments, message.announced, &self.limits)
    }

    /// Reads what has arrived of the payload of a data frame: `Some` item to hand over, or
    /// `None` when the frame is still incomplete or ended without anything to hand over.
    fn read_data(&mut self, header: FrameHeader, received: u64) -> Result<Option<Incoming>, ProtocolError> {
        let Some(message) = self.message.as_mut() else { unreachable_message() };
        let remaining = header.payload_len - received;
        // At most what was received: fits in usize.
        let take = remaining.min(self.input.len() as u64);
        if take == 0 && remaining > 0 {
            return Ok(None);
        }
        let piece = unmask(&header, received, self.input.split_to(take as usize));
        let ends_frame = take == remaining;
        let ends_message = ends_frame && header.fin;
        self.reading =
            if ends_frame { Reading::Header } else { Reading::Payload { header, received: received + take } };

        // The data as the application sees it: through the extension, if the message uses it.
        let data = match (message.transformed, self.codec.as_mut()) {
            (false, _) => piece,
            // Bounded by construction: the codec cannot write past the message's limit.
            (true, Some(codec)) => decode_bounded(
                codec.as_mut(),
                &piece,
                ends_message,
                message.produced,
                self.limits.max_message_size,
            )?,
            (true, None) => return Err(ProtocolError::ReservedBitsSet(header.rsv_bits())),
        };
        let message_offset = message.produced;
        message.produced += data.len() as u64;
        if message.produced > self.limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                size: message.produced,
                max: self.limits.max_message_size,
            });
        }
        // §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte
        // stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
        // Connection_." Checked as it arrives, so the first invalid byte fails the connection
        // even before its frame ends; a code point may be split between fragments.
        if message.kind == MessageKind::Text {
            message.utf8.feed(&data)?;
            if ends_message {
                message.utf8.finish()?;
            }
        }
        let kind = message.kind;
        if message.streaming {
            if ends_message {
                self.message = None;
            } else if data.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Incoming::Fragment(MessageFragment {
                kind,
                data,
                frame_offset: received,
                frame_len: header.payload_len,
                message_offset,
                ends_frame,
                ends_message,
            })));
        }
        message.data.extend_from_slice(&data);
        if !ends_message {
            return Ok(None);
        }
        let data = std::mem::take(&mut message.data).freeze();
        self.message = None;
        let message = match kind {
            // Checked again as a whole: the reference takes no shortcut.
            MessageKind::Text => {
                Message::Text(Utf8Bytes::try_from(data).map_err(|_| ProtocolError::InvalidUtf8)?)
            }
            MessageKind::Binary => Message::Binary(data),
        };
        Ok(Some(Incoming::Message(message)))
    }
}

/// §5.3: unmasks payload bytes starting at `offset` in the frame's payload, with the RFC's own
/// formula ("octet i of the transformed data is the XOR of octet i of the original data with
/// octet at index i modulo 4 of the masking key").
fn unmask(header: &FrameHeader, offset: u64, mut piece: BytesMut) -> Bytes {
    if let Some(key) = header.masking_key {
        // Only the offset's position in the key matters.
        apply_mask_rfc(key, &mut piece, (offset % 4) as usize);
    }
    piece.freeze()
}

/// A data frame is read only once [`ReferenceReassembler::begin_frame`] has set its message.
#[cold]
fn unreachable_message() -> ! {
    unreachable!("a data frame is read within its message")
}
