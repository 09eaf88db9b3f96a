//! Fuzz target: layer 1 (RFC 6455 §5.4, §5.6, §8.1), the fast `Reassembler` against the
//! `ReferenceReassembler` it must equal.
//!
//! The input format and the oracle are described in `rfc6455_fuzz::reassembler`: both are fed
//! the same stream (structured frames and fragmented messages, or raw bytes) in the same
//! `receive` calls, cut anywhere down to one byte, with the same limits, extension and streaming
//! switches, and every `poll` must give the same result, and `is_in_message()` the same answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455_fuzz::reassembler::{run, ReassemblerInput};

fuzz_target!(|input: ReassemblerInput| {
    run(&input);
});
