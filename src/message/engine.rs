//! The fast engine behind [`Reassembler`]: the same behaviour as
//! [`super::ReferenceReassembler`], which is the one to read beside the RFC.
//!
//! What it adds to the reference, for speed:
//!
//! - The whole single-frame Text or Binary messages at the front of the input, the common case,
//!   are unmasked in place and split off the read buffer together without copying, as a run
//!   whose records say where each payload lies (`take_whole_run`, in `engine/whole.rs`; the run
//!   itself is `crate::audited`'s `WholeRun`, which checks their Text).
//! - A single-frame message that arrives over several reads is read *in place*: the rest of its
//!   frame goes where its start is, and what follows the frame starts a buffer of its own
//!   (`overflow`), so its bytes are never moved; a large one is unmasked as it is copied in, in
//!   one pass. Its pieces are then joined without copying.
//! - Where the next byte received falls in the stream of frames is kept in [`Tail`], so
//!   [`Reassembler::receive`] knows whether bytes start a frame header without reading them.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::limits::check_size;
use super::{Incoming, Message, MessageFragment, MessageKind, MessageLimits, Utf8Bytes, Utf8Validator};
use crate::audited::TextBuilder;
use crate::error::ProtocolError;
use crate::extension::{decode_bounded, ExtensionCodec};
use crate::frame::{DecodeRules, Frame, FrameHeader, Opcode};
use crate::mask::{apply_mask, extend_masked};
use crate::{Decoded, Role};

mod whole;
pub(crate) use whole::WholeRun;
use whole::{WHOLE_BINARY, WHOLE_TEXT};

/// From this payload length on, a single-frame message is unmasked as it is copied into the read
/// buffer (one pass instead of two); below it, unmasking in bulk later is cheaper. The same size
/// above which the send path holds payloads by reference: where a pass over the payload starts
/// to cost more than the bookkeeping that avoids it.
const UNMASK_WHILE_COPYING_MIN: u64 = crate::output::SHARED_PAYLOAD_MIN as u64;

/// Where the next byte received falls in the stream of frames (§5.2: each frame is a header,
/// then its payload): what [`Reassembler::receive`] acts on without reading the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// It starts a frame header. Either nothing is left to decode, or the buffer holds exactly
    /// the rest of the frame being read.
    FrameStart,
    /// It is payload of the frame being read, whose last `missing` bytes have not arrived; every
    /// byte received and not yet taken belongs to that frame.
    Payload { missing: u64 },
    /// It follows bytes not decoded yet: where it falls is known once they are.
    Undecoded,
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct FrameProgress {
    header: FrameHeader,
    /// Payload bytes taken out of the buffer.
    received: u64,
    /// Payload bytes, from the frame's start, unmasked as they were copied into the buffer: not
    /// to be unmasked again.
    unmasked: u64,
}

/// Where a data message's data goes.
#[derive(Debug)]
enum Body {
    /// Whole-message mode, Text: checked as it arrives, where it is assembled.
    Text(TextBuilder),
    /// Whole-message mode, Binary.
    Binary(BytesMut),
    /// Streaming mode, Text: handed over as it arrives, checked as it goes.
    StreamedText(Utf8Validator),
    /// Streaming mode, Binary.
    StreamedBinary,
}

/// The data message being assembled.
#[derive(Debug)]
struct MessageProgress {
    kind: MessageKind,
    /// Wire bytes announced by its frames so far.
    size: u64,
    fragments: usize,
    /// Bytes of data produced so far (after the extension, if any).
    produced: u64,
    /// Whether the message goes through the extension codec.
    transformed: bool,
    /// Whether the message is one frame read in place (whole-message mode, no extension): its
    /// bytes stay where they arrived, and a large one is unmasked as it is copied in.
    in_place: bool,
    body: Body,
}

/// A piece of a data frame's payload, unmasked: as read, or as the extension decoded it.
enum Piece {
    Read(BytesMut),
    Decoded(Bytes),
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
    /// Bytes received and not yet taken, from the next one to decode.
    buffer: BytesMut,
    /// Bytes received after the end of the frame being completed in `buffer`: a frame read in
    /// place is completed where it started, never moved to make room for what follows it.
    overflow: BytesMut,
    /// Payload bytes of the frame whose header starts `buffer` that were unmasked as they were
    /// copied in (see [`append_sized`]); the same for `overflow`.
    front_unmasked: usize,
    overflow_front_unmasked: usize,
    /// Where the next byte received falls.
    tail: Tail,
    frame: Option<FrameProgress>,
    /// (Boxed: a message that is neither whole in one read nor a single frame is rare enough,
    /// and every connection's struct stays small.)
    message: Option<Box<MessageProgress>>,
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
            .field("tail", &self.tail)
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
            tail: Tail::FrameStart,
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
    pub fn receive(&mut self, mut bytes: &[u8]) {
        if self.failed {
            return;
        }
        if let Tail::Payload { missing } = self.tail {
            let take = missing.min(bytes.len() as u64);
            let (end, rest) = bytes.split_at(take as usize);
            self.extend_current_frame(end);
            self.tail =
                if take == missing { Tail::FrameStart } else { Tail::Payload { missing: missing - take } };
            bytes = rest;
        }
        if bytes.is_empty() {
            return;
        }
        let unmask = !self.streaming;
        match self.tail {
            // `bytes` start with a frame header.
            Tail::FrameStart if self.buffer.is_empty() => {
                self.front_unmasked = append_sized(&mut self.buffer, bytes, &self.rules, unmask);
            }
            Tail::FrameStart => {
                // The buffer holds the rest of the frame being read: what follows it starts a
                // buffer of its own, so the frame's bytes are never moved.
                self.overflow_front_unmasked = append_sized(&mut self.overflow, bytes, &self.rules, unmask);
            }
            _ if self.overflow.is_empty() => self.buffer.extend_from_slice(bytes),
            _ => self.overflow.extend_from_slice(bytes),
        }
        self.tail = Tail::Undecoded;
    }

    /// Appends payload bytes of the frame being read; those of a single-frame message read in
    /// place are unmasked as they are copied, when every byte before them already is (one pass
    /// over the payload instead of a copy and then an unmasking pass).
    fn extend_current_frame(&mut self, bytes: &[u8]) {
        if let (Some(frame), Some(message)) = (&mut self.frame, &self.message) {
            let arrived = frame.received + self.buffer.len() as u64;
            let all_unmasked = frame.received.max(frame.unmasked) == arrived;
            let in_place = message.in_place && !frame.header.opcode.is_control();
            if let (Some(key), true) = (frame.header.masking_key, in_place && all_unmasked) {
                extend_masked(&mut self.buffer, key, bytes, (arrived % 4) as usize);
                frame.unmasked = arrived + bytes.len() as u64;
                return;
            }
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet handed over.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len() + self.overflow.len()
    }

    /// Heap bytes held by the reassembler's buffers (for memory accounting).
    pub fn capacity(&self) -> usize {
        let body = self.message.as_ref().map_or(0, |message| match &message.body {
            Body::Text(text) => text.capacity(),
            Body::Binary(data) => data.capacity(),
            Body::StreamedText(_) | Body::StreamedBinary => 0,
        });
        self.buffer.capacity() + self.overflow.capacity() + body
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
        let mut codec = self.codec.take();
        let result = self.poll_with(codec.as_deref_mut());
        self.codec = codec;
        result
    }

    /// [`Reassembler::poll`] with the extension codec of the one who owns it (a connection), if
    /// any.
    #[inline]
    fn poll_with(
        &mut self,
        codec: Option<&mut (dyn ExtensionCodec + 'static)>,
    ) -> Result<Option<Incoming>, ProtocolError> {
        let Some((mut run, checked)) = self.take_whole_run(1) else {
            return self.poll_general(codec);
        };
        match (run.next_message(), checked) {
            (Some(message), _) => Ok(Some(Incoming::Message(message))),
            (None, Err(error)) => Err(error),
            (None, Ok(())) => self.poll_general(codec),
        }
    }

    /// Everything but a run of whole single-frame messages at the front of the input: for a
    /// caller that has just taken the run ([`Reassembler::take_whole_run`]).
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
        match result {
            Ok(_) => self.settle(),
            Err(error) => return Err(self.fail(error)),
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

    /// After a poll, records where the next byte received falls, when every byte received and
    /// not taken belongs to the frame being read (or none is left).
    #[inline]
    fn settle(&mut self) {
        self.release_idle_buffer();
        if !self.overflow.is_empty() {
            return;
        }
        let buffered = self.buffer.len() as u64;
        let missing = match &self.frame {
            Some(frame) => frame.header.payload_len - frame.received,
            None => 0,
        };
        if buffered == missing {
            self.tail = Tail::FrameStart;
        } else if buffered < missing {
            self.tail = Tail::Payload { missing: missing - buffered };
        }
    }

    /// Ends the reassembler's work after a violation: its input is discarded, and every later
    /// poll gives nothing (§7.1.7).
    #[cold]
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        self.failed = true;
        self.buffer = BytesMut::new();
        self.overflow = BytesMut::new();
        (self.front_unmasked, self.overflow_front_unmasked) = (0, 0);
        self.tail = Tail::FrameStart;
        self.frame = None;
        self.message = None;
        error
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
                check_size(message.fragments, message.size, &self.limits)?;
            }
            // ...and "fragments of one message MUST NOT be interleaved" with another.
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
                check_size(1, header.payload_len, &self.limits)?;
                let transformed = rsv != 0;
                let body = match (kind, self.streaming) {
                    (MessageKind::Text, false) => Body::Text(TextBuilder::default()),
                    (MessageKind::Binary, false) => Body::Binary(BytesMut::new()),
                    (MessageKind::Text, true) => Body::StreamedText(Utf8Validator::new()),
                    (MessageKind::Binary, true) => Body::StreamedBinary,
                };
                self.message = Some(Box::new(MessageProgress {
                    kind,
                    size: header.payload_len,
                    fragments: 1,
                    produced: 0,
                    transformed,
                    in_place: header.fin && !transformed && !self.streaming,
                    body,
                }));
            }
        }
        self.buffer.advance(consumed);
        let unmasked = std::mem::take(&mut self.front_unmasked) as u64;
        self.frame = Some(FrameProgress { header, received: 0, unmasked });
        Ok(Progress::Continue)
    }

    /// Splits a whole control frame's payload off the front of the buffer and unmasks it.
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
        let payload_len = frame.header.payload_len;
        let remaining = payload_len - frame.received;
        let take = (self.buffer.len() as u64).min(remaining) as usize;
        if take == 0 && remaining > 0 {
            return Ok(Progress::NeedMore);
        }
        if message.in_place && matches!(message.body, Body::Binary(_)) && (take as u64) < remaining {
            // A Binary frame read in place is taken whole, once complete: nothing to check as
            // it arrives, and its bytes stay where they are. (A Text one is taken as it arrives,
            // to be checked, §8.1.)
            return Ok(Progress::NeedMore);
        }
        let mut piece = self.buffer.split_to(take);
        let frame_offset = frame.received;
        if let Some(key) = frame.header.masking_key {
            // Bytes before `unmasked` were unmasked as they were copied in.
            let from = (frame.unmasked.saturating_sub(frame_offset) as usize).min(take);
            apply_mask(key, &mut piece[from..], (frame_offset % 4) as usize + from);
        }
        frame.received += take as u64;
        let ends_frame = frame.received == payload_len;
        let ends_message = ends_frame && frame.header.fin;
        let rsv = frame.header.rsv_bits();
        if ends_frame {
            self.frame = None;
        }

        // The data as the application sees it: through the extension, if the message uses it.
        let piece = if message.transformed {
            let Some(codec) = codec else {
                return Err(ProtocolError::ReservedBitsSet(rsv));
            };
            let max = self.limits.max_message_size;
            Piece::Decoded(decode_bounded(codec, &piece, ends_message, message.produced, max)?)
        } else {
            Piece::Read(piece)
        };
        let message_offset = message.produced;
        message.produced += piece.len() as u64;
        if message.produced > self.limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                size: message.produced,
                max: self.limits.max_message_size,
            });
        }
        // §8.1, checked as the data arrives; whole-message data is kept.
        let streamed = match &mut message.body {
            Body::Text(text) => {
                piece.push_text(text)?;
                None
            }
            Body::Binary(data) => {
                piece.push_binary(data);
                None
            }
            Body::StreamedText(utf8) => {
                let data = piece.freeze();
                utf8.feed(&data)?;
                if ends_message {
                    utf8.finish()?;
                }
                Some(data)
            }
            Body::StreamedBinary => Some(piece.freeze()),
        };
        let kind = message.kind;
        if let Some(data) = streamed {
            if ends_message {
                self.message = None;
            } else if data.is_empty() {
                return Ok(Progress::Continue);
            }
            let fragment = MessageFragment {
                kind,
                data,
                frame_offset,
                frame_len: payload_len,
                message_offset,
                ends_frame,
                ends_message,
            };
            return Ok(Progress::Item(Incoming::Fragment(fragment)));
        }
        if !ends_message {
            return Ok(Progress::Continue);
        }
        let Some(message) = self.message.take() else { return Ok(Progress::NeedMore) };
        let message = match message.body {
            Body::Text(text) => Message::Text(Utf8Bytes::from_valid(text.finish()?)),
            Body::Binary(data) => Message::Binary(data.freeze()),
            Body::StreamedText(_) | Body::StreamedBinary => return Ok(Progress::NeedMore),
        };
        Ok(Progress::Item(Incoming::Message(message)))
    }
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Read(bytes) => bytes.len(),
            Piece::Decoded(bytes) => bytes.len(),
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Piece::Read(bytes) => bytes.freeze(),
            Piece::Decoded(bytes) => bytes,
        }
    }

    /// Adds the piece to a Text message: a piece read in place joins the bytes before it without
    /// copying. A small first piece is copied instead: taken as it is, it would make the message
    /// a view into the whole read buffer, which would then be reallocated, all of it, as the
    /// message grows.
    fn push_text(self, text: &mut TextBuilder) -> Result<(), ProtocolError> {
        match self {
            Piece::Read(bytes) if !text.is_empty() || bytes.len() as u64 >= UNMASK_WHILE_COPYING_MIN => {
                text.push(bytes)
            }
            Piece::Read(bytes) => text.push_slice(&bytes),
            Piece::Decoded(bytes) => text.push_slice(&bytes),
        }
    }

    /// Adds the piece to a Binary message, the same way.
    fn push_binary(self, data: &mut BytesMut) {
        match self {
            Piece::Read(bytes) => data.unsplit(bytes),
            Piece::Decoded(bytes) => data.extend_from_slice(&bytes),
        }
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

/// Appends `bytes`, which start with a frame header, to `buffer`. Into an empty buffer, when
/// that frame is longer than `bytes`, room is made for the whole frame, up to twice the bytes
/// received (never more: the announced length is not trusted), so the frame is not moved as it
/// grows. With `unmask` (messages are not streamed), a large single-frame message's payload is
/// unmasked as it is copied; returns how many of its payload bytes were.
fn append_sized(buffer: &mut BytesMut, bytes: &[u8], rules: &DecodeRules, unmask: bool) -> usize {
    if buffer.is_empty() {
        if let Ok(Decoded::Complete { value: header, consumed }) = FrameHeader::decode(bytes, rules) {
            let frame_len = (consumed as u64).saturating_add(header.payload_len);
            let room = (frame_len.min(2 * bytes.len() as u64) as usize).max(bytes.len());
            if buffer.capacity() == 0 {
                // The common case (the last message took the whole buffer with it): one
                // allocation, without `reserve`'s look at what the buffer shares.
                *buffer = BytesMut::with_capacity(room);
            } else {
                buffer.reserve(room);
            }
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

#[cfg(test)]
mod tests;
