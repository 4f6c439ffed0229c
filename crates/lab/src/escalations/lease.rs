//! Leases: a person claims a task for a while (renewing it as they go), releases it, or
//! lets the lease run out, and the task goes back to pending.

use chrono::{DateTime, TimeDelta, Utc};

use super::{EscalationQueue, QueueError};
use crate::free_text::{Lines, check_printable};
use protocol::escalations::{
    EVENT_CLAIMED, EVENT_RELEASED, EscalationState, EscalationSummary, HistoryAction, HistoryEntry,
    Lease, MAX_NOTE_BYTES,
};

impl EscalationQueue {
    /// Ends every lease that ran out by `now`; each task goes back to pending.
    pub fn expire_leases(&mut self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        while let Some(&(expires_ms, seq)) = self.leases.first() {
            if expires_ms > now_ms {
                break;
            }
            self.leases.pop_first();
            let record = &mut self.records[seq as usize];
            record.state = EscalationState::Pending;
            let holder = record.take_lease().map(|l| l.holder);
            record.hands_mut().history.push(HistoryEntry {
                at: now,
                actor: "system".to_string(),
                action: HistoryAction::LeaseExpired,
                note: holder.map(|h| format!("{h}'s lease ran out")),
                assignee: None,
            });
            self.changed(seq, EVENT_RELEASED);
        }
    }

    /// Claims a task for `who` for `lease_s` seconds, or renews their lease.
    pub fn claim(
        &mut self,
        id: &str,
        who: &str,
        lease_s: u64,
        now: DateTime<Utc>,
    ) -> Result<EscalationSummary, QueueError> {
        self.expire_leases(now);
        let seq = self.open_seq(id)?;
        let record = &mut self.records[seq as usize];
        let action = match record.lease() {
            Some(lease) if lease.holder != who => {
                return Err(QueueError::Held {
                    holder: lease.holder.clone(),
                    expires_at: lease.expires_at,
                });
            }
            Some(_) => HistoryAction::Renewed,
            None => HistoryAction::Claimed,
        };
        let expires_at = now + TimeDelta::seconds(lease_s as i64);
        let claimed_at = record.lease().map_or(now, |lease| lease.claimed_at);
        record.state = EscalationState::Claimed;
        let hands = record.hands_mut();
        let old = hands.lease.replace(Lease {
            holder: who.to_string(),
            claimed_at,
            expires_at,
        });
        hands.history.push(HistoryEntry {
            at: now,
            actor: who.to_string(),
            action,
            note: None,
            assignee: None,
        });
        if let Some(old) = old {
            self.leases
                .remove(&(old.expires_at.timestamp_millis(), seq));
        }
        self.leases.insert((expires_at.timestamp_millis(), seq));
        Ok(self.changed(seq, EVENT_CLAIMED))
    }

    /// Gives a claimed task back; only its holder may.
    pub fn release(
        &mut self,
        id: &str,
        who: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<EscalationSummary, QueueError> {
        self.expire_leases(now);
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_BYTES) {
            return Err(QueueError::Incomplete(format!(
                "the note is longer than {MAX_NOTE_BYTES} bytes"
            )));
        }
        if let Some(note) = &note {
            check_printable("note", note, Lines::One).map_err(QueueError::Incomplete)?;
        }
        let seq = self.open_seq(id)?;
        match self.records[seq as usize].lease() {
            None => return Err(QueueError::NotClaimed),
            Some(lease) if lease.holder != who => {
                return Err(QueueError::Held {
                    holder: lease.holder.clone(),
                    expires_at: lease.expires_at,
                });
            }
            Some(_) => {}
        }
        self.drop_lease(seq);
        let record = &mut self.records[seq as usize];
        record.state = EscalationState::Pending;
        record.hands_mut().history.push(HistoryEntry {
            at: now,
            actor: who.to_string(),
            action: HistoryAction::Released,
            note,
            assignee: None,
        });
        Ok(self.changed(seq, EVENT_RELEASED))
    }

    pub(super) fn drop_lease(&mut self, seq: u32) {
        if let Some(lease) = self.records[seq as usize].take_lease() {
            self.leases
                .remove(&(lease.expires_at.timestamp_millis(), seq));
        }
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
