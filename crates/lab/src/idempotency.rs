//! Idempotency keys of commands and resolutions: the first accepted answer to a key is kept,
//! so that a replay (a retry after a timeout, a double press) gets the same answer and acts
//! only once. The HTTP flow that uses it is in `http/idempotent.rs`.
//!
//! Keys are scoped to the caller: two operators may use the same key. Each caller keeps the
//! most recent [`KEYS_KEPT_PER_CALLER`] keys. Rejected requests are not kept: they had no
//! effect, and a retry after fixing the cause (a fresh `If-Match`) must be judged again.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

pub const KEYS_KEPT_PER_CALLER: usize = 10_000;

/// What a request asked for: its endpoint, target and body. JSON bodies that differ only in
/// member order or spacing ask for the same thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn of(path: &str, body: &[u8]) -> Fingerprint {
        let mut hasher = DefaultHasher::new();
        path.hash(&mut hasher);
        match serde_json::from_slice::<serde_json::Value>(body) {
            // serde_json's maps are sorted, so this text is canonical.
            Ok(json) => json.to_string().hash(&mut hasher),
            Err(_) => body.hash(&mut hasher),
        }
        Fingerprint(hasher.finish())
    }
}

/// The first answer to a key, exactly as it was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: Arc<[u8]>,
}

#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    /// The key is new for this caller.
    New,
    /// The same request again: answer this.
    Replay(&'a StoredAnswer),
    /// The key was used for a different request.
    Mismatch,
}

pub struct IdempotencyStore {
    capacity: usize,
    callers: HashMap<String, CallerKeys>,
}

#[derive(Default)]
struct CallerKeys {
    answers: HashMap<String, (Fingerprint, StoredAnswer)>,
    /// Keys oldest first, for eviction.
    order: VecDeque<String>,
}

impl IdempotencyStore {
    pub fn new(capacity_per_caller: usize) -> IdempotencyStore {
        IdempotencyStore {
            capacity: capacity_per_caller.max(1),
            callers: HashMap::new(),
        }
    }

    pub fn lookup(&self, caller: &str, key: &str, fingerprint: Fingerprint) -> Lookup<'_> {
        match self
            .callers
            .get(caller)
            .and_then(|keys| keys.answers.get(key))
        {
            None => Lookup::New,
            Some((stored, answer)) if *stored == fingerprint => Lookup::Replay(answer),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Keeps the answer to a new key, dropping the caller's oldest key when full.
    pub fn remember(
        &mut self,
        caller: &str,
        key: &str,
        fingerprint: Fingerprint,
        answer: StoredAnswer,
    ) {
        let keys = self.callers.entry(caller.to_string()).or_default();
        if keys
            .answers
            .insert(key.to_string(), (fingerprint, answer))
            .is_some()
        {
            return;
        }
        keys.order.push_back(key.to_string());
        if keys.order.len() > self.capacity
            && let Some(oldest) = keys.order.pop_front()
        {
            keys.answers.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> StoredAnswer {
        StoredAnswer {
            status: 200,
            body: Arc::from(body.as_bytes()),
        }
    }

    #[test]
    fn a_replay_gets_the_first_answer_and_another_request_a_mismatch() {
        let mut store = IdempotencyStore::new(10);
        let drain = Fingerprint::of("/v1/regions/us-east/drain", br#"{"reason":"a","x":1}"#);
        assert_eq!(store.lookup("bob", "k1", drain), Lookup::New);
        store.remember("bob", "k1", drain, answer("first"));
        let same = Fingerprint::of("/v1/regions/us-east/drain", br#"{ "x": 1, "reason": "a" }"#);
        assert_eq!(
            store.lookup("bob", "k1", same),
            Lookup::Replay(&answer("first"))
        );
        let other_body = Fingerprint::of("/v1/regions/us-east/drain", br#"{"reason":"b"}"#);
        assert_eq!(store.lookup("bob", "k1", other_body), Lookup::Mismatch);
        let other_path = Fingerprint::of("/v1/regions/us-west/drain", br#"{"reason":"a","x":1}"#);
        assert_eq!(store.lookup("bob", "k1", other_path), Lookup::Mismatch);
        // Keys belong to their caller.
        assert_eq!(store.lookup("alice", "k1", drain), Lookup::New);
    }

    #[test]
    fn each_caller_keeps_its_most_recent_keys() {
        let mut store = IdempotencyStore::new(2);
        let print = Fingerprint::of("/p", b"not json");
        for key in ["k1", "k2", "k3"] {
            store.remember("bob", key, print, answer(key));
        }
        store.remember("alice", "k1", print, answer("alice"));
        assert_eq!(store.lookup("bob", "k1", print), Lookup::New);
        assert_eq!(
            store.lookup("bob", "k2", print),
            Lookup::Replay(&answer("k2"))
        );
        assert_eq!(
            store.lookup("bob", "k3", print),
            Lookup::Replay(&answer("k3"))
        );
        assert_eq!(
            store.lookup("alice", "k1", print),
            Lookup::Replay(&answer("alice"))
        );
    }
}
