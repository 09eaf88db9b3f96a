//! What the peer echo servers of `scripts/echo-bench.sh` share with each other and with
//! `examples/echo_server.rs`: `BIND_ADDRESS` and `BIND_PORT` from the environment, the
//! `NAME: listening on SCHEME://ADDRESS:PORT` line on stderr (the port is known only then when
//! `BIND_PORT` is 0), and a multi-threaded tokio runtime running a task per connection, each
//! with `TCP_NODELAY` set as the echo server sets it.
//!
//! Nothing else: no cap on connections, no Ctrl-C handling (the script ends them with SIGTERM).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

#[path = "../adapter/env.rs"]
mod env;

/// How long to back off after a failed accept (out of descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A peer server's `main`: listens where the environment says (default `[::]:1337`, as the echo
/// server) and runs `serve(stream)` in a task of its own for each connection, until killed.
pub async fn serve_from_env<Serve, Task>(name: &str, scheme: &str, mut serve: Serve) -> ExitCode
where
    Serve: FnMut(TcpStream) -> Task,
    Task: Future<Output = ()> + Send + 'static,
{
    let bind = env::variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))
        .and_then(|address| Ok(SocketAddr::new(address, env::variable("BIND_PORT", 1337)?)));
    let bind = match bind {
        Ok(bind) => bind,
        Err(message) => {
            eprintln!("{name}: {message}");
            return ExitCode::from(2);
        }
    };
    let listener =
        match TcpListener::bind(bind).await.and_then(|listener| Ok((listener.local_addr()?, listener))) {
            Ok((local, listener)) => {
                eprintln!("{name}: listening on {scheme}://{local}");
                listener
            }
            Err(error) => {
                eprintln!("{name}: cannot listen on {bind}: {error}");
                return ExitCode::FAILURE;
            }
        };
    let mut failing = false;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                failing = false;
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
            Err(error) => {
                if !failing {
                    eprintln!("{name}: accept failed: {error} (backing off)");
                    failing = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}
