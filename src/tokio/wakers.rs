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
    /// The WebSocket was split: two tasks may hold it (see [`Wakers::wake_others`]). Set by
    /// [`Wakers::split`], never cleared.
    split: AtomicBool,
    /// A [`Role::Sender`] is registered: set and cleared under the lock, read without it.
    senders_waiting: AtomicBool,
}

#[derive(Default)]
struct Waiting {
    reader: Option<Waker>,
    writer: Option<Waker>,
    senders: Vec<Waker>,
}

impl Wakers {
    #[inline]
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether anything woke these wakers since the last call.
    ///
    /// A wake sets the flag before it takes the tasks waiting, so a task that registered
    /// ([`Wakers::register`]) after that wake sees the flag when it drives next, and a task
    /// that registered before it is woken.
    #[inline]
    pub(super) fn take_woken(&self) -> Woken {
        // Most drives find nothing woke them: a load, then, not a read-modify-write. (A wake
        // that comes just after the load also wakes the task, which drives again.)
        if !self.woken.load(Ordering::Acquire) {
            return Woken::No;
        }
        match self.woken.swap(false, Ordering::AcqRel) {
            true => Woken::Maybe,
            false => Woken::No,
        }
    }

    /// Says that the WebSocket is split into halves (call before they are handed out).
    pub(super) fn split(&self) {
        self.split.store(true, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn register(&self, role: Role, waker: &Waker) {
        let mut waiting = self.lock();
        let slot = match role {
            Role::Reader => &mut waiting.reader,
            Role::Writer => &mut waiting.writer,
            Role::Sender => {
                if !waiting.senders.iter().any(|waiting| waiting.will_wake(waker)) {
                    waiting.senders.push(waker.clone());
                }
                self.senders_waiting.store(true, Ordering::Release);
                return;
            }
        };
        if !slot.as_ref().is_some_and(|waiting| waiting.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes every task waiting but the one polling now, which stays registered. `role` is the
    /// current task's, `None` for a command (a [`Role::Sender`]'s, or the application's through
    /// `with_connection`: it may have read what a task waiting to read must be woken for).
    ///
    /// A whole WebSocket (not split) is polled as reader or writer only by the one task that
    /// holds it (its polls borrow it mutably), so any other reader or writer registered is a
    /// task that held it before, with nothing left to wait for: only senders waiting for room
    /// are left to wake, and there are usually none. (A sender registers before it looks for
    /// room under the connection's lock, and the caller made its progress under that lock
    /// before calling this: a sender that found no room is seen here.)
    #[inline]
    pub(super) fn wake_others(&self, current: &Waker, role: Option<Role>) {
        let holder = matches!(role, Some(Role::Reader | Role::Writer)) && !self.split.load(Ordering::Relaxed);
        if holder && !self.senders_waiting.load(Ordering::Acquire) {
            return;
        }
        self.wake_others_waiting(current);
    }

    /// [`Wakers::wake_others`] past its common case (inlined where it is called, at every
    /// message): anyone else may be waiting.
    #[inline(never)]
    fn wake_others_waiting(&self, current: &Waker) {
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
            self.senders_waiting.store(!mine.is_empty(), Ordering::Release);
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

    #[inline]
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let Waiting { reader, writer, senders } = {
            let mut waiting = self.lock();
            self.senders_waiting.store(false, Ordering::Release);
            std::mem::take(&mut *waiting)
        };
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A task's waker that counts its wake-ups.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn task() -> (Arc<Task>, Waker) {
        let task = Arc::new(Task::default());
        (Arc::clone(&task), Waker::from(task))
    }

    fn woken(task: &Task) -> usize {
        task.0.load(Ordering::Relaxed)
    }

    #[test]
    fn the_holder_of_a_whole_websocket_wakes_senders_waiting_and_no_stale_reader() {
        let wakers = Wakers::default();
        let (holder, holder_waker) = task();
        let (earlier, earlier_waker) = task();
        let (sender, sender_waker) = task();
        // A task that held the WebSocket before read with it; the holder now writes.
        wakers.register(Role::Reader, &earlier_waker);
        wakers.wake_others(&holder_waker, Some(Role::Writer));
        assert_eq!(woken(&earlier), 0);
        // A sender waits for room: the holder's progress wakes it, once.
        wakers.register(Role::Sender, &sender_waker);
        wakers.wake_others(&holder_waker, Some(Role::Writer));
        assert_eq!(woken(&sender), 1);
        wakers.wake_others(&holder_waker, Some(Role::Writer));
        assert_eq!(woken(&sender), 1);
        assert_eq!(woken(&holder), 0);
    }

    #[test]
    fn a_command_or_a_sender_wakes_the_reader() {
        let wakers = Wakers::default();
        let (reader, reader_waker) = task();
        let (sender, sender_waker) = task();
        let shared = Waker::from(Arc::new(Task::default()));
        wakers.register(Role::Reader, &reader_waker);
        // A command (from a `Sender`, or `with_connection`) may have read for the reader.
        wakers.wake_others(&shared, None);
        assert_eq!(woken(&reader), 1);
        // So may a sender's wait for room.
        wakers.register(Role::Reader, &reader_waker);
        wakers.register(Role::Sender, &sender_waker);
        wakers.wake_others(&sender_waker, Some(Role::Sender));
        assert_eq!(woken(&reader), 2);
        assert_eq!(woken(&sender), 0);
    }

    #[test]
    fn halves_wake_each_other() {
        let wakers = Wakers::default();
        wakers.split();
        let (reader, reader_waker) = task();
        let (writer, writer_waker) = task();
        wakers.register(Role::Reader, &reader_waker);
        wakers.wake_others(&writer_waker, Some(Role::Writer));
        assert_eq!(woken(&reader), 1);
        wakers.register(Role::Writer, &writer_waker);
        wakers.wake_others(&reader_waker, Some(Role::Reader));
        assert_eq!(woken(&writer), 1);
    }

    #[test]
    fn the_transport_wakes_every_task_once() {
        let wakers = Arc::new(Wakers::default());
        let (sender, sender_waker) = task();
        let (whole, whole_waker) = task();
        wakers.register(Role::Reader, &whole_waker);
        wakers.register(Role::Writer, &whole_waker);
        wakers.register(Role::Sender, &sender_waker);
        Waker::from(Arc::clone(&wakers)).wake_by_ref();
        assert_eq!((woken(&whole), woken(&sender)), (1, 1));
        assert_eq!(wakers.take_woken(), Woken::Maybe);
        assert_eq!(wakers.take_woken(), Woken::No);
        // Taken: nobody is registered any more, senders included.
        assert!(!wakers.senders_waiting.load(Ordering::Relaxed));
    }
}
