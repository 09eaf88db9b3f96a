//! RFC 7692 §6 and §7.2: permessage-deflate's data, codec by codec and through connections.

use std::time::Instant;

use bytes::BytesMut;
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams};
use rfc6455::extension::{DecodeOutput, ExtensionCodec};
use rfc6455::frame::RSV1_BIT;
use rfc6455::frame::{Frame, FrameHeader, Opcode};
use rfc6455::handshake::extension::Extension;
use rfc6455::{Config, Connection, Event, Message, MessageKind, ProtocolError, Role};

fn params(config: DeflateConfig, offer: &str) -> DeflateParams {
    config.accept(&Extension::decode_list(offer).unwrap()).expect("acceptable")
}

fn default_params() -> DeflateParams {
    params(DeflateConfig::RFC_DEFAULTS, "permessage-deflate; client_max_window_bits")
}

/// Compresses one message as `role` sends it.
fn compress(codec: &mut DeflateCodec, data: &[u8]) -> (u8, Vec<u8>) {
    let mut out = BytesMut::new();
    let rsv = codec.encode(MessageKind::Binary, data, true, &mut out);
    (rsv, out.to_vec())
}

/// Inflates one message, in the given pieces, under a limit.
fn inflate(codec: &mut DeflateCodec, pieces: &[&[u8]], max: u64) -> Result<Vec<u8>, ProtocolError> {
    let mut out = BytesMut::new();
    for (index, piece) in pieces.iter().enumerate() {
        let before = out.len() as u64;
        let mut output = DecodeOutput::new(&mut out, before, max);
        codec.decode(piece, index + 1 == pieces.len(), &mut output)?;
    }
    Ok(out.to_vec())
}

/// §7.2.3.1: "Hello" compresses to `f2 48 cd c9 c9 07 00` (the tail `00 00 ff ff` removed), and
/// inflates back.
#[test]
fn rfc7692_7_2_3_1_a_message_compressed() {
    let mut server = DeflateCodec::new(Role::Server, default_params()).with_compress_min(0);
    let (rsv, data) = compress(&mut server, b"Hello");
    assert_eq!((rsv, data.as_slice()), (RSV1_BIT, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..]));
    let mut client = DeflateCodec::new(Role::Client, default_params());
    assert_eq!(inflate(&mut client, &[&data], 1 << 20).unwrap(), b"Hello");
}

/// §7.2.3.2: with context takeover the second "Hello" refers back to the first:
/// `f2 00 11 00 00`. Without it (§7.1.1.1), each message is compressed afresh.
#[test]
fn rfc7692_7_2_3_2_sharing_the_window_between_messages() {
    let mut server = DeflateCodec::new(Role::Server, default_params()).with_compress_min(0);
    let (_, first) = compress(&mut server, b"Hello");
    let (_, second) = compress(&mut server, b"Hello");
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut client = DeflateCodec::new(Role::Client, default_params());
    assert_eq!(inflate(&mut client, &[&first], 1 << 20).unwrap(), b"Hello");
    assert_eq!(inflate(&mut client, &[&second], 1 << 20).unwrap(), b"Hello");

    let lean = params(
        DeflateConfig { server_no_context_takeover: true, ..DeflateConfig::RFC_DEFAULTS },
        "permessage-deflate",
    );
    let mut server = DeflateCodec::new(Role::Server, lean).with_compress_min(0);
    // (Long enough to shrink: a message that would not goes uncompressed without takeover.)
    let hello = b"Hello, Hello, Hello, Hello";
    let (rsv, first) = compress(&mut server, hello);
    assert_eq!(rsv, RSV1_BIT);
    assert_eq!(server.holds_state(), (false, false), "the compressor goes after each message");
    let (_, second) = compress(&mut server, hello);
    assert_eq!(first, second);
    let mut client = DeflateCodec::new(Role::Client, lean);
    assert_eq!(inflate(&mut client, &[&first], 1 << 20).unwrap(), hello);
    assert_eq!(client.holds_state(), (false, false), "the peer resets: nothing to keep");
    assert_eq!(inflate(&mut client, &[&second], 1 << 20).unwrap(), hello);
}

/// §7.2.3.3 (a block with no compression), §7.2.3.4 (a block with BFINAL set) and §7.2.3.5 (two
/// blocks in one message): each inflates to "Hello".
#[test]
fn rfc7692_7_2_3_3_to_5_other_block_forms() {
    let forms: [&[u8]; 3] = [
        &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00],
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00],
    ];
    for form in forms {
        let mut client = DeflateCodec::new(Role::Client, default_params());
        assert_eq!(inflate(&mut client, &[form], 1 << 20).unwrap(), b"Hello", "{form:02x?}");
        // And a second message after it, with the same inflater.
        assert_eq!(inflate(&mut client, &[form], 1 << 20).unwrap(), b"Hello", "{form:02x?}");
    }
}

/// §7.2.2: a compressed message fragmented anywhere inflates to the same data.
#[test]
fn rfc7692_7_2_2_fragments_inflate_as_they_arrive() {
    let text: Vec<u8> =
        (0..3000).flat_map(|i| format!("{{\"sensor\":{i},\"t\":21.{i}}}").into_bytes()).collect();
    let mut server = DeflateCodec::new(Role::Server, default_params());
    let (_, data) = compress(&mut server, &text);
    assert!(data.len() < text.len() / 4, "{} -> {}", text.len(), data.len());
    for cut in [0, 1, 2, data.len() / 3, data.len() - 1, data.len()] {
        for second in [cut, (cut + data.len()) / 2] {
            let mut client = DeflateCodec::new(Role::Client, default_params());
            let pieces = [&data[..cut], &data[cut..second], &data[second..]];
            assert_eq!(inflate(&mut client, &pieces, 1 << 30).unwrap(), text, "cut at {cut}, {second}");
        }
    }
}

/// Bounded by construction: a small message inflating far past the limit fails with 1009 once
/// the limit is reached, and no more than the limit was ever written.
#[test]
fn inflating_stops_at_the_message_limit() {
    let zeros = vec![0u8; 16 << 20];
    let mut server = DeflateCodec::new(Role::Server, default_params());
    let (_, bomb) = compress(&mut server, &zeros);
    assert!(bomb.len() < 32 * 1024, "{} bytes", bomb.len());
    let mut client = DeflateCodec::new(Role::Client, default_params());
    let mut out = BytesMut::new();
    let limit = 1 << 20;
    let result = client.decode(&bomb, true, &mut DecodeOutput::new(&mut out, 0, limit));
    assert!(matches!(result, Err(ProtocolError::MessageTooLarge { max, .. }) if max == limit), "{result:?}");
    assert!(out.len() as u64 <= limit, "{} bytes written", out.len());
    assert_eq!(result.unwrap_err().close_code(), rfc6455::CloseCode::MESSAGE_TOO_BIG);
}

/// Data that is not DEFLATE fails with 1007.
#[test]
fn data_that_does_not_inflate_is_1007() {
    let mut client = DeflateCodec::new(Role::Client, default_params());
    let result = inflate(&mut client, &[&[0xff, 0xff, 0xff, 0xff, 0x00]], 1 << 20);
    assert_eq!(result, Err(ProtocolError::InvalidCompressedData));
    assert_eq!(
        ProtocolError::InvalidCompressedData.close_code(),
        rfc6455::CloseCode::INVALID_FRAME_PAYLOAD_DATA
    );
}

/// A message under the threshold goes uncompressed: no RSV1, the output untouched.
#[test]
fn small_messages_go_uncompressed() {
    let mut server = DeflateCodec::new(Role::Server, default_params());
    let (rsv, data) = compress(&mut server, b"short");
    assert_eq!((rsv, data.len()), (0, 0));
    let (rsv, _) = compress(&mut server, &[b'a'; 2000]);
    assert_eq!(rsv, RSV1_BIT);
}

/// Without context takeover on the sending side, a whole message that compression would not
/// shrink goes uncompressed (RSV1 clear, the data as it is); with context takeover it is always
/// compressed, since the peer's window must see every byte the compressor saw (§7.2.3.2).
#[test]
fn messages_that_do_not_shrink_go_uncompressed_without_takeover() {
    // Bytes from a simple generator: no repetition DEFLATE can use.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let reset = params(DeflateConfig::default(), "permessage-deflate");
    let mut server = DeflateCodec::new(Role::Server, reset);
    assert_eq!(compress(&mut server, &random), (0, Vec::new()));
    let (rsv, compressed) = compress(&mut server, &[b'a'; 2000]);
    assert_eq!(rsv, RSV1_BIT, "compressible data still is");
    assert_eq!(
        inflate(&mut DeflateCodec::new(Role::Client, reset), &[&compressed], 1 << 20).unwrap(),
        [b'a'; 2000]
    );
    let mut keeping = DeflateCodec::new(Role::Server, default_params());
    let (rsv, compressed) = compress(&mut keeping, &random);
    assert_eq!(rsv, RSV1_BIT);
    assert!(compressed.len() > random.len());
}

/// Every window size each side may compress with round-trips, at several levels.
#[test]
fn every_window_round_trips() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(i) / 7) as u8).collect();
    for bits in 9..=15u8 {
        let config = DeflateConfig {
            server_max_window_bits: bits,
            client_max_window_bits: bits,
            ..DeflateConfig::RFC_DEFAULTS
        };
        let agreed = params(config, &config.offer().to_string());
        assert_eq!((agreed.server_max_window_bits, agreed.client_max_window_bits), (bits, bits));
        for level in [1, 6, 9] {
            let mut server = DeflateCodec::new(Role::Server, agreed).with_level(level);
            let mut client = DeflateCodec::new(Role::Client, agreed);
            for _ in 0..2 {
                let (_, compressed) = compress(&mut server, &data);
                assert_eq!(
                    inflate(&mut client, &[&compressed], 1 << 20).unwrap(),
                    data,
                    "{bits} bits, level {level}"
                );
                let (_, compressed) = compress(&mut client, &data);
                assert_eq!(
                    inflate(&mut server, &[&compressed], 1 << 20).unwrap(),
                    data,
                    "{bits} bits, level {level}"
                );
            }
        }
    }
}

/// Two connections with the codec installed: a client and a server exchanging messages.
fn pair(config: Config) -> (Connection, Connection) {
    let now = Instant::now();
    let agreed = default_params();
    let client = Connection::new(Role::Client, config.clone(), now)
        .with_extension(Box::new(DeflateCodec::new(Role::Client, agreed).with_compress_min(0)));
    let server = Connection::new(Role::Server, config, now)
        .with_extension(Box::new(DeflateCodec::new(Role::Server, agreed).with_compress_min(0)));
    (client, server)
}

/// Moves everything `from` has to send to `to`, and returns the bytes.
fn transfer(from: &mut Connection, to: &mut Connection) -> Vec<u8> {
    let wire = from.bytes_to_send().to_vec();
    from.mark_sent(wire.len());
    to.receive(Instant::now(), &wire);
    wire
}

/// §6.1: RSV1 on the first frame of a compressed message only, never on control frames; a
/// compressed message fragmented, with a Ping between its fragments, arrives whole.
#[test]
fn rfc7692_6_1_rsv1_on_the_first_frame_only_and_control_frames_between() {
    let config = Config { max_send_frame_size: Some(64), ..Config::default() };
    let (mut client, mut server) = pair(config);
    let text: String = (0..200u32).map(|i| format!("{}:{} ", i, i.wrapping_mul(7919) % 1009)).collect();
    client.send_message(&Message::text(text.clone())).unwrap();
    let wire = client.bytes_to_send().to_vec();
    // Walk the frames: the first has RSV1, the continuations do not.
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let len = usize::from(wire[at + 1] & 0x7f);
        assert!(len < 126, "short frames only here");
        frames.push(wire[at]);
        at += 2 + 4 + len;
    }
    assert!(frames.len() > 2, "{} frames", frames.len());
    assert_eq!(frames[0] & RSV1_BIT, RSV1_BIT);
    assert!(frames[1..].iter().all(|byte| byte & RSV1_BIT == 0));
    // A Ping between two fragments.
    let split = 2 + 4 + usize::from(wire[1] & 0x7f);
    client.mark_sent(wire.len());
    let now = Instant::now();
    server.receive(now, &wire[..split]);
    let mut ping = Connection::new(Role::Client, Config::default(), now);
    ping.send_ping(b"p").unwrap();
    let ping_frame = ping.bytes_to_send().to_vec();
    assert_eq!(ping_frame[0] & RSV1_BIT, 0);
    server.receive(now, &ping_frame);
    server.receive(now, &wire[split..]);
    let mut events = Vec::new();
    while let Some(event) = server.poll_event() {
        events.push(event);
    }
    assert!(
        matches!(events.last(), Some(Event::Message(Message::Text(received))) if received.as_str() == text),
        "{events:?}"
    );
    // The Pong goes out uncompressed.
    let pong = server.bytes_to_send().to_vec();
    assert_eq!(pong[0], 0x8a);
}

/// Messages both ways, with context takeover, through connections.
#[test]
fn rfc7692_7_2_messages_both_ways_through_connections() {
    let (mut client, mut server) = pair(Config::default());
    for i in 0..20 {
        let message = Message::text(format!("{{\"reading\":{i},\"unit\":\"C\"}}").repeat(i + 1));
        client.send_message(&message).unwrap();
        let wire = transfer(&mut client, &mut server);
        assert!(wire.len() < message.len() + 14 || i == 0, "{} -> {}", message.len(), wire.len());
        assert_eq!(server.poll_event(), Some(Event::Message(message.clone())));
        server.send_message(&message).unwrap();
        transfer(&mut server, &mut client);
        assert_eq!(client.poll_event(), Some(Event::Message(message)));
    }
}

/// §8.1 still applies to inflated text, as it arrives: a compressed Text message whose first
/// fragment inflates to invalid UTF-8 fails the connection with 1007 before its last fragment.
#[test]
fn rfc7692_inflated_text_fails_fast_on_invalid_utf8() {
    let mut text = b"ok \xff ".to_vec();
    text.extend((0..3000u32).flat_map(|i| format!("{} ", i.wrapping_mul(7919) % 10007).into_bytes()));
    let mut codec = DeflateCodec::new(Role::Client, default_params()).with_compress_min(0);
    let (rsv, compressed) = compress(&mut codec, &text);
    assert_eq!(rsv, RSV1_BIT);
    let half = compressed.len() / 2;
    let key = [1, 2, 3, 4];
    let mut first = FrameHeader::new(false, Opcode::Text, 0);
    first.rsv1 = true;
    first.masking_key = Some(key);
    let mut wire = Vec::new();
    Frame { header: first, payload: compressed[..half].to_vec().into() }.encode(&mut wire);

    let now = Instant::now();
    let mut server = Connection::new(Role::Server, Config::default(), now)
        .with_extension(Box::new(DeflateCodec::new(Role::Server, default_params())));
    server.receive(now, &wire);
    let Some(Event::Closed(outcome)) = server.poll_event() else { panic!("the connection fails at once") };
    assert_eq!(outcome.sent.map(|close| close.code), Some(rfc6455::CloseCode::INVALID_FRAME_PAYLOAD_DATA));
}

/// §7.1.1: without context takeover each message is compressed afresh, so codecs may share one
/// compressor per thread: interleaved with another codec's messages (and with a message sent in
/// pieces, which keeps its compressor until its last piece), each message compresses to exactly
/// what a codec of its own gives.
#[test]
fn rfc7692_7_1_1_codecs_without_takeover_share_a_compressor_safely() {
    let lean = params(DeflateConfig::NO_CONTEXT_TAKEOVER, "permessage-deflate");
    let alone = |data: &[u8]| compress(&mut DeflateCodec::new(Role::Server, lean).with_compress_min(0), data);
    let first = b"the first codec's message, the first codec's message".to_vec();
    let second = b"another codec, another message, another message".to_vec();
    let mut a = DeflateCodec::new(Role::Server, lean).with_compress_min(0);
    let mut b = DeflateCodec::new(Role::Server, lean).with_compress_min(0);
    let mut streaming = DeflateCodec::new(Role::Server, lean).with_compress_min(0);
    let mut pieces = BytesMut::new();
    assert_eq!(streaming.encode(MessageKind::Text, &first[..10], false, &mut pieces), RSV1_BIT);
    for _ in 0..3 {
        assert_eq!(compress(&mut a, &first), alone(&first));
        assert_eq!(compress(&mut b, &second), alone(&second));
    }
    streaming.encode(MessageKind::Text, &first[10..], true, &mut pieces);
    assert_eq!(inflate(&mut DeflateCodec::new(Role::Client, lean), &[&pieces], 1 << 20).unwrap(), first);
    rfc6455::deflate::release_thread_compressor();
    assert_eq!(compress(&mut a, &first), alone(&first));
}
