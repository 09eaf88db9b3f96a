//! Frame decoding (RFC 6455 §5.2), beside tungstenite on the same input in the same run.
//!
//! - `frame/header_decode/PAYLOAD`: one masked header announcing a payload of 0, 125 (7-bit
//!   length), 126, 64 KiB (16-/64-bit) or 1 MiB bytes; `rfc6455` is [`FrameHeader::decode`],
//!   `tungstenite` is `FrameHeader::parse` on a `Cursor`. Throughput counts header bytes.
//! - `frame/decode/COUNTxSIZE`: a buffer of 10,000 masked 16-byte frames or 1,000 masked 1 KiB
//!   frames, as a server reads them: every header parsed and every payload unmasked.
//!   `rfc6455_decode_from` splits each frame off a `BytesMut` and unmasks it in place (zero
//!   copy); `rfc6455_decode_slice` decodes headers from a slice and unmasks in place;
//!   `tungstenite_header_parse` only parses tungstenite's headers and skips the payloads (its
//!   unmasking is not public); `tungstenite_frame_socket` reads the frames through
//!   tungstenite's `FrameSocket` from an in-memory stream (parse + unmask + one copy into its
//!   read buffer).
//!
//! Inputs are built outside the timed closures. Run: `cargo bench --bench frame`, then
//! `scripts/bench-summary.py frame/ --reference tungstenite_header_parse` for ratios.

use std::hint::black_box;
use std::io::Cursor;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rfc6455::{DecodeRules, Decoded, Frame, FrameHeader, Opcode};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masked_header(payload_len: u64) -> Vec<u8> {
    let mut header = FrameHeader::new(true, Opcode::Binary, payload_len);
    header.masking_key = Some(KEY);
    let mut out = Vec::new();
    header.encode(&mut out);
    out
}

fn masked_stream(count: usize, size: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut header = FrameHeader::new(true, Opcode::Binary, size as u64);
    header.masking_key = Some(KEY);
    let frame = Frame { header, payload: payload.into() };
    let mut out = Vec::with_capacity(count * (size + 14));
    for _ in 0..count {
        frame.encode(&mut out);
    }
    out
}

fn header_decode(c: &mut Criterion) {
    let rules = DecodeRules::server().with_max_frame_size(u64::MAX >> 1);
    for (payload_len, name) in [(0, "0B"), (125, "125B"), (126, "126B"), (65536, "64KiB"), (1 << 20, "1MiB")]
    {
        let bytes = masked_header(payload_len);
        let mut group = c.benchmark_group(format!("frame/header_decode/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("rfc6455"), |b| {
            b.iter(|| FrameHeader::decode(black_box(&bytes), &rules))
        });
        group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
            b.iter(|| {
                let mut cursor = Cursor::new(black_box(bytes.as_slice()));
                tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
            })
        });
        group.finish();
    }
}

fn stream_decode(c: &mut Criterion) {
    let rules = DecodeRules::server();
    for (count, size, name) in [(10_000, 16, "10000x16B"), (1_000, 1024, "1000x1KiB")] {
        let stream = masked_stream(count, size);
        let mut group = c.benchmark_group(format!("frame/decode/{name}"));
        group.throughput(Throughput::Bytes(stream.len() as u64));

        group.bench_function(BenchmarkId::from_parameter("rfc6455_decode_from"), |b| {
            b.iter_batched_ref(
                || BytesMut::from(stream.as_slice()),
                |buffer| {
                    let mut frames = 0;
                    while let Ok(Decoded::Complete { value, .. }) = Frame::decode_from(buffer, &rules) {
                        black_box(&value.payload);
                        frames += 1;
                    }
                    assert_eq!(frames, count);
                },
                BatchSize::LargeInput,
            )
        });

        group.bench_function(BenchmarkId::from_parameter("rfc6455_decode_slice"), |b| {
            b.iter_batched_ref(
                || stream.clone(),
                |buffer| {
                    let mut at = 0;
                    while let Ok(Decoded::Complete { value: header, consumed }) =
                        FrameHeader::decode(&buffer[at..], &rules)
                    {
                        let start = at + consumed;
                        let end = start + header.payload_len as usize;
                        if let Some(key) = header.masking_key {
                            rfc6455::apply_mask(key, &mut buffer[start..end], 0);
                        }
                        black_box(&buffer[start..end]);
                        at = end;
                    }
                    assert_eq!(at, buffer.len());
                },
                BatchSize::LargeInput,
            )
        });

        group.bench_function(BenchmarkId::from_parameter("tungstenite_header_parse"), |b| {
            b.iter(|| {
                let mut cursor = Cursor::new(black_box(stream.as_slice()));
                let mut frames = 0;
                while let Ok(Some((_header, len))) =
                    tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
                {
                    cursor.set_position(cursor.position() + len);
                    frames += 1;
                }
                assert_eq!(frames, count);
            })
        });

        group.bench_function(BenchmarkId::from_parameter("tungstenite_frame_socket"), |b| {
            b.iter_batched_ref(
                || tungstenite::protocol::frame::FrameSocket::new(Cursor::new(stream.clone())),
                |socket| {
                    let mut frames = 0;
                    while let Ok(Some(frame)) = socket.read(None) {
                        black_box(frame.payload());
                        frames += 1;
                    }
                    assert_eq!(frames, count);
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, header_decode, stream_decode);
criterion_main!(benches);
