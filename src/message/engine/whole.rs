//! The engine's common case: a run of whole single-frame Text or Binary messages at the front of
//! the input, split off the read buffer together without copying.

use bytes::BytesMut;

use super::{Reassembler, Tail, UNMASK_WHILE_COPYING_MIN};
pub(crate) use crate::audited::{RunRecord, RunRecords, WholeRun, INLINE_RECORDS};
use crate::error::ProtocolError;
use crate::frame::{decode_valid, DecodeRules, Opcode, FIN_BIT};
use crate::mask::{apply_mask, extend_masked};
use crate::message::{Message, Utf8Bytes};

/// Byte 0 of a whole single-frame Text message: FIN, no RSV bit, opcode Text (§5.2).
pub(super) const WHOLE_TEXT: u8 = FIN_BIT | Opcode::Text.encode();
/// Byte 0 of a whole single-frame Binary message.
pub(super) const WHOLE_BINARY: u8 = FIN_BIT | Opcode::Binary.encode();

/// The header of a whole single-frame message that both common-case paths take
/// ([`whole_message_header`]).
struct WholeHeader {
    text: bool,
    header_len: usize,
    payload_len: u32,
    masking_key: Option<[u8; 4]>,
}

/// The header at the front of `input`, if it starts a message the common-case paths take: a
/// valid header (§5.2), FIN, no RSV bit, Text or Binary, within `max_message_size`, and under
/// 4 GiB (larger ones are left to the general path). Its payload may not all be there.
#[inline(always)]
fn whole_message_header(input: &[u8], rules: &DecodeRules, max_message_size: u64) -> Option<WholeHeader> {
    let (header, header_len) = decode_valid(input, rules)?;
    // Byte 0 of a valid header: FIN, no RSV bit, and Text or Binary.
    let text = match input[0] {
        WHOLE_TEXT => true,
        WHOLE_BINARY => false,
        _ => return None,
    };
    if header.payload_len > max_message_size {
        return None;
    }
    let payload_len = u32::try_from(header.payload_len).ok()?;
    Some(WholeHeader { text, header_len, payload_len, masking_key: header.masking_key })
}

/// The most records room is made for at once, past the inline ones (8 KiB of them): a read of
/// a thousand small messages finds room for them all in one allocation.
const RESERVED_RECORDS_MAX: usize = 1024;

impl Reassembler {
    /// The common case of a peer that sends one message at a time: between messages, with
    /// nothing buffered, `bytes` (one read) is exactly one whole single-frame Text or Binary
    /// message that [`Reassembler::take_whole_run`] would take (valid header, FIN, no RSV bit,
    /// within the limits, Text that is UTF-8). It is taken at once, its payload unmasked as it
    /// is copied out of `bytes` into an allocation of its own size: no read buffer, no run for
    /// one message. `None` for anything else, with nothing taken: the caller hands `bytes` to
    /// [`Reassembler::receive`], and the general path acts on them (and fails a Text message
    /// that is not UTF-8).
    #[inline]
    pub(crate) fn take_single(&mut self, bytes: &[u8]) -> Option<Message> {
        if self.tail != Tail::FrameStart || !self.is_drained() || !self.takes_whole_messages() {
            return None;
        }
        let whole = whole_message_header(bytes, &self.rules, self.limits.max_message_size)?;
        let payload = &bytes[whole.header_len..];
        if payload.len() != whole.payload_len as usize {
            return None;
        }
        let mut data = BytesMut::with_capacity(payload.len());
        match whole.masking_key {
            // (As the read buffer: a small payload is cheaper to unmask in bulk after the copy.)
            Some(key) if payload.len() as u64 >= UNMASK_WHILE_COPYING_MIN => {
                extend_masked(&mut data, key, payload, 0);
            }
            Some(key) => {
                data.extend_from_slice(payload);
                apply_mask(key, &mut data, 0);
            }
            None => data.extend_from_slice(payload),
        }
        let data = data.freeze();
        match whole.text {
            false => Some(Message::Binary(data)),
            true => Utf8Bytes::try_from(data).ok().map(Message::Text),
        }
    }

    /// The common case, in bulk: between messages, the whole single-frame Text or Binary messages
    /// at the front of the buffer (valid header, FIN, no RSV bit, within the limits), at most
    /// `max` of them, are unmasked in place and split off together without
    /// copying, their Text checked (§8.1). `None` if the next item is anything else: the general
    /// path gives it.
    ///
    /// Each header is decoded once: each message's place is recorded as its header is checked,
    /// and the run is cut at those places.
    ///
    /// With the run comes [`ProtocolError::InvalidUtf8`] if a Text message in it is not UTF-8:
    /// the run then holds the messages before it, and the reassembler has failed.
    #[inline]
    pub(crate) fn take_whole_run(&mut self, max: usize) -> Option<(WholeRun, Result<(), ProtocolError>)> {
        self.refill();
        if !self.takes_whole_messages() {
            return None;
        }
        let mut records = RunRecords::default();
        let len = self.find_whole_messages(&mut records, max);
        if records.len() == 0 {
            return None;
        }
        let (run, checked) = WholeRun::split_off(&mut self.buffer, len, records);
        self.front_unmasked = 0;
        if let Err(error) = checked {
            return Some((run, Err(self.fail(error))));
        }
        if self.buffer.is_empty() {
            // The read buffer goes back while idle; with nothing left to decode, the next byte
            // received starts a frame.
            self.buffer = BytesMut::new();
            if self.overflow.is_empty() {
                self.tail = Tail::FrameStart;
            }
        }
        Some((run, Ok(())))
    }

    /// Whether the common-case paths may take whole messages now: no frame or message in
    /// progress, messages not streamed, not failed, and messages allowed at all.
    #[inline(always)]
    fn takes_whole_messages(&self) -> bool {
        self.frame.is_none()
            && self.message.is_none()
            && !self.streaming
            && !self.failed
            && self.limits.max_fragments != 0
    }

    /// Whether every byte received has been taken, and no frame or message is in progress: a
    /// poll would give nothing until more bytes arrive.
    #[inline]
    pub(crate) fn is_drained(&self) -> bool {
        self.buffer.is_empty() && self.overflow.is_empty() && self.frame.is_none() && self.message.is_none()
    }

    /// Unmasks the whole single-frame messages at the front of the buffer in place, recording
    /// each one's kind and lengths in `records`, at most `max`; returns their length in bytes.
    #[inline]
    fn find_whole_messages(&mut self, records: &mut RunRecords, max: usize) -> usize {
        let (rules, max_message_size) = (self.rules, self.limits.max_message_size);
        // Payload bytes of the first frame already unmasked on arrival; none of the others'.
        let mut unmasked = self.front_unmasked;
        let mut start = 0;
        for _ in 0..max {
            let Some(rest) = self.buffer.get_mut(start..) else { break };
            let Some(WholeHeader { text, header_len, payload_len, masking_key }) =
                whole_message_header(rest, &rules, max_message_size)
            else {
                break;
            };
            let Some(payload) =
                rest.get_mut(header_len..).and_then(|rest| rest.get_mut(..payload_len as usize))
            else {
                break;
            };
            match (masking_key, unmasked) {
                (None, _) => {}
                // (The common case apart: no key to rotate.)
                (Some(key), 0) => apply_mask(key, payload, 0),
                (Some(key), _) => {
                    let from = unmasked.min(payload.len());
                    apply_mask(key, &mut payload[from..], from);
                    unmasked = 0;
                }
            }
            // A header is at most 14 bytes (§5.2).
            records.push(RunRecord { text, header_len: header_len as u8, payload_len });
            start += header_len + payload_len as usize;
            if records.len() == INLINE_RECORDS {
                // More are likely: room for as many as the bytes left would hold at the size of
                // these, in one allocation, up to RESERVED_RECORDS_MAX (so a few empty frames
                // before a large one cost no more; beyond it, the records grow as they come).
                let expected = (self.buffer.len() - start) / (start / INLINE_RECORDS);
                records.reserve(expected.min(max - INLINE_RECORDS).min(RESERVED_RECORDS_MAX));
            }
        }
        start
    }
}
