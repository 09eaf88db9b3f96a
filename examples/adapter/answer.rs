//! How the server answered a client's opening handshake, as both adapters' `connect` report it:
//! the accepted 101, or the core's [`HandshakeError`] for anything else.

use rfc6455::handshake::client::Accepted;
use rfc6455::handshake::ClientEvent;
use rfc6455::HandshakeError;

/// The server's `answer` (the [`ClientHandshake`](rfc6455::handshake::ClientHandshake)'s first
/// event): the accepted 101, or why there is no WebSocket. A redirect or any other status is
/// [`HandshakeError::UnexpectedStatus`] (with the redirect's `Location`), no answer at all
/// [`HandshakeError::ConnectionClosed`].
pub fn accepted(answer: Option<ClientEvent>) -> Result<Accepted, HandshakeError> {
    match answer {
        Some(ClientEvent::Accepted(accepted)) => Ok(accepted),
        Some(ClientEvent::Redirect { status, location }) => {
            Err(HandshakeError::UnexpectedStatus { status, location: Some(location) })
        }
        Some(ClientEvent::Rejected(response)) => {
            Err(HandshakeError::UnexpectedStatus { status: response.status, location: None })
        }
        Some(ClientEvent::Failed(error)) => Err(error),
        Some(_) | None => Err(HandshakeError::ConnectionClosed),
    }
}
