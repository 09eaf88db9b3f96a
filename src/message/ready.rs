//! The engine's run of whole single-frame messages, split off the read buffer at once by
//! [`super::Reassembler`]'s `prepare_ready` (already unmasked and validated) and handed out one
//! at a time without copying.

use bytes::{Buf, Bytes};

use super::engine::{WHOLE_BINARY, WHOLE_TEXT};
use super::{finish_message, Message, MessageKind};
use crate::frame::{MASK_BIT, PAYLOAD_LEN_16, PAYLOAD_LEN_64, PAYLOAD_LEN_BITS};

/// Whole single-frame messages split off the input together, headers included, already
/// unmasked and validated by [`Reassembler::prepare_ready`]: handed out one at a time.
#[derive(Debug)]
pub(crate) struct ReadyMessages(pub(super) Bytes);

impl ReadyMessages {
    /// The next message; once the last one is out, the read buffer is released.
    #[inline(always)]
    pub(crate) fn next_message(&mut self) -> Option<Message> {
        if self.0.is_empty() {
            return None;
        }
        let (kind, payload) = split_ready(&mut self.0);
        Some(finish_message(kind, payload))
    }

    /// Whether every message has been handed out.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits the next message off a run prepared by [`Reassembler::prepare_ready`]: its header was
/// checked there (byte 0 is [`WHOLE_TEXT`] or [`WHOLE_BINARY`], the length is in the form §5.2
/// allows and the whole payload follows), so only the lengths are read again. Releases the run's
/// buffer after the last.
#[inline(always)]
pub(super) fn split_ready(ready: &mut Bytes) -> (MessageKind, Bytes) {
    let Some((kind, header_len, payload_len)) = ready_header(ready) else { broken_ready_run() };
    ready.advance(header_len);
    let payload = ready.split_to(payload_len);
    if ready.is_empty() {
        *ready = Bytes::new();
    }
    (kind, payload)
}

/// The kind, header length and payload length of the message that starts a ready run; `None`
/// only if the run was not made by [`Reassembler::prepare_ready`].
#[inline(always)]
fn ready_header(ready: &[u8]) -> Option<(MessageKind, usize, usize)> {
    let [first, second, ref rest @ ..] = *ready else { return None };
    let kind = match first {
        WHOLE_TEXT => MessageKind::Text,
        WHOLE_BINARY => MessageKind::Binary,
        _ => return None,
    };
    let (payload_len, length_len) = match second & PAYLOAD_LEN_BITS {
        PAYLOAD_LEN_16 => (usize::from(u16::from_be_bytes(*rest.first_chunk::<2>()?)), 2),
        PAYLOAD_LEN_64 => (usize::try_from(u64::from_be_bytes(*rest.first_chunk::<8>()?)).ok()?, 8),
        len => (usize::from(len), 0),
    };
    let mask_len = if second & MASK_BIT != 0 { 4 } else { 0 };
    let header_len = 2 + length_len + mask_len;
    (ready.len().checked_sub(header_len)? >= payload_len).then_some((kind, header_len, payload_len))
}

/// A ready run holds only whole messages [`Reassembler::prepare_ready`] checked: not reachable
/// from any input (the property test `tests/reassembler.rs` and the fuzz targets cover every
/// path into the run).
#[cold]
#[inline(never)]
fn broken_ready_run() -> ! {
    unreachable!("a ready run holds only whole messages checked by prepare_ready")
}
