//! Writes the committed seed corpora, `fuzz/seeds/<target>/<name>`, from the RFC's own examples.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds            # rewrite fuzz/seeds/
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds -- --check # fail if out of date
//! ```
//!
//! A fuzzer starts faster from valid inputs: it mutates a real handshake into a nearly-valid one
//! much sooner than it builds one from nothing. Each seed is checked twice before it is written:
//! the library decodes it as expected (a valid response is accepted, a plain GET is refused with
//! 426...), and `arbitrary` reads its bytes back as the very input it was built from (see the
//! layout table in `src/lib.rs`). This program owns `fuzz/seeds/`: write mode replaces the
//! directory of each target, so a seed added by hand belongs here.

use std::fmt::Debug;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use rfc6455::deflate::{DeflateCodec, DeflateConfig};
use rfc6455::frame::DEFAULT_MAX_FRAME_SIZE;
use rfc6455::frame::RSV1_BIT;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::extension::Extension;
use rfc6455::handshake::server::UpgradeRequest;
use rfc6455::handshake::HeadLimits;
use rfc6455::ExtensionCodec;
use rfc6455::{
    CloseCode, ConnectionError, Decoded, Frame, FrameHeader, HandshakeError, MessageKind, MessageLimits,
    Opcode, OsSeededRng, ProtocolError, Role,
};
use rfc6455_fuzz::connection::{self, ConnectionInput, Delivery, FuzzConfig, FuzzFrame, FuzzPayload, Op};
use rfc6455_fuzz::handshake::{
    self, ClientAnswer, FuzzHandshakeConfig, HandshakeInput, HandshakeOp, ServerAnswer,
};
use rfc6455_fuzz::reassembler::{self, FuzzMessage, Piece, ReassemblerInput};
use rfc6455_fuzz::{
    FrameHeaderInput, FrameStreamInput, FuzzHeadLimits, FuzzRules, HandshakeRequestInput,
    HandshakeResponseInput, Negotiated, CLIENT_KEY,
};

/// §5.7: "A single-frame unmasked text message" ("Hello"), as a client receives it.
const UNMASKED_TEXT: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// §5.7: "A single-frame masked text message", as a server receives it.
const MASKED_TEXT: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// §5.7: "A fragmented unmasked text message", first fragment ("Hel").
const FRAGMENT_1: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c];
/// ... and the last one ("lo").
const FRAGMENT_2: &[u8] = &[0x80, 0x02, 0x6c, 0x6f];
/// §5.7: "Unmasked Ping request" with body "Hello".
const UNMASKED_PING: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// §5.7: "masked Ping response" (a Pong) with body "Hello".
const MASKED_PONG: &[u8] = &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// §5.7: "256 bytes binary message in a single unmasked frame": its header.
const BINARY_256_HEADER: &[u8] = &[0x82, 0x7e, 0x01, 0x00];
/// §5.7: "64KiB binary message in a single unmasked frame": its header.
const BINARY_64K_HEADER: &[u8] = &[0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
/// RFC 7692 §7.2.3.1: "Hello" compressed by permessage-deflate, with RSV1 set.
const DEFLATED_TEXT: &[u8] = &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// RFC 6455 §1.3: the client's handshake.
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// RFC 6455 §1.3: the server's handshake.
const RFC_RESPONSE: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

/// One seed file.
struct Seed {
    target: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
}

fn main() {
    let check_only = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: seeds [--check]   (unknown argument {other:?})");
            std::process::exit(2);
        }
    };
    let seeds: Vec<Seed> = [frame_header_seeds(), frame_stream_seeds(), handshake_request_seeds()]
        .into_iter()
        .chain([handshake_response_seeds(), extension_list_seeds()])
        .chain([connection_seeds(Role::Server), connection_seeds(Role::Client)])
        .chain([server_handshake_seeds(), client_handshake_seeds(), reassembler_seeds()])
        .chain([deflate_negotiation_seeds(), connection_deflate_seeds()])
        .flatten()
        .collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut targets: Vec<&str> = seeds.iter().map(|seed| seed.target).collect();
    targets.dedup();
    if check_only {
        let mut stale = 0;
        for target in &targets {
            let mut on_disk: Vec<String> = std::fs::read_dir(root.join(target))
                .map(|dir| {
                    dir.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect()
                })
                .unwrap_or_default();
            on_disk.sort();
            let mut expected: Vec<String> =
                seeds.iter().filter(|seed| seed.target == *target).map(|seed| seed.name.to_owned()).collect();
            expected.sort();
            if on_disk != expected {
                eprintln!("fuzz/seeds/{target}: files {on_disk:?}, expected {expected:?}");
                stale += 1;
            }
        }
        for seed in &seeds {
            let path = root.join(seed.target).join(seed.name);
            if std::fs::read(&path).ok().as_deref() != Some(&seed.bytes[..]) {
                eprintln!("{} is missing or out of date", path.display());
                stale += 1;
            }
        }
        if stale > 0 {
            eprintln!("run: cargo run --manifest-path fuzz/Cargo.toml --example seeds");
            std::process::exit(1);
        }
        println!("{} seeds up to date", seeds.len());
    } else {
        for target in &targets {
            let dir = root.join(target);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
        }
        for seed in &seeds {
            std::fs::write(root.join(seed.target).join(seed.name), &seed.bytes).unwrap();
        }
        println!("wrote {} seeds for {} targets under {}", seeds.len(), targets.len(), root.display());
    }
}

/// Checks that libFuzzer's harness reads `bytes` as `expected`: long enough not to be skipped,
/// and decoded by `arbitrary` to the same value.
fn check_layout<'a, T: Arbitrary<'a> + PartialEq + Debug>(bytes: &'a [u8], expected: &T) {
    // libfuzzer-sys skips inputs shorter than the type's minimum size.
    assert!(bytes.len() >= T::size_hint(0).0, "seed shorter than the minimum input");
    let read = T::arbitrary_take_rest(Unstructured::new(bytes)).expect("arbitrary rejects the seed");
    assert_eq!(&read, expected, "arbitrary reads the seed as another input");
}

fn server_rules() -> FuzzRules {
    FuzzRules { server: true, rsv_allowed: 0, max_payload_len: DEFAULT_MAX_FRAME_SIZE }
}

fn client_rules() -> FuzzRules {
    FuzzRules { server: false, ..server_rules() }
}

fn frame_header_seeds() -> Vec<Seed> {
    let deflate_client = FuzzRules { rsv_allowed: RSV1_BIT, ..client_rules() };
    let cases: [(&str, FuzzRules, &[u8]); 9] = [
        ("rfc6455-5.7-unmasked-text", client_rules(), UNMASKED_TEXT),
        ("rfc6455-5.7-masked-text", server_rules(), MASKED_TEXT),
        ("rfc6455-5.7-fragment-1", client_rules(), FRAGMENT_1),
        ("rfc6455-5.7-fragment-2", client_rules(), FRAGMENT_2),
        ("rfc6455-5.7-unmasked-ping", client_rules(), UNMASKED_PING),
        ("rfc6455-5.7-masked-pong", server_rules(), MASKED_PONG),
        ("rfc6455-5.7-binary-256-header", client_rules(), BINARY_256_HEADER),
        ("rfc6455-5.7-binary-64k-header", client_rules(), BINARY_64K_HEADER),
        ("rfc7692-7.2.3.1-deflated-text", deflate_client, DEFLATED_TEXT),
    ];
    cases
        .into_iter()
        .map(|(name, rules, frame)| {
            // Every one is a whole, valid header under its rules.
            let decoded = FrameHeader::decode(frame, &rules.to_rules());
            assert!(matches!(decoded, Ok(Decoded::Complete { .. })), "{name}: {decoded:?}");
            let input = FrameHeaderInput { rules, bytes: frame };
            let bytes = input.to_fuzz_bytes();
            check_layout(&bytes, &input);
            Seed { target: "frame_header", name, bytes }
        })
        .collect()
}

fn frame_stream_seeds() -> Vec<Seed> {
    // §5.7's frames as a client receives them: text, a fragmented text with a ping in between,
    // and the 256-byte binary message whole.
    let mut to_client = [UNMASKED_TEXT, FRAGMENT_1, UNMASKED_PING, FRAGMENT_2, BINARY_256_HEADER].concat();
    to_client.extend((0..=255u8).collect::<Vec<u8>>());
    // As a server receives them: masked text, masked pong, and a masked close 1000 ("bye").
    let mut close = Vec::new();
    let mut close_payload = 1000u16.to_be_bytes().to_vec();
    close_payload.extend_from_slice(b"bye");
    Frame::new(true, rfc6455::Opcode::Close, close_payload)
        .with_masking_key(Some([0x37, 0xfa, 0x21, 0x3d]))
        .encode(&mut close);
    let to_server = [MASKED_TEXT, MASKED_PONG, &close].concat();
    let deflate_client = FuzzRules { rsv_allowed: RSV1_BIT, ..client_rules() };
    let deflated = [DEFLATED_TEXT, DEFLATED_TEXT].concat();

    /// One stream seed, and how many frames its stream holds.
    struct StreamCase<'a> {
        name: &'static str,
        input: FrameStreamInput<'a>,
        frame_count: usize,
    }
    let case = |name, rules, chunk_sizes, stream, frame_count| StreamCase {
        name,
        input: FrameStreamInput { rules, chunk_sizes, stream },
        frame_count,
    };
    // Chunk sizes: a byte n means n + 1 bytes, used in turn; none means all at once.
    let cases = [
        case("rfc6455-5.7-to-client-in-small-chunks", client_rules(), &[0, 1, 2, 6], &to_client, 5),
        case("rfc6455-5.7-to-client-at-once", client_rules(), &[], &to_client, 5),
        case("rfc6455-5.7-to-server-byte-by-byte", server_rules(), &[0], &to_server, 3),
        case("rfc7692-deflated-to-client", deflate_client, &[3], &deflated, 2),
    ];
    cases
        .into_iter()
        .map(|StreamCase { name, input, frame_count }| {
            // Every byte makes up whole, valid frames.
            let rules = input.rules.to_rules();
            let mut offset = 0;
            for _ in 0..frame_count {
                match Frame::decode(&input.stream[offset..], &rules) {
                    Ok(Decoded::Complete { consumed, .. }) => offset += consumed,
                    other => panic!("{name}: {other:?} at {offset}"),
                }
            }
            assert_eq!(offset, input.stream.len(), "{name}: bytes left after the frames");
            let bytes = input.to_fuzz_bytes();
            check_layout(&bytes, &input);
            Seed { target: "frame_stream", name, bytes }
        })
        .collect()
}

fn handshake_request_seeds() -> Vec<Seed> {
    // What this crate's own client sends: the §1.3 key, an extension offer.
    let mut own_request = Vec::new();
    ClientRequest::new("localhost:9001", "/socket?room=1", &mut OsSeededRng::from_seed([0; 32]))
        .with_key(CLIENT_KEY)
        .with_protocols(["chat"])
        .with_extension(Extension::new("permessage-deflate").with_param("client_max_window_bits", None))
        .encode(&mut own_request);
    // A client may send its first frame right behind the request, without waiting.
    let with_frame = [RFC_REQUEST, MASKED_TEXT].concat();
    let deflate_offer = String::from_utf8(RFC_REQUEST.to_vec()).unwrap().replace(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; \
         client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"\r\n",
    );
    let old_version = String::from_utf8(RFC_REQUEST.to_vec())
        .unwrap()
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let plain_get = b"GET /index.html HTTP/1.1\r\nHost: server.example.com\r\nAccept: */*\r\n\r\n";

    let limits = FuzzHeadLimits { max_head_size: 16 * 1024, max_headers: 64 };
    let cases: [(&str, &[u8], Option<u16>); 6] = [
        // (name, request, status of the rejection or None if accepted)
        ("rfc6455-1.3-request", RFC_REQUEST, None),
        ("rfc6455-1.3-request-then-frame", &with_frame, None),
        ("rfc6455-client-request", &own_request, None),
        ("rfc7692-deflate-offers", deflate_offer.as_bytes(), None),
        ("version-8-gets-426", old_version.as_bytes(), Some(426)),
        ("plain-get-gets-426", plain_get, Some(426)),
    ];
    cases
        .into_iter()
        .map(|(name, head, rejected_with)| {
            match (UpgradeRequest::decode(head, &limits.to_limits()), rejected_with) {
                (Ok(Decoded::Complete { .. }), None) => {}
                (Err(error), Some(status)) if error.status() == Some(status) => {}
                (other, _) => panic!("{name}: {other:?}"),
            }
            // Split in the middle, so the streaming check sees an incomplete head.
            let input = HandshakeRequestInput { limits, split: (head.len() / 2) as u16, head };
            let bytes = input.to_fuzz_bytes();
            check_layout(&bytes, &input);
            Seed { target: "handshake_request", name, bytes }
        })
        .collect()
}

fn handshake_response_seeds() -> Vec<Seed> {
    // What this crate's own server answers to the §1.3 request.
    let Ok(Decoded::Complete { value: upgrade, .. }) =
        UpgradeRequest::decode(RFC_REQUEST, &HeadLimits::default())
    else {
        panic!("the §1.3 request is refused")
    };
    let mut own_response = Vec::new();
    upgrade
        .accept()
        .with_protocol("chat")
        .with_extension(Box::new(Negotiated(
            Extension::new("permessage-deflate").with_param("client_max_window_bits", Some("15")),
        )))
        .with_header("Server", "rfc6455-fuzz")
        .encode(&mut own_response);
    // The server may send its first frame right behind the response.
    let with_frame = [RFC_RESPONSE, UNMASKED_TEXT].concat();
    let no_protocol =
        String::from_utf8(RFC_RESPONSE.to_vec()).unwrap().replace("Sec-WebSocket-Protocol: chat\r\n", "");
    let redirect = b"HTTP/1.1 302 Found\r\nLocation: wss://example.com/chat\r\nContent-Length: 0\r\n\r\n";

    let limits = FuzzHeadLimits { max_head_size: 16 * 1024, max_headers: 64 };
    let cases: [(&str, u8, u8, &[u8], bool); 5] = [
        // (name, offered protocols (bit i: PROTOCOLS[i]), offered extensions, response, accepted)
        ("rfc6455-1.3-response", 0b0011, 0b000, RFC_RESPONSE, true),
        ("rfc6455-1.3-response-then-frame", 0b0011, 0b000, &with_frame, true),
        ("rfc6455-server-response", 0b0001, 0b001, &own_response, true),
        ("no-protocol", 0b0000, 0b111, no_protocol.as_bytes(), true),
        ("redirect-302", 0b0011, 0b001, redirect, false),
    ];
    cases
        .into_iter()
        .map(|(name, offered_protocols, offered_extensions, response, accepted)| {
            let input = HandshakeResponseInput {
                offered_protocols,
                offered_extensions,
                limits,
                split: (response.len() / 2) as u16,
                response,
            };
            let mut client =
                ClientRequest::new("server.example.com", "/chat", &mut OsSeededRng::from_seed([0; 32]))
                    .with_key(CLIENT_KEY)
                    .with_protocols(input.protocols());
            for extension in input.extensions() {
                client = client.with_extension(extension);
            }
            match (client.decode_response(response, &limits.to_limits()), accepted) {
                (Ok(Decoded::Complete { .. }), true) => {}
                (Err(HandshakeError::UnexpectedStatus { .. }), false) => {}
                (other, _) => panic!("{name}: {other:?}"),
            }
            let bytes = input.to_fuzz_bytes();
            check_layout(&bytes, &input);
            Seed { target: "handshake_response", name, bytes }
        })
        .collect()
}

fn extension_list_seeds() -> Vec<Seed> {
    let cases: [(&str, &str); 5] = [
        // §9.1's examples.
        ("rfc6455-9.1-private", "private-extension"),
        ("rfc6455-9.1-mux", "mux; max-channels=4; flow-control, deflate-stream"),
        // RFC 7692 §5: permessage-deflate offers, one with a quoted value.
        ("rfc7692-offer", "permessage-deflate; client_max_window_bits; server_max_window_bits=10"),
        ("rfc7692-quoted", "permessage-deflate; client_max_window_bits=\"15\", permessage-deflate"),
        ("white-space-and-empty-elements", " ,a ;  b = c\t,, d;e=\"f\" , "),
    ];
    cases
        .into_iter()
        .map(|(name, value)| {
            assert!(Extension::decode_list(value).is_ok(), "{name}: {value:?} does not decode");
            Seed { target: "extension_list", name, bytes: value.as_bytes().to_vec() }
        })
        .collect()
}

/// The seeds of `connection_server` and `connection_client`: the same operations for both roles
/// (structured frames are masked as the peer's role requires), each a whole scenario that ends
/// the way its name says, checked by running it with every oracle.
fn connection_seeds(role: Role) -> Vec<Seed> {
    let target = match role {
        Role::Server => "connection_server",
        Role::Client => "connection_client",
    };
    let frame = |opcode, payload| FuzzFrame::new(opcode, payload);
    let fragment = |opcode, payload| FuzzFrame { fin: false, ..FuzzFrame::new(opcode, payload) };
    let text = |text: &str| FuzzPayload::Text(text.to_owned());
    let close_body = |code, reason: &str| FuzzPayload::Close { code, reason: reason.to_owned() };
    let frames = |frames: Vec<FuzzFrame>| Op::ReceiveFrames { delivery: Delivery::default(), frames };
    let chunked =
        |chunk, frames: Vec<FuzzFrame>| Op::ReceiveFrames { delivery: Delivery { chunk, hold: 0 }, frames };

    /// What a scenario must end with.
    enum End {
        /// A clean closing handshake, after this many messages.
        Clean(usize),
        /// This failure.
        Failed(ConnectionError),
    }
    let cases: Vec<(&'static str, FuzzConfig, Vec<Op>, End)> = vec![
        (
            // §5.7's "Hello", echoed, then the peer closes (§7.1.2) and the transport ends.
            "echo-then-peer-close",
            FuzzConfig::default(),
            vec![
                frames(vec![frame(Opcode::Text, text("Hello"))]),
                Op::SendText("Hello".into()),
                Op::MarkAllSent,
                frames(vec![frame(Opcode::Close, close_body(1000, "bye"))]),
                Op::MarkAllSent,
                Op::AdvanceToDeadline,
                Op::ReceiveEof { reset: false },
            ],
            End::Clean(1),
        ),
        (
            // §5.7's fragmented "Hel" + "lo" with a Ping in between, streamed in 3-byte reads;
            // the Ping is answered, then this endpoint closes.
            "streamed-fragments-with-ping",
            FuzzConfig { streaming: true, deliver_control_frames: true, ..FuzzConfig::default() },
            vec![
                chunked(
                    3,
                    vec![
                        fragment(Opcode::Text, text("Hel")),
                        frame(Opcode::Ping, text("Hello")),
                        frame(Opcode::Continuation, text("lo")),
                    ],
                ),
                Op::MarkSent(4),
                Op::Close { code: 1000, reason: "done".into() },
                Op::MarkAllSent,
                frames(vec![frame(Opcode::Close, close_body(1000, ""))]),
            ],
            End::Clean(1),
        ),
        (
            // This endpoint closes; the peer never answers (§7.1.1's timeout).
            "close-timeout",
            FuzzConfig { close_timeout_ms: 100, ..FuzzConfig::default() },
            vec![
                Op::Close { code: 1001, reason: "going away".into() },
                Op::MarkSent(3),
                Op::AdvanceTime { ms: 50, handle: true },
                Op::MarkAllSent,
                Op::AdvanceTime { ms: 60, handle: true },
            ],
            End::Failed(ConnectionError::CloseTimeout),
        ),
        (
            // Keepalive: the first Ping is answered, the second is not.
            "keepalive-timeout",
            FuzzConfig {
                keepalive_interval_ms: Some(1000),
                keepalive_timeout_ms: Some(500),
                ..FuzzConfig::default()
            },
            vec![
                Op::AdvanceToDeadline,
                Op::MarkAllSent,
                frames(vec![frame(Opcode::Pong, FuzzPayload::Bytes(1u64.to_be_bytes().to_vec()))]),
                Op::AdvanceTime { ms: 1000, handle: true },
                Op::MarkAllSent,
                Op::AdvanceToDeadline,
            ],
            End::Failed(ConnectionError::KeepaliveTimeout),
        ),
        (
            // Two fragments of 60 bytes against a 100-byte message limit: 1009 at the second
            // header, before its payload.
            "message-too-large",
            FuzzConfig { max_message_size: 100, max_fragments: 4, ..FuzzConfig::default() },
            vec![Op::ReceiveFrames {
                delivery: Delivery { chunk: 0, hold: 60 },
                frames: vec![
                    fragment(Opcode::Binary, FuzzPayload::Repeat { byte: b'x', len: 60 }),
                    frame(Opcode::Continuation, FuzzPayload::Repeat { byte: b'y', len: 60 }),
                ],
            }],
            End::Failed(ConnectionError::Protocol(ProtocolError::MessageTooLarge { size: 120, max: 100 })),
        ),
        (
            // §8.1: invalid UTF-8 fails at once, while the rest of the frame is still held back.
            "invalid-utf8-mid-frame",
            FuzzConfig::default(),
            vec![Op::ReceiveFrames {
                delivery: Delivery { chunk: 0, hold: 3 },
                frames: vec![frame(Opcode::Text, FuzzPayload::Bytes(b"ab\xffcdef".to_vec()))],
            }],
            End::Failed(ConnectionError::Protocol(ProtocolError::InvalidUtf8)),
        ),
        (
            // Sending in parts through a toy extension (RSV3), in frames of at most 4 bytes, a
            // code point split between parts, written in partial writes; then a clean close.
            "parts-extension-small-frames",
            FuzzConfig { extension: true, max_send_frame_size: Some(4), ..FuzzConfig::default() },
            vec![
                Op::BeginMessage(MessageKind::Text),
                Op::SendPart { data: "κό".as_bytes()[..3].to_vec(), last: false },
                Op::SendPing(b"p".to_vec()),
                Op::SendPart { data: "κόσμε".as_bytes()[3..].to_vec(), last: true },
                Op::SendBinary((0..10).collect()),
                Op::MarkSent(5),
                Op::MarkSent(7),
                frames(vec![FuzzFrame {
                    rsv3: true,
                    ..frame(Opcode::Binary, FuzzPayload::Bytes(vec![!1, !2, !3]))
                }]),
                Op::MarkAllSent,
                Op::Close { code: 4000, reason: "private".into() },
                frames(vec![frame(Opcode::Close, close_body(4000, ""))]),
                Op::MarkAllSent,
            ],
            End::Clean(1),
        ),
        (
            // send_message of large payloads (a server queues them by reference: the pieces of
            // bytes_to_send_vectored), a Ping answered under backpressure (its Pong pending,
            // then written before the next message), partial vectored writes across pieces, a
            // flattening bytes_to_send, then a clean close.
            "send-message-vectored",
            FuzzConfig::default(),
            vec![
                Op::SendText("hi".into()),
                Op::SendMessage { kind: MessageKind::Binary, sliced: false, byte: 7, len: 5000 },
                Op::SendMessage { kind: MessageKind::Text, sliced: true, byte: b'a', len: u16::MAX },
                frames(vec![frame(Opcode::Ping, text("x"))]),
                Op::SendMessage { kind: MessageKind::Binary, sliced: false, byte: 1, len: 4096 },
                Op::SendMessage { kind: MessageKind::Binary, sliced: false, byte: 2, len: 100 },
                Op::MarkSentVectored { slices: 1, flatten: false, count: 3 },
                Op::MarkSentVectored { slices: 2, flatten: false, count: 5003 },
                Op::MarkSentVectored { slices: 4, flatten: false, count: u16::MAX },
                Op::MarkSentVectored { slices: 4, flatten: true, count: 10 },
                Op::Close { code: 1000, reason: "done".into() },
                Op::MarkSentVectored { slices: 3, flatten: false, count: u16::MAX },
                frames(vec![frame(Opcode::Close, close_body(1000, ""))]),
                Op::MarkAllSent,
            ],
            End::Clean(0),
        ),
        (
            // A large send_message partly written, then invalid UTF-8 from the peer: the Close
            // (1007) queued after the payload, the rest written in vectored writes once closed.
            "send-message-then-failure",
            FuzzConfig::default(),
            vec![
                Op::SendMessage { kind: MessageKind::Binary, sliced: true, byte: 0, len: 40000 },
                Op::MarkSentVectored { slices: 2, flatten: false, count: 1000 },
                frames(vec![frame(Opcode::Text, FuzzPayload::Bytes(b"ok\xff".to_vec()))]),
                Op::MarkSentVectored { slices: 1, flatten: false, count: 30000 },
                Op::MarkSentVectored { slices: 4, flatten: true, count: 0 },
                Op::MarkSentVectored { slices: 4, flatten: false, count: u16::MAX },
            ],
            End::Failed(ConnectionError::Protocol(ProtocolError::InvalidUtf8)),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, config, ops, end)| {
            let input = ConnectionInput { config, ops };
            let bytes = input.to_fuzz_bytes();
            assert_eq!(ConnectionInput::parse(&bytes), input, "{target}/{name}: reads back as another input");
            check_layout(&bytes, &input);
            let report = connection::run(role, &input);
            match end {
                End::Clean(messages) => {
                    let outcome = report.outcome.as_ref().unwrap_or_else(|| panic!("{name}: not closed"));
                    assert!(outcome.clean, "{target}/{name}: {outcome:?}");
                    assert_eq!(outcome.code(), CloseCode(outcome.received.as_ref().unwrap().code.0));
                    assert_eq!(report.messages_received, messages, "{target}/{name}: {report:?}");
                }
                End::Failed(error) => {
                    let outcome = report.outcome.as_ref().unwrap_or_else(|| panic!("{name}: not closed"));
                    assert_eq!(outcome.error.as_ref(), Some(&error), "{target}/{name}: {report:?}");
                }
            }
            Seed { target, name, bytes }
        })
        .collect()
}

/// A masked Close frame with code 1000 and reason "bye", as a client sends it.
fn masked_close() -> Vec<u8> {
    let mut header = FrameHeader::new(true, Opcode::Close, 5);
    header.masking_key = Some([0x37, 0xfa, 0x21, 0x3d]);
    let mut out = Vec::new();
    rfc6455::Frame { header, payload: bytes::Bytes::copy_from_slice(b"\x03\xe8bye") }.encode(&mut out);
    out
}

/// Checks a handshake seed: its bytes read back as the input, and the run ends as expected
/// (the handshake's events, as `Debug` text, start with `events`; a connection or not).
fn handshake_seed(
    target: &'static str,
    name: &'static str,
    input: HandshakeInput,
    events: &[&str],
    connected: bool,
) -> Seed {
    let bytes = input.to_fuzz_bytes();
    assert_eq!(HandshakeInput::parse(&bytes), input, "{target}/{name}: reads back as another input");
    check_layout(&bytes, &input);
    let report = match target {
        "server_handshake" => handshake::run_server(&input),
        _ => handshake::run_client(&input),
    };
    assert_eq!(report.events.len(), events.len(), "{target}/{name}: {report:?}");
    for (event, expected) in report.events.iter().zip(events) {
        assert!(event.starts_with(expected), "{target}/{name}: {event} is not {expected}...");
    }
    assert_eq!(report.connected, connected, "{target}/{name}: {report:?}");
    Seed { target, name, bytes }
}

fn server_handshake_seeds() -> Vec<Seed> {
    let config = FuzzHandshakeConfig::default();
    let accept =
        |protocol, extension| HandshakeOp::Answer(ServerAnswer::Accept { protocol, extension }.to_choice());
    let respond = |index| HandshakeOp::Answer(ServerAnswer::Respond { index }.to_choice());
    let frames = [MASKED_TEXT, &masked_close()].concat();
    let cases: Vec<(&'static str, HandshakeInput, &[&str], bool)> = vec![
        (
            // §1.3's request and §5.7's masked "Hello" plus a Close in the same read; accepted
            // with "chat"; the connection reads both.
            "rfc6455-1.3-request-accept-with-frames",
            HandshakeInput {
                config,
                template: 1,
                stream: frames.clone(),
                ops: vec![HandshakeOp::DeliverRest, accept(true, false), HandshakeOp::MarkAllSent],
            },
            &["Upgrade"],
            true,
        ),
        (
            // The same, one byte at a time to the end of the head, then accepted before the
            // frames arrive, in small pieces.
            "rfc6455-1.3-request-byte-by-byte",
            HandshakeInput {
                config,
                template: 1,
                stream: frames.clone(),
                ops: std::iter::repeat_n(HandshakeOp::Deliver(0), handshake::SERVER_TEMPLATES[0].len())
                    .chain([accept(false, false), HandshakeOp::MarkSent(20)])
                    .chain(std::iter::repeat_n(HandshakeOp::Deliver(3), 6))
                    .chain([HandshakeOp::MarkAllSent, HandshakeOp::Eof { reset: false }])
                    .collect(),
            },
            &["Upgrade"],
            true,
        ),
        (
            // Extensions offered; accepted with a codec for the first.
            "extension-offer-accepted",
            HandshakeInput {
                config,
                template: 2,
                stream: MASKED_TEXT.to_vec(),
                ops: vec![HandshakeOp::Deliver(40), HandshakeOp::DeliverRest, accept(false, true)],
            },
            &["Upgrade"],
            true,
        ),
        (
            // A subprotocol nobody offered is refused and changes nothing: a 403 then.
            "accept-unoffered-then-403",
            HandshakeInput {
                config,
                template: 1,
                stream: Vec::new(),
                ops: vec![
                    HandshakeOp::DeliverRest,
                    HandshakeOp::Answer(ServerAnswer::AcceptUnoffered.to_choice()),
                    respond(4),
                    HandshakeOp::MarkSent(30),
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::AdvanceTime { ms: 10, handle: true },
                    HandshakeOp::Eof { reset: false },
                ],
            },
            &["Upgrade"],
            false,
        ),
        (
            // A page on the WebSocket's port, answered, the transport lingering until EOF.
            "plain-get-answered",
            HandshakeInput {
                config,
                template: 3,
                stream: Vec::new(),
                ops: vec![
                    HandshakeOp::DeliverRest,
                    respond(0),
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::Eof { reset: false },
                ],
            },
            &["Request"],
            false,
        ),
        (
            // A HEAD request: the answer without its body.
            "head-request-answered",
            HandshakeInput {
                config,
                template: 4,
                stream: Vec::new(),
                ops: vec![
                    HandshakeOp::DeliverRest,
                    respond(5),
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::AdvanceToDeadline,
                ],
            },
            &["Request"],
            false,
        ),
        (
            // §4.4: version 8 gets a 426 with Sec-WebSocket-Version: 13.
            "version-8-gets-426",
            HandshakeInput {
                config,
                template: 5,
                stream: Vec::new(),
                ops: vec![HandshakeOp::DeliverRest, HandshakeOp::MarkSent(7), HandshakeOp::MarkAllSent],
            },
            &["Failed(UnsupportedVersion"],
            false,
        ),
        (
            // RFC 6585 §5: a head over a 64-byte limit gets a 431.
            "head-over-64-bytes-gets-431",
            HandshakeInput {
                config: FuzzHandshakeConfig { max_head_size: 64, ..config },
                template: 1,
                stream: Vec::new(),
                ops: vec![HandshakeOp::Deliver(99), HandshakeOp::MarkAllSent, HandshakeOp::AdvanceToDeadline],
            },
            &["Failed(HeadTooLarge(64))"],
            false,
        ),
        (
            // A slow head: the deadline passes first; nothing is written.
            "slow-head-times-out",
            HandshakeInput {
                config,
                template: 1,
                stream: Vec::new(),
                ops: vec![
                    HandshakeOp::Deliver(9),
                    HandshakeOp::AdvanceTime { ms: 400, handle: true },
                    HandshakeOp::Deliver(9),
                    HandshakeOp::AdvanceTime { ms: 400, handle: true },
                    HandshakeOp::Deliver(9),
                    HandshakeOp::AdvanceToDeadline,
                ],
            },
            &["Failed(Timeout)"],
            false,
        ),
        (
            // A reset while the application decides.
            "reset-while-deciding",
            HandshakeInput {
                config,
                template: 1,
                stream: Vec::new(),
                ops: vec![HandshakeOp::DeliverRest, HandshakeOp::Eof { reset: true }, accept(false, false)],
            },
            &["Upgrade", "Failed(ConnectionClosed)"],
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, input, events, connected)| {
            handshake_seed("server_handshake", name, input, events, connected)
        })
        .collect()
}

fn client_handshake_seeds() -> Vec<Seed> {
    let config = FuzzHandshakeConfig::default();
    let take = |answer: ClientAnswer| HandshakeOp::Answer(answer.to_choice());
    // Offering "chat" and permessage-deflate (bit 0 of each mask).
    let offering = FuzzHandshakeConfig { offered_protocols: 0b0001, offered_extensions: 0b001, ..config };
    let wrong_accept = String::from_utf8(CLIENT_TEMPLATES_0.to_vec()).unwrap().replace("s3pP", "AAAA");
    let cases: Vec<(&'static str, HandshakeInput, &[&str], bool)> = vec![
        (
            // §1.3's response and §5.7's unmasked "Hello" in one read, the request written in
            // two parts.
            "rfc6455-1.3-response-with-frame",
            HandshakeInput {
                config,
                template: 1,
                stream: UNMASKED_TEXT.to_vec(),
                ops: vec![
                    HandshakeOp::MarkSent(50),
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::DeliverRest,
                    take(ClientAnswer::Accepted),
                ],
            },
            &["Accepted"],
            true,
        ),
        (
            // The same, byte by byte, taken with part of the request still unwritten.
            "rfc6455-1.3-response-byte-by-byte",
            HandshakeInput {
                config,
                template: 1,
                stream: UNMASKED_TEXT.to_vec(),
                ops: std::iter::once(HandshakeOp::MarkSent(100))
                    .chain(std::iter::repeat_n(HandshakeOp::Deliver(0), CLIENT_TEMPLATES_0.len()))
                    .chain([take(ClientAnswer::Accepted), HandshakeOp::DeliverRest, HandshakeOp::MarkAllSent])
                    .collect(),
            },
            &["Accepted"],
            true,
        ),
        (
            // A subprotocol and an extension accepted, with its codec.
            "protocol-and-extension-accepted",
            HandshakeInput {
                config: offering,
                template: 2,
                stream: Vec::new(),
                ops: vec![HandshakeOp::MarkAllSent, HandshakeOp::DeliverRest, take(ClientAnswer::Accepted)],
            },
            &["Accepted"],
            true,
        ),
        (
            // §9.1: no codec for the accepted extension: ExtensionMismatch.
            "extension-without-codec",
            HandshakeInput {
                config: offering,
                template: 2,
                stream: Vec::new(),
                ops: vec![HandshakeOp::MarkAllSent, HandshakeOp::DeliverRest, take(ClientAnswer::None)],
            },
            &["Accepted"],
            false,
        ),
        (
            // A redirect, its 5-byte body in two reads.
            "redirect-with-body",
            HandshakeInput {
                config,
                template: 3,
                stream: b"moved".to_vec(),
                ops: vec![HandshakeOp::MarkAllSent, HandshakeOp::Deliver(80), HandshakeOp::DeliverRest],
            },
            &["Redirect"],
            false,
        ),
        (
            // A 403 with a body.
            "forbidden-with-body",
            HandshakeInput {
                config,
                template: 4,
                stream: b"forbidden".to_vec(),
                ops: vec![
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::DeliverRest,
                    HandshakeOp::Eof { reset: false },
                ],
            },
            &["Rejected"],
            false,
        ),
        (
            // A body without Content-Length, to EOF.
            "body-until-eof",
            HandshakeInput {
                config,
                template: 5,
                stream: b"hello, world".to_vec(),
                ops: vec![
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::DeliverRest,
                    HandshakeOp::Eof { reset: false },
                ],
            },
            &["Rejected"],
            false,
        ),
        (
            // A response that stops halfway: the deadline.
            "response-times-out",
            HandshakeInput {
                config,
                template: 0,
                stream: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n".to_vec(),
                ops: vec![HandshakeOp::MarkAllSent, HandshakeOp::DeliverRest, HandshakeOp::AdvanceToDeadline],
            },
            &["Failed(Timeout)"],
            false,
        ),
        (
            // §4.1: a wrong Sec-WebSocket-Accept fails.
            "wrong-accept-fails",
            HandshakeInput {
                config,
                template: 0,
                stream: wrong_accept.into_bytes(),
                ops: vec![
                    HandshakeOp::MarkAllSent,
                    HandshakeOp::DeliverRest,
                    HandshakeOp::Eof { reset: false },
                ],
            },
            &["Failed(AcceptMismatch)"],
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, input, events, connected)| {
            handshake_seed("client_handshake", name, input, events, connected)
        })
        .collect()
}

/// `CLIENT_TEMPLATES[0]`: §1.3's response without the subprotocol.
const CLIENT_TEMPLATES_0: &[u8] = handshake::CLIENT_TEMPLATES[0];

/// The seeds of `reassembler`: §5.7's frames both ways, then streams that reach the engine's
/// paths (fragments with code points split and Pings between, streaming switched per call, the
/// extension, a frame past the unmask-while-copying threshold) and its errors. Each is run with
/// the oracle (the two reassemblers agree) and checked to end as its name says.
fn reassembler_seeds() -> Vec<Seed> {
    let frame = |opcode, payload| FuzzFrame::new(opcode, payload);
    let text = |text: &str| FuzzPayload::Text(text.to_owned());
    let message = |text, cuts: &[u16], payload| FuzzMessage {
        text,
        rsv3: false,
        pings: true,
        unfinished: false,
        key: [0x37, 0xfa, 0x21, 0x3d],
        cuts: cuts.to_vec(),
        payload,
    };
    let kosme = FuzzPayload::Text("Hello, κόσμε 😀".to_owned());
    let input = |role, cuts: &[usize], modes: &[Option<bool>], pieces| ReassemblerInput {
        role,
        limits: MessageLimits::unlimited(),
        extension: false,
        cuts: cuts.to_vec(),
        modes: modes.to_vec(),
        pieces,
    };
    let raw = |bytes: &[&[u8]]| Piece::Raw(bytes.concat());

    /// A seed, and what it must give: messages (whole or streamed), control frames, the error.
    struct Case {
        name: &'static str,
        input: ReassemblerInput,
        messages: usize,
        controls: usize,
        error: Option<ProtocolError>,
    }
    let case = |name, input, messages, controls, error| Case { name, input, messages, controls, error };
    let cases = vec![
        case(
            "rfc6455-5.7-to-client-byte-by-byte",
            input(
                Role::Client,
                &[1],
                &[],
                vec![raw(&[UNMASKED_TEXT, FRAGMENT_1, UNMASKED_PING, FRAGMENT_2])],
            ),
            2,
            1,
            None,
        ),
        case(
            "rfc6455-5.7-to-server-streamed",
            input(Role::Server, &[4], &[Some(true)], vec![raw(&[MASKED_TEXT, MASKED_PONG])]),
            1,
            1,
            None,
        ),
        case(
            // Code points split between fragments, Pings between them, one byte at a time.
            "fragments-with-pings-streamed-byte-by-byte",
            input(
                Role::Server,
                &[1],
                &[Some(true)],
                vec![Piece::Message(message(true, &[8, 9, 13], kosme.clone()))],
            ),
            1,
            3,
            None,
        ),
        case(
            // Whole messages and streaming switched at calls of 3 and 7 bytes: the mode of a
            // message is the one when it starts.
            "modes-switched-per-call",
            input(
                Role::Client,
                &[3, 7],
                &[Some(true), None, Some(false), None, None],
                vec![
                    Piece::Frames(vec![
                        frame(Opcode::Text, text("one")),
                        frame(Opcode::Binary, FuzzPayload::Bytes(vec![1, 2, 3])),
                        frame(Opcode::Pong, text("")),
                    ]),
                    Piece::Message(message(true, &[5], kosme.clone())),
                    Piece::Message(message(false, &[0, 40], FuzzPayload::Repeat { byte: 7, len: 300 })),
                    Piece::Frames(vec![frame(Opcode::Text, text("two"))]),
                ],
            ),
            5,
            4,
            None,
        ),
        case(
            // A 64 KiB - 1 single-frame message (unmasked while copied, in place) arriving in
            // calls of 1018 bytes, then small whole messages in the same calls.
            "large-frame-then-small-ones",
            input(
                Role::Server,
                &[1018],
                &[],
                vec![
                    Piece::Frames(vec![frame(
                        Opcode::Binary,
                        FuzzPayload::Repeat { byte: 0x5a, len: u16::MAX },
                    )]),
                    Piece::Frames(vec![frame(Opcode::Text, text("a")), frame(Opcode::Text, text("b"))]),
                ],
            ),
            3,
            0,
            None,
        ),
        case(
            // The toy extension: a Binary message with RSV3, whole then fragmented and streamed.
            "extension-inverted",
            ReassemblerInput {
                extension: true,
                ..input(
                    Role::Client,
                    &[5],
                    &[None, None, None, None, Some(true)],
                    vec![
                        Piece::Frames(vec![FuzzFrame {
                            rsv3: true,
                            ..frame(Opcode::Binary, FuzzPayload::Bytes(vec![!1, !2, !3]))
                        }]),
                        Piece::Message(FuzzMessage {
                            rsv3: true,
                            ..message(false, &[2, 30], FuzzPayload::Repeat { byte: 0xf0, len: 40 })
                        }),
                    ],
                )
            },
            2,
            2,
            None,
        ),
        case(
            // Three fragments of 100 bytes against a 200-byte message: 1009 at the third header.
            "message-too-large",
            ReassemblerInput {
                limits: MessageLimits {
                    max_message_size: 200,
                    max_fragments: 8,
                    ..MessageLimits::unlimited()
                },
                ..input(
                    Role::Server,
                    &[64],
                    &[],
                    vec![Piece::Message(message(
                        false,
                        &[100, 200],
                        FuzzPayload::Repeat { byte: 1, len: 300 },
                    ))],
                )
            },
            0,
            2,
            Some(ProtocolError::MessageTooLarge { size: 300, max: 200 }),
        ),
        case(
            // §8.1: invalid UTF-8 fails at once, before its frame ends.
            "invalid-utf8-mid-frame",
            input(
                Role::Client,
                &[4],
                &[Some(true)],
                vec![Piece::Frames(vec![frame(Opcode::Text, FuzzPayload::Bytes(b"ab\xffcdef".to_vec()))])],
            ),
            0,
            0,
            Some(ProtocolError::InvalidUtf8),
        ),
        case(
            // §5.4: a continuation with no message started.
            "unexpected-continuation",
            input(
                Role::Server,
                &[],
                &[],
                vec![Piece::Frames(vec![
                    frame(Opcode::Ping, text("p")),
                    frame(Opcode::Continuation, text("lo")),
                ])],
            ),
            0,
            1,
            Some(ProtocolError::UnexpectedContinuation),
        ),
    ];
    cases
        .into_iter()
        .map(|Case { name, input, messages, controls, error }| {
            let bytes = input.to_fuzz_bytes();
            assert_eq!(
                ReassemblerInput::parse(&bytes),
                input,
                "reassembler/{name}: reads back as another input"
            );
            check_layout(&bytes, &input);
            let report = reassembler::run(&input);
            assert_eq!(
                report.messages + report.streamed_messages,
                messages,
                "reassembler/{name}: {report:?}"
            );
            assert_eq!(report.controls, controls, "reassembler/{name}: {report:?}");
            assert_eq!(report.error, error, "reassembler/{name}: {report:?}");
            Seed { target: "reassembler", name, bytes }
        })
        .collect()
}

/// The seeds of `deflate_negotiation`: 7 bytes of settings (server and client configurations,
/// the mode), then a `Sec-WebSocket-Extensions` value (the target's module documentation). Browser
/// offers, RFC 7692's, every parameter, invalid ones, a built header and responses for the
/// client. Each header is checked to decode, and the ones said to be accepted to be.
fn deflate_negotiation_seeds() -> Vec<Seed> {
    /// A seed: its name, the server's and the client's configuration (3 bytes each: flags,
    /// server window, client window), the mode byte, the header, whether the server accepts it.
    type Case = (&'static str, [u8; 3], [u8; 3], u8, &'static [u8], bool);
    /// The RFC's defaults, as 3 bytes.
    const RFC: [u8; 3] = [0, 15, 15];
    let cases: [Case; 8] = [
        // What Chrome and Firefox send.
        ("browser-offer", RFC, RFC, 0, b"permessage-deflate; client_max_window_bits", true),
        // The same, with messages through the codecs (mode bits 1 to 4).
        ("browser-offer-messages", RFC, RFC, 0x1e, b"permessage-deflate; client_max_window_bits", true),
        // RFC 7692 §5.2's two offers, in order of preference.
        (
            "rfc7692-5.2-offers",
            [0, 12, 11],
            [0, 10, 15],
            0,
            b"permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
              permessage-deflate; client_max_window_bits",
            true,
        ),
        // §7.1.1 and §7.1.2, every parameter, against a server that limits both windows.
        (
            "every-parameter",
            [3, 12, 10],
            [3, 11, 9],
            0x1e,
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
              server_max_window_bits=11; client_max_window_bits=9",
            true,
        ),
        // §7: declined (a server window of 8, a leading zero, an unknown parameter), then a
        // client window of 8, which a server takes.
        (
            "invalid-then-8-bits",
            RFC,
            RFC,
            0,
            b"permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits=08, \
              permessage-deflate; x_unknown, permessage-deflate; client_max_window_bits=8",
            true,
        ),
        // Responses, as the client with windows of 10 and 12 reads them: one it accepts, one
        // with a larger window than it asked for, one without the server window it asked for.
        (
            "responses",
            RFC,
            [1, 10, 12],
            0,
            b"permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12, \
              permessage-deflate; server_no_context_takeover; server_max_window_bits=11, \
              permessage-deflate; server_no_context_takeover",
            true,
        ),
        // A quoted window and another extension first (RFC 6455 §9.1).
        (
            "quoted-and-other-extension",
            [0, 9, 9],
            RFC,
            0,
            b"x-webkit-deflate-frame, PerMessage-Deflate; client_max_window_bits=\"10\"",
            true,
        ),
        // A built header (mode bit 0): three elements of the vocabulary.
        ("built", RFC, [2, 9, 14], 0x01, &[0x09, 0x02, 0x23, 0x04, 0x0b, 0x43, 0x3d, 0x06, 0x03], false),
    ];
    cases
        .into_iter()
        .map(|(name, server, client, mode, header, accepted)| {
            let mut bytes = server.to_vec();
            bytes.extend_from_slice(&client);
            bytes.push(mode);
            bytes.extend_from_slice(header);
            if mode & 0x01 == 0 {
                let text = std::str::from_utf8(header).unwrap();
                let offers = Extension::decode_list(text)
                    .unwrap_or_else(|error| panic!("deflate_negotiation/{name}: {error}"));
                let server = DeflateConfig {
                    server_no_context_takeover: server[0] & 0x01 != 0,
                    client_no_context_takeover: server[0] & 0x02 != 0,
                    server_max_window_bits: server[1],
                    client_max_window_bits: server[2],
                };
                assert_eq!(server.accept(&offers).is_some(), accepted, "deflate_negotiation/{name}");
            }
            Seed { target: "deflate_negotiation", name, bytes }
        })
        .collect()
}

/// The settings of a `connection_deflate` input, byte by byte as its module documentation lists
/// them.
#[derive(Clone, Copy)]
struct DeflateRun {
    /// The client's `DeflateConfig`: flags, server window, client window.
    client: [u8; 3],
    /// The server's.
    server: [u8; 3],
    max_frame_size: u16,
    max_message_size: u16,
    max_fragments: u8,
    /// Bit 0: L streams; bit 1: L reports Pings and Pongs; bit 2: the client splits frames at
    /// `max_send_frame_size`; bit 3: G streams.
    flags: u8,
    max_send_frame_size: u8,
    compress_min: u8,
    level: u8,
    /// Chunks of 1 to `8 * chunk_max + 1` bytes; 255: everything at once.
    chunk_max: u8,
    chunk_seed: u8,
}

impl DeflateRun {
    /// The RFC's defaults both sides, the largest limits L can have, one-byte chunks.
    fn new() -> DeflateRun {
        DeflateRun {
            client: [0, 15, 15],
            server: [0, 15, 15],
            max_frame_size: u16::MAX,
            max_message_size: u16::MAX,
            max_fragments: u8::MAX,
            flags: 0,
            max_send_frame_size: 0,
            compress_min: 0,
            level: 6,
            chunk_max: 0,
            chunk_seed: 1,
        }
    }

    /// The input: these settings, then the operations (written by the functions below).
    fn input(&self, ops: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = self.client.to_vec();
        bytes.extend_from_slice(&self.server);
        bytes.extend_from_slice(&self.max_frame_size.to_le_bytes());
        bytes.extend_from_slice(&self.max_message_size.to_le_bytes());
        bytes.extend_from_slice(&[self.max_fragments, self.flags, self.max_send_frame_size]);
        bytes.extend_from_slice(&[self.compress_min, self.level, self.chunk_max, self.chunk_seed]);
        bytes.extend(ops.iter().flatten());
        bytes
    }
}

/// `connection_deflate` operation 0: the client sends a message. `flags`: bit 0 Text, bits 1-2
/// the content (0 the pattern repeated, 1 random, 2 runs of both, 3 counting), bit 3 in
/// fragments of up to `16 * fragment` bytes, bit 4 a Ping after each fragment.
fn deflate_message(flags: u8, len: u16, seed: u8, fragment: u8, pattern: &[u8]) -> Vec<u8> {
    let mut op = vec![0, flags];
    op.extend_from_slice(&len.to_le_bytes());
    op.extend_from_slice(&[seed, fragment, u8::try_from(pattern.len()).unwrap()]);
    op.extend_from_slice(pattern);
    op
}

/// `connection_deflate` operation 1: the client sends a Ping.
fn deflate_ping(payload: &[u8]) -> Vec<u8> {
    let mut op = vec![1, u8::try_from(payload.len()).unwrap()];
    op.extend_from_slice(payload);
    op
}

/// `connection_deflate` operation 2: a frame written by hand, masked with §5.7's key.
fn deflate_raw_frame(head: u8, payload: &[u8]) -> Vec<u8> {
    let mut op = vec![2, head, 0, 0x37, 0xfa, 0x21, 0x3d, u8::try_from(payload.len()).unwrap()];
    op.extend_from_slice(payload);
    op
}

/// The seeds of `connection_deflate`: RFC 7692 §7.2.3's compressed "Hello" frames, the client's
/// messages of every kind and fragmentation at several windows and chunkings, and the three
/// ways a server fails (1009 over a limit or inflating too far, 1007 for data that does not
/// inflate, 1002 for RSV1 where §6.1 forbids it). The compressed payloads are checked to inflate
/// as their names say.
fn connection_deflate_seeds() -> Vec<Seed> {
    /// RFC 7692 §7.2.3.1: "Hello" compressed.
    const HELLO: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    /// §7.2.3.2: the second "Hello", with the first one's context.
    const HELLO_AGAIN: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];
    /// §7.2.3.3: in a block with no compression.
    const HELLO_STORED: &[u8] = &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
    /// §7.2.3.4: in a block with BFINAL set.
    const HELLO_FINAL: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    /// §7.2.3.5: in two blocks.
    const HELLO_TWO_BLOCKS: &[u8] =
        &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
    /// Text and Binary frames with FIN and RSV1 (§6.1: a compressed message's first frame).
    const TEXT_RSV1: u8 = 0xc1;
    const BINARY_RSV1: u8 = 0xc2;

    // The RFC's defaults (§7.1): context takeover both ways, windows of 15 bits.
    let agreed = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let params = agreed.accept(&[agreed.offer()]).expect("the RFC's defaults agree");
    let mut client = DeflateCodec::new(Role::Client, params).with_compress_min(0);
    let mut server = DeflateCodec::new(Role::Server, params);
    let mut inflate = |data: &[u8]| {
        let mut out = bytes::BytesMut::new();
        let result = server.decode(data, true, &mut rfc6455::DecodeOutput::new(&mut out, 0, 1 << 30));
        result.map(|()| out.len())
    };
    for hello in [HELLO, HELLO_AGAIN, HELLO_STORED, HELLO_FINAL, HELLO_TWO_BLOCKS] {
        assert_eq!(inflate(hello), Ok(5), "{hello:02x?} inflates to Hello");
    }
    // A bomb: 200 000 zeros in under 255 bytes.
    let mut bomb = bytes::BytesMut::new();
    client.encode(MessageKind::Binary, &vec![0; 200_000], true, &mut bomb);
    assert!(bomb.len() <= 255, "the bomb takes {} bytes", bomb.len());
    assert_eq!(inflate(&bomb), Ok(200_000));
    let not_deflate: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0x00];
    assert_eq!(inflate(not_deflate), Err(ProtocolError::InvalidCompressedData));

    let run = DeflateRun::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "rfc7692-7.2.3-hello-frames",
            run.input(&[
                deflate_raw_frame(TEXT_RSV1, HELLO),
                deflate_raw_frame(TEXT_RSV1, HELLO_AGAIN),
                deflate_raw_frame(TEXT_RSV1, HELLO_STORED),
                deflate_raw_frame(TEXT_RSV1, HELLO_FINAL),
                deflate_raw_frame(TEXT_RSV1, HELLO_TWO_BLOCKS),
            ]),
        ),
        (
            "client-messages-every-kind",
            DeflateRun { flags: 0b1100, max_send_frame_size: 100, chunk_max: 3, ..run }.input(&[
                deflate_message(0b0_0001, 2000, 1, 0, b"{\"sensor\":7,\"t\":21.5} "),
                deflate_message(0b1_1010, 3000, 2, 20, b""),
                deflate_ping(b"keepalive"),
                deflate_message(0b0_1101, 10_000, 3, 40, "caf\u{e9} \u{20ac} ".as_bytes()),
                deflate_message(0b0_0110, 500, 4, 0, b""),
                deflate_message(0b0_0011, 300, 5, 0, b""),
            ]),
        ),
        (
            "small-windows-no-takeover-streaming",
            DeflateRun { client: [3, 9, 9], server: [0, 10, 12], flags: 0b1011, ..run }.input(&[
                deflate_message(0b1_1101, 5000, 6, 4, b"abc"),
                deflate_message(0b0_0100, 4000, 7, 0, b"xyz"),
                deflate_message(0b0_0001, 4000, 8, 0, b"xyz"),
            ]),
        ),
        (
            "uncompressed-below-threshold",
            DeflateRun { compress_min: 200, chunk_max: 255, ..run }.input(&[
                deflate_message(0b0_0001, 100, 9, 0, b"short "),
                deflate_message(0b0_0001, 1000, 10, 0, b"long "),
                deflate_message(0b0_1001, 10, 11, 1, b"fragmented "),
            ]),
        ),
        (
            "limits-1009",
            DeflateRun {
                max_frame_size: 500,
                max_message_size: 1000,
                max_fragments: 4,
                chunk_max: 16,
                ..run
            }
            .input(&[
                deflate_message(0b0_0001, 800, 12, 0, b"fits "),
                deflate_message(0b0_0001, 2000, 13, 0, b"inflates past the limit "),
            ]),
        ),
        (
            "deflate-bomb-1009",
            DeflateRun { chunk_max: 255, ..run }.input(&[deflate_raw_frame(BINARY_RSV1, &bomb)]),
        ),
        (
            "not-deflate-1007",
            DeflateRun { chunk_max: 255, ..run }.input(&[
                deflate_message(0b0_0001, 300, 14, 0, b"before "),
                deflate_raw_frame(BINARY_RSV1, not_deflate),
            ]),
        ),
        (
            "rsv1-on-continuation-1002",
            run.input(&[
                deflate_raw_frame(TEXT_RSV1 & 0x7f, &HELLO[..3]),
                deflate_raw_frame(0xc0, &HELLO[3..]),
            ]),
        ),
    ];
    cases.into_iter().map(|(name, bytes)| Seed { target: "connection_deflate", name, bytes }).collect()
}
