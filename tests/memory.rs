//! Heap held by an idle open connection, measured with a counting global allocator.
//!
//! The claim: once messages have been exchanged, the events drained and the messages dropped,
//! an open connection holds at most 1 KiB of heap, whatever the size of the largest message it
//! carried (a 1 MiB one here). A client holds a little more than a server: its CSPRNG for
//! masking keys (§5.3, §10.3).
//!
//! Measured as: heap allocated by this thread after the setup minus before the connection was
//! created, with everything but the connection (its peer, the bytes moved, the messages)
//! dropped. The counter is per thread, so the test harness and other tests do not disturb it.

use std::time::Instant;

use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};

#[path = "common/counting.rs"]
mod counting;

use counting::allocated;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The most an idle open connection may hold.
const IDLE_LIMIT: isize = 1024;

/// Moves what `from` has to send into `to`, `chunk` bytes per write and per `receive`.
fn pump(from: &mut Connection, to: &mut Connection, now: Instant, chunk: usize) {
    loop {
        let pending = from.bytes_to_send();
        if pending.is_empty() {
            return;
        }
        let piece = pending[..pending.len().min(chunk)].to_vec();
        from.mark_sent(piece.len());
        to.receive(now, &piece);
    }
}

/// Drains events, checking they are messages, and drops them; returns how many there were.
fn drain_messages(conn: &mut Connection) -> usize {
    let mut count = 0;
    while let Some(event) = conn.poll_event() {
        assert!(matches!(event, Event::Message(_)), "{event:?}");
        count += 1;
    }
    count
}

/// What an endpoint does before it is measured idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// Receives 16-byte messages, a 1 MiB one and a Ping; sends 16-byte messages, the 1 MiB
    /// one back, and the Pong.
    BothWays,
    /// Receives 16-byte messages and a 1 MiB one; sends nothing.
    ReceiveOnly,
    /// Sends a 1 MiB message; receives nothing.
    SendOnly,
}

/// Opens an endpoint of `role`, runs `exchange` with a peer (moving `chunk` bytes at a time),
/// drops everything else and returns the heap the endpoint holds once idle.
fn idle_heap(role: Role, exchange: Exchange, chunk: usize) -> isize {
    let t0 = Instant::now();
    let before = allocated();
    let mut conn = Connection::new(role, Config::default(), t0);
    let at_creation = allocated() - before;
    {
        let mut peer = Connection::new(role.peer(), Config::default(), t0);
        let large = vec![0xa5; 1 << 20];
        if exchange != Exchange::SendOnly {
            for _ in 0..10 {
                peer.send_binary(&[0x5a; 16]).unwrap();
                peer.send_text("sixteen bytes!!!").unwrap();
            }
            peer.send_binary(&large).unwrap();
            if exchange == Exchange::BothWays {
                peer.send_ping(b"are you there").unwrap();
            }
            pump(&mut peer, &mut conn, t0, chunk);
            assert_eq!(drain_messages(&mut conn), 21);
        }
        if exchange != Exchange::ReceiveOnly {
            if exchange == Exchange::BothWays {
                for _ in 0..10 {
                    conn.send_text("sixteen bytes!!!").unwrap();
                }
            }
            conn.send_message(&Message::Binary(large.into())).unwrap();
            pump(&mut conn, &mut peer, t0, chunk);
            let expected = if exchange == Exchange::BothWays { 11 } else { 1 };
            assert_eq!(drain_messages(&mut peer), expected);
            pump(&mut peer, &mut conn, t0, chunk);
        }
        assert_eq!(conn.poll_event(), None);
    }
    assert!(conn.is_open());
    assert_eq!(conn.unsent_len(), 0);
    let held = allocated() - before;
    let moved =
        if chunk == usize::MAX { "all at once".to_owned() } else { format!("{chunk} bytes at a time") };
    eprintln!(
        "{role:?}, {exchange:?}, bytes moved {moved}: the idle connection holds {held} bytes of heap \
         ({at_creation} at creation; buffered_capacity() = {}; the struct itself, not heap: {} bytes)",
        conn.buffered_capacity(),
        std::mem::size_of::<Connection>(),
    );
    // Still usable: it can close properly.
    conn.close(t0, CloseCode::NORMAL_CLOSURE, "").unwrap();
    assert!(!conn.bytes_to_send().is_empty());
    drop(conn);
    held
}

/// Runs `exchange` for `role` with the bytes moved all at once and 1500 at a time, and checks
/// both idle figures against the 1 KiB limit.
fn check_idle(role: Role, exchange: Exchange) {
    let figures = [usize::MAX, 1500].map(|chunk| (chunk, idle_heap(role, exchange, chunk)));
    for (chunk, held) in figures {
        let moved = if chunk == usize::MAX { "all at once".to_owned() } else { format!("{chunk} at a time") };
        assert!(held <= IDLE_LIMIT, "{role:?} after {exchange:?} ({moved}): {held} bytes held when idle");
    }
}

/// An idle server connection holds at most 1 KiB after exchanging 16-byte messages and a
/// 1 MiB one both ways.
#[test]
fn server_idle_connection_holds_at_most_1_kib() {
    check_idle(Role::Server, Exchange::BothWays);
}

/// An idle client connection, CSPRNG included, holds at most 1 KiB after exchanging 16-byte
/// messages and a 1 MiB one both ways.
#[test]
fn client_idle_connection_holds_at_most_1_kib() {
    check_idle(Role::Client, Exchange::BothWays);
}

/// The read side alone: a server that received a 1 MiB message gives its read buffer back.
#[test]
fn server_idle_after_receiving_1_mib_holds_at_most_1_kib() {
    check_idle(Role::Server, Exchange::ReceiveOnly);
}

/// The read side alone: a client that received a 1 MiB message gives its read buffer back.
#[test]
fn client_idle_after_receiving_1_mib_holds_at_most_1_kib() {
    check_idle(Role::Client, Exchange::ReceiveOnly);
}

/// The write side alone: a server that sent a 1 MiB message gives its output buffer back once
/// it is written.
#[test]
fn server_idle_after_sending_1_mib_holds_at_most_1_kib() {
    check_idle(Role::Server, Exchange::SendOnly);
}

/// The write side alone: a client that sent a 1 MiB message gives its output buffer back once
/// it is written.
#[test]
fn client_idle_after_sending_1_mib_holds_at_most_1_kib() {
    check_idle(Role::Client, Exchange::SendOnly);
}

/// The counter works: a 1 MiB allocation is seen, and its release too.
#[test]
fn the_counting_allocator_counts() {
    let before = allocated();
    let buffer = vec![0u8; 1 << 20];
    assert_eq!(allocated() - before, 1 << 20);
    drop(buffer);
    assert_eq!(allocated() - before, 0);
}
