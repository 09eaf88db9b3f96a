//! Masking (RFC 6455 §5.3), the hot loop of every client send and server receive.
//!
//! Groups `mask/apply/SIZE`, each with `Throughput::Bytes`:
//! - `memcpy`: `copy_from_slice` of the same size, the physical reference (read + write every
//!   byte once, as masking in place does);
//! - `fast_aligned` / `fast_odd`: [`rfc6455::apply_mask`] on a slice that starts 64-byte aligned,
//!   and one that starts at an odd address (offset 1), with a payload offset of 0;
//! - `rfc_formula`: [`rfc6455::apply_mask_rfc`], the byte-at-a-time formula of the RFC.
//!
//! The ratio `fast_* / memcpy` is the figure of merit (target: >= 0.8 aligned, >= 0.6 odd at
//! 1-16 KiB).
//!
//! Groups `mask/copy/SIZE`: appending a payload masked to a `BytesMut`, as a client writes a
//! frame and a server copies a large message out of its reads:
//! - `memcpy`: `extend_from_slice`, the unmasked copy, the reference;
//! - `one_pass_aligned` / `one_pass_odd`: [`rfc6455::extend_masked`] (read, mask, write once),
//!   source and destination 64-byte aligned, or both at offset 1;
//! - `copy_then_mask`: `extend_from_slice` then [`rfc6455::apply_mask`] in place (two passes).
//!
//! Run: `cargo bench --bench mask`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const SIZES: &[(usize, &str)] = &[
    (16, "16B"),
    (125, "125B"),
    (126, "126B"),
    (1024, "1KiB"),
    (4 * 1024, "4KiB"),
    (16 * 1024, "16KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// A buffer of `len + 64` bytes whose data starts at a 64-byte boundary plus `misalign`.
struct Aligned {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize, misalign: usize) -> Aligned {
        let storage: Vec<u8> = (0..len + 128).map(|i| i as u8).collect();
        let base = storage.as_ptr() as usize;
        let start = (64 - base % 64) % 64 + misalign;
        Aligned { storage, start, len }
    }

    fn slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

fn mask(c: &mut Criterion) {
    for &(size, name) in SIZES {
        let mut group = c.benchmark_group(format!("mask/apply/{name}"));
        group.throughput(Throughput::Bytes(size as u64));

        let source = Aligned::new(size, 0);
        let mut destination = Aligned::new(size, 0);
        group.bench_function(BenchmarkId::from_parameter("memcpy"), |b| {
            let from = &source.storage[source.start..source.start + size];
            b.iter(|| destination.slice().copy_from_slice(black_box(from)))
        });

        let mut aligned = Aligned::new(size, 0);
        group.bench_function(BenchmarkId::from_parameter("fast_aligned"), |b| {
            b.iter(|| rfc6455::apply_mask(black_box(KEY), black_box(aligned.slice()), 0))
        });

        let mut odd = Aligned::new(size, 1);
        group.bench_function(BenchmarkId::from_parameter("fast_odd"), |b| {
            b.iter(|| rfc6455::apply_mask(black_box(KEY), black_box(odd.slice()), 0))
        });

        if size <= 64 * 1024 {
            let mut formula = Aligned::new(size, 0);
            group.bench_function(BenchmarkId::from_parameter("rfc_formula"), |b| {
                b.iter(|| rfc6455::apply_mask_rfc(black_box(KEY), black_box(formula.slice()), 0))
            });
        }
        group.finish();
    }
}

/// A `BytesMut` with room for `len` more bytes after a prefix that puts the next byte 2 KiB
/// (modulo 4 KiB) after `source`: both 64-byte aligned, or both at the same odd offset. (Had
/// the two addresses nearly the same low 12 bits, the CPU would take some loads of the source
/// to depend on stores to the destination, "4K aliasing", which slows any copy, the reference
/// too; where the allocator places them would then decide the figures.) `reset` empties it back
/// to that prefix.
struct Output {
    buffer: bytes::BytesMut,
    prefix: usize,
}

impl Output {
    fn new(len: usize, source: &[u8]) -> Output {
        let mut buffer = bytes::BytesMut::with_capacity(len + 4096);
        let base = buffer.as_ptr() as usize;
        let prefix = (source.as_ptr() as usize + 2048 + 4096 - base % 4096) % 4096;
        buffer.resize(prefix, 0);
        Output { buffer, prefix }
    }

    fn reset(&mut self) -> &mut bytes::BytesMut {
        self.buffer.truncate(self.prefix);
        &mut self.buffer
    }
}

fn mask_copy(c: &mut Criterion) {
    for &(size, name) in SIZES {
        let mut group = c.benchmark_group(format!("mask/copy/{name}"));
        group.throughput(Throughput::Bytes(size as u64));
        let aligned = Aligned::new(size, 0);
        let odd = Aligned::new(size, 1);
        let from_aligned = &aligned.storage[aligned.start..aligned.start + size];
        let from_odd = &odd.storage[odd.start..odd.start + size];

        let mut out = Output::new(size, from_aligned);
        group.bench_function(BenchmarkId::from_parameter("memcpy"), |b| {
            b.iter(|| out.reset().extend_from_slice(black_box(from_aligned)))
        });
        group.bench_function(BenchmarkId::from_parameter("one_pass_aligned"), |b| {
            b.iter(|| rfc6455::extend_masked(out.reset(), black_box(KEY), black_box(from_aligned), 0))
        });
        let mut out_odd = Output::new(size, from_odd);
        group.bench_function(BenchmarkId::from_parameter("one_pass_odd"), |b| {
            b.iter(|| rfc6455::extend_masked(out_odd.reset(), black_box(KEY), black_box(from_odd), 0))
        });
        group.bench_function(BenchmarkId::from_parameter("copy_then_mask"), |b| {
            b.iter(|| {
                let out = out.reset();
                let start = out.len();
                out.extend_from_slice(black_box(from_aligned));
                rfc6455::apply_mask(black_box(KEY), &mut out[start..], 0)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, mask, mask_copy);
criterion_main!(benches);
