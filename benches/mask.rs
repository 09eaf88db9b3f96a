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
//! 1-16 KiB). Run: `cargo bench --bench mask`.

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

criterion_group!(benches, mask);
criterion_main!(benches);
