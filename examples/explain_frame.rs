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
//! With `--rsv1`, RSV1 is allowed as when permessage-deflate (RFC 7692) was negotiated: it marks
//! a compressed message. `--inflate` also inflates compressed messages, the first with no
//! context, as RFC 7692 §7.2.3.1's "Hello" (the frame a server sends):
//!
//! ```text
//! cargo run --example explain_frame -- --inflate c1 07 f2 48 cd c9 c9 07 00
//! ```
//!
//! Every rule about a single frame is the library's (`Frame::decode`, `CloseFrame::decode`,
//! `ProtocolError`): this file reads hex and says where a frame is cut short; the field by field
//! explanation is `examples/explain/mod.rs`, shared with the `tap` example.

#[macro_use]
#[path = "explain/mod.rs"]
mod explain;

use std::io::Read;
use std::process::ExitCode;

use explain::{
    explain_first_two_bytes, explain_length_and_key, explain_payload, plural, report_protocol_error,
    role_name, Messages, Out,
};
use rfc6455::deflate::{DeflateCodec, DeflateConfig, PERMESSAGE_DEFLATE};
use rfc6455::frame::{MASK_BIT, RSV1_BIT};
use rfc6455::handshake::extension::Extension;
use rfc6455::{DecodeRules, Decoded, Frame, FrameHeader, ProtocolError, Role};

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
  --rsv1      allow RSV1, as when permessage-deflate (RFC 7692) was negotiated: RSV1 on
              the first frame of a message marks it compressed
  --inflate   --rsv1, and inflate compressed messages: the first with no context, the
              next ones with the context of those before (context takeover, the default)
  -h, --help  show this help

exit status: 0 all frames valid, 1 a frame is malformed or incomplete (or its message is:
invalid UTF-8, or compressed data that does not inflate), 2 usage error or bad hex
";

fn main() -> ExitCode {
    let (mut role, mut rsv1, mut inflate, mut hex_args) = (None, false, false, Vec::new());
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--server" => role = Some(Role::Server),
            "--client" => role = Some(Role::Client),
            "--rsv1" => rsv1 = true,
            "--inflate" => (rsv1, inflate) = (true, true),
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

    let mut out = Out::new("");
    let role = role.unwrap_or_else(|| auto_role(&mut out, &bytes));
    let rsv_allowed = if rsv1 { RSV1_BIT } else { 0 };
    // No size limit here: a real endpoint sets one, but this tool only reads what it is given.
    let rules = DecodeRules::new(role).with_rsv_allowed(rsv_allowed).with_max_frame_size(u64::MAX);
    say!(out, "Reading {} as the {} receives them.", plural(bytes.len(), "byte"), role_name(role));

    let mut messages = if inflate { Messages::inflated_by(inflater(role)) } else { Messages::default() };
    let (mut offset, mut number) = (0, 1);
    while offset < bytes.len() {
        say!(out, "\nFrame {number}, starting at input offset {offset} ({offset:#x})");
        let Some((frame, consumed)) = explain_frame(&mut out, &bytes[offset..], &rules, &messages) else {
            return ExitCode::from(1);
        };
        let compressed = messages.is_compressed(&frame.header);
        // A message that does not inflate fails the connection (1007) as invalid UTF-8 does.
        if !messages.follow(&mut out, &frame, number) || messages.inflating_failed() {
            return ExitCode::from(1);
        }
        if compressed && frame.header.fin && !inflate {
            say!(out, "     (run again with --inflate to see compressed messages inflated)");
        }
        offset += consumed;
        number += 1;
    }
    if let Some(message) = messages.open {
        say!(out, "\nNote: the input ends inside the message begun in frame {}.", message.first_frame);
    }
    say!(out, "\n{}, all valid.", plural(number - 1, "frame"));
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

/// The codec that inflates what the endpoint of `role` receives, for the RFC's default parameters
/// (RFC 7692 §7.1): windows of 2^15 bytes, context kept between messages. Inflating with them reads
/// messages sent with any other parameters too.
fn inflater(role: Role) -> DeflateCodec {
    // A response naming the extension alone, checked by a client that asked for nothing more.
    let offered = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let params = offered.check_response(&Extension::new(PERMESSAGE_DEFLATE)).expect("the RFC's defaults");
    DeflateCodec::new(role, params)
}

/// With neither --server nor --client: the role for which the first frame's MASK bit is valid.
fn auto_role(out: &mut Out, bytes: &[u8]) -> Role {
    // §5.1: a client masks every frame it sends, a server masks none.
    let Some(second) = bytes.get(1) else {
        say!(out, "Role: auto, but byte 1 (with the MASK bit) is missing: assuming the server.");
        return Role::Server;
    };
    let masked = second & MASK_BIT != 0;
    let role = if masked { Role::Server } else { Role::Client };
    let sender = role_name(role.peer());
    say!(out, "Role: auto. The first frame has MASK = {}, as sent by a {sender} (§5.1).", u8::from(masked));
    say!(out, "Use --server or --client to choose.");
    role
}

/// Prints one frame field by field. Returns it with its length in bytes, or `None` once it has
/// said why the frame is malformed or incomplete.
fn explain_frame(
    out: &mut Out,
    input: &[u8],
    rules: &DecodeRules,
    messages: &Messages,
) -> Option<(Frame, usize)> {
    explain_first_two_bytes(out, input, rules.rsv_allowed & RSV1_BIT != 0);
    match Frame::decode(input, rules) {
        Ok(Decoded::Complete { value: frame, consumed }) => {
            explain_length_and_key(out, input, &frame.header);
            let as_sent = &input[frame.header.encoded_len()..consumed];
            let compressed = messages.is_compressed(&frame.header);
            explain_payload(out, as_sent, &frame, false, compressed).then_some((frame, consumed))
        }
        Ok(Decoded::Incomplete { needed }) => {
            // Is it the header or the payload that is cut short?
            let missing = plural(needed, "byte");
            if let Ok(Decoded::Complete { value: header, .. }) = FrameHeader::decode(input, rules) {
                explain_length_and_key(out, input, &header);
                let present = input.len() - header.encoded_len();
                say!(out, "  payload       only {present} of the {} bytes announced", header.payload_len);
                report_incomplete(out, &format!("{missing} missing"));
            } else {
                report_incomplete(out, &format!("the header is cut short, at least {missing} missing"));
            }
            None
        }
        Err(error) => {
            report_protocol_error(out, &error, hint(&error));
            None
        }
    }
}

/// What to try when a rule that depends on this tool's options is broken, for
/// [`report_protocol_error`]: a sentence after its separator, or `""`.
fn hint(error: &ProtocolError) -> &'static str {
    match error {
        ProtocolError::ReservedBitsSet(bits) if *bits == RSV1_BIT => {
            "\nIf one was, run again with --rsv1, or --inflate to see the message inflated."
        }
        ProtocolError::ReservedBitsSet(_) => " If one was, run again with --rsv1.",
        ProtocolError::UnmaskedFrame => "\nIf these bytes were sent by the server, run again with --client.",
        ProtocolError::MaskedFrame => "\nIf these bytes were sent by a client, run again with --server.",
        _ => "",
    }
}

fn report_incomplete(out: &mut Out, what: &str) {
    say!(out, "\n  INCOMPLETE: the input ends before this frame does: {what}.");
    say!(out, "    Nothing is wrong so far, but a frame is whole only once all the bytes its header");
    say!(out, "    announces are there. A receiver would wait for more; here, paste the rest.");
}
