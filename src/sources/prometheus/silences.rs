//! Silences in Alertmanager, created and expired from the console.
//!
//! Alertmanager takes no idempotency key, so the console keeps its own in the silence's
//! comment (`<reason> [switchboard:<key>]`) and looks it up before creating: a create sent
//! again with the same key (a retry after a timeout, a replay from the journal) finds the
//! first silence and makes no second. Creates racing with one key may all post; each then
//! reads, once the millisecond of its own store has passed, and expires its own unless it is
//! the first stored, so one silence remains and every answer names it. Every read that decides
//! an answer waits out the millisecond of what it found: Alertmanager's store times have
//! millisecond resolution, and a racer stored in the same one is ordered by id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use super::alerts::AlertmanagerClient;
use super::error::PromError;
use crate::config::prometheus::LabelNames;
use crate::domain::measured::AlertTarget;
use crate::sources::error::bounded;

const KEY_OPEN: &str = "[switchboard:";

/// Longer than one tick of Alertmanager's store clock (it writes times to the millisecond).
const STORE_TICK_PASSED: Duration = Duration::from_millis(3);

/// One label matcher of a silence (Alertmanager's API v2 shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "equal")]
    pub is_equal: bool,
}

fn equal() -> bool {
    true
}

impl Matcher {
    pub fn equals(name: &str, value: &str) -> Self {
        Matcher {
            name: name.to_string(),
            value: value.to_string(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// `label=value`, `label!=value`, `label=~regex` or `label!~regex`, as amtool and
    /// Alertmanager's own UI write them; the label a Prometheus label name.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let usage = "use label=value, label!=value, label=~regex or label!~regex";
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let (name, rest) = text.split_at(name_end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("{text:?}: no label name first; {usage}"));
        }
        let ((is_equal, is_regex), value) = [
            ("=~", (true, true)),
            ("!~", (false, true)),
            ("!=", (false, false)),
            ("=", (true, false)),
        ]
        .into_iter()
        .find_map(|(op, kind)| Some((kind, rest.strip_prefix(op)?)))
        .ok_or_else(|| format!("{text:?}: {usage}"))?;
        Ok(Matcher {
            name: name.to_string(),
            value: value.to_string(),
            is_regex,
            is_equal,
        })
    }
}

/// The matchers that silence what the operator selected: the alert by name if one is
/// selected, and the region, provider and service it is about. Refused when nothing is
/// named, since such a silence would mute every alert.
pub fn matchers_for(
    alert_name: Option<&str>,
    target: &AlertTarget,
    names: &LabelNames,
) -> Result<Vec<Matcher>, PromError> {
    let matchers: Vec<Matcher> = [
        ("alertname", alert_name),
        (names.region.as_str(), target.region.as_deref()),
        (names.provider.as_str(), target.provider.as_deref()),
        (names.service.as_str(), target.service.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some(Matcher::equals(name, value?)))
    .collect();
    if matchers.is_empty() {
        return Err(PromError::NotSendable(
            "a silence needs an alert, a region, a provider or a service: without matchers it would mute everything".into(),
        ));
    }
    Ok(matchers)
}

/// A silence to create.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceRequest {
    pub matchers: Vec<Matcher>,
    pub duration: Duration,
    /// The console's reason; becomes the comment.
    pub reason: String,
    /// Who asks; becomes `createdBy`.
    pub operator: String,
    /// The console's idempotency key of this action.
    pub idempotency_key: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

/// A silence as Alertmanager holds it, every text cleaned.
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub id: String,
    pub state: SilenceState,
    pub matchers: Vec<Matcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    /// The comment without the console's key.
    pub comment: String,
    /// The console's idempotency key, when the console created it.
    pub key: Option<String>,
    /// When Alertmanager stored it last (its own clock): the order creates reached it in.
    pub updated_at: DateTime<Utc>,
}

/// What a create did.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceCreated {
    pub id: String,
    /// True when a silence with this key existed already: nothing new was made.
    pub replayed: bool,
}

/// What an expire did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceExpired {
    Expired,
    /// It had expired already (an earlier try, someone else, its end time).
    AlreadyExpired,
}

impl AlertmanagerClient {
    /// `GET /api/v2/silences`: all silences Alertmanager keeps, expired ones included.
    pub async fn silences(&self) -> Result<Vec<Silence>, PromError> {
        let request = self
            .endpoint
            .request(Method::GET, &["api", "v2", "silences"], &[]);
        let silences: Vec<WireSilence> = self.endpoint.json(request, "silences").await?;
        Ok(silences.into_iter().map(Silence::from).collect())
    }

    /// Creates the silence, or finds the one an earlier try with the same key created.
    pub async fn create_silence(
        &self,
        request: &SilenceRequest,
    ) -> Result<SilenceCreated, PromError> {
        let key = checked_key(&request.idempotency_key)?;
        if self.first_with_key(key).await?.is_some() {
            // Another create with this key ran: a racer stored in the same millisecond as the
            // one seen may not be visible yet and may win by id; read again once it would be.
            tokio::time::sleep(STORE_TICK_PASSED).await;
            if let Some(first) = self.first_with_key(key).await? {
                return Ok(SilenceCreated {
                    id: first.id,
                    replayed: true,
                });
            }
        }
        let now = Utc::now();
        let ends_at = ends_at(now, request.duration)?;
        let body = PostSilence {
            matchers: &request.matchers,
            starts_at: now,
            ends_at,
            created_by: bounded(&request.operator),
            comment: format!("{} {KEY_OPEN}{key}]", bounded(&request.reason)),
        };
        let post = self
            .endpoint
            .request(Method::POST, &["api", "v2", "silences"], &[])
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).map_err(|e| PromError::NotSendable(e.to_string()))?);
        let created: PostedSilence = self.endpoint.json(post, "silence created").await?;
        // A racing create with the same key may have posted too: keep the first only.
        // Alertmanager's store times have millisecond resolution, so a racer stored in our
        // millisecond ties with ours and the id decides; waiting that millisecond out before
        // reading makes every such racer visible to us, as we are to it, so both pick alike.
        // A racer stored in a later millisecond loses and sees ours.
        tokio::time::sleep(STORE_TICK_PASSED).await;
        let first = self.first_with_key(key).await?;
        let first_id = first.map_or(created.silence_id.clone(), |s| s.id);
        if first_id != created.silence_id {
            self.expire_silence(&created.silence_id).await?;
        }
        Ok(SilenceCreated {
            replayed: first_id != created.silence_id,
            id: first_id,
        })
    }

    /// Expires silence `id` now; expiring one that has already expired is no error.
    pub async fn expire_silence(&self, id: &str) -> Result<SilenceExpired, PromError> {
        // Alertmanager answers 200 either way: look first, to say which it was.
        if self.silence(id).await?.state == SilenceState::Expired {
            return Ok(SilenceExpired::AlreadyExpired);
        }
        let delete = self
            .endpoint
            .request(Method::DELETE, &["api", "v2", "silence", id], &[]);
        self.endpoint.send(delete, "silence expiry").await?;
        Ok(SilenceExpired::Expired)
    }

    /// `GET /api/v2/silence/{id}`
    pub async fn silence(&self, id: &str) -> Result<Silence, PromError> {
        let request = self
            .endpoint
            .request(Method::GET, &["api", "v2", "silence", id], &[]);
        let silence: WireSilence = self.endpoint.json(request, "silence").await?;
        Ok(silence.into())
    }

    /// The first silence the console created under `key`, in any state: the one Alertmanager
    /// stored first. Its own store time orders them, not `startsAt`, which each console fills
    /// from its clock before posting: two racing creates would each see theirs as first.
    async fn first_with_key(&self, key: &str) -> Result<Option<Silence>, PromError> {
        let silences = self.silences().await?;
        Ok(first_stored(
            silences
                .into_iter()
                .filter(|s| s.key.as_deref() == Some(key)),
        ))
    }
}

/// The silence stored first, by Alertmanager's clock (id apart, for a total order). An expired
/// loser's store time moves to its expiry, later still, so the winner stays first.
fn first_stored(silences: impl Iterator<Item = Silence>) -> Option<Silence> {
    silences.min_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)))
}

/// Longest silence the console creates: a forgotten silence hides the next outage.
pub const MAX_SILENCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// When a silence of `duration` from `now` ends; refused when it is empty or too long.
fn ends_at(now: DateTime<Utc>, duration: Duration) -> Result<DateTime<Utc>, PromError> {
    if duration.is_zero() || duration > MAX_SILENCE {
        return Err(PromError::NotSendable(format!(
            "a silence lasts from 1 second to {} days, not {} s",
            MAX_SILENCE.as_secs() / 86_400,
            duration.as_secs()
        )));
    }
    let length =
        chrono::TimeDelta::from_std(duration).map_err(|e| PromError::NotSendable(e.to_string()))?;
    Ok(now + length)
}

/// Keys go into a comment and are read back from it: letters, digits, '-' and '_' only.
fn checked_key(key: &str) -> Result<&str, PromError> {
    let fits = !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match fits {
        true => Ok(key),
        false => Err(PromError::NotSendable(format!(
            "idempotency key {:?} is not letters, digits, '-' and '_'",
            bounded(key)
        ))),
    }
}

/// Splits `<reason> [switchboard:<key>]` into the reason and the key.
fn split_key(comment: &str) -> (String, Option<String>) {
    let trimmed = comment.trim_end();
    if let Some(open) = trimmed.rfind(KEY_OPEN)
        && let Some(key) = trimmed[open + KEY_OPEN.len()..].strip_suffix(']')
        && checked_key(key).is_ok()
    {
        return (
            trimmed[..open].trim_end().to_string(),
            Some(key.to_string()),
        );
    }
    (comment.to_string(), None)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostSilence<'a> {
    matchers: &'a [Matcher],
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_by: String,
    comment: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedSilence {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSilence {
    id: String,
    status: WireSilenceStatus,
    matchers: Vec<Matcher>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
struct WireSilenceStatus {
    state: String,
}

impl From<WireSilence> for Silence {
    fn from(wire: WireSilence) -> Self {
        let (comment, key) = split_key(&wire.comment);
        Silence {
            id: bounded(&wire.id),
            state: match wire.status.state.as_str() {
                "active" => SilenceState::Active,
                "pending" => SilenceState::Pending,
                _ => SilenceState::Expired,
            },
            matchers: wire
                .matchers
                .into_iter()
                .map(|m| Matcher {
                    name: bounded(&m.name),
                    value: bounded(&m.value),
                    ..m
                })
                .collect(),
            starts_at: wire.starts_at,
            ends_at: wire.ends_at,
            created_by: bounded(&wire.created_by),
            comment: bounded(&comment),
            key,
            updated_at: wire.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Console A fills `startsAt` first but its post reaches Alertmanager second: B's silence
    /// is the first, for A and B alike.
    #[test]
    fn the_first_silence_is_the_one_stored_first_whatever_its_start() {
        let at = |s: u32| Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, s).unwrap();
        let silence = |id: &str, starts: u32, stored: u32| Silence {
            id: id.into(),
            state: SilenceState::Active,
            matchers: Vec::new(),
            starts_at: at(starts),
            ends_at: at(59),
            created_by: "alice".into(),
            comment: String::new(),
            key: Some("k".into()),
            updated_at: at(stored),
        };
        let (from_a, from_b) = (silence("a", 1, 4), silence("b", 2, 3));
        let first = first_stored([from_a.clone(), from_b.clone()].into_iter());
        assert_eq!(first.map(|s| s.id), Some("b".to_string()));
        let first = first_stored([from_b, from_a].into_iter());
        assert_eq!(first.map(|s| s.id), Some("b".to_string()));
    }

    #[test]
    fn matchers_are_read_as_amtool_writes_them() {
        let parsed = |text| Matcher::parse(text).map(|m| (m.name, m.value, m.is_equal, m.is_regex));
        let ok = |name: &str, value: &str, equal, regex| {
            Ok((name.to_string(), value.to_string(), equal, regex))
        };
        assert_eq!(
            parsed("region=us-east"),
            ok("region", "us-east", true, false)
        );
        assert_eq!(
            parsed("region!=us-east"),
            ok("region", "us-east", false, false)
        );
        assert_eq!(parsed("model=~gpt-4.*"), ok("model", "gpt-4.*", true, true));
        assert_eq!(parsed("model!~a=b"), ok("model", "a=b", false, true));
        assert_eq!(parsed("team="), ok("team", "", true, false));
        for bad in ["region~x", "=x", "1x=y", "region", "re gion=x", ""] {
            assert!(parsed(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_read_back_from_the_comment() {
        assert_eq!(
            split_key("provider flapping, vendor paged [switchboard:3f2a-b_9]"),
            (
                "provider flapping, vendor paged".into(),
                Some("3f2a-b_9".into())
            )
        );
        assert_eq!(split_key("made by hand"), ("made by hand".into(), None));
        assert_eq!(
            split_key("odd [switchboard:a b]"),
            ("odd [switchboard:a b]".into(), None),
            "not a key the console writes"
        );
    }

    #[test]
    fn matchers_name_what_is_selected_and_never_nothing() {
        let names = LabelNames::default();
        let target = AlertTarget {
            region: Some("us-east".into()),
            provider: Some("openai".into()),
            service: None,
        };
        let matchers = matchers_for(Some("ProviderErrorRateHigh"), &target, &names).unwrap();
        assert_eq!(
            matchers,
            vec![
                Matcher::equals("alertname", "ProviderErrorRateHigh"),
                Matcher::equals("region", "us-east"),
                Matcher::equals("api_provider", "openai"),
            ]
        );
        let error = matchers_for(None, &AlertTarget::default(), &names).unwrap_err();
        assert!(
            error.to_string().contains("would mute everything"),
            "{error}"
        );
    }

    #[test]
    fn a_silence_is_neither_empty_nor_endless() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            ends_at(now, hour).unwrap(),
            now + chrono::TimeDelta::hours(1)
        );
        assert!(ends_at(now, Duration::ZERO).is_err());
        let error = ends_at(now, MAX_SILENCE + hour).unwrap_err();
        assert!(error.to_string().contains("to 7 days"), "{error}");
    }

    #[test]
    fn keys_that_could_not_be_read_back_are_refused() {
        assert!(checked_key("b5d1c1e2-0c4f-4f61-9a59-0c1c2b1e6f00").is_ok());
        assert!(checked_key("").is_err());
        assert!(checked_key("a]b").is_err());
    }
}
