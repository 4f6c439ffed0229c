//! Silences of a metrics source's Alertmanager, from the console: the form that creates one
//! for a firing alert (the matchers it will have, each from the alert's labels and each one
//! the engineer can leave out; how long; why) or expires one, the list of the source's active
//! silences, and what became of each one sent. Sending goes the way of every mutating action:
//! an idempotency key, the journal, a timeline entry, and a row of the audit view, this
//! console's record of it (Alertmanager keeps no audit log of ours).

mod form;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{App, CommandFailure, Effect, FailureKind, Flash, Level, Overlay, TimelineEntry, View};
use crate::domain::command::duration_text;
use crate::domain::measured::FiringAlert;
use crate::keymap::{Action, Layer};
pub use crate::sources::prometheus::silences::{Matcher, Silence, SilenceState};
pub use form::{
    DEFAULT_SILENCE, MatcherChoice, SilenceFocus, SilenceForm, SilenceFormKind, silence_length,
};
use protocol::Role;
use protocol::sanitize::clean;

/// The list of a source's silences, opened over the views.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceList {
    pub source: usize,
    pub selected: usize,
}

/// What to do in Alertmanager.
#[derive(Clone, Debug, PartialEq)]
pub enum SilenceAction {
    Create {
        matchers: Vec<Matcher>,
        duration: Duration,
    },
    Expire {
        id: String,
    },
}

/// A confirmed silence action for the runner: journal (fsync) under a fresh idempotency key,
/// send, retry with the same key when no answer comes.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceOrder {
    pub local_id: u64,
    pub source: String,
    pub action: SilenceAction,
    pub reason: String,
    /// Who asks (the sources' name for the user); the runner puts the login name when none
    /// told it.
    pub operator: Option<String>,
}

/// What Alertmanager did.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceDone {
    /// The silence's id.
    pub id: String,
    /// In words: `created`, `already created by an earlier try`, `expired`, ...
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SilenceSent {
    Sending,
    Done(SilenceDone),
    Failed(CommandFailure),
}

/// A silence action this console sent, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentSilence {
    pub order: SilenceOrder,
    /// When it was sent, on this console's clock.
    pub at: DateTime<Utc>,
    /// Known once the journal has it, before it is sent.
    pub key: Option<String>,
    pub state: SilenceSent,
}

/// The silences of one source's Alertmanager as last read (active and pending only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SilencesRead {
    pub silences: Vec<Silence>,
    /// Why the last read failed; the silences are as read before.
    pub error: Option<String>,
}

/// Whether `alert`'s labels meet every matcher (Alertmanager's rule for equality matchers;
/// a regular-expression matcher the console did not write is taken as not matching).
pub fn mutes(matchers: &[Matcher], alert: &FiringAlert) -> bool {
    matchers.iter().all(|m| {
        let value = alert.labels.get(&m.name).map_or("", String::as_str);
        !m.is_regex && (value == m.value) == m.is_equal
    })
}

/// `region=us-east`, `model=~gpt-4.*`: as [`Matcher::parse`] reads it, cleaned.
pub fn matcher_text(m: &Matcher) -> String {
    let op = match (m.is_equal, m.is_regex) {
        (true, false) => "=",
        (false, false) => "!=",
        (true, true) => "=~",
        (false, true) => "!~",
    };
    format!("{}{op}{}", clean(&m.name), clean(&m.value))
}

/// `alertname=X, region=us-east`
pub fn matchers_text(matchers: &[Matcher]) -> String {
    matchers
        .iter()
        .map(matcher_text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `identity` (as the sources name the user, if one does) may not silence or expire in a
/// context that is `read_only` or not: the console's rule and the command line's.
pub fn silence_refusal(read_only: bool, identity: Option<&protocol::WhoAmI>) -> Option<String> {
    if read_only {
        return Some("read-only: no silence is made or expired from here".into());
    }
    match identity {
        Some(who) if who.role < Role::Operator => {
            Some(format!("role {} may not silence alerts", who.role.word()))
        }
        _ => None,
    }
}

impl App {
    /// Why the user may not silence now, if they may not: a read-only console, or a role
    /// below operator. A context of metrics sources alone has no identity: the silence is
    /// made under the login name.
    pub fn silence_refusal(&self) -> Option<String> {
        if self.replay.is_some() {
            return Some(super::replay::READ_ONLY.into());
        }
        silence_refusal(self.context.read_only, self.identity())
    }

    /// The firing alerts under the selection, with their source: the selected timeline
    /// entry's alert, or those on the selected region, provider or service.
    pub fn selected_alerts(&self) -> Vec<(usize, &FiringAlert)> {
        let firing = self.sources.iter().enumerate().flat_map(|(index, source)| {
            let alerts = source.measured.iter().flat_map(|m| m.alerts.iter());
            alerts.map(move |a| (index, a))
        });
        match self.view {
            View::Timeline => {
                let entry = self.timeline.iter().rev().nth(self.selection.timeline_row);
                let Some((name, fingerprint)) =
                    entry.and_then(|e| Some((&e.source, e.alert.as_ref()?)))
                else {
                    return Vec::new();
                };
                firing
                    .filter(|(i, a)| {
                        self.sources[*i].name == *name && a.fingerprint == *fingerprint
                    })
                    .collect()
            }
            View::Fleet | View::Services => {
                let Some((_, target)) = self.selected_target() else {
                    return Vec::new();
                };
                use crate::domain::command::Target;
                firing
                    .filter(|(_, a)| match &target {
                        Target::Region(id) => a.target.region.as_ref() == Some(id),
                        Target::Provider(id) => a.target.provider_id().as_ref() == Some(id),
                        Target::Service(id) => a.target.service.as_ref() == Some(id),
                    })
                    .collect()
            }
            View::Audit
            | View::Inbox
            | View::Runbooks
            | View::Exercise
            | View::Approvals
            | View::Cost => Vec::new(),
        }
    }

    /// `S` or `:silences`: the active silences of the first source that has an Alertmanager.
    pub(super) fn show_silences(&mut self) {
        let source = self.alerts_source();
        match source {
            Some(source) => self.overlays.open(Overlay::Silences(SilenceList {
                source,
                selected: 0,
            })),
            None => self.flash(
                Level::Warning,
                "no source of this context reads an Alertmanager (alertmanager_url)",
            ),
        }
    }

    /// The metrics source whose silences are listed: the selected alert's, else the first
    /// that has read silences or alerts.
    fn alerts_source(&self) -> Option<usize> {
        let selected = self.selected_alerts().first().map(|(source, _)| *source);
        selected.or_else(|| {
            self.sources.iter().position(|s| {
                self.silences.contains_key(&s.name)
                    || s.measured.as_ref().is_some_and(|m| !m.alerts.is_empty())
            })
        })
    }

    /// The active and pending silences of source `index`, ending soonest first.
    pub fn silences_of(&self, index: usize) -> &[Silence] {
        self.silences
            .get(&self.sources[index].name)
            .map_or(&[], |read| read.silences.as_slice())
    }

    /// `silenced until 14:03 by alice`, for an alert that a silence mutes (the latest one
    /// to end, when several do).
    pub fn silenced_note(&self, source: usize, alert: &FiringAlert) -> Option<String> {
        let silence = (self.silences_of(source).iter())
            .filter(|s| alert.silenced_by.contains(&s.id))
            .max_by_key(|s| s.ends_at);
        match silence {
            Some(s) => Some(format!(
                "silenced until {} by {}",
                until_text(s.ends_at, self.wall),
                clean(&s.created_by)
            )),
            None if !alert.silenced_by.is_empty() => Some("silenced".into()),
            None => None,
        }
    }

    /// Where a timeline entry's alert stands now: still firing (silenced or not, and the key
    /// that silences it), or no longer firing. `None` for an entry that is not an alert's.
    pub fn alert_entry_note(&self, entry: &TimelineEntry) -> Option<String> {
        let fingerprint = entry.alert.as_ref()?;
        let index = self.source_index(&entry.source)?;
        let measured = self.sources[index].measured.as_ref()?;
        let alert = measured
            .alerts
            .iter()
            .find(|a| &a.fingerprint == fingerprint);
        Some(match alert {
            None => "no longer firing".into(),
            Some(alert) => match self.silenced_note(index, alert) {
                Some(note) => format!("firing, {note}"),
                None => format!(
                    "firing · {}: silence it",
                    crate::keymap::keys_for(Layer::Global, Action::Silence)
                ),
            },
        })
    }

    pub(super) fn perform_in_silence_list(&mut self, action: Action) {
        let Some(list) = self.overlays.silence_list_mut() else {
            return;
        };
        let source = list.source;
        let len = self.silences_of(source).len();
        let Some(list) = self.overlays.silence_list_mut() else {
            return;
        };
        match action {
            Action::Up => list.selected = list.selected.saturating_sub(1),
            Action::Down => list.selected = (list.selected + 1).min(len.saturating_sub(1)),
            Action::ExpireSilence => {
                let selected = list.selected;
                self.start_expire(source, selected);
            }
            _ => self.overlays.close(Layer::Silences),
        }
    }

    pub(super) fn send_silence(
        &mut self,
        source: usize,
        action: SilenceAction,
        reason: String,
        operator: Option<String>,
    ) -> Vec<Effect> {
        self.next_silence_id += 1;
        let order = SilenceOrder {
            local_id: self.next_silence_id,
            source: self.sources[source].name.clone(),
            action,
            reason,
            operator,
        };
        self.flash(Level::Info, format!("sending {}…", order_text(&order)));
        self.sent_silences.push(SentSilence {
            order: order.clone(),
            at: self.wall,
            key: None,
            state: SilenceSent::Sending,
        });
        vec![Effect::Silence(order)]
    }

    pub(super) fn silence_journaled(&mut self, local_id: u64, key: String) {
        if let Some(sent) = self
            .sent_silences
            .iter_mut()
            .find(|s| s.order.local_id == local_id)
        {
            sent.key = Some(key);
        }
    }

    /// What Alertmanager said: on screen, and in the timeline under the source's name with
    /// who, what, why and the key (this console's record of the action).
    pub(super) fn silence_finished(
        &mut self,
        local_id: u64,
        result: Result<SilenceDone, CommandFailure>,
    ) {
        let Some(sent) = self
            .sent_silences
            .iter_mut()
            .find(|s| s.order.local_id == local_id)
        else {
            return;
        };
        let what = order_text(&sent.order);
        let (level, verdict) = match &result {
            Ok(done) => (
                Level::Info,
                format!(
                    "✓ {what}: {} (silence {})",
                    clean(&done.detail),
                    clean(&done.id)
                ),
            ),
            Err(failure) => {
                let verdict = match failure.kind {
                    FailureKind::Unknown => "? outcome unknown (kept in the journal)",
                    FailureKind::Conflict | FailureKind::Rejected => "✖ refused",
                };
                (
                    Level::Error,
                    format!("{verdict}: {what}: {}", clean(&failure.message)),
                )
            }
        };
        let record = format!(
            "{verdict} · by {} · reason: {} · key {}",
            sent.order.operator.as_deref().map_or("you".into(), clean),
            clean(&sent.order.reason),
            sent.key.as_deref().unwrap_or("none (not journaled)")
        );
        sent.state = match result {
            Ok(done) => SilenceSent::Done(done),
            Err(failure) => SilenceSent::Failed(failure),
        };
        let source = sent.order.source.clone();
        self.log(Some(&source), level, record);
        self.flash = Some(Flash {
            level,
            text: verdict,
            until: self.now + super::FLASH_FOR,
        });
    }

    /// A metrics source's silences as its worker read them.
    pub(super) fn on_silences(&mut self, index: usize, read: Result<Vec<Silence>, String>) {
        let name = self.sources[index].name.clone();
        let held = self.silences.entry(name.clone()).or_default();
        match read {
            Ok(mut silences) => {
                silences.retain(|s| s.state != SilenceState::Expired);
                silences.sort_by(|a, b| (a.ends_at, &a.id).cmp(&(b.ends_at, &b.id)));
                held.silences = silences;
                held.error = None;
            }
            Err(error) => {
                let error = clean(&error).into_owned();
                if held.error.as_ref() != Some(&error) {
                    held.error = Some(error.clone());
                    self.log(
                        Some(&name),
                        Level::Error,
                        format!("silences not read: {error}"),
                    );
                }
            }
        }
        if let Some(list) = self.overlays.silence_list_mut() {
            let len = self.silences.get(&name).map_or(0, |r| r.silences.len());
            list.selected = list.selected.min(len.saturating_sub(1));
        }
    }
}

/// `silence alertname=X, region=us-east for 1h` / `expire silence 3f2a…`
pub fn order_text(order: &SilenceOrder) -> String {
    match &order.action {
        SilenceAction::Create { matchers, duration } => format!(
            "silence {} for {}",
            matchers_text(matchers),
            duration_text(duration.as_secs())
        ),
        SilenceAction::Expire { id } => format!("expire silence {}", clean(id)),
    }
}

/// `14:03 UTC`, or with its date when not today.
pub fn until_text(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// Silences by source name, as their workers last read them.
pub type Silences = BTreeMap<String, SilencesRead>;

#[cfg(test)]
mod tests;
