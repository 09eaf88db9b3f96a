//! `squares` across processes (`REDIS_URL`, see the doc of `examples/squares.rs`): what the hub
//! does with what comes from Redis, the other processes' squares, and the process number that
//! keeps square ids unique.

use std::collections::BTreeMap;

use rfc6455::Message;
use serde_json::{json, Map, Value};

use crate::pubsub::{self, message_type, Claim, Local, Received, Relay};
use crate::{lock, Hub, SharedHub, IDS_PER_PROCESS, MAX_PROCESS_NUMBER};

/// A square of another process (with Redis), as this process last heard of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSquare {
    colour: String,
    x: u64,
    y: u64,
}

impl RemoteSquare {
    /// Decodes `{"id":..,"colour":..,"x":..,"y":..}` (a `join`, or a presence value in Redis).
    pub fn decode(fields: &Map<String, Value>) -> Option<(u64, RemoteSquare)> {
        let colour = fields.get("colour")?.as_str()?.to_owned();
        let (x, y) = (fields.get("x")?.as_u64()?, fields.get("y")?.as_u64()?);
        Some((fields.get("id")?.as_u64()?, RemoteSquare { colour, x, y }))
    }

    /// As the clients get it in a `welcome` (with `"type":"join"`, in a `join`).
    pub fn to_json(&self, id: u64) -> Value {
        json!({ "id": id, "colour": self.colour, "x": self.x, "y": self.y })
    }
}

impl Hub {
    /// A broadcast from Redis (or, while it is away, from this process): the other processes'
    /// squares are noted, and it goes to every client here but `except`.
    pub fn receive(&mut self, received: Received) {
        let message = &received.message;
        let id = message.get("id").and_then(Value::as_u64);
        match (message_type(message), id) {
            ("moves", _) => {
                let Some(Value::Array(squares)) = message.get("squares") else { return };
                let positions: Vec<(u64, Value)> =
                    squares.iter().filter_map(|position| self.note_move(position, received.mine)).collect();
                return self.deliver_moves(&positions);
            }
            // A square already known from Redis's keys ([`Hub::read_board`]) is not told again.
            ("join", Some(id)) if !received.mine => {
                let Some((_, square)) = message.as_object().and_then(RemoteSquare::decode) else { return };
                if self.remote.insert(id, square).is_some() {
                    return;
                }
            }
            ("leave", Some(id)) if !received.mine => {
                if self.remote.remove(&id).is_none() {
                    return;
                }
            }
            ("join" | "leave", Some(_)) => {}
            _ => return,
        }
        let text = Message::text(message.to_string());
        self.send_each(|to| (Some(to) != received.except).then(|| text.clone()));
    }

    /// Notes a position of a `moves` from Redis, of a square known here; returns it by id.
    fn note_move(&mut self, position: &Value, mine: bool) -> Option<(u64, Value)> {
        let (id, x, y) =
            (position.get("id")?.as_u64()?, position.get("x")?.as_u64()?, position.get("y")?.as_u64()?);
        if mine {
            self.squares.contains_key(&id).then_some(())?;
        } else {
            let square = self.remote.get_mut(&id)?;
            (square.x, square.y) = (x, y);
        }
        Some((id, json!({ "id": id, "x": x, "y": y })))
    }

    /// Takes the other processes' squares from the presence values read from Redis: those new
    /// here join, those gone leave, for the clients here.
    pub fn read_board(&mut self, members: &[String]) {
        let number = self.number;
        let board: BTreeMap<u64, RemoteSquare> = members
            .iter()
            .filter_map(|value| RemoteSquare::decode(&pubsub::decode_member(value)?))
            .filter(|(id, _)| id / IDS_PER_PROCESS != number)
            .collect();
        let gone: Vec<u64> = self.remote.keys().filter(|id| !board.contains_key(id)).copied().collect();
        self.forget_remote(&gone);
        let new: Vec<(u64, RemoteSquare)> =
            board.into_iter().filter(|(id, _)| !self.remote.contains_key(id)).collect();
        for (id, square) in new {
            let mut join = square.to_json(id);
            join["type"] = "join".into();
            self.remote.insert(id, square);
            let join = Message::text(join.to_string());
            self.send_each(|_| Some(join.clone()));
        }
    }

    /// The other processes' squares `ids` leave this board.
    pub fn forget_remote(&mut self, ids: &[u64]) {
        for id in ids {
            if self.remote.remove(id).is_some() {
                let leave = Message::text(json!({ "type": "leave", "id": id }).to_string());
                self.send_each(|_| Some(leave.clone()));
            }
        }
    }
}

/// Claims the smallest free process number in Redis (`SET rfc6455:squares:member:process-N ..
/// NX`, refreshed like a square, so that a dead process's number is free again 15 s later).
pub async fn claim_number(relay: &Relay) -> u64 {
    let mut number = 1;
    while number < MAX_PROCESS_NUMBER {
        let presence = json!({ "number": number, "process": relay.process() }).to_string();
        match relay.claim(format!("process-{number}"), presence).await {
            Claim::Taken => number += 1,
            Claim::Granted | Claim::Unavailable => break,
        }
    }
    eprintln!("squares: process number {number}: square ids from {}", number * IDS_PER_PROCESS + 1);
    number
}

/// The hub, as the link to Redis reaches it.
pub struct Board(pub SharedHub);

impl Local for Board {
    fn receive(&self, received: Received) -> bool {
        lock(&self.0).receive(received);
        false
    }

    fn members(&self, members: Vec<String>) {
        lock(&self.0).read_board(&members);
    }

    fn link_changed(&self, up: bool) {
        if !up {
            let mut hub = lock(&self.0);
            let remote: Vec<u64> = hub.remote.keys().copied().collect();
            hub.forget_remote(&remote);
        }
    }

    fn conflict(&self, key: &str) {
        eprintln!("squares: the key {key:?} was set by another process while Redis was away");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_squares_decode_from_presence_values() {
        let fields = pubsub::decode_member(r##"{"id":10003,"colour":"#d9534f","x":40,"y":90}"##);
        let decoded = fields.as_ref().and_then(RemoteSquare::decode);
        let square = RemoteSquare { colour: "#d9534f".to_owned(), x: 40, y: 90 };
        assert_eq!(decoded, Some((10003, square)));
        let process = pubsub::decode_member(r#"{"number":1,"process":"4242-9f0c1a2b"}"#);
        assert_eq!(process.as_ref().and_then(RemoteSquare::decode), None);
    }
}
