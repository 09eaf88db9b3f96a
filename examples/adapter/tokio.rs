//! What the course's tokio servers share beyond `rfc6455::tokio`: the accept loop (a task per
//! connection, a cap on connections, Ctrl-C closing them all with 1001), the pages a server
//! serves beside its WebSocket, and one log line per refused request.
//!
//! Nothing here speaks WebSocket: the crate's tokio module does, on the core.

#![allow(dead_code)] // each example uses part of this module

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rfc6455::handshake::server::{AcceptResponse, UpgradeRequest};
use rfc6455::handshake::{HttpResponse, OriginPolicy};
use rfc6455::tokio::{Error, Handshake, Options, Sender, WebSocket};
use rfc6455::{CloseCode, Event, HandshakeError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// The pages a server serves beside its WebSocket ([`http::answer`]), for [`upgrade`].
#[path = "http.rs"]
pub mod http;

/// How long to back off after a failed accept (out of descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Where a server's WebSocket is, and what else it serves on the same port: what [`upgrade`]
/// needs to answer every request it does not accept.
pub struct Site<'a> {
    /// The WebSocket's path; `None`: every path (a server that speaks only WebSocket).
    pub path: Option<&'a str>,
    /// Which origins may open the WebSocket (§10.2); a forbidden one gets the policy's 403.
    pub origins: OriginPolicy,
    /// What plain HTTP requests at other paths get ([`http::answer`]: 404 for the rest).
    pub assets: &'a [http::Asset],
}

impl Site<'static> {
    /// A server that speaks only WebSocket, at every path, to every origin (the Node echo
    /// server, Python `websockets`): a plain HTTP request gets 426.
    pub const fn websocket_only() -> Site<'static> {
        Site { path: None, origins: OriginPolicy::Any, assets: &[] }
    }
}

/// A server's opening handshake on `stream`, the way the examples log it: reads the request,
/// answers everything `site` does not accept (a page, 404, 405, 426 at the WebSocket's path,
/// the origin policy's 403; a bad request was answered by the core), and accepts the rest with
/// the 101 `decide` makes of it. What was answered instead, and any failure, is said on stderr
/// after `peer`; `None` then.
///
/// The handshake runs in a future of its own on the heap, with the options, freed when it is
/// done: a connection's task is as large as its largest state for its whole life, so the
/// task holds only a pointer to it.
pub fn upgrade<'a>(
    stream: TcpStream,
    peer: SocketAddr,
    site: &'a Site<'a>,
    options: Options,
    decide: impl FnOnce(&UpgradeRequest) -> AcceptResponse + Send + 'a,
) -> Upgrade<'a> {
    Box::pin(async move { upgrade_here(stream, peer, site, &options, decide).await })
}

/// The future of [`upgrade`]: the WebSocket, or `None` if the request was answered otherwise.
pub type Upgrade<'a> = Pin<Box<dyn Future<Output = Option<WebSocket<TcpStream>>> + Send + 'a>>;

/// [`upgrade`], in place.
async fn upgrade_here(
    stream: TcpStream,
    peer: SocketAddr,
    site: &Site<'_>,
    options: &Options,
    decide: impl FnOnce(&UpgradeRequest) -> AcceptResponse,
) -> Option<WebSocket<TcpStream>> {
    let _ = stream.set_nodelay(true);
    let handshake = match Handshake::read(stream, options).await {
        Ok(handshake) => handshake,
        Err(Error::Handshake(HandshakeError::ConnectionClosed)) => return None,
        Err(Error::Handshake(error)) if error.status().is_some() => {
            eprintln!("{peer}: answered {}: {error}", error.status().unwrap_or_default());
            return None;
        }
        Err(error) => {
            eprintln!("{peer}: handshake failed: {error}");
            return None;
        }
    };
    let at_websocket = |path: &str| site.path.is_none_or(|websocket| websocket == path);
    let request = handshake.request();
    let (response, note) = match handshake.upgrade() {
        Some(upgrade) if at_websocket(upgrade.path()) => match site.origins.check(upgrade) {
            Ok(()) => {
                let response = decide(upgrade);
                return match handshake.accept(response, options.config.clone()) {
                    Ok(ws) => Some(ws),
                    Err(error) => {
                        eprintln!("{peer}: error: {error}");
                        None
                    }
                };
            }
            Err(forbidden) => {
                let origin = upgrade.origin().unwrap_or("-");
                (forbidden, format!("answered 403: cross-origin WebSocket from {origin}"))
            }
        },
        // A WebSocket anywhere else is a resource that does not exist: 404, like a page (an
        // upgrade is always a GET: the core checked).
        Some(_) => {
            let response = http::answer(request, &[]);
            let note = format!("upgrade at {} refused with {}", request.target, response.status());
            (response, note)
        }
        None => {
            let response = if at_websocket(request.path()) {
                // A plain request for the WebSocket: 426 Upgrade Required, as §4.4 suggests.
                HttpResponse::from_error(&HandshakeError::NotWebSocketUpgrade)
            } else {
                http::answer(request, site.assets)
            };
            let note = format!("{} {} {}", request.method, request.target, response.status());
            (response, note)
        }
    };
    eprintln!("{peer}: {note}");
    if let Err(error) = handshake.respond(&response).await {
        eprintln!("{peer}: error: {error}");
    }
    None
}

/// A server's shutdown, as one connection's task sees it: [`next_event`] registers the
/// connection once, and when the server shuts down ([`serve_until_ctrl_c`]) it closes every
/// registered connection with 1001 (Going Away) through the connection's
/// [`rfc6455::tokio::Sender`]. Waiting for the next event thus costs nothing more than the
/// event itself: no shutdown signal is polled beside every message.
pub struct Shutdown {
    signal: watch::Receiver<bool>,
    registry: Arc<Registry>,
    /// This connection's place in the registry, once registered.
    entry: Option<u64>,
}

/// The connections to close at shutdown, by entry.
#[derive(Default)]
struct Registry {
    senders: Mutex<HashMap<u64, Sender>>,
    next_entry: AtomicU64,
}

impl Registry {
    /// The registered connections (a panic elsewhere while holding them left them consistent).
    fn senders(&self) -> MutexGuard<'_, HashMap<u64, Sender>> {
        self.senders.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes every registered connection with 1001.
    fn close_all(&self) {
        self.senders().values().for_each(close_going_away);
    }
}

/// Closes the connection behind `sender` with 1001 (Going Away).
fn close_going_away(sender: &Sender) {
    // Err if the connection is already closing: nothing to do then.
    let _ = sender.close(CloseCode::GOING_AWAY, "server shutting down");
}

impl Shutdown {
    /// Whether the server is shutting down.
    pub fn is_signalled(&self) -> bool {
        *self.signal.borrow()
    }

    /// Waits until the server shuts down (for a connection still in plain HTTP, say).
    pub async fn signalled(&mut self) {
        let _ = self.signal.wait_for(|shutting_down| *shutting_down).await;
    }

    /// Registers `ws` to be closed at shutdown, once; closes it at once if the server is
    /// already shutting down.
    fn register<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(&mut self, ws: &WebSocket<IO>) {
        if self.entry.is_some() {
            return;
        }
        let entry = self.registry.next_entry.fetch_add(1, Ordering::Relaxed);
        let sender = ws.sender();
        self.registry.senders().insert(entry, sender.clone());
        self.entry = Some(entry);
        // Registered first, checked second: a shutdown that began meanwhile either sees this
        // entry or is seen here (both: the second close is refused, harmlessly).
        if self.is_signalled() {
            close_going_away(&sender);
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            self.registry.senders().remove(&entry);
        }
    }
}

/// The next event of `ws`; once the server shuts down, the connection is closed with 1001
/// (Going Away) and its last events follow. `None` after [`Event::Closed`].
pub fn next_event<'a, IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    ws: &'a mut WebSocket<IO>,
    shutdown: &mut Shutdown,
) -> impl Future<Output = Option<Event>> + 'a {
    shutdown.register(ws);
    ws.next_event()
}

/// Binds `address:port` for a server and says on stderr, after `name`, `listening on` and what
/// `describe` makes of the bound address (the port is known only then when `port` is 0); on
/// failure says why instead.
pub async fn listen(
    name: &str,
    address: IpAddr,
    port: u16,
    describe: impl FnOnce(SocketAddr) -> String,
) -> Option<TcpListener> {
    let listener = match TcpListener::bind(SocketAddr::new(address, port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{name}: cannot listen on {address}:{port}: {error}");
            return None;
        }
    };
    match listener.local_addr() {
        Ok(local) => eprintln!("{name}: listening on {}", describe(local)),
        Err(error) => eprintln!("{name}: listening ({error})"),
    }
    Some(listener)
}

/// A server's accept loop: runs `serve(stream, peer, shutdown)` in a task of its own for each
/// connection, at most `max_connections` at once (more wait in the listen queue), until Ctrl-C;
/// then turns `shutdown` true (each connection's [`next_event`] closes it with 1001, Going Away) and
/// waits up to 3 seconds for them all. A failed accept (out of descriptors, say) backs off for
/// 100 ms and is logged once per burst. `name` starts its log lines.
pub async fn serve_until_ctrl_c<Serve, Task>(
    name: &str,
    listener: TcpListener,
    max_connections: usize,
    mut serve: Serve,
) where
    Serve: FnMut(TcpStream, SocketAddr, Shutdown) -> Task,
    Task: Future<Output = ()> + Send + 'static,
{
    let (shutdown, shutdown_signal) = watch::channel(false);
    let registry = Arc::new(Registry::default());
    let max_connections = max_connections.clamp(1, u32::MAX as usize);
    // A slot per connection, held by its task: the slots taken are the connections open.
    let slots = Arc::new(Semaphore::new(max_connections));
    let open = |slots: &Semaphore| max_connections - slots.available_permits();
    // One signal future for the whole loop: created anew each pass, a Ctrl-C between two
    // passes would be lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = accept_in_slot(&listener, &slots) => match accepted {
                Ok((stream, peer, slot)) => {
                    if let Some(since) = failing_since.take() {
                        eprintln!("{name}: accepting again after {:.1} s", since.elapsed().as_secs_f64());
                    }
                    let connection_shutdown =
                        Shutdown { signal: shutdown_signal.clone(), registry: Arc::clone(&registry), entry: None };
                    let task = serve(stream, peer, connection_shutdown);
                    // `map`, not `async move { task.await; drop(slot) }`: an async block holds
                    // the future it awaits twice over (as captured, and as awaited), and a
                    // task's allocation is its future's size, for the connection's whole life.
                    tokio::spawn(task.map(move |()| drop(slot)));
                }
                Err(error) => {
                    if failing_since.is_none() {
                        eprintln!("{name}: accept failed: {error} (backing off)");
                        failing_since = Some(Instant::now());
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            _ = &mut ctrl_c => break,
        }
    }
    eprintln!("{name}: shutting down, closing {} connection(s) with 1001", open(&slots));
    let _ = shutdown.send(true);
    registry.close_all();
    // Every slot back: every connection's task has ended.
    let all_closed = slots.acquire_many(max_connections as u32);
    if tokio::time::timeout(Duration::from_secs(3), all_closed).await.is_err() {
        eprintln!("{name}: {} connection(s) did not close in time", open(&slots));
    }
}

/// Waits for a free connection slot, then accepts.
async fn accept_in_slot(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.map_err(io::Error::other)?;
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, slot))
}
