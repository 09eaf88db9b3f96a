//! RFC 7692 §6 and §7.2: compressing and inflating messages, one DEFLATE context per direction.

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::negotiation::{DeflateParams, MIN_COMPRESS_WINDOW_BITS};
use crate::error::ProtocolError;
use crate::extension::{DecodeOutput, ExtensionCodec};
use crate::frame::RSV1_BIT;
use crate::handshake::extension::Extension;
use crate::message::MessageKind;
use crate::Role;

/// §7.2.1: a message compressed with a sync flush ends with these four bytes (an empty stored
/// block), which the sender removes; §7.2.2: the receiver appends them before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Drops the compressor this thread keeps for the codecs without context takeover, giving its
/// memory back (a few hundred KiB; one per thread that compressed such a message). The next
/// such message on this thread makes a new one.
///
/// Codecs that reset their compressor after each message (the server's at
/// [`DeflateConfig::default()`](super::DeflateConfig), both sides at
/// [`DeflateConfig::NO_CONTEXT_TAKEOVER`](super::DeflateConfig::NO_CONTEXT_TAKEOVER)) share one
/// per thread: creating a compressor costs an allocation and clearing it, a reset the clearing
/// only (1 KiB messages: 620,536 instructions per message with a new one, 357,016 with the
/// shared one).
pub fn release_thread_compressor() {
    spare::release();
}

/// Default of [`DeflateCodec::with_compress_min`]: messages under 1 KiB are sent uncompressed
/// (compressing them saves few bytes and costs a pass of the compressor). Node's `ws` uses the
/// same threshold.
pub const DEFAULT_COMPRESS_MIN: usize = 1024;

/// How much is inflated at a time: the output grows by at most this much past what the
/// message's limit allows before the limit stops it (nothing past the limit is kept).
const INFLATE_CHUNK: usize = 8 * 1024;

/// The permessage-deflate codec of one connection, for the parameters negotiated: install it
/// with the handshake's `with_extension` (server) or `into_connection` (client).
///
/// - Sending: a message is compressed as one DEFLATE stream piece (§7.2.1), RSV1 set on its first
///   frame only; a message shorter than [`DeflateCodec::with_compress_min`] goes uncompressed, and
///   so does one that compression would not shrink when this side keeps no context (random
///   bytes, images, already compressed data).
/// - Receiving: a message whose first frame has RSV1 is inflated as its frames arrive (§7.2.2),
///   the output bounded by the message limit as it is produced: a small message that inflates
///   to more than the limit fails with 1009 once the limit is reached, never having held more.
/// - Without context takeover (negotiated for a direction), that direction's DEFLATE state is
///   let go after each message: the inflater dropped, the compressor reset and kept as the
///   thread's shared one ([`release_thread_compressor`]). An idle connection then holds none.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use rfc6455::deflate::{DeflateCodec, DeflateConfig};
/// use rfc6455::extension::{DecodeOutput, ExtensionCodec};
/// use rfc6455::handshake::extension::Extension;
/// use rfc6455::{MessageKind, Role};
///
/// let params = DeflateConfig::RFC_DEFAULTS.accept(&[Extension::new("permessage-deflate")]).unwrap();
/// let mut server = DeflateCodec::new(Role::Server, params).with_compress_min(0);
/// let mut client = DeflateCodec::new(Role::Client, params);
///
/// // RFC 7692 §7.2.3.1: "Hello" compresses to f2 48 cd c9 c9 07 00.
/// let mut compressed = BytesMut::new();
/// assert_eq!(server.encode(MessageKind::Text, b"Hello", true, &mut compressed), 0x40);
/// assert_eq!(&compressed[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
///
/// let mut inflated = BytesMut::new();
/// client.decode(&compressed, true, &mut DecodeOutput::new(&mut inflated, 0, 1 << 20))?;
/// assert_eq!(&inflated[..], b"Hello");
/// # Ok::<(), rfc6455::ProtocolError>(())
/// ```
pub struct DeflateCodec {
    params: DeflateParams,
    /// This endpoint's compression window (bits) and whether it resets after each message.
    own_window: u8,
    own_no_context_takeover: bool,
    /// The peer's.
    peer_window: u8,
    peer_no_context_takeover: bool,
    level: Compression,
    compress_min: usize,
    /// Created at the first message to compress; dropped after each one without context takeover.
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// Whether the message being sent is compressed (decided at its first piece).
    sending_compressed: bool,
    /// Whether a message is being sent (a piece came without `fin`).
    sending: bool,
}

impl std::fmt::Debug for DeflateCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeflateCodec")
            .field("params", &self.params)
            .field("compress_min", &self.compress_min)
            .field("compressor", &self.compressor.is_some())
            .field("decompressor", &self.decompressor.is_some())
            .finish()
    }
}

impl DeflateCodec {
    /// The codec for the endpoint of `role` on a connection with these parameters.
    pub fn new(role: Role, params: DeflateParams) -> DeflateCodec {
        let (own_window, own_reset, peer_window, peer_reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        };
        DeflateCodec {
            params,
            // zlib compresses with 9 bits at least; negotiation never agrees on 8 for this side.
            own_window: own_window.max(MIN_COMPRESS_WINDOW_BITS),
            own_no_context_takeover: own_reset,
            // A larger window inflates anything a smaller one compressed.
            peer_window: peer_window.max(MIN_COMPRESS_WINDOW_BITS),
            peer_no_context_takeover: peer_reset,
            level: Compression::default(),
            compress_min: DEFAULT_COMPRESS_MIN,
            compressor: None,
            decompressor: None,
            sending_compressed: false,
            sending: false,
        }
    }

    /// Sends messages shorter than `bytes` uncompressed (a message sent in several pieces is
    /// always compressed: its length is not known at its first piece).
    pub fn with_compress_min(mut self, bytes: usize) -> DeflateCodec {
        self.compress_min = bytes;
        self
    }

    /// The compression level, 0 (none) to 9 (best); default 6, zlib's.
    pub fn with_level(mut self, level: u32) -> DeflateCodec {
        self.level = Compression::new(level.min(9));
        self
    }

    /// Whether DEFLATE state is held between messages (for memory accounting): (compressor,
    /// decompressor).
    pub fn holds_state(&self) -> (bool, bool) {
        (self.compressor.is_some(), self.decompressor.is_some())
    }

    /// Compresses `input` into `output` (appending), ending with a sync flush whose tail is
    /// removed when `fin`.
    fn compress(&mut self, input: &[u8], fin: bool, output: &mut BytesMut) {
        let (level, window) = (self.level, self.own_window);
        let compressor = self.compressor.get_or_insert_with(|| spare::take(level, window));
        let flush = if fin { FlushCompress::Sync } else { FlushCompress::None };
        let start = output.len();
        let mut consumed = 0;
        loop {
            // Room for the input and the flush's few bytes; more is made if the output needs it.
            output.reserve((input.len() - consumed) / 2 + 64);
            let before_in = compressor.total_in();
            let before_out = compressor.total_out();
            let spare_start = output.len();
            output.resize(output.capacity(), 0);
            let status = compressor.compress(&input[consumed..], &mut output[spare_start..], flush);
            let written = (compressor.total_out() - before_out) as usize;
            output.truncate(spare_start + written);
            consumed += (compressor.total_in() - before_in) as usize;
            // Done when all input is taken and the flush left room to spare (zlib's rule: a
            // flush is complete when it did not fill the output).
            let room_left = written < output.capacity() - spare_start;
            let stuck = written == 0 && compressor.total_in() == before_in;
            match status {
                Ok(Status::Ok | Status::BufError) if consumed == input.len() && room_left => break,
                Ok(Status::StreamEnd) => break,
                Ok(_) if !stuck || !room_left => continue,
                // A compressor fed valid memory neither fails nor stalls with room to write;
                // stop rather than loop if it ever did.
                Ok(_) | Err(_) => break,
            }
        }
        if fin && output[start..].ends_with(&TAIL) {
            output.truncate(output.len() - TAIL.len());
        } else if fin && output.len() == start {
            // An empty message right after another message's flush: zlib writes nothing for a
            // second flush in a row. §7.2.1: "If the resulting data does not end with an empty
            // DEFLATE block with no compression ..., append an empty DEFLATE block with no
            // compression"; the stream is byte-aligned after that flush, so the block is
            // `00 00 00 ff ff`, and without its tail the single byte 00 (§7.2.3.6). An empty
            // payload would make the peer read the tail it appends as a block's header.
            output.extend_from_slice(&[0x00]);
        }
    }
}

impl ExtensionCodec for DeflateCodec {
    fn rsv_bits(&self) -> u8 {
        RSV1_BIT
    }

    fn negotiated(&self) -> Extension {
        self.params.to_response()
    }

    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        let window = self.peer_window;
        let decompressor =
            self.decompressor.get_or_insert_with(|| Decompress::new_with_window_bits(false, window));
        let mut chunk = [0u8; INFLATE_CHUNK];
        // §7.2.2: the message's data, then the tail the sender removed.
        for (part, last) in [(input, false), (&TAIL[..], true)] {
            if last && !fin {
                break;
            }
            let mut consumed = 0;
            loop {
                let before_in = decompressor.total_in();
                let before_out = decompressor.total_out();
                let status = decompressor
                    .decompress(&part[consumed..], &mut chunk, FlushDecompress::Sync)
                    .map_err(|_| ProtocolError::InvalidCompressedData)?;
                consumed += (decompressor.total_in() - before_in) as usize;
                let written = (decompressor.total_out() - before_out) as usize;
                // Bounded as it is produced: 1009 before the message holds more than its limit.
                output.extend_from_slice(&chunk[..written])?;
                let done = consumed == part.len() && written < chunk.len();
                let stuck = written == 0 && decompressor.total_in() == before_in;
                match status {
                    // A final block ends the stream (§7.2.3.4 allows it): inflating starts over.
                    Status::StreamEnd => {
                        decompressor.reset(false);
                        if consumed == part.len() {
                            break;
                        }
                    }
                    Status::Ok | Status::BufError if done => break,
                    // Input left that the inflater will not take: not a DEFLATE stream.
                    Status::Ok | Status::BufError if stuck => {
                        return Err(ProtocolError::InvalidCompressedData)
                    }
                    Status::Ok | Status::BufError => {}
                }
            }
        }
        if fin && self.peer_no_context_takeover {
            // The peer starts each message afresh: nothing to keep.
            self.decompressor = None;
        }
        Ok(())
    }

    fn encode(&mut self, _kind: MessageKind, input: &[u8], fin: bool, output: &mut BytesMut) -> u8 {
        let first = !self.sending;
        if first {
            // The first piece decides for the whole message.
            self.sending_compressed = !(fin && input.len() < self.compress_min);
        }
        self.sending = !fin;
        if !self.sending_compressed {
            return 0;
        }
        let start = output.len();
        self.compress(input, fin, output);
        if fin && self.own_no_context_takeover {
            // §7.1.1: no context carried to the next message; the compressor goes back to the
            // thread's spare, reset.
            if let Some(compressor) = self.compressor.take() {
                spare::give_back(self.level, self.own_window, compressor);
            }
            // A whole message that did not shrink (random or already compressed data) goes as
            // it is: nothing of it is in a context the peer must share.
            if first && output.len() - start >= input.len() {
                output.truncate(start);
                self.sending_compressed = false;
                return 0;
            }
        }
        RSV1_BIT
    }
}

/// The compressor that codecs without context takeover share, one per thread (§7.1.1 lets each
/// message start afresh, so any compressor reset to its start will do). Creating one costs an
/// allocation of several hundred KiB and clearing it; a reset costs the clearing only.
mod spare {
    use std::cell::Cell;

    use flate2::{Compress, Compression};

    /// A reset compressor and what it was made for.
    struct Spare {
        level: u32,
        window: u8,
        compressor: Compress,
    }

    thread_local! {
        static SPARE: Cell<Option<Spare>> = const { Cell::new(None) };
    }

    /// A compressor at its start for this level and window: the thread's spare if it fits, else a
    /// new one.
    pub(super) fn take(level: Compression, window: u8) -> Compress {
        let spare = SPARE.try_with(Cell::take).ok().flatten();
        match spare {
            Some(spare) if spare.level == level.level() && spare.window == window => spare.compressor,
            _ => Compress::new_with_window_bits(level, false, window),
        }
    }

    /// Resets `compressor` and keeps it as the thread's spare (replacing any other).
    pub(super) fn give_back(level: Compression, window: u8, mut compressor: Compress) {
        compressor.reset();
        let spare = Spare { level: level.level(), window, compressor };
        let _ = SPARE.try_with(|cell| cell.set(Some(spare)));
    }

    /// Drops this thread's spare compressor, if any.
    pub(crate) fn release() {
        let _ = SPARE.try_with(Cell::take);
    }
}
