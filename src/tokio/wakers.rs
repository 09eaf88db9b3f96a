//! Who waits on a connection, and the one waker the transport and the timer get: it wakes every
//! task waiting, each once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};

use super::driver::Woken;

/// Who waits on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Reader,
    Writer,
    Sender,
}

/// The tasks waiting on one connection, woken together by the transport and the timer (any of
/// them may have registered interest for the others' sake).
#[derive(Default)]
pub(super) struct Wakers {
    waiting: Mutex<Waiting>,
    /// Woken since the last [`Wakers::take_woken`]: the transport or the timer may have more to
    /// say than they said at the last pass.
    woken: AtomicBool,
}

#[derive(Default)]
struct Waiting {
    reader: Option<Waker>,
    writer: Option<Waker>,
    senders: Vec<Waker>,
}

impl Wakers {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether anything woke these wakers since the last call.
    ///
    /// A wake sets the flag before it takes the tasks waiting, so a task that registered
    /// ([`Wakers::register`]) after that wake sees the flag when it drives next, and a task
    /// that registered before it is woken.
    pub(super) fn take_woken(&self) -> Woken {
        match self.woken.swap(false, Ordering::AcqRel) {
            true => Woken::Maybe,
            false => Woken::No,
        }
    }

    pub(super) fn register(&self, role: Role, waker: &Waker) {
        let mut waiting = self.lock();
        let slot = match role {
            Role::Reader => &mut waiting.reader,
            Role::Writer => &mut waiting.writer,
            Role::Sender => {
                if !waiting.senders.iter().any(|waiting| waiting.will_wake(waker)) {
                    waiting.senders.push(waker.clone());
                }
                return;
            }
        };
        if !slot.as_ref().is_some_and(|waiting| waiting.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes every task waiting but the one polling now, which stays registered.
    pub(super) fn wake_others(&self, current: &Waker) {
        let mut others = Vec::new();
        {
            let mut waiting = self.lock();
            let other = |waker: &Waker| !waker.will_wake(current);
            if !waiting.reader.as_ref().is_some_and(other)
                && !waiting.writer.as_ref().is_some_and(other)
                && !waiting.senders.iter().any(other)
            {
                // The common case, one task using the connection: nobody else to wake.
                return;
            }
            let mut keep = |slot: &mut Option<Waker>| {
                if slot.as_ref().is_some_and(other) {
                    others.extend(slot.take());
                }
            };
            keep(&mut waiting.reader);
            keep(&mut waiting.writer);
            let (mine, rest): (Vec<Waker>, Vec<Waker>) =
                std::mem::take(&mut waiting.senders).into_iter().partition(|waker| waker.will_wake(current));
            waiting.senders = mine;
            others.extend(rest);
        }
        for waker in others {
            waker.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let Waiting { reader, writer, senders } = std::mem::take(&mut *self.lock());
        // One task often waits in two roles (a whole WebSocket reads and writes): waking it
        // twice could wake it again while another worker thread already runs it, for a
        // pointless extra poll and thread wake-up. Each task is woken once.
        if let Some(reader) = &reader {
            reader.wake_by_ref();
        }
        if let Some(writer) = &writer {
            if !reader.as_ref().is_some_and(|reader| reader.will_wake(writer)) {
                writer.wake_by_ref();
            }
        }
        for (index, sender) in senders.iter().enumerate() {
            let earlier = reader
                .iter()
                .chain(&writer)
                .chain(&senders[..index])
                .any(|earlier| earlier.will_wake(sender));
            if !earlier {
                sender.wake_by_ref();
            }
        }
    }
}
