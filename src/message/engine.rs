//! The fast engine behind [`Reassembler`]: the same behaviour as
//! [`super::ReferenceReassembler`], which is the one to read beside the RFC.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::limits::check_size;
use super::{finish_message, Incoming, MessageFragment, MessageKind, MessageLimits, Utf8Validator};
use crate::error::ProtocolError;
use crate::extension::{decode_bounded, ExtensionCodec};
use crate::frame::{decode_valid, DecodeRules, Frame, FrameHeader, Opcode, FIN_BIT};
use crate::mask::{apply_mask, extend_masked};
use crate::{Decoded, Role};

use super::ready::split_ready;
pub(crate) use super::ready::ReadyMessages;

/// Byte 0 of a whole single-frame Text message: FIN, no RSV bit, opcode Text (§5.2).
pub(super) const WHOLE_TEXT: u8 = FIN_BIT | Opcode::Text.encode();
/// Byte 0 of a whole single-frame Binary message.
pub(super) const WHOLE_BINARY: u8 = FIN_BIT | Opcode::Binary.encode();
/// From this payload length on, a single-frame message is unmasked as it is copied into the read
/// buffer (one pass instead of two); below it, unmasking in bulk later is cheaper. The same size
/// above which the send path holds payloads by reference: where a pass over the payload starts
/// to cost more than the bookkeeping that avoids it.
const UNMASK_WHILE_COPYING_MIN: u64 = crate::output::SHARED_PAYLOAD_MIN as u64;

/// The frame whose payload is being read.
#[derive(Debug)]
struct FrameProgress {
    header: FrameHeader,
    /// Payload bytes processed: taken out of the buffer, or unmasked and checked in place.
    received: u64,
    /// Payload bytes at the front of the buffer unmasked as they were copied in by
    /// [`Reassembler::receive`] (single-frame messages read in place): not to be unmasked again.
    unmasked: u64,
}

/// The data message being assembled.
#[derive(Debug)]
struct MessageProgress {
    kind: MessageKind,
    /// Wire bytes announced by its frames so far.
    size: u64,
    fragments: usize,
    utf8: Utf8Validator,
    /// The message so far (whole-message mode, unless it is kept in place).
    parts: BytesMut,
    /// Bytes of data produced so far (after the extension, if any).
    produced: u64,
    /// Whether the message goes through the extension codec.
    transformed: bool,
    /// Whether the message is handed over in pieces (the mode when it started).
    streaming: bool,
    /// Whether the message is one frame kept in the read buffer until complete (zero copy).
    in_place: bool,
}

/// Layer 1: from the bytes after the handshake to messages and control frames.
///
/// # Examples
///
/// ```
/// use rfc6455::{Incoming, Message, Reassembler, Role};
///
/// // §5.7: a fragmented unmasked text message, "Hel" then "lo", as a client receives it, with
/// // a Ping between the fragments.
/// let mut reassembler = Reassembler::new(Role::Client);
/// reassembler.receive(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
/// reassembler.receive(&[0x89, 0x00]);
/// reassembler.receive(&[0x80, 0x02, 0x6c, 0x6f]);
/// assert!(matches!(reassembler.poll()?, Some(Incoming::Control(_))));
/// assert_eq!(reassembler.poll()?, Some(Incoming::Message(Message::Text("Hello".into()))));
/// assert_eq!(reassembler.poll()?, None);
/// # Ok::<(), rfc6455::ProtocolError>(())
/// ```
pub struct Reassembler {
    rules: DecodeRules,
    limits: MessageLimits,
    streaming: bool,
    buffer: BytesMut,
    /// Bytes received after the end of the frame being completed in `buffer`: a large frame is
    /// completed where it started, never moved to make room for what follows it.
    overflow: BytesMut,
    /// Payload bytes of the frame whose header starts `buffer` that were unmasked as they were
    /// copied in (see [`append_sized`]); the same for `overflow`.
    front_unmasked: usize,
    overflow_front_unmasked: usize,
    /// Whole single-frame messages from the front of the buffer, headers included, already
    /// unmasked and validated: handed over, in order, before anything in `buffer`.
    ready: Bytes,
    frame: Option<FrameProgress>,
    message: Option<MessageProgress>,
    codec: Option<Box<dyn ExtensionCodec>>,
    failed: bool,
}

impl fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reassembler")
            .field("rules", &self.rules)
            .field("limits", &self.limits)
            .field("streaming", &self.streaming)
            .field("buffered", &self.buffered_len())
            .field("frame", &self.frame)
            .field("message", &self.message)
            .field("codec", &self.codec.is_some())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Reassembler {
    /// A reassembler for an endpoint of `role` (whose peer has the other role), default limits,
    /// whole messages, no extension.
    pub fn new(role: Role) -> Reassembler {
        Reassembler::with_limits(role, MessageLimits::default())
    }

    /// A reassembler with the given limits.
    pub fn with_limits(role: Role, limits: MessageLimits) -> Reassembler {
        Reassembler {
            rules: DecodeRules::new(role).with_max_frame_size(limits.max_frame_size),
            limits,
            streaming: false,
            buffer: BytesMut::new(),
            overflow: BytesMut::new(),
            front_unmasked: 0,
            overflow_front_unmasked: 0,
            ready: Bytes::new(),
            frame: None,
            message: None,
            codec: None,
            failed: false,
        }
    }

    /// Hands data over in pieces as it arrives ([`Incoming::Fragment`]) instead of whole messages:
    /// memory stays bounded by the input, not by the message. Takes effect at the next message.
    pub fn set_streaming(&mut self, streaming: bool) {
        self.streaming = streaming;
    }

    /// Installs a negotiated extension's codec, for a reassembler used on its own: its RSV bits
    /// become legal on the first frame of a data message, and such messages pass through
    /// [`ExtensionCodec::decode`]. (A [`crate::Connection`] holds its codec itself, for both
    /// directions, and lends it to its reassembler at each poll.)
    pub fn set_extension(&mut self, codec: Box<dyn ExtensionCodec>) {
        self.allow_rsv_bits(codec.rsv_bits());
        self.codec = Some(codec);
    }

    /// Makes `rsv_bits` legal on the first frame of a data message: an extension's, whose codec
    /// the caller passes to [`Reassembler::poll_general`].
    pub(crate) fn allow_rsv_bits(&mut self, rsv_bits: u8) {
        self.rules = self.rules.with_rsv_allowed(rsv_bits);
    }

    /// Appends bytes received from the peer. Nothing is decoded until [`Reassembler::poll`].
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.overflow.is_empty() {
            if let Some(missing) = self.missing_in_current_frame() {
                // The end of the frame being read goes where its start is; what follows starts a
                // buffer of its own, so the frame's bytes are never moved.
                let (end, rest) = bytes.split_at(missing.min(bytes.len()));
                self.extend_current_frame(end);
                if !rest.is_empty() {
                    // `rest` starts right after the current frame: with a frame header.
                    let unmask = !self.streaming;
                    self.overflow_front_unmasked =
                        append_sized(&mut self.overflow, rest, &self.rules, unmask);
                }
                return;
            }
            let was_empty = self.buffer.is_empty();
            // Into an empty buffer with no frame being read, `bytes` starts with a frame header;
            // otherwise they may be the payload of a frame whose header was already taken, and
            // must not be read as a header.
            let unmask = !self.streaming && self.frame.is_none();
            let unmasked = append_sized(&mut self.buffer, bytes, &self.rules, unmask);
            if was_empty {
                self.front_unmasked = unmasked;
            }
        } else {
            self.overflow.extend_from_slice(bytes);
        }
    }

    /// Appends payload bytes of the frame being read in place; a single-frame message's are
    /// unmasked as they are copied, when every byte before them already is (one pass over the
    /// payload instead of a copy and then an unmasking pass).
    fn extend_current_frame(&mut self, bytes: &[u8]) {
        if let Some(frame) = &mut self.frame {
            let done = frame.received.max(frame.unmasked);
            if let (Some(key), false, true) =
                (frame.header.masking_key, frame.header.opcode.is_control(), done == self.buffer.len() as u64)
            {
                let offset = self.buffer.len();
                extend_masked(&mut self.buffer, key, bytes, offset);
                frame.unmasked = self.buffer.len() as u64;
                return;
            }
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// How many bytes the single-frame message or control frame being read still misses, when
    /// the buffer holds exactly the part of its payload received so far.
    fn missing_in_current_frame(&self) -> Option<usize> {
        let frame = self.frame.as_ref()?;
        let in_place =
            self.message.as_ref().map_or(frame.header.opcode.is_control(), |message| message.in_place);
        if !in_place {
            return None;
        }
        let missing = frame.header.payload_len.checked_sub(self.buffer.len() as u64)?;
        usize::try_from(missing).ok().filter(|missing| *missing > 0)
    }

    /// Bytes received but not yet handed over.
    pub fn buffered_len(&self) -> usize {
        self.ready.len() + self.buffer.len() + self.overflow.len()
    }

    /// Heap bytes held by the reassembler's buffers (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buffer.capacity()
            + self.overflow.capacity()
            + self.message.as_ref().map_or(0, |message| message.parts.capacity())
    }

    /// Whether a data message has started and not ended.
    pub fn is_in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Decodes the next item from the bytes received, or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// The first [`ProtocolError`] in the input. After an error the reassembler discards its
    /// input and every later call returns `Ok(None)`: nothing after a violation is processed.
    #[inline]
    pub fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if self.ready.is_empty() && !self.prepare_ready() {
            let mut codec = self.codec.take();
            let result = self.poll_general(codec.as_deref_mut());
            self.codec = codec;
            return result;
        }
        Ok(Some(self.take_ready()))
    }

    /// [`Reassembler::poll`] for everything but the run of whole single-frame messages, with the
    /// extension codec of the one who owns it (a connection), if any.
    #[inline(never)]
    pub(crate) fn poll_general(
        &mut self,
        codec: Option<&mut (dyn ExtensionCodec + 'static)>,
    ) -> Result<Option<Incoming>, ProtocolError> {
        if self.failed {
            return Ok(None);
        }
        self.refill();
        let result = self.poll_next(codec);
        if result.is_err() {
            self.failed = true;
            self.buffer = BytesMut::new();
            self.overflow = BytesMut::new();
            (self.front_unmasked, self.overflow_front_unmasked) = (0, 0);
            self.frame = None;
            self.message = None;
        } else {
            self.release_idle_buffer();
        }
        result
    }

    /// Once the frame completed in the buffer is taken, what followed it becomes the buffer.
    #[inline]
    fn refill(&mut self) {
        if self.buffer.is_empty() && !self.overflow.is_empty() {
            self.buffer = std::mem::take(&mut self.overflow);
            self.front_unmasked = std::mem::take(&mut self.overflow_front_unmasked);
        }
    }

    /// Gives the read buffer back while idle: an idle connection holds no heap here.
    #[inline]
    fn release_idle_buffer(&mut self) {
        if self.buffer.is_empty() {
            self.buffer = BytesMut::new();
        }
    }

    /// The common case, in bulk: between messages, every whole single-frame Text or Binary
    /// message at the front of the buffer (valid header, no RSV bits, within the limits, valid
    /// UTF-8 for Text) is unmasked in place, and the run of them is split off the buffer at once
    /// into `ready`. Returns whether any was; the first frame that is anything else stays in the
    /// buffer, untouched, for [`Reassembler::poll_general`].
    #[inline(never)]
    fn prepare_ready(&mut self) -> bool {
        self.refill();
        if self.frame.is_some() || self.message.is_some() || self.streaming || self.failed {
            return false;
        }
        if self.limits.max_fragments == 0 {
            return false;
        }
        let (rules, max_message_size) = (self.rules, self.limits.max_message_size);
        let buffer: &mut [u8] = &mut self.buffer;
        let mut end = 0;
        // Payload bytes of the first frame already unmasked on arrival; none of the others'.
        let mut unmasked = self.front_unmasked;
        while let Some(rest) = buffer.get_mut(end..) {
            let Some((header, header_len)) = decode_valid(rest, &rules) else { break };
            // Byte 0 of a valid header: FIN, no RSV bit, and Text or Binary.
            let text = match rest[0] {
                WHOLE_TEXT => true,
                WHOLE_BINARY => false,
                _ => break,
            };
            if header.payload_len > max_message_size {
                break;
            }
            let Ok(payload_len) = usize::try_from(header.payload_len) else { break };
            let Some(payload) = rest.get_mut(header_len..).and_then(|rest| rest.get_mut(..payload_len))
            else {
                break;
            };
            let from = unmasked.min(payload_len);
            if let Some(key) = header.masking_key {
                apply_mask(key, &mut payload[from..], from);
            }
            if text && std::str::from_utf8(payload).is_err() {
                // Masked again (masking is its own inverse), as far as it was masked on arrival:
                // the general path fails on it.
                if let Some(key) = header.masking_key {
                    apply_mask(key, &mut payload[from..], from);
                }
                break;
            }
            unmasked = 0;
            end += header_len + payload_len;
        }
        if end == 0 {
            return false;
        }
        self.front_unmasked = 0;
        self.ready = self.buffer.split_to(end).freeze();
        self.release_idle_buffer();
        true
    }

    /// Hands over the next message of `ready`. In streaming mode (switched on since it was
    /// prepared), as the one fragment the general path would give for it.
    #[inline]
    fn take_ready(&mut self) -> Incoming {
        let (kind, payload) = split_ready(&mut self.ready);
        if self.streaming {
            let len = payload.len() as u64;
            let chunk = MessageFragment {
                kind,
                data: payload,
                frame_offset: 0,
                frame_len: len,
                message_offset: 0,
                ends_frame: true,
                ends_message: true,
            };
            return Incoming::Fragment(chunk);
        }
        Incoming::Message(finish_message(kind, payload))
    }

    /// For the connection: every whole single-frame message at the front of the input, split off
    /// at once (see [`Reassembler::prepare_ready`]), or `None` if the next item is anything else:
    /// then [`Reassembler::poll_general`] gives it.
    #[inline]
    pub(crate) fn take_ready_messages(&mut self) -> Option<ReadyMessages> {
        if self.ready.is_empty() && !self.prepare_ready() {
            return None;
        }
        Some(ReadyMessages(std::mem::take(&mut self.ready)))
    }

    fn poll_next(
        &mut self,
        mut codec: Option<&mut (dyn ExtensionCodec + 'static)>,
    ) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let Some(frame) = &self.frame else {
                match self.begin_frame()? {
                    Progress::Item(item) => return Ok(Some(item)),
                    Progress::Continue => continue,
                    Progress::NeedMore => return Ok(None),
                }
            };
            if frame.header.opcode.is_control() {
                return Ok(self.take_control_frame());
            }
            match self.take_data(codec.as_deref_mut())? {
                Progress::Item(item) => return Ok(Some(item)),
                Progress::Continue => continue,
                Progress::NeedMore => return Ok(None),
            }
        }
    }

    /// Decodes the next frame header and checks it against §5.4 and the limits.
    ///
    /// A whole control frame already in the buffer is handed over at once ([`Progress::Item`]);
    /// otherwise the frame becomes the current one ([`Progress::Continue`]).
    /// [`Progress::NeedMore`] if the header is incomplete.
    fn begin_frame(&mut self) -> Result<Progress, ProtocolError> {
        self.refill();
        let (header, consumed) = match FrameHeader::decode(&self.buffer, &self.rules)? {
            Decoded::Complete { value, consumed } => (value, consumed),
            Decoded::Incomplete { .. } => return Ok(Progress::NeedMore),
        };
        let whole = (self.buffer.len() - consumed) as u64 >= header.payload_len;
        let rsv = header.rsv_bits();
        match (header.opcode, &mut self.message) {
            // Extension bits are meaningful on the first frame of a data message only (as in
            // RFC 7692 §6.1): a control or continuation frame carrying them is an error.
            (opcode, _) if rsv != 0 && (opcode.is_control() || opcode == Opcode::Continuation) => {
                return Err(ProtocolError::ReservedBitsSet(rsv));
            }
            (opcode, _) if opcode.is_control() => {
                if whole {
                    self.buffer.advance(consumed);
                    let payload = self.take_payload(&header);
                    return Ok(Progress::Item(Incoming::Control(Frame { header, payload })));
                }
            }
            // §5.4: a continuation frame continues a fragmented message, which must exist...
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Continuation, Some(message)) => {
                message.fragments += 1;
                message.size = message.size.saturating_add(header.payload_len);
                check_limits(message, &self.limits)?;
            }
            // ...and "fragments of one message MUST NOT be interleaved" with another.
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
                // (Whole valid single-frame messages never get here: prepare_ready takes them.)
                let transformed = rsv != 0;
                let message = MessageProgress {
                    kind,
                    size: header.payload_len,
                    fragments: 1,
                    utf8: Utf8Validator::new(),
                    parts: BytesMut::new(),
                    produced: 0,
                    transformed,
                    streaming: self.streaming,
                    in_place: header.fin && !transformed && !self.streaming,
                };
                check_limits(&message, &self.limits)?;
                self.message = Some(message);
            }
        }
        self.buffer.advance(consumed);
        let unmasked = std::mem::take(&mut self.front_unmasked) as u64;
        self.frame = Some(FrameProgress { header, received: 0, unmasked });
        Ok(Progress::Continue)
    }

    /// Splits a whole payload off the front of the buffer and unmasks it.
    fn take_payload(&mut self, header: &FrameHeader) -> Bytes {
        let mut payload = self.buffer.split_to(header.payload_len as usize);
        if let Some(key) = header.masking_key {
            apply_mask(key, &mut payload, 0);
        }
        payload.freeze()
    }

    /// Takes a whole control frame once its payload (at most 125 bytes) is in.
    fn take_control_frame(&mut self) -> Option<Incoming> {
        let header = self.frame.as_ref()?.header;
        if (self.buffer.len() as u64) < header.payload_len {
            return None;
        }
        let payload = self.take_payload(&header);
        self.frame = None;
        Some(Incoming::Control(Frame { header, payload }))
    }

    /// Processes the payload bytes of the current data frame that have arrived.
    fn take_data(
        &mut self,
        codec: Option<&mut (dyn ExtensionCodec + 'static)>,
    ) -> Result<Progress, ProtocolError> {
        let (Some(frame), Some(message)) = (&mut self.frame, &mut self.message) else {
            return Ok(Progress::NeedMore);
        };
        if message.in_place {
            return self.take_in_place();
        }
        let payload_len = frame.header.payload_len;
        let remaining = payload_len - frame.received;
        let take = (self.buffer.len() as u64).min(remaining) as usize;
        if take == 0 && remaining > 0 {
            return Ok(Progress::NeedMore);
        }
        let mut piece = self.buffer.split_to(take);
        let frame_offset = frame.received;
        if let Some(key) = frame.header.masking_key {
            // Bytes before `unmasked` were unmasked on arrival (the frame was read as a
            // single-frame message before streaming was switched on).
            let from = (frame.unmasked.saturating_sub(frame_offset) as usize).min(take);
            apply_mask(key, &mut piece[from..], frame_offset as usize + from);
        }
        frame.received += take as u64;
        let ends_frame = frame.received == payload_len;
        let ends_message = ends_frame && frame.header.fin;

        // The data as the application sees it: through the extension, if the message uses it.
        let data = if message.transformed {
            let Some(codec) = codec else {
                return Err(ProtocolError::ReservedBitsSet(frame.header.rsv_bits()));
            };
            decode_bounded(codec, &piece, ends_message, message.produced, self.limits.max_message_size)?
        } else {
            piece.freeze()
        };
        let message_offset = message.produced;
        message.produced += data.len() as u64;
        if message.produced > self.limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                size: message.produced,
                max: self.limits.max_message_size,
            });
        }
        if message.kind == MessageKind::Text {
            message.utf8.feed(&data)?;
            if ends_message {
                message.utf8.finish()?;
            }
        }
        let kind = message.kind;
        let streaming = message.streaming;
        if !streaming {
            // The fragments of a fragmented message are copied once, into the message.
            message.parts.extend_from_slice(&data);
        }
        if ends_frame {
            self.frame = None;
        }
        if streaming {
            if ends_message {
                self.message = None;
            } else if data.is_empty() {
                return Ok(Progress::Continue);
            }
            let chunk = MessageFragment {
                kind,
                data,
                frame_offset,
                frame_len: payload_len,
                message_offset,
                ends_frame,
                ends_message,
            };
            return Ok(Progress::Item(Incoming::Fragment(chunk)));
        }
        if !ends_message {
            return Ok(Progress::Continue);
        }
        match self.message.take() {
            Some(message) => {
                Ok(Progress::Item(Incoming::Message(finish_message(kind, message.parts.freeze()))))
            }
            None => Ok(Progress::NeedMore),
        }
    }

    /// A single-frame message: unmasks and validates the bytes in the read buffer as they
    /// arrive, then splits the whole payload off without copying.
    fn take_in_place(&mut self) -> Result<Progress, ProtocolError> {
        let (Some(frame), Some(message)) = (&mut self.frame, &mut self.message) else {
            return Ok(Progress::NeedMore);
        };
        let payload_len = frame.header.payload_len;
        let start = frame.received as usize;
        let end = (self.buffer.len() as u64).min(payload_len) as usize;
        if end > start {
            // Bytes up to `unmasked` were unmasked on arrival.
            let masked_from = (frame.unmasked as usize).clamp(start, end);
            if let Some(key) = frame.header.masking_key {
                apply_mask(key, &mut self.buffer[masked_from..end], masked_from);
            }
            if message.kind == MessageKind::Text {
                message.utf8.feed(&self.buffer[start..end])?;
            }
            frame.received = end as u64;
        }
        if frame.received < payload_len {
            return Ok(Progress::NeedMore);
        }
        if message.kind == MessageKind::Text {
            message.utf8.finish()?;
        }
        let kind = message.kind;
        let payload = self.buffer.split_to(end).freeze();
        self.frame = None;
        self.message = None;
        Ok(Progress::Item(Incoming::Message(finish_message(kind, payload))))
    }
}

/// What processing the current frame's data gave.
enum Progress {
    /// Something to hand over.
    Item(Incoming),
    /// The frame ended without anything to hand over: decode the next one.
    Continue,
    /// More bytes are needed.
    NeedMore,
}

/// Appends `bytes` to `buffer`. Into an empty buffer, when `bytes` starts with the header of a
/// frame longer than itself, room is made for the whole frame, up to twice the bytes received
/// (never more: the announced length is not trusted), so the frame is not moved as it grows.
/// With `unmask` (the caller knows `bytes` starts with a frame header, and messages are not
/// streamed), a large single-frame message's payload is unmasked as it is copied; returns how
/// many of its payload bytes were.
fn append_sized(buffer: &mut BytesMut, bytes: &[u8], rules: &DecodeRules, unmask: bool) -> usize {
    if buffer.is_empty() {
        if let Ok(Decoded::Complete { value: header, consumed }) = FrameHeader::decode(bytes, rules) {
            let frame_len = (consumed as u64).saturating_add(header.payload_len);
            let room = frame_len.min(2 * bytes.len() as u64) as usize;
            buffer.reserve(room.max(bytes.len()));
            // A large masked single-frame Text or Binary message (FIN, no RSV bit) is unmasked
            // as it is copied: one pass over its payload instead of two. Small ones are cheaper
            // to unmask in bulk later. (Streamed messages are unmasked piece by piece later.)
            let unmask_now = unmask
                && matches!(bytes[0], WHOLE_TEXT | WHOLE_BINARY)
                && header.payload_len >= UNMASK_WHILE_COPYING_MIN;
            if let (Some(key), true) = (header.masking_key, unmask_now) {
                let payload_end = (consumed as u64).saturating_add(header.payload_len);
                let in_bytes = payload_end.min(bytes.len() as u64) as usize;
                buffer.extend_from_slice(&bytes[..consumed]);
                extend_masked(buffer, key, &bytes[consumed..in_bytes], 0);
                buffer.extend_from_slice(&bytes[in_bytes..]);
                return in_bytes - consumed;
            }
        }
    }
    buffer.extend_from_slice(bytes);
    0
}

/// Checks a message's fragment count and announced size against the limits.
fn check_limits(message: &MessageProgress, limits: &MessageLimits) -> Result<(), ProtocolError> {
    check_size(message.fragments, message.size, limits)
}
