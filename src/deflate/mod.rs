//! permessage-deflate (RFC 7692): compressing messages with DEFLATE, negotiated in the opening
//! handshake (feature `deflate`).
//!
//! [`negotiation`] holds the parameters and their rules (§7.1): what a server accepts from a
//! client's offers ([`DeflateConfig::accept`]), what a client offers and checks in the answer
//! ([`DeflateConfig::offer`], [`DeflateConfig::check_response`]). [`codec`] compresses and
//! inflates messages for the parameters agreed ([`DeflateCodec`]).

pub mod codec;
pub mod negotiation;

pub use codec::{release_thread_compressor, DeflateCodec, DEFAULT_COMPRESS_MIN};
pub use negotiation::{DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
