//! The drive rule over a tokio transport, as poll functions: the one loop every type of this
//! module runs, for the handshake objects and the connection alike.
//!
//! A [`Driver`] owns the transport, the core's endpoint and a timer, and nothing lives in a
//! future: every `poll` starts from the struct, so a caller may drop the future that polled it at
//! any point (inside `tokio::select!`) without losing a byte.
//!
//! One pass does, in the rule's order: write what the core has to send (vectored, so payloads the
//! connection holds by reference are written from where they are), act on the transport
//! instruction (shut down writing, or drop the transport), read once if the caller allows it, and
//! re-arm the timer from the endpoint's next deadline. Draining events is the caller's step: it
//! runs after every pass.

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::time::Sleep;

use crate::transport::{Endpoint, Transport};

/// Bytes handed to the endpoint per read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Pieces of output per vectored write.
const WRITE_SLICES: usize = 64;

/// Pieces of output asked for first: most writes have one or two (small frames are copied into
/// one buffer), and an array of [`WRITE_SLICES`] costs about a hundred and fifty instructions
/// to fill with empty slices before each write.
const FEW_SLICES: usize = 4;

/// The clock every deadline is measured on: tokio's, so a test that pauses tokio's time drives
/// the core's deadlines too.
#[inline]
pub(crate) fn now() -> Instant {
    ::tokio::time::Instant::now().into_std()
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Bytes (or the end of the input) were handed to the endpoint: drain its events, then pass
    /// again.
    Read,
    /// Nothing more can be done now: the transport and the timer will wake the task.
    Idle,
    /// The core said to close the transport, and it was dropped.
    Closed,
}

/// How far the write side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// `poll_shutdown` returned `Pending` (a TLS close_notify still going out, say).
    ShuttingDown,
    Shut,
}

/// What the caller of a pass knows of its waker since the last pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// It may have been woken, or it is not the waker of the last pass: poll everything.
    Maybe,
    /// It is the waker of the last pass and nothing woke it since: a transport read or a timer
    /// that answered `Pending` to that pass would answer `Pending` again (a pending poll leaves
    /// the waker to be woken when it would answer otherwise), so they are not polled again.
    No,
}

/// A transport, the core endpoint it carries, and the endpoint's timer.
pub(crate) struct Driver<IO, E> {
    /// `None` once the core said to close the transport.
    io: Option<IO>,
    pub(crate) endpoint: E,
    /// Created at the first deadline, then re-armed only when the deadline changes.
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    write_side: WriteSide,
    /// Bytes were written since the transport was last flushed (a TLS stream buffers them).
    unflushed: bool,
    /// The input ended (or failed): reading again would only repeat it.
    read_done: bool,
    /// The last read answered `Pending`: the transport wakes the waker it was given once it
    /// has more.
    read_armed: bool,
    /// The timer answered `Pending` for the deadline `timer_at`: it wakes the waker it was
    /// given then.
    timer_armed: bool,
    /// The last reading of the clock handed to the endpoint: a pass that nothing woke gives it
    /// again (see [`Driver::pass_clock`]). `None`: read the clock at the next pass.
    clock: Option<Instant>,
    /// The first I/O error, kept for the caller.
    pub(crate) error: Option<io::Error>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin, E: Endpoint> Driver<IO, E> {
    pub(crate) fn new(io: IO, endpoint: E) -> Driver<IO, E> {
        Driver {
            io: Some(io),
            endpoint,
            timer: None,
            timer_at: None,
            write_side: WriteSide::Open,
            unflushed: false,
            read_done: false,
            read_armed: false,
            timer_armed: false,
            clock: None,
            error: None,
        }
    }

    /// The same transport and timer, carrying the endpoint `next` makes of this one (the
    /// handshake's connection).
    pub(crate) fn map<F: Endpoint>(self, next: impl FnOnce(E) -> F) -> Driver<IO, F> {
        match self.try_map(|endpoint| Ok::<F, std::convert::Infallible>(next(endpoint))) {
            Ok(driver) => driver,
            Err(never) => match never {},
        }
    }

    /// As [`Driver::map`], for a change of endpoint that may fail (the transport is then
    /// dropped: the handshake failed).
    pub(crate) fn try_map<F: Endpoint, Failure>(
        self,
        next: impl FnOnce(E) -> Result<F, Failure>,
    ) -> Result<Driver<IO, F>, Failure> {
        let endpoint = next(self.endpoint)?;
        Ok(Driver {
            io: self.io,
            endpoint,
            timer: self.timer,
            timer_at: None,
            write_side: self.write_side,
            unflushed: self.unflushed,
            read_done: self.read_done,
            // The next endpoint's caller may pass another waker: poll again.
            read_armed: false,
            timer_armed: false,
            clock: None,
            error: self.error,
        })
    }

    /// Whether the transport was closed (dropped) on the core's instruction.
    pub(crate) fn is_closed(&self) -> bool {
        self.io.is_none()
    }

    /// Whether everything the endpoint had to send was written and flushed.
    pub(crate) fn is_flushed(&self) -> bool {
        self.io.is_none() || (self.endpoint.unsent_len() == 0 && !self.unflushed)
    }

    /// One pass of the drive rule (events are the caller's): write, act on the transport
    /// instruction, read once if `may_read`, arm the timer. Runs again after a deadline fires.
    /// With [`Woken::No`], a read or timer already waiting to wake `cx` is not polled again.
    pub(crate) fn poll_pass(&mut self, cx: &mut Context<'_>, may_read: bool, woken: Woken) -> Pass {
        let quiet = woken == Woken::No;
        // A deadline handled re-runs the pass: bounded, in case an endpoint kept a deadline in
        // the past (it would be a core bug; this keeps it from becoming a busy loop).
        for _ in 0..8 {
            self.poll_write(cx);
            let (now, fresh) = self.pass_clock(quiet);
            match self.endpoint.poll_transport(now) {
                Transport::Open => {}
                Transport::ShutdownWrite => self.poll_shutdown(cx),
                Transport::Close => {
                    // Best effort, never waited for: a TLS stream says close_notify, which a
                    // peer still reading expects (a TCP stream sends its FIN on drop anyway).
                    if let (Some(io), WriteSide::Open) = (self.io.as_mut(), self.write_side) {
                        let _ = Pin::new(io).poll_shutdown(cx);
                    }
                    self.io = None;
                    self.timer = None;
                    return Pass::Closed;
                }
            }
            if may_read && !(quiet && self.read_armed) && self.poll_read(cx, now, fresh) {
                return Pass::Read;
            }
            if !self.poll_timer(cx, quiet) {
                return Pass::Idle;
            }
        }
        cx.waker().wake_by_ref();
        Pass::Idle
    }

    /// Reads the clock, for the endpoint.
    pub(crate) fn now(&mut self) -> Instant {
        let now = now();
        self.clock = Some(now);
        now
    }

    /// Has the next pass read the clock again (after the endpoint was given a reading from
    /// elsewhere: time handed to it never goes back).
    pub(crate) fn forget_clock(&mut self) {
        self.clock = None;
    }

    /// The time for a pass, and whether it was read now. A pass that nothing woke (`quiet`)
    /// takes the last reading again: since then no byte arrived and no deadline passed that
    /// the timer was set for, so the endpoint has nothing to measure against it; the transport
    /// instruction it answers with can only lag, until the timer wakes the task. Bytes read in
    /// such a pass are handed over with a fresh reading ([`Driver::poll_read`]). (An echo
    /// reads the clock once per message this way, instead of once per pass: three.)
    fn pass_clock(&mut self, quiet: bool) -> (Instant, bool) {
        match (quiet, self.clock) {
            (true, Some(then)) => (then, false),
            _ => (self.now(), true),
        }
    }

    /// Writes until the transport would block or nothing is left, then flushes.
    fn poll_write(&mut self, cx: &mut Context<'_>) {
        let Some(io) = self.io.as_mut() else { return };
        if self.write_side != WriteSide::Open {
            return;
        }
        while self.endpoint.unsent_len() > 0 {
            match write_some(io, &mut self.endpoint, cx) {
                Poll::Ready(Ok(0)) => return self.fail(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(written)) => {
                    self.endpoint.mark_sent(written);
                    self.unflushed = true;
                }
                Poll::Ready(Err(error)) => return self.fail(error),
                Poll::Pending => break,
            }
        }
        if self.unflushed {
            match Pin::new(&mut *io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => self.fail(error),
                Poll::Pending => {}
            }
        }
    }

    /// Shuts down writing (after a flush, which `poll_shutdown` does), once.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) {
        let Some(io) = self.io.as_mut() else { return };
        if self.write_side == WriteSide::Shut {
            return;
        }
        self.write_side = match Pin::new(io).poll_shutdown(cx) {
            // An error here (the peer already gone) changes nothing: reading tells the core.
            Poll::Ready(_) => WriteSide::Shut,
            Poll::Pending => WriteSide::ShuttingDown,
        };
        self.unflushed = false;
    }

    /// Reads once; `true` if the endpoint was handed bytes, the end of the input or an error.
    /// `now` is the pass's time; unless it is `fresh`, the clock is read again for what arrived.
    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant, fresh: bool) -> bool {
        let Some(io) = self.io.as_mut() else { return false };
        if self.read_done {
            return false;
        }
        // Uninitialized: the transport writes what it reads, and only that part is read back.
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buffer = ReadBuf::uninit(&mut chunk);
        let read = Pin::new(io).poll_read(cx, &mut buffer);
        let now = match (&read, fresh) {
            (Poll::Ready(Ok(())), false) => self.now(),
            _ => now,
        };
        match read {
            Poll::Ready(Ok(())) if buffer.filled().is_empty() => {
                self.read_done = true;
                self.endpoint.receive_eof(now);
            }
            Poll::Ready(Ok(())) => self.endpoint.receive(now, buffer.filled()),
            Poll::Ready(Err(error)) => {
                self.read_done = true;
                self.fail(error);
            }
            Poll::Pending => {
                self.read_armed = true;
                return false;
            }
        }
        self.read_armed = false;
        true
    }

    /// Arms the timer at the endpoint's next deadline; `true` if that deadline was reached and
    /// handled. With `quiet` (nothing woke the waker), a timer already armed for that deadline
    /// is not polled again.
    fn poll_timer(&mut self, cx: &mut Context<'_>, quiet: bool) -> bool {
        let Some(deadline) = self.endpoint.poll_timeout() else { return false };
        if quiet && self.timer_armed && self.timer_at == Some(deadline) {
            return false;
        }
        let timer = self.timer.get_or_insert_with(|| Box::pin(::tokio::time::sleep_until(deadline.into())));
        if self.timer_at != Some(deadline) {
            timer.as_mut().reset(deadline.into());
            self.timer_at = Some(deadline);
        }
        self.timer_armed = timer.as_mut().poll(cx).is_pending();
        if self.timer_armed {
            return false;
        }
        let now = self.now();
        self.endpoint.handle_timeout(now);
        true
    }

    /// The transport failed: the core hears of a reset; the caller, of the error.
    fn fail(&mut self, error: io::Error) {
        self.error.get_or_insert(error);
        self.read_done = true;
        let now = self.now();
        self.endpoint.receive_reset(now);
    }
}

/// Writes what `endpoint` has to send, or as much of it as `io` takes: the first
/// [`FEW_SLICES`] pieces, or [`WRITE_SLICES`] if there are that many.
fn write_some<IO: AsyncWrite + Unpin, E: Endpoint>(
    io: &mut IO,
    endpoint: &mut E,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut few = [IoSlice::new(&[]); FEW_SLICES];
    let count = endpoint.bytes_to_send_vectored(&mut few);
    if count == 1 {
        return Pin::new(io).poll_write(cx, &few[0]);
    }
    if count < FEW_SLICES {
        return Pin::new(io).poll_write_vectored(cx, &few[..count]);
    }
    let mut many = [IoSlice::new(&[]); WRITE_SLICES];
    let count = endpoint.bytes_to_send_vectored(&mut many);
    Pin::new(io).poll_write_vectored(cx, &many[..count])
}

/// Drives `driver` until its endpoint reports an event, or the transport is closed (`None`).
pub(crate) async fn next_event<IO, E>(driver: &mut Driver<IO, E>) -> Option<E::Event>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    E: Endpoint,
{
    std::future::poll_fn(|cx| loop {
        if let Some(event) = driver.endpoint.poll_event() {
            return Poll::Ready(Some(event));
        }
        // (The task's own waker, which others may wake: every source is polled.)
        match driver.poll_pass(cx, true, Woken::Maybe) {
            Pass::Read => {}
            Pass::Idle => {
                return match driver.endpoint.poll_event() {
                    Some(event) => Poll::Ready(Some(event)),
                    None => Poll::Pending,
                }
            }
            Pass::Closed => return Poll::Ready(driver.endpoint.poll_event()),
        }
    })
    .await
}

/// Drives `driver` until the core closes the transport, ignoring events: an answer that ends
/// the handshake, written, shut down, drained.
pub(crate) async fn finish<IO, E>(driver: &mut Driver<IO, E>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
    E: Endpoint,
{
    while next_event(driver).await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ::tokio::io::AsyncWriteExt;

    use super::*;

    /// An endpoint that only records the time of every call that is given one.
    #[derive(Default)]
    struct Recorder {
        /// (call, time), in order.
        calls: Vec<(&'static str, Instant)>,
    }

    impl Endpoint for Recorder {
        type Event = ();
        fn receive(&mut self, now: Instant, _: &[u8]) {
            self.calls.push(("receive", now));
        }
        fn receive_eof(&mut self, now: Instant) {
            self.calls.push(("receive_eof", now));
        }
        fn receive_reset(&mut self, now: Instant) {
            self.calls.push(("receive_reset", now));
        }
        fn handle_timeout(&mut self, now: Instant) {
            self.calls.push(("handle_timeout", now));
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn bytes_to_send_vectored<'a>(&'a mut self, _: &mut [IoSlice<'a>]) -> usize {
            0
        }
        fn unsent_len(&self) -> usize {
            0
        }
        fn mark_sent(&mut self, _: usize) {}
        fn poll_transport(&mut self, now: Instant) -> Transport {
            self.calls.push(("poll_transport", now));
            Transport::Open
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    /// A pass nothing woke gives the endpoint the last reading of the clock again, but bytes it
    /// reads get a fresh one; time handed over never goes back.
    #[test]
    fn a_quiet_pass_reuses_the_clock_but_what_it_reads_gets_a_fresh_reading() {
        let runtime =
            ::tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let (mut peer, io) = ::tokio::io::duplex(64);
            let mut driver = Driver::new(io, Recorder::default());
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let start = now();

            // Woken: the clock is read; nothing to read yet, the read is armed.
            assert_eq!(driver.poll_pass(&mut cx, true, Woken::Maybe), Pass::Idle);
            peer.write_all(b"one").await.unwrap();
            assert_eq!(driver.poll_pass(&mut cx, true, Woken::Maybe), Pass::Read);

            // Ten seconds later, a pass that nothing woke (the read is not armed: it answered).
            ::tokio::time::advance(Duration::from_secs(10)).await;
            peer.write_all(b"two").await.unwrap();
            assert_eq!(driver.poll_pass(&mut cx, true, Woken::No), Pass::Read);
            // And one with nothing to read.
            assert_eq!(driver.poll_pass(&mut cx, true, Woken::No), Pass::Idle);

            let later = start + Duration::from_secs(10);
            let calls = &driver.endpoint.calls;
            assert_eq!(
                calls.as_slice(),
                [
                    ("poll_transport", start),
                    ("poll_transport", start),
                    ("receive", start),
                    // The quiet pass: the last reading for the transport instruction...
                    ("poll_transport", start),
                    // ...and a fresh one for what arrived, which the next quiet pass reuses.
                    ("receive", later),
                    ("poll_transport", later),
                ]
            );
        });
    }
}
