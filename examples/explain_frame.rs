//! Explains WebSocket frames (RFC 6455) field by field, for students reading a capture.
//!
//! Give it the bytes of one or more consecutive frames in hex, as Wireshark copies them:
//!
//! ```text
//! cargo run --example explain_frame -- 81 85 37 fa 21 3d 7f 9f 4d 51 58
//! ```
//!
//! or, with no hex arguments, on standard input (space separated, `818537fa...`, `0x81, 0x85`,
//! `81:85:...`, or Wireshark's "Copy as Hex Dump" with its offset and ASCII columns). It prints
//! every field of the §5.2 diagram with its bit positions, unmasks the payload (§5.3), decodes
//! Close bodies (§5.5.1) and follows fragmented messages (§5.4). When a frame breaks a rule it
//! says which one, where in the RFC, and the close code a receiver answers with.
//!
//! Every rule about a single frame is the library's (`Frame::decode`, `CloseFrame::decode`,
//! `ProtocolError`): this file reads hex, prints, and tracks which fragments belong together.

use std::io::Read;
use std::process::ExitCode;

use rfc6455::frame::{PAYLOAD_LEN_16, PAYLOAD_LEN_64};
use rfc6455::{
    apply_mask, CloseCode, CloseFrame, DecodeRules, Decoded, Frame, FrameHeader, Opcode, ProtocolError, Role,
    FIN_BIT, MASK_BIT, OPCODE_BITS, PAYLOAD_LEN_BITS, RSV1_BIT, RSV2_BIT, RSV3_BIT,
};

const HELP: &str = "\
explain_frame: explain WebSocket frames (RFC 6455) field by field

usage: cargo run --example explain_frame -- [OPTIONS] [HEX BYTES...]

With no hex bytes as arguments, reads them from standard input. Accepted: 81 85 37 fa,
818537fa, 0x81, 0x85, 81:85:37:fa, and Wireshark's \"Copy as Hex Dump\" lines
(the offset column and the ASCII column are ignored).

options:
  --server    the frames were received by a server (sent by a client: must be masked)
  --client    the frames were received by a client (sent by a server: must not be masked)
              default: the role that the MASK bit of the first frame makes valid
  --rsv1      allow RSV1, as when an extension such as permessage-deflate was negotiated
  -h, --help  show this help

exit status: 0 all frames valid, 1 a frame is malformed or incomplete, 2 usage error or bad hex
";

fn main() -> ExitCode {
    let (mut role, mut rsv1, mut hex_args) = (None, false, Vec::new());
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--server" => role = Some(Role::Server),
            "--client" => role = Some(Role::Client),
            "--rsv1" => rsv1 = true,
            option if option.starts_with("--") => return usage_error(&format!("unknown option {option}")),
            _ => hex_args.push(arg),
        }
    }
    let mut text = hex_args.join(" ");
    if hex_args.is_empty() {
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            return usage_error(&format!("cannot read standard input: {error}"));
        }
    }
    let bytes = match decode_hex(&text) {
        Ok(bytes) if bytes.is_empty() => return usage_error("no bytes to explain"),
        Ok(bytes) => bytes,
        Err(message) => return usage_error(&format!("invalid hex in the input: {message}")),
    };

    let role = role.unwrap_or_else(|| auto_role(&bytes));
    let rsv_allowed = if rsv1 { RSV1_BIT } else { 0 };
    // No size limit here: a real endpoint sets one, but this tool only reads what it is given.
    let rules = DecodeRules::new(role).with_rsv_allowed(rsv_allowed).with_max_payload_len(u64::MAX);
    println!("Reading {} as the {} receives them.", plural(bytes.len(), "byte"), role_name(role));

    let (mut offset, mut number, mut open_message) = (0, 1, None);
    while offset < bytes.len() {
        println!("\nFrame {number}, starting at input offset {offset} ({offset:#x})");
        let Some((frame, consumed)) = explain_frame(&bytes[offset..], &rules) else {
            return ExitCode::from(1);
        };
        if !follow_message(&mut open_message, &frame, number) {
            return ExitCode::from(1);
        }
        offset += consumed;
        number += 1;
    }
    if let Some(message) = open_message {
        println!("\nNote: the input ends inside the message begun in frame {}.", message.first_frame);
    }
    println!("\n{}, all valid.", plural(number - 1, "frame"));
    ExitCode::SUCCESS
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n(run with --help to see the accepted formats)");
    ExitCode::from(2)
}

/// Hex as Wireshark and friends copy it, into bytes. `Err` says where and what is wrong.
fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let separator = |c: char| c.is_whitespace() || c == ',' || c == ':';
        for token in strip_dump_columns(line).split(separator) {
            let digits = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")).unwrap_or(token);
            if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
                return Err(format!("line {}: {bad:?} in {token:?} is not a hex digit", index + 1));
            }
            if digits.len() % 2 != 0 {
                return Err(format!("line {}: {token:?} has an odd number of hex digits", index + 1));
            }
            for pair in (0..digits.len()).step_by(2) {
                bytes.push(u8::from_str_radix(&digits[pair..pair + 2], 16).expect("checked hex digits"));
            }
        }
    }
    Ok(bytes)
}

/// The bytes part of a hex dump line such as Wireshark's `0010   6c 6f 0a   lo.` (an offset, then
/// the bytes, then an ASCII column) or `hexdump -C`'s `00000010  6c 6f 0a  |lo.|`. Other lines are
/// returned as they are.
fn strip_dump_columns(line: &str) -> &str {
    let line = line.trim();
    let body = line.strip_prefix("0x").unwrap_or(line);
    let offset_len = body.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(body.len());
    let rest = &body[offset_len..];
    let gap = rest.len() - rest.trim_start().len();
    // An offset has at least 4 digits, counts lines of 16 bytes, and is followed by a colon or by
    // two spaces or more: `818537fa 213d` is not a dump line.
    let is_offset =
        offset_len >= 4 && body[..offset_len].ends_with('0') && (rest.starts_with(':') || gap >= 2);
    if !is_offset {
        return line;
    }
    let hex = rest.trim_start_matches(':').trim_start();
    // The ASCII column starts at a '|' or after a gap of three spaces or more.
    let end = [hex.find('|'), hex.find("   ")].into_iter().flatten().min().unwrap_or(hex.len());
    &hex[..end]
}

/// With neither --server nor --client: the role for which the first frame's MASK bit is valid.
fn auto_role(bytes: &[u8]) -> Role {
    // §5.1: a client masks every frame it sends, a server masks none.
    let Some(second) = bytes.get(1) else {
        println!("Role: auto, but byte 1 (with the MASK bit) is missing: assuming the server.");
        return Role::Server;
    };
    let masked = second & MASK_BIT != 0;
    let role = if masked { Role::Server } else { Role::Client };
    let sender = role_name(role.peer());
    println!("Role: auto. The first frame has MASK = {}, as sent by a {sender} (§5.1).", u8::from(masked));
    println!("Use --server or --client to choose.");
    role
}

/// Prints one frame field by field. Returns it with its length in bytes, or `None` once it has
/// said why the frame is malformed or incomplete.
fn explain_frame(input: &[u8], rules: &DecodeRules) -> Option<(Frame, usize)> {
    explain_first_two_bytes(input);
    match Frame::decode(input, rules) {
        Ok(Decoded::Complete { value: frame, consumed }) => {
            explain_length_and_key(input, &frame.header);
            let as_sent = &input[frame.header.encoded_len()..consumed];
            explain_payload(as_sent, &frame).then_some((frame, consumed))
        }
        Ok(Decoded::Incomplete { needed }) => {
            // Is it the header or the payload that is cut short?
            let missing = plural(needed, "byte");
            if let Ok(Decoded::Complete { value: header, .. }) = FrameHeader::decode(input, rules) {
                explain_length_and_key(input, &header);
                let present = input.len() - header.encoded_len();
                println!("  payload       only {present} of the {} bytes announced", header.payload_len);
                report_incomplete(&format!("{missing} missing"));
            } else {
                report_incomplete(&format!("the header is cut short, at least {missing} missing"));
            }
            None
        }
        Err(error) => {
            report_protocol_error(&error);
            None
        }
    }
}

/// Byte 0 (FIN, RSV1-3, opcode) and byte 1 (MASK, payload len), bit by bit, from the raw bytes:
/// they are shown even when the library rejects the frame.
fn explain_first_two_bytes(input: &[u8]) {
    if let Some(&first) = input.first() {
        println!("  byte 0        {first:#04x} = {}", bits(first));
        let fin = if first & FIN_BIT != 0 { "final fragment" } else { "more fragments follow" };
        println!("    bit 7       FIN = {}  {fin}", bit(first, FIN_BIT));
        let [rsv1, rsv2, rsv3] = [RSV1_BIT, RSV2_BIT, RSV3_BIT].map(|mask| bit(first, mask));
        println!("    bits 6-4    RSV1 = {rsv1}, RSV2 = {rsv2}, RSV3 = {rsv3}  (for extensions)");
        let opcode = match Opcode::decode(first) {
            Ok(opcode) if opcode.is_control() => format!("{opcode}, a control frame"),
            Ok(opcode) => format!("{opcode}, a data frame"),
            Err(_) => "reserved: RFC 6455 gives it no meaning".to_owned(),
        };
        println!("    bits 3-0    opcode = {:04b} = {opcode}", first & OPCODE_BITS);
    }
    if let Some(&second) = input.get(1) {
        println!("  byte 1        {second:#04x} = {}", bits(second));
        let mask = if second & MASK_BIT != 0 { "masked: a 4-byte masking key follows" } else { "not masked" };
        println!("    bit 7       MASK = {}  {mask}", bit(second, MASK_BIT));
        let meaning = match second & PAYLOAD_LEN_BITS {
            PAYLOAD_LEN_16 => "126: the length is in the next 2 bytes",
            PAYLOAD_LEN_64 => "127: the length is in the next 8 bytes",
            _ => "the payload length itself",
        };
        println!("    bits 6-0    payload len = {}  {meaning}", second & PAYLOAD_LEN_BITS);
    }
}

/// The length encoding used (§5.2) and the masking key (§5.3), with their byte ranges.
fn explain_length_and_key(input: &[u8], header: &FrameHeader) {
    let len = header.payload_len;
    match input[1] & PAYLOAD_LEN_BITS {
        PAYLOAD_LEN_16 => println!("  bytes 2-3     16-bit extended length {} = {len}", hex(&input[2..4])),
        PAYLOAD_LEN_64 => println!("  bytes 2-9     64-bit extended length {} = {len}", hex(&input[2..10])),
        _ => println!("  length        7-bit: payload len is the length (0-125), no extended length"),
    }
    if let Some(key) = header.masking_key {
        let start = header.encoded_len() - 4;
        println!("  {:<14}masking key {}", byte_range(start, 4), hex(&key));
    }
}

/// The payload as sent, unmasked, and as text or as a Close body. `false` after reporting a
/// malformed Close body.
fn explain_payload(as_sent: &[u8], frame: &Frame) -> bool {
    let (start, len) = (frame.header.encoded_len(), frame.payload.len());
    if len == 0 {
        println!("  payload       empty");
    } else {
        println!("  {:<14}payload, {}", byte_range(start, len), plural(len, "byte"));
        if let Some(key) = frame.header.masking_key {
            // Masking zeros gives the key repeated along the payload: masked XOR key = data.
            let mut key_stream = vec![0; len];
            apply_mask(key, &mut key_stream, 0);
            println!("    masked      {}", hex(as_sent));
            println!("    XOR key     {}", hex(&key_stream));
        }
        println!("    data        {}", hex(&frame.payload));
    }
    if frame.header.opcode == Opcode::Close {
        let close = CloseFrame::decode(&frame.payload);
        match &close {
            Ok(Some(close)) => println!("    status code {}\n    reason      {:?}", close.code, close.reason),
            Ok(None) => println!("    no status code: the receiver reports {}", CloseCode::NO_STATUS_RCVD),
            Err(error) => report_protocol_error(error),
        }
        return close.is_ok();
    }
    match std::str::from_utf8(&frame.payload) {
        Ok(text) if (1..=100).contains(&len) => println!("    as text     {text:?}"),
        _ => {}
    }
    true
}

/// A data message whose fragments are being read (§5.4).
struct Message {
    opcode: Opcode,
    first_frame: usize,
    frames: usize,
    /// RSV1 on the first frame: with permessage-deflate, compressed data (text only once inflated).
    compressed: bool,
    data: Vec<u8>,
}

/// Says where a frame belongs in its message (§5.4). `false` after reporting a frame out of place.
fn follow_message(open: &mut Option<Message>, frame: &Frame, number: usize) -> bool {
    let opcode = frame.header.opcode;
    if opcode.is_control() {
        if open.is_some() {
            println!("  => a control frame between the fragments of a message: allowed (§5.4)");
        }
        return true;
    }
    let compressed = frame.header.rsv1;
    let mut message = match (opcode, open.take()) {
        (Opcode::Continuation, Some(message)) => message,
        (Opcode::Continuation, None) | (_, Some(_)) => {
            let what = match opcode {
                Opcode::Continuation => "continuation frame with no message to continue",
                _ => "new data message before the fragmented one has ended",
            };
            let why = "A message is a Text or Binary frame then, if its FIN is 0, continuation frames\n\
                       (control frames may come between) up to one with FIN = 1. Nothing else.";
            report(what, "§5.4", why, CloseCode::PROTOCOL_ERROR);
            return false;
        }
        (opcode, None) => Message { opcode, first_frame: number, frames: 0, compressed, data: vec![] },
    };
    message.frames += 1;
    message.data.extend_from_slice(&frame.payload);
    let kind = if message.opcode == Opcode::Text { "text" } else { "binary" };
    if !frame.header.fin {
        println!("  => FIN = 0: fragment {} of a fragmented {kind} message, more follow", message.frames);
        *open = Some(message);
        return true;
    }
    if message.frames == 1 {
        println!("  => a whole {kind} message in one frame");
    } else {
        let (first, size) = (message.first_frame, plural(message.data.len(), "byte"));
        println!("  => FIN = 1: last fragment. Frames {first}-{number} are one fragmented {kind} message:");
        println!("     {} frames, {size} in all", message.frames);
    }
    if message.opcode == Opcode::Text && !message.compressed {
        match std::str::from_utf8(&message.data) {
            Ok(text) if message.frames > 1 && text.len() <= 100 => println!("     whole message {text:?}"),
            Ok(_) => {}
            Err(_) => {
                report_protocol_error(&ProtocolError::InvalidUtf8);
                return false;
            }
        }
    }
    true
}

/// Says what the peer did wrong: the library's error, a student's explanation, its RFC section.
#[rustfmt::skip] // a table: one source line per printed line
fn report_protocol_error(error: &ProtocolError) {
    let (section, why) = match error {
        ProtocolError::ReservedOpcode(_) => ("§5.2", "\
            RFC 6455 defines opcodes 0x0-0x2 (data frames) and 0x8-0xA (control frames) only;\n\
            0x3-0x7 and 0xB-0xF are reserved for future use: nobody knows what they mean."),
        ProtocolError::ReservedBitsSet(_) => ("§5.2", "\
            RSV1-3 must be 0 unless an extension negotiated in the opening handshake gives them\n\
            a meaning (permessage-deflate uses RSV1). If one was, run again with --rsv1."),
        ProtocolError::FragmentedControlFrame => ("§5.5", "\
            Close, Ping and Pong are control frames, which must not be fragmented: their FIN bit\n\
            must be 1. Only Text and Binary messages can be split into fragments."),
        ProtocolError::ControlFrameTooLong(_) => ("§5.5", "\
            A control frame carries at most 125 bytes, so its payload len is always the 7-bit\n\
            one: 126 and 127 (the extended lengths) are never valid for it."),
        ProtocolError::UnmaskedFrame => ("§5.1", "\
            A client must mask every frame it sends, so a server accepts only MASK = 1.\n\
            If these bytes were sent by the server, run again with --client."),
        ProtocolError::MaskedFrame => ("§5.1", "\
            A server must not mask its frames, so a client accepts only MASK = 0.\n\
            If these bytes were sent by a client, run again with --server."),
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
        _ => ("§5", ""),
    };
    report(&error.to_string(), section, why, error.close_code());
}

fn report(what: &str, section: &str, why: &str, close_code: CloseCode) {
    println!("\n  PROBLEM: {what} (RFC 6455 {section})");
    why.lines().for_each(|line| println!("    {line}"));
    println!("    A receiver must fail the WebSocket connection, with close code {close_code}.");
}

fn report_incomplete(what: &str) {
    println!("\n  INCOMPLETE: the input ends before this frame does: {what}.");
    println!("    Nothing is wrong so far, but a frame is whole only once all the bytes its header");
    println!("    announces are there. A receiver would wait for more; here, paste the rest.");
}

fn bits(byte: u8) -> String {
    format!("{:04b} {:04b}", byte >> 4, byte & 0x0f)
}

fn bit(byte: u8, mask: u8) -> u8 {
    u8::from(byte & mask != 0)
}

/// Bytes in hex, the first 32 only.
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|byte| format!("{byte:02x}")).collect();
    match bytes.len() {
        0..=32 => shown.join(" "),
        len => format!("{} ... ({} more)", shown.join(" "), len - 32),
    }
}

fn byte_range(start: usize, len: usize) -> String {
    if len == 1 {
        format!("byte {start}")
    } else {
        format!("bytes {start}-{}", start + len - 1)
    }
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}
