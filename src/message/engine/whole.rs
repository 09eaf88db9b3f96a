//! The engine's common case: a run of whole single-frame Text or Binary messages at the front of
//! the input, split off the read buffer together without copying.

use bytes::{Buf, BytesMut};

use super::{Reassembler, Tail};
use crate::audited::ValidUtf8;
use crate::error::ProtocolError;
use crate::frame::{decode_valid, Opcode, FIN_BIT};
use crate::mask::apply_mask;
use crate::message::{Message, Utf8Bytes};

/// Byte 0 of a whole single-frame Text message: FIN, no RSV bit, opcode Text (§5.2).
pub(super) const WHOLE_TEXT: u8 = FIN_BIT | Opcode::Text.encode();
/// Byte 0 of a whole single-frame Binary message.
pub(super) const WHOLE_BINARY: u8 = FIN_BIT | Opcode::Binary.encode();
/// The most whole messages [`Reassembler::take_whole_messages`] splits off in one pass.
pub(crate) const RUN_MAX: usize = 32;

/// A whole single-frame message found at the front of the buffer, unmasked: what its header said,
/// recorded so the run is cut without decoding the header again.
#[derive(Debug, Clone, Copy, Default)]
struct WholeMessage {
    text: bool,
    header_len: usize,
    payload_len: usize,
}

impl Reassembler {
    /// The common case, in bulk: between messages, the whole single-frame Text or Binary messages
    /// at the front of the buffer (valid header, FIN, no RSV bit, within the limits), at most
    /// `max` of them, are unmasked in place and split off together without copying, then handed
    /// to `deliver` in order. Returns how many were; 0 if the next item is anything else (the
    /// general path gives it).
    ///
    /// The headers are decoded once: each message's place in the run is recorded as it is
    /// checked, then the run is cut at those places.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] for a Text message that is not UTF-8 (§8.1), after the
    /// messages before it were delivered.
    #[inline]
    pub(crate) fn take_whole_messages(
        &mut self,
        max: usize,
        mut deliver: impl FnMut(Message),
    ) -> Result<usize, ProtocolError> {
        self.refill();
        if self.frame.is_some() || self.message.is_some() || self.streaming || self.failed {
            return Ok(0);
        }
        if self.limits.max_fragments == 0 {
            return Ok(0);
        }
        let mut run = [WholeMessage::default(); RUN_MAX];
        let count = self.find_whole_messages(&mut run[..max.min(RUN_MAX)]);
        if count == 0 {
            return Ok(0);
        }
        let end = run[..count].iter().map(|message| message.header_len + message.payload_len).sum();
        let mut rest = self.buffer.split_to(end).freeze();
        self.front_unmasked = 0;
        if self.buffer.is_empty() {
            // The read buffer goes back while idle; with nothing left to decode, the next byte
            // received starts a frame.
            self.buffer = BytesMut::new();
            if self.overflow.is_empty() {
                self.tail = Tail::FrameStart;
            }
        }
        for whole in &run[..count] {
            rest.advance(whole.header_len);
            let payload = if rest.len() == whole.payload_len {
                std::mem::take(&mut rest)
            } else {
                rest.split_to(whole.payload_len)
            };
            if !whole.text {
                deliver(Message::Binary(payload));
                continue;
            }
            // §8.1: a Text message's payload MUST be valid UTF-8.
            match ValidUtf8::new(payload) {
                Ok(text) => deliver(Message::Text(Utf8Bytes::from_valid(text))),
                Err(_) => return Err(self.fail(ProtocolError::InvalidUtf8)),
            }
        }
        Ok(count)
    }

    /// Unmasks the whole single-frame messages at the front of the buffer in place, recording
    /// each one's kind and lengths in `run`, as many as fit; returns how many.
    #[inline]
    fn find_whole_messages(&mut self, run: &mut [WholeMessage]) -> usize {
        let (rules, max_message_size) = (self.rules, self.limits.max_message_size);
        // Payload bytes of the first frame already unmasked on arrival; none of the others'.
        let mut unmasked = self.front_unmasked;
        let mut start = 0;
        let mut count = 0;
        for record in run.iter_mut() {
            let Some(rest) = self.buffer.get_mut(start..) else { break };
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
            if let Some(key) = header.masking_key {
                let from = unmasked.min(payload_len);
                apply_mask(key, &mut payload[from..], from);
            }
            unmasked = 0;
            *record = WholeMessage { text, header_len, payload_len };
            start += header_len + payload_len;
            count += 1;
        }
        count
    }
}
