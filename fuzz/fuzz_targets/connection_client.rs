//! Fuzz target: a client `Connection` (RFC 6455 §5-§7, layer 2) driven by a structured sequence
//! of received bytes and frames, EOF, time and application commands.
//!
//! The input format and every oracle are described in `rfc6455_fuzz::connection`: the events
//! match an independent reference decoder of the bytes received, the output decodes as valid
//! frames of the client (unmasked from a server, masked from a client) carrying exactly what the
//! application sent, `Closed` comes once and last, and the timers keep their promises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::Role;
use rfc6455_fuzz::connection::{run, ConnectionInput};

fuzz_target!(|input: ConnectionInput| {
    run(Role::Client, &input);
});
