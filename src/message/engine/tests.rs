//! Unit tests of the engine ([`super::Reassembler`]).

use super::*;

/// A masked Binary frame of `payload` as a client sends it.
fn client_frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: Opcode::Binary,
        masking_key: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut wire = Vec::new();
    Frame { header, payload: Bytes::copy_from_slice(payload) }.encode(&mut wire);
    wire
}

/// The engine records where the next byte falls, and a single-frame message that arrives over
/// several reads is completed where it started: the bytes after it go to a buffer of their
/// own, and the message is handed over without a copy.
#[test]
fn tail_is_recorded_and_a_frame_read_in_place_is_never_moved() {
    let payload: Vec<u8> = (0..10_000).map(|i| (i * 7) as u8).collect();
    let first = client_frame(&payload, [1, 2, 3, 4]);
    let second = client_frame(b"next", [5, 6, 7, 8]);
    let header_len = first.len() - payload.len();

    let mut reassembler = Reassembler::new(Role::Server);
    assert_eq!(reassembler.tail, Tail::FrameStart);
    // Enough for the buffer to make room for the whole frame (it makes at most twice what
    // arrived, never trusting the announced length).
    reassembler.receive(&first[..header_len + 5100]);
    assert_eq!(reassembler.tail, Tail::Undecoded, "not decoded yet");
    let payload_start = reassembler.buffer[header_len..].as_ptr();
    assert_eq!(reassembler.poll(), Ok(None));
    assert_eq!(reassembler.tail, Tail::Payload { missing: 4900 });

    reassembler.receive(&first[header_len + 5100..header_len + 9000]);
    assert_eq!(reassembler.tail, Tail::Payload { missing: 1000 });
    let mut rest = first[header_len + 9000..].to_vec();
    rest.extend_from_slice(&second);
    reassembler.receive(&rest);
    assert_eq!(reassembler.tail, Tail::Undecoded);
    assert_eq!(reassembler.overflow.len(), second.len(), "what follows the frame waits apart");

    let Ok(Some(Incoming::Message(Message::Binary(message)))) = reassembler.poll() else { panic!() };
    assert!(message == payload, "the message as sent");
    assert_eq!(message.as_ptr(), payload_start, "completed where it started");
    assert_eq!(reassembler.poll(), Ok(Some(Incoming::Message(Message::Binary(Bytes::from_static(b"next"))))));
    assert_eq!(reassembler.tail, Tail::FrameStart);
    assert_eq!(reassembler.capacity(), 0, "an idle reassembler holds no heap");
}

/// A burst of whole messages in one read, more than any batch or inline record count, Text
/// and Binary mixed, comes out whole and in order, one at a time or as one run; one invalid
/// Text message among them fails the input after the messages before it.
#[test]
fn a_long_run_of_whole_messages_comes_out_in_order() {
    let messages: Vec<Message> = (0..1000u32)
        .map(|i| match i % 3 {
            0 => Message::text(format!("κόσμε {i}")),
            _ => Message::binary(i.to_be_bytes().to_vec()),
        })
        .collect();
    let mut wire = Vec::new();
    for message in &messages {
        let opcode = message.kind().opcode();
        let mut header = FrameHeader::new(true, opcode, message.len() as u64);
        header.masking_key = Some([9, 8, 7, 6]);
        Frame { header, payload: message.payload().clone() }.encode(&mut wire);
    }
    // One message per poll, as `Reassembler::poll` takes them...
    let mut reassembler = Reassembler::new(Role::Server);
    reassembler.receive(&wire);
    for message in &messages {
        assert_eq!(reassembler.poll(), Ok(Some(Incoming::Message(message.clone()))));
    }
    assert_eq!(reassembler.poll(), Ok(None));
    // ...and all in one run, as a connection takes them.
    let mut reassembler = Reassembler::new(Role::Server);
    reassembler.receive(&wire);
    let Some((mut run, Ok(()))) = reassembler.take_whole_run(usize::MAX) else { panic!() };
    for message in &messages {
        assert_eq!(run.next_message().as_ref(), Some(message));
    }
    assert!(run.is_empty() && run.next_message().is_none());
    assert_eq!(reassembler.capacity(), 0);

    // Message 699 is not UTF-8.
    let mut broken = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let header = FrameHeader::new(true, message.kind().opcode(), message.len() as u64);
        let mut payload = message.payload().to_vec();
        if index == 699 {
            payload[0] = 0xff;
        }
        Frame { header: FrameHeader { masking_key: Some([1, 2, 3, 4]), ..header }, payload: payload.into() }
            .encode(&mut broken);
    }
    let mut reassembler = Reassembler::new(Role::Server);
    reassembler.receive(&broken);
    for message in &messages[..699] {
        assert_eq!(reassembler.poll(), Ok(Some(Incoming::Message(message.clone()))));
    }
    assert_eq!(reassembler.poll(), Err(ProtocolError::InvalidUtf8));
    assert_eq!(reassembler.poll(), Ok(None));
    let mut reassembler = Reassembler::new(Role::Server);
    reassembler.receive(&broken);
    let Some((mut run, Err(ProtocolError::InvalidUtf8))) = reassembler.take_whole_run(usize::MAX) else {
        panic!()
    };
    for message in &messages[..699] {
        assert_eq!(run.next_message().as_ref(), Some(message));
    }
    assert!(run.next_message().is_none());
    assert_eq!(reassembler.poll(), Ok(None), "failed");
}
