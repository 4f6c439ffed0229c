//! What a `kind = "temporal"` source says in the config beside its URL: the namespace, how
//! often the list is polled, a CA to trust, who the console acts as, and the contract's names
//! (docs/temporal.md). The API key is never here: it lives in the keyring like a token.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The contract's names (docs/temporal.md); each may be changed if the workflows change it too
/// (in the config, `[...sources.temporal.names]`: a name left out keeps its default).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Names {
    /// Keyword search attribute: pending, claimed, resolved, aborted.
    pub state: String,
    /// Keyword search attribute: p1..p4.
    pub priority: String,
    /// Datetime search attribute: the SLA deadline.
    pub deadline: String,
    /// Keyword search attribute: the service of the escalated step.
    pub service: String,
    /// Keyword search attribute: why the workflow escalated.
    pub reason: String,
    /// Keyword search attribute: the operator a task was handed to.
    pub assignee: String,
    /// Memo key holding the inbox row (protocol v1's `EscalationSummary`).
    pub memo: String,
    /// Query answering the escalation's detail.
    pub query: String,
    pub claim: String,
    pub release: String,
    pub resolve: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            state: "SwitchboardState".into(),
            priority: "SwitchboardPriority".into(),
            deadline: "SwitchboardDeadline".into(),
            service: "SwitchboardService".into(),
            reason: "SwitchboardReason".into(),
            assignee: "SwitchboardAssignee".into(),
            memo: "switchboard".into(),
            query: "switchboard_escalation".into(),
            claim: "switchboard_claim".into(),
            release: "switchboard_release".into(),
            resolve: "switchboard_resolve".into(),
        }
    }
}

impl Names {
    /// Every name, with what it names, for checks and messages.
    pub fn all(&self) -> [(&'static str, &str); 11] {
        [
            ("state", &self.state),
            ("priority", &self.priority),
            ("deadline", &self.deadline),
            ("service", &self.service),
            ("reason", &self.reason),
            ("assignee", &self.assignee),
            ("memo", &self.memo),
            ("query", &self.query),
            ("claim", &self.claim),
            ("release", &self.release),
            ("resolve", &self.resolve),
        ]
    }

    /// Names go into visibility queries and URL paths as they are: letters, digits, `_`,
    /// `-` and `.` only, so that none can change what a query or a request means.
    pub fn check(&self) -> Result<(), String> {
        for (what, name) in self.all() {
            let fine = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !fine {
                return Err(format!(
                    "the {what} name {name:?} may hold only letters, digits, '_', '-' and '.'"
                ));
            }
        }
        Ok(())
    }
}

/// The list is polled this often by default: Temporal has no push for visibility.
pub const DEFAULT_POLL_INTERVAL_S: u64 = 5;
/// Polls further apart than this would leave the inbox too old to act on.
pub const MAX_POLL_INTERVAL_S: u64 = 600;

/// `[contexts.NAME.sources.temporal]`; every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalSettings {
    pub namespace: String,
    /// Seconds between two reads of the list.
    pub poll_interval_s: u64,
    /// A PEM file of CA certificates trusted beside the system's (a private CA on `https`).
    pub ca_file: Option<PathBuf>,
    /// The name claims and resolutions are made under (the Update's identity and `operator`);
    /// by default the login name of the user running the console.
    pub operator: Option<String>,
    pub names: Names,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        TemporalSettings {
            namespace: "default".into(),
            poll_interval_s: DEFAULT_POLL_INTERVAL_S,
            ca_file: None,
            operator: None,
            names: Names::default(),
        }
    }
}

impl TemporalSettings {
    /// Everything wrong with the settings, one reason each (empty when they can be used).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.namespace.trim().is_empty() {
            problems.push("the temporal namespace is empty".to_string());
        }
        if !(1..=MAX_POLL_INTERVAL_S).contains(&self.poll_interval_s) {
            problems.push(format!(
                "poll_interval_s = {} is out of range: 1..={MAX_POLL_INTERVAL_S} seconds",
                self.poll_interval_s
            ));
        }
        if let Some(operator) = &self.operator
            && (operator.is_empty()
                || operator.len() > 64
                || operator.chars().any(|c| c.is_control()))
        {
            problems.push("operator must be 1-64 characters, none of them control".to_string());
        }
        if let Err(reason) = self.names.check() {
            problems.push(reason);
        }
        if let Some(path) = &self.ca_file
            && let Err(reason) = read_roots(path)
        {
            problems.push(reason);
        }
        problems
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_s)
    }

    /// Who claims and resolves: the configured operator, else the login name.
    pub fn operator(&self) -> String {
        self.operator.clone().unwrap_or_else(login_name)
    }
}

/// The user running the console, as the system names them.
pub fn login_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "operator".to_string())
}

/// The CA certificates of a PEM file, or why they cannot be used.
pub fn read_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!("ca_file {shown} must be an absolute path"));
    }
    let pem = std::fs::read(path).map_err(|e| format!("ca_file {shown} cannot be read: {e}"))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(roots) if !roots.is_empty() => Ok(roots),
        Ok(_) => Err(format!("ca_file {shown} holds no PEM certificate")),
        Err(e) => Err(format!(
            "ca_file {shown} is not a PEM certificate bundle: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<TemporalSettings, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn every_field_has_a_default_and_names_are_overridden_one_by_one() {
        assert_eq!(parsed("").unwrap(), TemporalSettings::default());
        let settings = parsed("namespace = \"agents\"\n[names]\nstate = \"MyState\"\n").unwrap();
        assert_eq!(settings.namespace, "agents");
        assert_eq!(settings.names.state, "MyState");
        assert_eq!(settings.names.resolve, Names::default().resolve);
        assert!(settings.problems().is_empty());
        assert!(
            parsed("[names]\nstat = \"x\"\n")
                .unwrap_err()
                .contains("stat")
        );
    }

    #[test]
    fn unusable_settings_say_why() {
        let settings = TemporalSettings {
            namespace: " ".into(),
            poll_interval_s: 0,
            ca_file: Some("relative.pem".into()),
            operator: Some(String::new()),
            names: Names {
                claim: "a b".into(),
                ..Names::default()
            },
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("namespace"));
        assert!(problems[1].contains("1..=600"));
        assert!(problems[2].contains("operator"));
        assert!(problems[3].contains("the claim name"));
        assert!(problems[4].contains("absolute"));
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let error = read_roots(&path).unwrap_err();
        assert!(error.contains("no PEM certificate"), "{error}");
        let missing = read_roots(&dir.path().join("none.pem")).unwrap_err();
        assert!(missing.contains("cannot be read"), "{missing}");
    }
}
