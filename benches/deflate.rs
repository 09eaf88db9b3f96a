//! permessage-deflate (RFC 7692): compressing and inflating the course's JSON messages with
//! [`DeflateCodec`], the codec a connection runs, at 16 B, 1 KiB and 64 KiB.
//!
//! - `deflate/compress/SIZE/SETTING` and `deflate/inflate/SIZE/SETTING`: a chain of 100 different
//!   messages of about SIZE bytes (telemetry readings as the ESP32 boards send them, chat lines
//!   as the chat page sends them), compressed or inflated in order by one codec, as one
//!   connection would. `takeover` keeps the DEFLATE context between messages (the RFC's
//!   default); `no_takeover` starts each message afresh (the compressor of
//!   [`DeflateConfig::default()`]'s server, both directions of
//!   [`DeflateConfig::NO_CONTEXT_TAKEOVER`]). Throughput counts uncompressed bytes.
//! - The compression ratio each achieves (bytes on the wire / message bytes, over the chain; a
//!   message that would not shrink goes uncompressed without context takeover) is printed
//!   before the measurements.
//!
//! Run: `cargo bench --bench deflate`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams};
use rfc6455::extension::{DecodeOutput, ExtensionCodec};
use rfc6455::handshake::extension::Extension;
use rfc6455::{MessageKind, Role};

/// Messages per chain.
const CHAIN: usize = 100;

/// Message `index` of a chain, about `size` bytes: readings below 1 KiB become one reading or a
/// chat line each, larger ones a batch of readings and chat lines.
fn message(index: usize, size: usize) -> Vec<u8> {
    let reading = |i: usize| {
        format!(
            "{{\"board\":\"esp32-{:02}\",\"celsius\":{}.{},\"humidity\":{},\"at\":\"2026120310{:02}\"}}",
            i % 24,
            18 + i % 9,
            i * 7 % 10,
            35 + i * 13 % 40,
            i % 60
        )
    };
    let chat = |i: usize| {
        format!(
            "{{\"type\":\"message\",\"from\":\"student{}\",\"text\":\"lab {} works: the echo came back in {} ms\"}}",
            i % 30,
            i % 12,
            i * 31 % 97
        )
    };
    if size <= 16 {
        // The smallest reading an ESP32 sketch sends: a bare temperature, `{"t":   21.42}`.
        let text = format!("{{\"t\":{:>10}}}", format!("{}.{:02}", 18 + index % 9, index % 100));
        assert_eq!(text.len(), 16, "{text}");
        return text.into_bytes();
    }
    let mut out = String::new();
    let mut i = index * 1000;
    while out.len() < size {
        out.push_str(&if i % 3 == 0 { chat(i) } else { reading(i) });
        out.push('\n');
        i += 1;
    }
    out.truncate(size);
    out.into_bytes()
}

fn params(config: DeflateConfig) -> DeflateParams {
    config.accept(&[Extension::new("permessage-deflate")]).expect("acceptable")
}

/// The settings compared: (name, parameters).
fn settings() -> [(&'static str, DeflateParams); 2] {
    [
        ("takeover", params(DeflateConfig::RFC_DEFAULTS)),
        ("no_takeover", params(DeflateConfig::NO_CONTEXT_TAKEOVER)),
    ]
}

/// The chain sent by one client codec: each message's payload on the wire, and whether it is
/// compressed (without context takeover, a message that would not shrink goes as it is).
fn compress_chain(params: DeflateParams, messages: &[Vec<u8>]) -> Vec<(Vec<u8>, bool)> {
    let mut codec = DeflateCodec::new(Role::Client, params).with_compress_min(0);
    messages
        .iter()
        .map(|message| {
            let mut out = BytesMut::new();
            match codec.encode(MessageKind::Text, message, true, &mut out) {
                0 => (message.clone(), false),
                _ => (out.to_vec(), true),
            }
        })
        .collect()
}

fn deflate(c: &mut Criterion) {
    let sizes = [(16, "16B"), (1024, "1KiB"), (65536, "64KiB")];
    for (size, size_name) in sizes {
        let messages: Vec<Vec<u8>> = (0..CHAIN).map(|i| message(i, size)).collect();
        let total: usize = messages.iter().map(Vec::len).sum();
        for (setting, params) in settings() {
            let chain = compress_chain(params, &messages);
            let compressed: usize = chain.iter().map(|(payload, _)| payload.len()).sum();
            let sent_plain = chain.iter().filter(|(_, compressed)| !compressed).count();
            eprintln!(
                "deflate ratio {size_name} {setting}: {compressed} / {total} bytes = {:.3} ({sent_plain} of {CHAIN} sent uncompressed)",
                compressed as f64 / total as f64
            );
        }
    }
    let mut group = c.benchmark_group("deflate/compress");
    for (size, size_name) in sizes {
        let messages: Vec<Vec<u8>> = (0..CHAIN).map(|i| message(i, size)).collect();
        let total: usize = messages.iter().map(Vec::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        for (setting, params) in settings() {
            group.bench_function(BenchmarkId::new(size_name, setting), |b| {
                b.iter_batched_ref(
                    || {
                        (
                            DeflateCodec::new(Role::Client, params).with_compress_min(0),
                            BytesMut::with_capacity(2 * size),
                        )
                    },
                    |(codec, out)| {
                        for message in &messages {
                            out.clear();
                            black_box(codec.encode(MessageKind::Text, message, true, out));
                        }
                    },
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("deflate/inflate");
    for (size, size_name) in sizes {
        let messages: Vec<Vec<u8>> = (0..CHAIN).map(|i| message(i, size)).collect();
        let total: usize = messages.iter().map(Vec::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        for (setting, params) in settings() {
            let chain = compress_chain(params, &messages);
            group.bench_function(BenchmarkId::new(size_name, setting), |b| {
                b.iter_batched_ref(
                    || (DeflateCodec::new(Role::Server, params), BytesMut::with_capacity(2 * size)),
                    |(codec, out)| {
                        for (payload, compressed) in &chain {
                            out.clear();
                            if !compressed {
                                out.extend_from_slice(payload);
                                continue;
                            }
                            codec
                                .decode(payload, true, &mut DecodeOutput::new(out, 0, 1 << 20))
                                .expect("inflates");
                            black_box(&out[..]);
                        }
                    },
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group!(benches, deflate);
criterion_main!(benches);
