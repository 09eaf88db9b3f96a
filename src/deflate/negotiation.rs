//! RFC 7692 §5 and §7.1: negotiating permessage-deflate's parameters in `Sec-WebSocket-Extensions`.
//!
//! Four parameters, each about one direction:
//!
//! | parameter | in an offer (client) | in a response (server) |
//! |---|---|---|
//! | `server_no_context_takeover` | asks the server to reset its compressor after each message | the server will |
//! | `client_no_context_takeover` | says the client will reset its compressor (a hint) | the client must |
//! | `server_max_window_bits=N` | asks the server to compress with a window of at most 2^N | the server will (N no larger than asked) |
//! | `client_max_window_bits[=N]` | the client can limit its window (with N: it will use at most 2^N) | the client must use at most 2^N (only if offered) |
//!
//! A server declines an offer that breaks a rule and tries the next one (§5: "a server accepts at
//! most one"); a client fails the connection on a response that breaks one (§7).
//!
//! **Window of 8 bits.** The RFC allows 8 to 15; zlib's raw deflate compresses with 9 at least.
//! Inflating is not affected (a decoder with a larger window reads any stream), so 8 is accepted
//! wherever it limits the *peer*. Where it would limit *this* endpoint's compressor, the offer
//! is declined (server) or the connection failed (client): compressing with 9 bits there would
//! break the agreement.

use crate::error::HandshakeError;
use crate::handshake::extension::Extension;

/// The extension's name (RFC 7692 §7).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The smallest window this crate compresses with (zlib's raw deflate): 2^9 bytes.
pub const MIN_COMPRESS_WINDOW_BITS: u8 = 9;
/// The largest window of the RFC (§7.1.2): 2^15 bytes, and the default.
pub const MAX_WINDOW_BITS: u8 = 15;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What this endpoint asks for or accepts (RFC 7692 §7.1).
///
/// Three settings, by memory per connection (measured by `tests/rfc7692_memory.rs` and
/// `scripts/deflate-memory.sh`; the README has the figures):
///
/// | setting | server's compressor | client's compressor | an idle server connection holds |
/// |---|---|---|---|
/// | [`DeflateConfig::default()`] (recommended) | reset after each message | keeps its context | the inflater, about 48 KiB |
/// | [`DeflateConfig::NO_CONTEXT_TAKEOVER`] | reset | reset | no DEFLATE state (under 1 KiB) |
/// | [`DeflateConfig::RFC_DEFAULTS`] | keeps its context | keeps its context | about 420 KiB |
///
/// Why the server resets its compressor by default: the zlib backend holds a compressor in
/// about 380 KiB at a 32 KiB window, and never under 140 KiB at any window (its hash table is
/// 128 KiB whatever the settings), far more than the inflater's 48 KiB. Codecs that reset share
/// one compressor per thread instead
/// ([`release_thread_compressor`](super::release_thread_compressor)). Resetting costs ratio on the
/// server's messages only, each compressed on its own (the README has the figures); the inflater
/// keeps its window, so what clients send still compresses against what they sent before.
///
/// # Examples
///
/// ```
/// use rfc6455::deflate::DeflateConfig;
/// use rfc6455::handshake::extension::Extension;
///
/// // A browser's usual offer.
/// let offers = Extension::decode_list("permessage-deflate; client_max_window_bits")?;
/// let agreed = DeflateConfig::default().accept(&offers).expect("acceptable");
/// assert_eq!(agreed.to_response().to_string(), "permessage-deflate; server_no_context_takeover");
///
/// // Less memory per connection: no context kept between messages in either direction.
/// let agreed = DeflateConfig::NO_CONTEXT_TAKEOVER.accept(&offers).expect("acceptable");
/// assert_eq!(
///     agreed.to_response().to_string(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
/// );
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The server resets its compressor after each message (its memory is freed between
    /// messages). A server sets it in its response; a client asks for it in its offer.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message. A server requires it in its response;
    /// a client declares it in its offer.
    pub client_no_context_takeover: bool,
    /// The server's compression window, 2^bits bytes (9 to 15): a server compresses with at most
    /// this; a client asks the server for it (when under 15).
    pub server_max_window_bits: u8,
    /// The client's compression window, 2^bits bytes (9 to 15): a server requires at most this (when
    /// the client offers to be limited); a client offers it.
    pub client_max_window_bits: u8,
}

impl DeflateConfig {
    /// The RFC's defaults (§7.1): context takeover in both directions, windows of 2^15 bytes. The
    /// best ratio, and the most memory: a compressor and an inflater kept on each connection.
    pub const RFC_DEFAULTS: DeflateConfig = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: MAX_WINDOW_BITS,
        client_max_window_bits: MAX_WINDOW_BITS,
    };

    /// No context kept in either direction (§7.1.1): each message is compressed on its own, and
    /// an idle connection holds no DEFLATE state at all. A server requires it of the client.
    pub const NO_CONTEXT_TAKEOVER: DeflateConfig = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateConfig::RFC_DEFAULTS
    };
}

/// The recommended setting: the server resets its compressor after each message (§7.1.1.1),
/// everything else as the RFC's defaults. A server states `server_no_context_takeover` in every
/// response; a client asks for it in its offer.
impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig { server_no_context_takeover: true, ..DeflateConfig::RFC_DEFAULTS }
    }
}

/// The parameters in force on a connection, as the server's response states them: what each
/// side compresses with, and so what each side must be able to inflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^bits bytes (8 to 15; 15 if not stated).
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^bits bytes (8 to 15; 15 if not stated).
    pub client_max_window_bits: u8,
    /// Whether `server_max_window_bits` is stated in the response (rather than the default 15).
    server_window_stated: bool,
    /// Whether `client_max_window_bits` is stated in the response.
    client_window_stated: bool,
}

/// An offer's parameters (§7.1), each at most once.
#[derive(Debug, Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (the client can limit its window).
    client_max_window_bits: Option<Option<u8>>,
}

/// Why a list of parameters breaks §7's rules.
type Refusal = String;

impl DeflateConfig {
    /// Server: the first of the client's offers of permessage-deflate that this configuration can
    /// accept, with the parameters agreed; `None` to decline them all (the connection then goes
    /// on without compression). Offers of other extensions are skipped.
    ///
    /// An offer is declined, as §7 requires, when it has a parameter not defined for offers, one
    /// twice, or a value that is not a window size (a decimal integer from 8 to 15 without leading
    /// zeros); and when it asks for what this server cannot do: a server window of 8 bits.
    pub fn accept(&self, offers: &[Extension]) -> Option<DeflateParams> {
        offers
            .iter()
            .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .find_map(|offer| self.accept_one(offer).ok())
    }

    /// The parameters this server answers `offer` with, or why it declines it.
    fn accept_one(&self, offer: &Extension) -> Result<DeflateParams, Refusal> {
        let offer = parse_params(offer, Side::Offer)?;
        let own_window = self.server_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        // §7.1.2.1: the server answers an offered server_max_window_bits with the same or a smaller
        // value; it may state one unasked.
        let (server_max_window_bits, server_window_stated) = match offer.server_max_window_bits {
            Some(bits) if bits < MIN_COMPRESS_WINDOW_BITS => {
                return Err(format!("a server window of {bits} bits (zlib compresses with 9 at least)"));
            }
            Some(bits) => (bits.min(own_window), true),
            None => (own_window, own_window < MAX_WINDOW_BITS),
        };
        // §7.1.2.2: a response states client_max_window_bits only if the offer had it.
        let limit = self.client_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        let (client_max_window_bits, client_window_stated) = match offer.client_max_window_bits {
            None => (MAX_WINDOW_BITS, false),
            Some(None) => (limit, limit < MAX_WINDOW_BITS),
            Some(Some(bits)) => (bits.min(limit), true),
        };
        Ok(DeflateParams {
            // §7.1.1.1: an offered server_no_context_takeover is accepted by stating it.
            server_no_context_takeover: offer.server_no_context_takeover || self.server_no_context_takeover,
            // §7.1.1.2: the offer's is a hint; the server may require it.
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_window_stated,
            client_window_stated,
        })
    }

    /// Client: the offer to send (one alternative).
    ///
    /// It always includes `client_max_window_bits` (with this configuration's value when under
    /// 15), so a server may limit the client's window; `server_max_window_bits` when under 15.
    pub fn offer(&self) -> Extension {
        let server_window = self.server_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        let client_window = self.client_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        deflate_extension(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            (server_window < MAX_WINDOW_BITS).then_some(server_window),
            Some((client_window < MAX_WINDOW_BITS).then_some(client_window)),
        )
    }

    /// Client: checks the server's answer to [`DeflateConfig::offer`] and gives the parameters
    /// agreed.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnacceptableExtensionResponse`] when §7 says the client must fail the
    /// connection: a parameter not defined for responses, one twice, an invalid value, a value the
    /// offer did not allow, an offered `server_no_context_takeover` or `server_max_window_bits`
    /// left unanswered, or a client window of 8 bits (which zlib cannot compress with).
    pub fn check_response(&self, response: &Extension) -> Result<DeflateParams, HandshakeError> {
        self.check_response_params(response).map_err(HandshakeError::UnacceptableExtensionResponse)
    }

    fn check_response_params(&self, response: &Extension) -> Result<DeflateParams, Refusal> {
        if !response.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(format!("{} is not {PERMESSAGE_DEFLATE}", response.name));
        }
        let seen = parse_params(response, Side::Response)?;
        let offered_server = self.server_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        let offered_client = self.client_max_window_bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS);
        if self.server_no_context_takeover && !seen.server_no_context_takeover {
            return Err(format!("{SERVER_NO_CONTEXT_TAKEOVER} was asked for and not granted"));
        }
        let server_max_window_bits = match seen.server_max_window_bits {
            Some(bits) if bits > offered_server => {
                return Err(format!(
                    "{SERVER_MAX_WINDOW_BITS}={bits}, more than the {offered_server} asked for"
                ));
            }
            Some(bits) => bits,
            None if offered_server < MAX_WINDOW_BITS => {
                return Err(format!("{SERVER_MAX_WINDOW_BITS} was asked for and not granted"));
            }
            None => MAX_WINDOW_BITS,
        };
        let client_max_window_bits = match seen.client_max_window_bits {
            Some(Some(bits)) if bits > offered_client => {
                return Err(format!(
                    "{CLIENT_MAX_WINDOW_BITS}={bits}, more than the {offered_client} offered"
                ));
            }
            Some(Some(bits)) if bits < MIN_COMPRESS_WINDOW_BITS => {
                return Err(format!("a client window of {bits} bits (zlib compresses with 9 at least)"));
            }
            Some(Some(bits)) => bits,
            Some(None) => return Err(format!("{CLIENT_MAX_WINDOW_BITS} without a value")),
            None => offered_client,
        };
        Ok(DeflateParams {
            server_no_context_takeover: seen.server_no_context_takeover,
            client_no_context_takeover: seen.client_no_context_takeover || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_window_stated: seen.server_max_window_bits.is_some(),
            client_window_stated: seen.client_max_window_bits.is_some(),
        })
    }
}

impl DeflateParams {
    /// The server's response for these parameters (§7.1): each stated parameter once.
    pub fn to_response(&self) -> Extension {
        deflate_extension(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_window_stated.then_some(self.server_max_window_bits),
            self.client_window_stated.then_some(Some(self.client_max_window_bits)),
        )
    }
}

/// Which side wrote a list of parameters: `client_max_window_bits` needs a value in a response
/// only (§7.1.2.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// The parameters of an offer or a response, each checked against §7.1: a name defined for it,
/// at most once, with a valid value.
fn parse_params(extension: &Extension, side: Side) -> Result<Offer, Refusal> {
    let mut parsed = Offer::default();
    for param in &extension.params {
        match param.name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER => set_flag(&mut parsed.server_no_context_takeover, param)?,
            CLIENT_NO_CONTEXT_TAKEOVER => set_flag(&mut parsed.client_no_context_takeover, param)?,
            SERVER_MAX_WINDOW_BITS => set_bits(&mut parsed.server_max_window_bits, param)?,
            CLIENT_MAX_WINDOW_BITS => {
                let mut bits = None;
                if param.value.is_some() || side == Side::Response {
                    set_bits(&mut bits, param)?;
                }
                if parsed.client_max_window_bits.replace(bits).is_some() {
                    return Err(format!("{CLIENT_MAX_WINDOW_BITS} twice"));
                }
            }
            other => return Err(format!("unknown parameter {other}")),
        }
    }
    Ok(parsed)
}

/// permessage-deflate with these parameters, in the RFC's order: the two flags, then the two
/// windows (`None` leaves one out; for the client's, `Some(None)` is the parameter without a
/// value).
fn deflate_extension(
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_window: Option<u8>,
    client_window: Option<Option<u8>>,
) -> Extension {
    let mut extension = Extension::new(PERMESSAGE_DEFLATE);
    if server_no_context_takeover {
        extension = extension.with_param(SERVER_NO_CONTEXT_TAKEOVER, None);
    }
    if client_no_context_takeover {
        extension = extension.with_param(CLIENT_NO_CONTEXT_TAKEOVER, None);
    }
    if let Some(bits) = server_window {
        extension = extension.with_param(SERVER_MAX_WINDOW_BITS, Some(&bits.to_string()));
    }
    if let Some(bits) = client_window {
        extension =
            extension.with_param(CLIENT_MAX_WINDOW_BITS, bits.map(|bits| bits.to_string()).as_deref());
    }
    extension
}

/// A parameter without a value (§7.1.1), at most once.
fn set_flag(flag: &mut bool, param: &crate::handshake::extension::ExtensionParam) -> Result<(), Refusal> {
    if param.value.is_some() {
        return Err(format!("{} takes no value", param.name));
    }
    if std::mem::replace(flag, true) {
        return Err(format!("{} twice", param.name));
    }
    Ok(())
}

/// A window size (§7.1.2: "a decimal integer value without leading zeros between 8 to 15,
/// inclusive"), at most once.
fn set_bits(
    bits: &mut Option<u8>,
    param: &crate::handshake::extension::ExtensionParam,
) -> Result<(), Refusal> {
    let value = param.value.as_deref().ok_or_else(|| format!("{} needs a value", param.name))?;
    let parsed = match value {
        "8" => 8,
        "9" => 9,
        "10" => 10,
        "11" => 11,
        "12" => 12,
        "13" => 13,
        "14" => 14,
        "15" => 15,
        _ => return Err(format!("{}={value} is not a window size from 8 to 15", param.name)),
    };
    if bits.replace(parsed).is_some() {
        return Err(format!("{} twice", param.name));
    }
    Ok(())
}
