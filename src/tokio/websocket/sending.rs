//! Sending a message: the common case under one lock ([`Shared::send_now`]), and the future
//! that waits when it cannot be done at once ([`Sending`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::{poll_flush, poll_ready, Shared};
use crate::message::Message;
use crate::tokio::wakers::Role;
use crate::tokio::Error;

/// What [`Shared::send_now`] did.
enum SendNow {
    /// Sent (written, or left for the batch), or refused.
    Done(Result<(), Error>),
    /// Queued; not all written yet.
    Queued,
    /// Nothing done: more than the high-water mark waits to be written.
    NoRoom,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Shared<IO> {
    /// The common case of [`send`] under one lock: with room under the high-water mark, queues
    /// `message` and writes what the transport takes at once. Nothing is queued without room.
    fn send_now(&self, cx: &mut Context<'_>, message: &Message, batch: bool) -> SendNow {
        let mut inner = self.lock();
        if !inner.has_room() {
            return SendNow::NoRoom;
        }
        if let Err(error) = inner.connection().send_message(message) {
            return SendNow::Done(Err(Error::Send(error)));
        }
        if batch && inner.driver.endpoint.has_events() {
            return SendNow::Done(Ok(()));
        }
        let progress = self.drive(&mut inner);
        let sent = match inner.driver.is_flushed() {
            true => SendNow::Done(inner.io_result()),
            false => SendNow::Queued,
        };
        drop(inner);
        if progress {
            self.wakers.wake_others(cx.waker(), Some(Role::Writer));
        }
        sent
    }
}

/// `batch`: the task that sends is the one that reads (a whole [`WebSocket`]), so while
/// messages it read wait to be taken it is answering a batch, and the answers go out together,
/// in one write, when the last of it is answered or it reads on (a pipelining peer then costs
/// one write per read, not one per message). A [`WriteHalf`] does not batch: its reader may be
/// slow.
pub(super) fn send<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    message: Message,
    batch: bool,
) -> Sending<'_, IO> {
    Sending { shared, message, batch, step: Step::Start }
}

/// The future of [`send`], written out as a struct rather than an `async fn`: a task that sends
/// holds it while it waits, so it is kept small (the message and a step).
pub(super) struct Sending<'a, IO> {
    shared: &'a Shared<IO>,
    message: Message,
    batch: bool,
    step: Step,
}

/// Where a [`Sending`] is.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Not queued yet: tried at once, and again once there is room ([`Shared::send_now`]).
    Start,
    /// Waiting for room under the high-water mark; the message is not queued yet.
    WaitRoom,
    /// Queued; waiting for it to be written.
    Flush,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for Sending<'_, IO> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        loop {
            match this.step {
                Step::Start => match this.shared.send_now(cx, &this.message, this.batch) {
                    SendNow::Done(result) => return Poll::Ready(result),
                    SendNow::Queued => this.step = Step::Flush,
                    SendNow::NoRoom => this.step = Step::WaitRoom,
                },
                Step::WaitRoom => match poll_ready(this.shared, cx) {
                    // Room now: queued and written as in the common case.
                    Poll::Ready(Ok(())) => this.step = Step::Start,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Pending,
                },
                Step::Flush => return poll_flush(this.shared, cx),
            }
        }
    }
}
