//! How `explain_frame` (frames pasted as hex) and `tap` (frames watched on a live connection)
//! explain a frame field by field: the §5.2 fields bit by bit, the masking key and the unmasked
//! payload (§5.3), Close bodies (§5.5.1), where a frame belongs in its message (§5.4), compressed
//! messages inflated (permessage-deflate, RFC 7692), and what a peer did wrong with its RFC
//! section and close code.
//!
//! Every rule is the library's (`FrameHeader::decode`, `CloseFrame::decode`, `Utf8Validator`,
//! `DeflateCodec`, `ProtocolError::close_code`): this module only prints. Lines go to an [`Out`],
//! which puts a prefix before each (the tap's `#1 C->S`) and prints them in one piece.
//!
//! An example includes it with `#[macro_use] #[path = "explain/mod.rs"] mod explain;`, which
//! brings the `say!` macro too.

#![allow(dead_code)] // each example uses part of this module

use std::fmt;
use std::io::Write;

use bytes::BytesMut;
use rfc6455::deflate::DeflateCodec;
use rfc6455::extension::{DecodeOutput, ExtensionCodec};
use rfc6455::frame::{FIN_BIT, MASK_BIT, OPCODE_BITS, PAYLOAD_LEN_BITS, RSV1_BIT, RSV2_BIT, RSV3_BIT};
use rfc6455::frame::{PAYLOAD_LEN_16, PAYLOAD_LEN_64};
use rfc6455::{
    apply_mask, CloseCode, CloseFrame, Frame, FrameHeader, Opcode, ProtocolError, Role, Utf8Validator,
};

/// `say!(out, "format", args...)`: `println!` into an [`Out`].
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}

/// Longest text shown whole; longer ones are shown cut (by the tap) or not at all.
pub const TEXT_SHOWN: usize = 100;

/// Lines of explanation, each after a prefix, written to standard output in one piece when
/// dropped: lines about one frame stay together even when several threads print.
pub struct Out {
    prefix: String,
    text: String,
}

impl Out {
    /// An empty explanation whose lines will start with `prefix` (`""` for none).
    pub fn new(prefix: &str) -> Out {
        Out { prefix: prefix.to_owned(), text: String::new() }
    }

    /// Adds a line (or several, separated by `\n`), as `println!` would print it.
    pub fn line(&mut self, line: fmt::Arguments<'_>) {
        for part in line.to_string().split('\n') {
            if part.is_empty() {
                self.text.push_str(self.prefix.trim_end());
            } else {
                self.text.push_str(&self.prefix);
                self.text.push_str(part);
            }
            self.text.push('\n');
        }
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        // Nowhere to report a closed standard output to: the explanation is lost, nothing else.
        let _ = std::io::stdout().lock().write_all(self.text.as_bytes());
    }
}

/// Byte 0 (FIN, RSV1-3, opcode) and byte 1 (MASK, payload len), bit by bit, from the raw bytes:
/// they are shown even when the library rejects the frame. With `deflate` (permessage-deflate was
/// negotiated), RSV1 on the first frame of a message says whether it is compressed.
pub fn explain_first_two_bytes(out: &mut Out, input: &[u8], deflate: bool) {
    if let Some(&first) = input.first() {
        say!(out, "  byte 0        {first:#04x} = {}", bits(first));
        let fin = if first & FIN_BIT != 0 { "final fragment" } else { "more fragments follow" };
        say!(out, "    bit 7       FIN = {}  {fin}", bit(first, FIN_BIT));
        let [rsv1, rsv2, rsv3] = [RSV1_BIT, RSV2_BIT, RSV3_BIT].map(|mask| bit(first, mask));
        // RFC 7692 §6: RSV1 is the "Per-Message Compressed" bit, set on a message's first frame.
        let rsv_meaning = match (deflate, rsv1 == 1, Opcode::decode(first)) {
            (true, true, Ok(Opcode::Text | Opcode::Binary)) => "compressed (permessage-deflate)",
            (true, false, Ok(Opcode::Text | Opcode::Binary)) => "not compressed (RSV1 = 0)",
            (true, false, Ok(Opcode::Continuation)) => "(the message's first frame says if it is compressed)",
            (true, false, Ok(_)) => "(control frames are never compressed)",
            (true, true, _) => "RSV1 = 1: only a message's first frame may carry it (RFC 7692 §6)",
            _ => "(for extensions)",
        };
        say!(out, "    bits 6-4    RSV1 = {rsv1}, RSV2 = {rsv2}, RSV3 = {rsv3}  {rsv_meaning}");
        let opcode = match Opcode::decode(first) {
            Ok(opcode) if opcode.is_control() => format!("{opcode}, a control frame"),
            Ok(opcode) => format!("{opcode}, a data frame"),
            Err(_) => "reserved: RFC 6455 gives it no meaning".to_owned(),
        };
        say!(out, "    bits 3-0    opcode = {:04b} = {opcode}", first & OPCODE_BITS);
    }
    if let Some(&second) = input.get(1) {
        say!(out, "  byte 1        {second:#04x} = {}", bits(second));
        let mask = if second & MASK_BIT != 0 { "masked: a 4-byte masking key follows" } else { "not masked" };
        say!(out, "    bit 7       MASK = {}  {mask}", bit(second, MASK_BIT));
        let meaning = match second & PAYLOAD_LEN_BITS {
            PAYLOAD_LEN_16 => "126: the length is in the next 2 bytes",
            PAYLOAD_LEN_64 => "127: the length is in the next 8 bytes",
            _ => "the payload length itself",
        };
        say!(out, "    bits 6-0    payload len = {}  {meaning}", second & PAYLOAD_LEN_BITS);
    }
}

/// The length encoding used (§5.2) and the masking key (§5.3), with their byte ranges. `input`
/// starts with the whole header.
pub fn explain_length_and_key(out: &mut Out, input: &[u8], header: &FrameHeader) {
    let len = header.payload_len;
    match input[1] & PAYLOAD_LEN_BITS {
        PAYLOAD_LEN_16 => say!(out, "  bytes 2-3     16-bit extended length {} = {len}", hex(&input[2..4])),
        PAYLOAD_LEN_64 => say!(out, "  bytes 2-9     64-bit extended length {} = {len}", hex(&input[2..10])),
        _ => say!(out, "  length        7-bit: payload len is the length (0-125), no extended length"),
    }
    if let Some(key) = header.masking_key {
        let start = header.encoded_len() - 4;
        say!(out, "  {:<14}masking key {}", byte_range(start, 4), hex(&key));
    }
}

/// The payload as sent, unmasked, and as text or as a Close body. With `cut_long_text`, text over
/// [`TEXT_SHOWN`] bytes is shown cut, else not at all. A `compressed` payload (a piece of a
/// compressed message, [`Messages::is_compressed`]) is DEFLATE data, never shown as text: its
/// message is shown inflated once whole. `false` after reporting a malformed Close body.
pub fn explain_payload(
    out: &mut Out,
    as_sent: &[u8],
    frame: &Frame,
    cut_long_text: bool,
    compressed: bool,
) -> bool {
    let (start, len) = (frame.header.encoded_len(), frame.payload.len());
    if len == 0 {
        say!(out, "  payload       empty");
    } else {
        say!(out, "  {:<14}payload, {}", byte_range(start, len), plural(len, "byte"));
        if let Some(key) = frame.header.masking_key {
            // Masking zeros gives the key repeated along the payload: masked XOR key = data.
            let mut key_stream = vec![0; len];
            apply_mask(key, &mut key_stream, 0);
            say!(out, "    masked      {}", hex(as_sent));
            say!(out, "    XOR key     {}", hex(&key_stream));
        }
        say!(out, "    data        {}", hex(&frame.payload));
    }
    if frame.header.opcode == Opcode::Close {
        let close = CloseFrame::decode(&frame.payload);
        match &close {
            Ok(Some(close)) => {
                say!(out, "    status code {}\n    reason      {:?}", close.code, close.reason)
            }
            Ok(None) => say!(out, "    no status code: the receiver reports {}", CloseCode::NO_STATUS_RCVD),
            Err(error) => report_protocol_error(out, error, ""),
        }
        return close.is_ok();
    }
    if compressed {
        if len > 0 {
            say!(out, "    compressed  DEFLATE data (RFC 7692 §7.2.1), not the message itself");
        }
        return true;
    }
    match std::str::from_utf8(&frame.payload) {
        Ok(text) if (1..=TEXT_SHOWN).contains(&len) => say!(out, "    as text     {text:?}"),
        Ok(text) if cut_long_text && len > TEXT_SHOWN && is_printable(text) => {
            say!(out, "    as text     {}", cut_text(text, len))
        }
        _ => {}
    }
    true
}

/// The start of a text of `total_len` bytes, at most [`TEXT_SHOWN`] bytes of it, quoted, then how
/// long it is in all: `"Lorem ipsum"... (2000 bytes in all)`.
pub fn cut_text(text: &str, total_len: impl fmt::Display) -> String {
    let mut end = text.len().min(TEXT_SHOWN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} in all)", &text[..end], plural(total_len, "byte"))
}

/// Whether `text` reads as text: no control characters but white space.
pub fn is_printable(text: &str) -> bool {
    text.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// Compressed input inflated per call: DEFLATE expands at most about 1000 to 1, so what one call
/// produces stays near 1 MiB however large the message becomes (only its start is kept).
const INFLATE_PIECE: usize = 1024;

/// A data message whose fragments are being read (§5.4). Keeps its first [`TEXT_SHOWN`] bytes only,
/// so a message of any size takes the same memory.
pub struct Message {
    opcode: Opcode,
    /// The number of its first frame.
    pub first_frame: usize,
    frames: usize,
    /// RSV1 on the first frame: with permessage-deflate, compressed data (RFC 7692 §6).
    compressed: bool,
    /// The payload as sent, unmasked: DEFLATE data when `compressed`.
    payload: Content,
    /// The message inflated, while its direction's inflater works (compressed messages only).
    inflated: Option<Content>,
    /// Why this message did not inflate, until the end of the frame reports it.
    inflate_error: Option<ProtocolError>,
    /// Whether this message did not inflate.
    inflate_failed: bool,
}

/// Bytes of a message as they come: how many, the first [`TEXT_SHOWN`] + 1, and whether they are
/// UTF-8 so far.
struct Content {
    len: u64,
    start: Vec<u8>,
    /// `Some` for the bytes of a text message (§8.1): checked as they come.
    utf8: Option<Utf8Validator>,
    valid_utf8: bool,
}

impl Content {
    fn new(is_text: bool) -> Content {
        Content { len: 0, start: Vec::new(), utf8: is_text.then(Utf8Validator::new), valid_utf8: true }
    }

    fn feed(&mut self, piece: &[u8]) {
        self.len += piece.len() as u64;
        let room = (TEXT_SHOWN + 1).saturating_sub(self.start.len());
        self.start.extend_from_slice(&piece[..piece.len().min(room)]);
        if let (Some(utf8), true) = (&mut self.utf8, self.valid_utf8) {
            self.valid_utf8 = utf8.feed(piece).is_ok();
        }
    }

    /// Whether the whole text is valid UTF-8 (`true` for binary data).
    fn is_valid_utf8(&mut self) -> bool {
        match &mut self.utf8 {
            Some(utf8) => self.valid_utf8 && utf8.finish().is_ok(),
            None => true,
        }
    }
}

/// Whether compressed messages are inflated, for one direction (RFC 7692 §7.2.2).
enum Inflating {
    /// They are shown as sent: no permessage-deflate here, or not asked to inflate.
    Off,
    /// With the codec of the endpoint that receives them, which keeps the sender's context
    /// between messages unless the handshake said the sender resets it (§7.1.1).
    On(Box<DeflateCodec>),
    /// A message did not inflate: the context that later messages refer back to is lost.
    Failed,
}

/// Says where each frame belongs in its message (§5.4), and inflates compressed messages.
pub struct Messages {
    /// The message whose fragments are being read, if any.
    pub open: Option<Message>,
    inflating: Inflating,
}

impl Default for Messages {
    fn default() -> Messages {
        Messages { open: None, inflating: Inflating::Off }
    }
}

impl Messages {
    /// Messages whose compressed ones are inflated by `codec`: the codec of the endpoint that
    /// receives them (a server's codec inflates what the client sent).
    pub fn inflated_by(codec: DeflateCodec) -> Messages {
        Messages { open: None, inflating: Inflating::On(Box::new(codec)) }
    }

    /// Whether a message of these did not inflate: later ones are not inflated.
    pub fn inflating_failed(&self) -> bool {
        matches!(self.inflating, Inflating::Failed)
    }

    /// Whether the payload of a frame with this header is compressed data: a Text or Binary frame
    /// with RSV1, or a continuation of a message that began with one (RFC 7692 §6: "RSV1 ... on
    /// the first fragment of the message").
    pub fn is_compressed(&self, header: &FrameHeader) -> bool {
        match header.opcode {
            Opcode::Text | Opcode::Binary => header.rsv1,
            Opcode::Continuation => self.open.as_ref().is_some_and(|message| message.compressed),
            _ => false,
        }
    }

    /// Where a whole frame belongs: [`Messages::begin`], [`Messages::data`], [`Messages::end`].
    /// `false` after reporting a frame out of place.
    pub fn follow(&mut self, out: &mut Out, frame: &Frame, number: usize) -> bool {
        if !self.begin(out, &frame.header, number) {
            return false;
        }
        if frame.header.opcode.is_data() {
            self.data(&frame.payload);
        }
        self.end(out, &frame.header, number)
    }

    /// A frame starts: is it where a message allows it? `false` after reporting that it is not.
    pub fn begin(&mut self, out: &mut Out, header: &FrameHeader, number: usize) -> bool {
        let opcode = header.opcode;
        if header.rsv1 && (opcode.is_control() || opcode == Opcode::Continuation) {
            // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
            // frames and non-first fragments of a data message."
            let what = if opcode.is_control() { "a control frame" } else { "a continuation frame" };
            let why = "RSV1 marks a compressed message, on its first frame only: control frames are\n\
                       never compressed, and continuation frames belong to the message's first frame.";
            self.open = None;
            report(out, &format!("RSV1 set on {what}"), "RFC 7692 §6", why, CloseCode::PROTOCOL_ERROR);
            return false;
        }
        if opcode.is_control() {
            if self.open.is_some() {
                say!(out, "  => a control frame between the fragments of a message: allowed (§5.4)");
            }
            return true;
        }
        match (opcode, &self.open) {
            (Opcode::Continuation, Some(_)) => {}
            (Opcode::Continuation, None) | (_, Some(_)) => {
                let what = match opcode {
                    Opcode::Continuation => "continuation frame with no message to continue",
                    _ => "new data message before the fragmented one has ended",
                };
                let why = "A message is a Text or Binary frame then, if its FIN is 0, continuation frames\n\
                           (control frames may come between) up to one with FIN = 1. Nothing else.";
                self.open = None;
                report(out, what, "RFC 6455 §5.4", why, CloseCode::PROTOCOL_ERROR);
                return false;
            }
            (opcode, None) => {
                let (is_text, compressed) = (opcode == Opcode::Text, header.rsv1);
                let inflating = compressed && matches!(self.inflating, Inflating::On(_));
                self.open = Some(Message {
                    opcode,
                    first_frame: number,
                    frames: 0,
                    compressed,
                    // Compressed text is UTF-8 only once inflated.
                    payload: Content::new(is_text && !compressed),
                    inflated: inflating.then(|| Content::new(is_text)),
                    inflate_error: None,
                    inflate_failed: false,
                });
            }
        }
        if let Some(message) = &mut self.open {
            message.frames += 1;
        }
        true
    }

    /// The next piece of a data frame's payload, unmasked (not a control frame's: those are not
    /// part of the message they may come between). A compressed message is inflated as it comes.
    pub fn data(&mut self, piece: &[u8]) {
        let Some(message) = &mut self.open else { return };
        message.payload.feed(piece);
        self.inflate(piece, false);
    }

    /// Inflates the next piece of the open message, the last one if `fin`. On failure, the
    /// message keeps the error for [`Messages::end`] to report, and this direction inflates no
    /// more.
    fn inflate(&mut self, compressed: &[u8], fin: bool) {
        let (Some(message), Inflating::On(codec)) = (&mut self.open, &mut self.inflating) else { return };
        let Some(inflated) = &mut message.inflated else { return };
        let mut buffer = BytesMut::new();
        let mut rest = compressed;
        loop {
            let (piece, after) = rest.split_at(rest.len().min(INFLATE_PIECE));
            rest = after;
            buffer.clear();
            // No size limit: the tap is no endpoint, and keeps only the start of what it inflates.
            let mut output = DecodeOutput::new(&mut buffer, 0, u64::MAX);
            if let Err(error) = codec.decode(piece, fin && rest.is_empty(), &mut output) {
                message.inflated = None;
                message.inflate_error = Some(error);
                message.inflate_failed = true;
                self.inflating = Inflating::Failed;
                return;
            }
            inflated.feed(&buffer);
            if rest.is_empty() {
                return;
            }
        }
    }

    /// A frame ends: says whether its message goes on or is whole, and shows a compressed message
    /// inflated. `false` after reporting invalid UTF-8 in a whole text message.
    pub fn end(&mut self, out: &mut Out, header: &FrameHeader, number: usize) -> bool {
        if header.opcode.is_control() {
            return true;
        }
        if header.fin {
            // §7.2.2: the end of the message, where the tail its sender removed goes back.
            self.inflate(&[], true);
        }
        let Some(mut message) = self.open.take() else { return true };
        let kind = if message.opcode == Opcode::Text { "text" } else { "binary" };
        if !header.fin {
            say!(
                out,
                "  => FIN = 0: fragment {} of a fragmented {kind} message, more follow",
                message.frames
            );
            report_inflate_error(out, &mut message);
            self.open = Some(message);
            return true;
        }
        let compressed = if message.compressed { ", compressed" } else { "" };
        if message.frames == 1 {
            say!(out, "  => a whole {kind} message in one frame{compressed}");
        } else {
            let (first, size) = (message.first_frame, plural(message.payload.len, "byte"));
            say!(
                out,
                "  => FIN = 1: last fragment. Frames {first}-{number} are one fragmented {kind} message{compressed}:"
            );
            say!(out, "     {} frames, {size} in all", message.frames);
        }
        report_inflate_error(out, &mut message);
        if message.compressed {
            return self.explain_inflated(out, &mut message);
        }
        if !message.payload.is_valid_utf8() {
            report_protocol_error(out, &ProtocolError::InvalidUtf8, "");
            return false;
        }
        if message.opcode == Opcode::Text && message.frames > 1 && message.payload.len <= TEXT_SHOWN as u64 {
            let text = std::str::from_utf8(&message.payload.start).expect("validated");
            say!(out, "     whole message {text:?}");
        }
        true
    }

    /// A whole compressed message: what it inflated to (RFC 7692 §7.2.2), or why it was not
    /// inflated. `false` after reporting invalid UTF-8 in a text message.
    fn explain_inflated(&self, out: &mut Out, message: &mut Message) -> bool {
        let Some(inflated) = &mut message.inflated else {
            // (One that failed was reported as it did.)
            if !message.inflate_failed {
                let why = match self.inflating {
                    Inflating::Failed => ", since an earlier message did not inflate",
                    _ => "",
                };
                say!(out, "     compressed (permessage-deflate): not inflated{why}");
            }
            return true;
        };
        let (len, sent) = (inflated.len, plural(message.payload.len, "byte"));
        say!(out, "  inflated: {} from {sent} compressed (RFC 7692 §7.2.2)", plural(len, "byte"));
        if len == 0 {
            return true;
        }
        if !inflated.is_valid_utf8() {
            report_protocol_error(out, &ProtocolError::InvalidUtf8, "");
            return false;
        }
        let shown = inflated.start.len().min(32);
        match len {
            0..=32 => say!(out, "    data        {}", hex(&inflated.start)),
            _ => say!(out, "    data        {} ... (first {shown} of {len})", hex(&inflated.start[..shown])),
        }
        if let Some(text) = text_start(&inflated.start) {
            if len <= TEXT_SHOWN as u64 {
                say!(out, "    as text     {text:?}");
            } else {
                say!(out, "    as text     {}", cut_text(text, len));
            }
        }
        true
    }
}

/// Says why `message` did not inflate, if it failed in the frame just explained.
fn report_inflate_error(out: &mut Out, message: &mut Message) {
    if let Some(error) = message.inflate_error.take() {
        let hint =
            "\nLater messages in this direction are not inflated: the context they may refer back to\n\
                    is lost.";
        report_protocol_error(out, &error, hint);
    }
}

/// The text that `bytes` (the start of a payload) begin with, if they are printable UTF-8 up to a
/// code point cut at their end.
pub fn text_start(bytes: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&bytes[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    is_printable(text).then_some(text)
}

/// Says what the peer did wrong: the library's error, a student's explanation, its RFC section.
/// `hint` is added to the explanation: a sentence that starts with its separator (`" "` to go on
/// the last line, `"\n"` for a line of its own), or `""`.
#[rustfmt::skip] // a table: one source line per printed line
pub fn report_protocol_error(out: &mut Out, error: &ProtocolError, hint: &str) {
    let (section, why) = match error {
        ProtocolError::ReservedOpcode(_) => ("§5.2", "\
            RFC 6455 defines opcodes 0x0-0x2 (data frames) and 0x8-0xA (control frames) only;\n\
            0x3-0x7 and 0xB-0xF are reserved for future use: nobody knows what they mean."),
        ProtocolError::ReservedBitsSet(_) => ("§5.2", "\
            RSV1-3 must be 0 unless an extension negotiated in the opening handshake gives them\n\
            a meaning (permessage-deflate uses RSV1)."),
        ProtocolError::FragmentedControlFrame => ("§5.5", "\
            Close, Ping and Pong are control frames, which must not be fragmented: their FIN bit\n\
            must be 1. Only Text and Binary messages can be split into fragments."),
        ProtocolError::ControlFrameTooLong(_) => ("§5.5", "\
            A control frame carries at most 125 bytes, so its payload len is always the 7-bit\n\
            one: 126 and 127 (the extended lengths) are never valid for it."),
        ProtocolError::UnmaskedFrame => ("§5.1", "\
            A client must mask every frame it sends, so a server accepts only MASK = 1."),
        ProtocolError::MaskedFrame => ("§5.1", "\
            A server must not mask its frames, so a client accepts only MASK = 0."),
        ProtocolError::NonMinimalLength(_) => ("§5.2", "\
            A length must use its shortest encoding: 0-125 in the 7-bit payload len, 126-65535\n\
            in the 16-bit extended length, and only larger ones in the 64-bit one."),
        ProtocolError::LengthMostSignificantBitSet => ("§5.2", "\
            The most significant bit of the 64-bit extended length must be 0."),
        ProtocolError::CloseBodyTooShort => ("§5.5.1", "\
            A Close body is empty, or a 2-byte status code then an optional UTF-8 reason.\n\
            One byte is neither."),
        ProtocolError::InvalidCloseCode(_) => ("§7.4", "\
            Close frames may carry 1000-1003, 1007-1014 and 3000-4999. 1005, 1006 and 1015 are\n\
            only reported locally, never sent; the other codes are unused or reserved."),
        ProtocolError::InvalidUtf8 => ("§8.1", "Text messages and Close reasons must be valid UTF-8."),
        ProtocolError::InvalidCompressedData => ("§7.2.2", "\
            A compressed message is DEFLATE data (RFC 1951) whose last 4 bytes, 00 00 ff ff, its\n\
            sender removed: put back, it must inflate. This does not, or it refers back to earlier\n\
            messages that were not seen (context takeover, §7.1.1)."),
        _ => ("§5", ""),
    };
    let rfc = if *error == ProtocolError::InvalidCompressedData { "RFC 7692" } else { "RFC 6455" };
    let section = format!("{rfc} {section}");
    report(out, &error.to_string(), &section, &format!("{why}{hint}"), error.close_code());
}

/// A rule broken: what, where (`RFC 6455 §5.4`), why, and the close code a receiver fails with.
pub fn report(out: &mut Out, what: &str, section: &str, why: &str, close_code: CloseCode) {
    say!(out, "\n  PROBLEM: {what} ({section})");
    why.lines().for_each(|line| say!(out, "    {line}"));
    say!(out, "    A receiver must fail the WebSocket connection, with close code {close_code}.");
}

/// A byte's bits in two groups of four: `1000 0001`.
pub fn bits(byte: u8) -> String {
    format!("{:04b} {:04b}", byte >> 4, byte & 0x0f)
}

/// 1 if the bit of `mask` is set in `byte`, else 0.
pub fn bit(byte: u8, mask: u8) -> u8 {
    u8::from(byte & mask != 0)
}

/// Bytes in hex, the first 32 only.
pub fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|byte| format!("{byte:02x}")).collect();
    match bytes.len() {
        0..=32 => shown.join(" "),
        len => format!("{} ... ({} more)", shown.join(" "), len - 32),
    }
}

/// `byte 6` or `bytes 6-21`.
pub fn byte_range(start: usize, len: usize) -> String {
    if len == 1 {
        format!("byte {start}")
    } else {
        format!("bytes {start}-{}", start + len - 1)
    }
}

/// `1 byte`, `2 bytes`: a count of any integer type, and its noun.
pub fn plural(count: impl fmt::Display, noun: &str) -> String {
    let count = count.to_string();
    let ending = if count == "1" { "" } else { "s" };
    format!("{count} {noun}{ending}")
}

/// `client` or `server`.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}
