//! Heap held by connections with permessage-deflate (RFC 7692), measured with a counting global
//! allocator: what an idle connection keeps at each setting of [`DeflateConfig`], and the peak
//! while a small message inflates past the message limit.
//!
//! Measured as in `tests/memory.rs`: heap allocated by this thread after the exchange minus
//! before the connection was created, with its peer and every message dropped. The same
//! figures over real sockets, 2000 connections at a time: `scripts/deflate-memory.sh`.

use std::time::Instant;

use rfc6455::deflate::{DeflateCodec, DeflateConfig};
use rfc6455::handshake::extension::Extension;
use rfc6455::{CloseCode, Config, Connection, Event, MessageLimits, Role};

#[path = "common/counting.rs"]
mod counting;

use counting::allocated;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The bounds: per connection at the defaults, and per idle connection without context
/// takeover.
const DEFAULT_LIMIT: isize = 64 * 1024;
const NO_CONTEXT_TAKEOVER_LIMIT: isize = 8 * 1024;

/// Moves everything `from` has to send to `to`.
fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
    let wire = from.bytes_to_send().to_vec();
    from.mark_sent(wire.len());
    to.receive(now, &wire);
}

/// The events of `conn`, which must all be messages; how many.
fn drain_messages(conn: &mut Connection) -> usize {
    let mut count = 0;
    while let Some(event) = conn.poll_event() {
        assert!(matches!(event, Event::Message(_)), "{event:?}");
        count += 1;
    }
    count
}

/// A telemetry batch: 40 JSON readings, about 1.5 KiB, over the 1 KiB compression threshold.
fn readings() -> String {
    (0..40).map(|i| format!("{{\"sensor\":\"esp32-{i:02}\",\"celsius\":21.{i}}},")).collect()
}

/// Opens an endpoint of `role` with the codec `config` agrees on for a browser's offer, sends
/// and receives three compressed messages, and returns the heap it holds once idle.
fn idle_heap(role: Role, config: DeflateConfig) -> isize {
    let now = Instant::now();
    let offers = Extension::decode_list("permessage-deflate; client_max_window_bits").unwrap();
    let params = config.accept(&offers).expect("acceptable");
    let text = readings();
    let before = allocated();
    let mut conn = Connection::new(role, Config::default(), now)
        .with_extension(Box::new(DeflateCodec::new(role, params)));
    {
        let mut peer = Connection::new(role.peer(), Config::default(), now)
            .with_extension(Box::new(DeflateCodec::new(role.peer(), params)));
        for _ in 0..3 {
            peer.send_text(&text).unwrap();
            let wire = peer.bytes_to_send().to_vec();
            assert!(wire.len() < text.len() / 2, "compressed: {} bytes for {}", wire.len(), text.len());
            pump(&mut peer, &mut conn, now);
            assert_eq!(drain_messages(&mut conn), 1);
            conn.send_text(&text).unwrap();
            pump(&mut conn, &mut peer, now);
            assert_eq!(drain_messages(&mut peer), 1);
        }
    }
    assert!(conn.is_open());
    // The compressor codecs without context takeover share is the thread's, not the connection's.
    let with_spare = allocated() - before;
    rfc6455::deflate::release_thread_compressor();
    let held = allocated() - before;
    if with_spare > held {
        eprintln!("(the thread's shared compressor: {} bytes)", with_spare - held);
    }
    eprintln!("{role:?} with {config:?}: {held} bytes held when idle");
    conn.close(now, CloseCode::NORMAL_CLOSURE, "").unwrap();
    held
}

/// At the defaults a server connection that has exchanged compressed messages both ways holds at
/// most 64 KiB: the inflater (a 32 KiB window and its tables) and the connection. Its compressor
/// is freed after each message (§7.1.1.1).
#[test]
fn default_server_connection_holds_at_most_64_kib() {
    let held = idle_heap(Role::Server, DeflateConfig::default());
    assert!(held <= DEFAULT_LIMIT, "{held} bytes");
}

/// Without context takeover in either direction (§7.1.1), an idle connection holds no DEFLATE
/// state: at most 8 KiB, in both roles.
#[test]
fn no_context_takeover_idle_connection_holds_at_most_8_kib() {
    for role in [Role::Server, Role::Client] {
        let held = idle_heap(role, DeflateConfig::NO_CONTEXT_TAKEOVER);
        assert!(held <= NO_CONTEXT_TAKEOVER_LIMIT, "{role:?}: {held} bytes");
    }
}

/// What the RFC's defaults cost, for the README's table: a compressor and an inflater kept. Not a
/// bound: the figure is the backend's; the test checks both are kept.
#[test]
fn rfc_defaults_keep_a_compressor_and_an_inflater() {
    let held = idle_heap(Role::Server, DeflateConfig::RFC_DEFAULTS);
    let inflater_only = idle_heap(Role::Server, DeflateConfig::default());
    assert!(held > inflater_only + 64 * 1024, "{held} against {inflater_only} bytes");
}

/// A 16 KiB message that inflates to 16 MiB, against a 1 MiB message limit: 1009, and the
/// receiver's peak heap stays near the limit, never near 16 MiB (inflated bytes are counted as
/// they are produced).
#[test]
fn a_deflate_bomb_peaks_near_the_limit() {
    let now = Instant::now();
    let params = DeflateConfig::RFC_DEFAULTS.accept(&[Extension::new("permessage-deflate")]).unwrap();
    let limit: u64 = 1 << 20;
    let config = Config {
        limits: MessageLimits { max_message_size: limit, max_frame_size: limit, ..MessageLimits::default() },
        ..Config::default()
    };
    let mut client = Connection::new(Role::Client, Config::default(), now)
        .with_extension(Box::new(DeflateCodec::new(Role::Client, params)));
    client.send_binary(&vec![0u8; 16 << 20]).unwrap();
    let wire = client.bytes_to_send().to_vec();
    assert!(wire.len() <= 17 * 1024, "{} bytes on the wire", wire.len());
    drop(client);

    let before = allocated();
    counting::reset_peak();
    let mut server = Connection::new(Role::Server, config, now)
        .with_extension(Box::new(DeflateCodec::new(Role::Server, params)));
    server.receive(now, &wire);
    let peak = counting::peak() - before;
    // The server's Close (§5.5.1: opcode 0x8, unmasked, the code first in its body).
    let sent = server.bytes_to_send().to_vec();
    assert_eq!(sent[0] & 0x0f, 0x8, "{sent:02x?}");
    let code = u16::from_be_bytes([sent[2], sent[3]]);
    eprintln!("a {}-byte message inflating to 16 MiB, 1 MiB limit: peak {peak} bytes", wire.len());
    assert_eq!(CloseCode(code), CloseCode::MESSAGE_TOO_BIG);
    // The message up to its limit, the inflater and one chunk of output: about 64 KiB over.
    assert!(peak <= limit as isize + 128 * 1024, "peak {peak} bytes");
}
