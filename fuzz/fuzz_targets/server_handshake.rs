//! Fuzz target: a `ServerHandshake` (RFC 6455 §4.2, §4.4) driven by a structured sequence of
//! chunks of what the client sends (a template head or raw bytes, then frames), EOF or a reset,
//! time, partial writes and the application's answer (accept with or without a subprotocol or
//! extension, accept what was not offered, respond with a status), then the `Connection` it
//! gives.
//!
//! The input format and every oracle are described in `rfc6455_fuzz::handshake`: events once
//! and equal to a one-shot decode, only one valid HTTP response ever written, accept's errors
//! change nothing, the connection gets exactly the bytes after the head, and every deadline
//! leads to `Transport::Close`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455_fuzz::handshake::{run_server, HandshakeInput};

fuzz_target!(|input: HandshakeInput| {
    run_server(&input);
});
