//! The connection's event queue: what it made of its input, waiting to be polled, in order.

use std::collections::VecDeque;

use super::Queued;

/// Events waiting to be polled, oldest first. The oldest is held in the queue itself; only a
/// second one waiting at the same time takes an allocation, given back once the queue is down
/// to one again. A connection that gets one message at a time (an echo, a request and its
/// answer) never allocates for its queue, and its one event is written and read where the
/// connection already is in memory.
///
/// The rule that keeps the order: `front` is empty only when `rest` is too.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    front: Option<Queued>,
    rest: VecDeque<Queued>,
}

impl EventQueue {
    /// Whether nothing waits.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.front.is_none()
    }

    /// How many wait.
    pub(super) fn len(&self) -> usize {
        usize::from(self.front.is_some()) + self.rest.len()
    }

    /// The oldest, to take from it in place (a run of messages, one at a time).
    #[inline]
    pub(super) fn front_mut(&mut self) -> Option<&mut Queued> {
        self.front.as_mut()
    }

    /// Appends `queued`, after everything waiting.
    #[inline]
    pub(super) fn push_back(&mut self, queued: Queued) {
        if self.front.is_none() {
            self.front = Some(queued);
        } else {
            self.rest.push_back(queued);
        }
    }

    /// Puts `queued` back in front of everything waiting.
    pub(super) fn push_front(&mut self, queued: Queued) {
        if let Some(older) = self.front.replace(queued) {
            self.rest.push_front(older);
        }
    }

    /// Removes the oldest. Once no second event waits, the memory for more goes.
    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Queued> {
        let oldest = self.front.take()?;
        if !self.rest.is_empty() {
            self.move_up();
        }
        Some(oldest)
    }

    /// The next oldest to the front (out of line: one event at a time never gets here).
    #[inline(never)]
    fn move_up(&mut self) {
        self.front = self.rest.pop_front();
        if self.rest.is_empty() {
            self.rest = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::message::Message;

    fn message(text: &str) -> Queued {
        Queued::Event(Event::Message(Message::text(text)))
    }

    fn text(queued: Option<Queued>) -> Option<String> {
        match queued? {
            Queued::Event(Event::Message(message)) => {
                Some(String::from_utf8_lossy(message.payload()).into_owned())
            }
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn events_come_out_in_the_order_they_went_in_whatever_was_put_back() {
        let mut queue = EventQueue::default();
        assert!(queue.is_empty());
        assert_eq!(text(queue.pop_front()), None);
        queue.push_back(message("b"));
        queue.push_back(message("c"));
        queue.push_front(message("a"));
        queue.push_back(message("d"));
        assert_eq!(queue.len(), 4);
        assert_eq!(text(queue.pop_front()).as_deref(), Some("a"));
        assert_eq!(text(queue.pop_front()).as_deref(), Some("b"));
        queue.push_front(message("b again"));
        queue.push_back(message("e"));
        let order: Vec<_> = std::iter::from_fn(|| text(queue.pop_front())).collect();
        assert_eq!(order, ["b again", "c", "d", "e"]);
        assert!(queue.is_empty());
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn one_event_at_a_time_takes_no_allocation_and_more_give_theirs_back() {
        let mut queue = EventQueue::default();
        for _ in 0..3 {
            queue.push_back(message("one"));
            assert_eq!(queue.rest.capacity(), 0);
            assert!(queue.front_mut().is_some());
            assert!(queue.pop_front().is_some());
        }
        queue.push_back(message("one"));
        queue.push_back(message("two"));
        queue.push_back(message("three"));
        assert!(queue.rest.capacity() >= 2);
        assert!(queue.pop_front().is_some());
        assert!(queue.rest.capacity() >= 1);
        assert!(queue.pop_front().is_some());
        // Down to one: the allocation for more is gone.
        assert_eq!(queue.rest.capacity(), 0);
        assert_eq!(text(queue.pop_front()).as_deref(), Some("three"));
        assert!(queue.is_empty());
    }
}
