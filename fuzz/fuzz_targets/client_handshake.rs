//! Fuzz target: a `ClientHandshake` (RFC 6455 §4.1) driven by a structured sequence of chunks of
//! what the server sends (a template response or raw bytes, then frames or a body), EOF or a
//! reset, time, partial writes of the request and `into_connection` with various codecs, then
//! the `Connection` it gives.
//!
//! The input format and every oracle are described in `rfc6455_fuzz::handshake`: events once
//! and equal to a one-shot decode, nothing but the request ever written, bodies bounded and
//! exact, the codecs checked against the accepted extensions, the connection gets exactly the
//! bytes after the 101, and every deadline leads to `Transport::Close`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455_fuzz::handshake::{run_client, HandshakeInput};

fuzz_target!(|input: HandshakeInput| {
    run_client(&input);
});
