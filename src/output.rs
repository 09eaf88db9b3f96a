//! The bytes a [`crate::Connection`] has to send, in order: frames encoded into one growing
//! buffer, and large payloads the application already holds as [`Bytes`] kept by reference, so
//! they are copied once, by the transport's write, instead of into the buffer first.
//!
//! ```text
//!   segments (written first, in order)                  tail (being encoded into)
//!   [ header bytes ][ payload: the application's Bytes ]  [ more frames ... ]
//! ```

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::SMALL_FRAME_ROOM;

/// Payloads at least this long are queued by reference; shorter ones are cheaper to copy.
pub(crate) const SHARED_PAYLOAD_MIN: usize = 4096;

/// Once everything is written, a tail buffer of at most this many bytes is kept for the next
/// frames, so a connection answering one small message at a time allocates nothing to send it;
/// a larger one is given back. An idle connection holds at most this much here.
pub(crate) const KEPT_TAIL_CAPACITY: usize = 128;

/// The most room made at once for the frames after a tail was given back (see
/// [`Output::tail`]).
const TAIL_ROOM_MAX: usize = 128 * 1024;

/// Unsent output: frozen segments, then the tail buffer.
#[derive(Debug)]
pub(crate) struct Output {
    segments: VecDeque<Bytes>,
    segments_len: usize,
    tail: BytesMut,
    /// The tail is an allocation of its own from its start: never split or advanced, so its
    /// capacity is the allocation's size.
    tail_whole: bool,
    /// How many bytes the last tail given back held, at most [`TAIL_ROOM_MAX`].
    last_tail_len: u32,
}

impl Default for Output {
    fn default() -> Output {
        Output {
            segments: VecDeque::new(),
            segments_len: 0,
            tail: BytesMut::new(),
            tail_whole: true,
            last_tail_len: 0,
        }
    }
}

impl Output {
    /// The buffer the next frame is encoded into. After a tail was given back, the first frame
    /// finds room for as many bytes as that tail held: a connection that keeps sending as much
    /// makes its room in one allocation, instead of growing it by doubling, copying what it
    /// holds each time.
    #[inline]
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        if self.last_tail_len != 0 && self.tail.capacity() == 0 {
            // The encoder makes room for a whole small frame before it writes one shorter: the
            // same batch again fits without growing.
            let room = std::mem::take(&mut self.last_tail_len) as usize + SMALL_FRAME_ROOM;
            self.tail.reserve(room);
        }
        &mut self.tail
    }

    /// Queues `payload` by reference after everything encoded so far (its frame's header
    /// included).
    pub(crate) fn push_shared(&mut self, payload: Bytes) {
        if !self.tail.is_empty() {
            self.tail_whole = false;
            let encoded = self.tail.split().freeze();
            self.segments_len += encoded.len();
            self.segments.push_back(encoded);
        }
        self.segments_len += payload.len();
        self.segments.push_back(payload);
    }

    /// How many bytes wait to be written.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.segments_len + self.tail.len()
    }

    /// Everything unsent as one slice. Queued payloads are copied into the buffer for it, once;
    /// [`Output::io_slices`] avoids that copy.
    pub(crate) fn contiguous(&mut self) -> &[u8] {
        if !self.segments.is_empty() {
            let mut all = BytesMut::with_capacity(self.len());
            for segment in self.segments.drain(..) {
                all.extend_from_slice(&segment);
            }
            all.extend_from_slice(&self.tail);
            self.tail = all;
            self.tail_whole = true;
            self.segments = VecDeque::new();
            self.segments_len = 0;
        }
        &self.tail
    }

    /// Fills `slices` with the unsent bytes in order, as many pieces as fit; returns how many.
    pub(crate) fn io_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let pieces = self.segments.iter().map(|segment| &segment[..]).chain([&self.tail[..]]);
        let mut filled = 0;
        for (slot, piece) in slices.iter_mut().zip(pieces.filter(|piece| !piece.is_empty())) {
            *slot = IoSlice::new(piece);
            filled += 1;
        }
        filled
    }

    /// Drops the first `count` unsent bytes (all of them if `count` is larger).
    pub(crate) fn advance(&mut self, mut count: usize) {
        if count >= self.len() {
            // All written: a small buffer is kept for the next frames, anything else given back
            // (see KEPT_TAIL_CAPACITY).
            if self.segments.is_empty() && self.tail_whole && self.tail.capacity() <= KEPT_TAIL_CAPACITY {
                self.tail.clear();
            } else {
                let last_tail_len = self.tail.len().min(TAIL_ROOM_MAX) as u32;
                *self = Output { last_tail_len, ..Output::default() };
            }
            return;
        }
        while let Some(front) = self.segments.front_mut() {
            if count < front.len() {
                front.advance(count);
                self.segments_len -= count;
                return;
            }
            count -= front.len();
            self.segments_len -= front.len();
            self.segments.pop_front();
        }
        self.tail.advance(count);
        self.tail_whole = false;
    }

    /// The heap the output holds, as far as it can tell: the tail's capacity and the queued
    /// segments' lengths.
    pub(crate) fn capacity(&self) -> usize {
        self.tail.capacity() + self.segments_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_tail_is_given_back_once_written_and_its_size_remembered() {
        let mut output = Output::default();
        output.tail().extend_from_slice(&[1; 1000]);
        output.advance(1000);
        // Given back: an idle connection holds nothing here...
        assert_eq!(output.tail.capacity(), 0);
        // ...and the next frames find room for as much in one allocation.
        assert!(output.tail().capacity() >= 1000);
        // That room is given back in turn, and what it held remembered instead.
        output.tail().extend_from_slice(&[2; 10]);
        output.advance(10);
        assert_eq!((output.tail.capacity(), output.last_tail_len), (0, 10));
    }

    #[test]
    fn the_same_batch_of_small_masked_frames_again_fits_the_room_made_for_it() {
        use crate::frame::{encode_frame_to_buffer, FIN_BIT};
        use crate::Opcode;
        let batch = |output: &mut Output| {
            for _ in 0..1000 {
                let first = FIN_BIT | Opcode::Binary.encode();
                encode_frame_to_buffer(output.tail(), first, Some([1, 2, 3, 4]), &[7; 16]);
            }
        };
        let mut output = Output::default();
        batch(&mut output);
        output.advance(output.len());
        let room = output.tail().capacity();
        batch(&mut output);
        // The encoder makes room for a whole small frame before the last one: had that not been
        // counted, the buffer would have grown, copying the whole batch.
        assert_eq!(output.tail.capacity(), room);
    }

    #[test]
    fn a_small_tail_is_kept_once_written() {
        let mut output = Output::default();
        output.tail().extend_from_slice(&[1; 20]);
        output.advance(20);
        assert!(output.tail.capacity() > 0 && output.tail.capacity() <= KEPT_TAIL_CAPACITY);
        assert_eq!(output.len(), 0);
    }
}
