//! What a Patroni source reads: the REST APIs of the cluster's members (the source's `url` is
//! the first; any member answers for the whole cluster), the service whose database the
//! cluster is, the region of each member when the user maps them, and how often it is read.
//! Credentials of Patroni's REST API (basic auth, `user:password`) live in the keyring under
//! the source's name, never here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::SourceKind;

/// The settings of one Patroni source (`[contexts.X.sources.patroni]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatroniSettings {
    /// The service this cluster backs: its members are shown as that service's replicas and
    /// standbys, and `promote SERVICE MEMBER` goes to Patroni.
    #[serde(deserialize_with = "service_name")]
    pub service: String,
    /// The other members' REST APIs, tried in order when the source's `url` does not answer.
    #[serde(default, deserialize_with = "member_urls")]
    pub members: Vec<String>,
    /// Member name -> region, when the user maps them (Patroni does not know regions).
    #[serde(default)]
    pub regions: BTreeMap<String, String>,
    /// How often the cluster is read, in seconds.
    #[serde(default = "default_poll_interval", with = "super::prometheus::seconds")]
    pub poll_interval: Duration,
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(5)
}

fn service_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let service = String::deserialize(d)?;
    match service.trim().is_empty() {
        true => Err(serde::de::Error::custom(
            "service is empty: name the service this cluster backs",
        )),
        false => Ok(service),
    }
}

fn member_urls<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let urls = Vec::<String>::deserialize(d)?;
    // The reason only: a URL with credentials in it must not be repeated.
    for url in &urls {
        super::check_url(url).map_err(serde::de::Error::custom)?;
    }
    Ok(urls)
}

impl PatroniSettings {
    /// Every member's REST API: the source's `url` first, then the others.
    pub fn member_urls(&self, url: &str) -> Vec<String> {
        let mut urls = vec![url.to_string()];
        urls.extend(self.members.iter().filter(|m| *m != url).cloned());
        urls
    }
}

/// A Patroni source's settings from its table; a Patroni source without one, or a table on a
/// source of another kind, is a problem at the source's name or at the table.
pub(super) fn settings(
    kind: SourceKind,
    given: Option<Spanned<PatroniSettings>>,
    name: &Spanned<String>,
) -> Result<Option<PatroniSettings>, (std::ops::Range<usize>, String)> {
    match (kind, given) {
        (SourceKind::Patroni, Some(settings)) => Ok(Some(settings.into_inner())),
        (SourceKind::Patroni, None) => Err((
            name.span(),
            format!(
                "a patroni source needs a patroni table naming the service it backs: \
                 patroni = {{ service = \"...\" }} under source {:?}",
                name.get_ref()
            ),
        )),
        (_, None) => Ok(None),
        (_, Some(settings)) => Err((
            settings.span(),
            "patroni settings belong to a source with kind = \"patroni\"".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{ConfigProblem, parse_file};

    fn problems(text: &str) -> Vec<ConfigProblem> {
        parse_file(Path::new("c.toml"), text).expect_err("the file should be refused")
    }

    fn at(text: &str) -> Vec<(Option<usize>, Option<usize>)> {
        problems(text).iter().map(|p| (p.line, p.column)).collect()
    }

    #[test]
    fn a_patroni_source_reads_its_members_service_regions_and_interval() {
        let text = "\
[[contexts.prod.sources]]
name = \"orders-db\"
kind = \"patroni\"
url = \"http://10.0.0.1:8008\"
[contexts.prod.sources.patroni]
service = \"orders\"
members = [\"http://10.0.0.2:8008\", \"http://10.0.0.1:8008\"]
regions = { node1 = \"us-east\", node2 = \"eu-west\" }
poll_interval = 2
[[contexts.prod.sources]]
name = \"plain\"
kind = \"patroni\"
url = \"http://10.0.1.1:8008\"
patroni = { service = \"billing\" }
";
        let config = parse_file(Path::new("c.toml"), text).unwrap();
        let sources = &config.contexts["prod"].sources;
        assert_eq!(sources[0].kind, SourceKind::Patroni);
        let settings = sources[0].patroni.as_ref().unwrap();
        assert_eq!(settings.service, "orders");
        assert_eq!(
            settings.member_urls(&sources[0].url),
            ["http://10.0.0.1:8008", "http://10.0.0.2:8008"],
            "the url first, each member once"
        );
        assert_eq!(settings.regions["node2"], "eu-west");
        assert_eq!(settings.poll_interval, Duration::from_secs(2));
        let plain = sources[1].patroni.as_ref().unwrap();
        assert_eq!(
            (plain.members.len(), plain.regions.len()),
            (0, 0),
            "defaults"
        );
        assert_eq!(plain.poll_interval, Duration::from_secs(5));
        assert_eq!(sources[1].prometheus, None);
    }

    #[test]
    fn patroni_settings_problems_are_reported_where_they_are() {
        let base = "\
[[contexts.prod.sources]]
name = \"db\"
kind = \"patroni\"
url = \"http://10.0.0.1:8008\"
";
        // No table: the service is unknown, said at the source's name.
        assert_eq!(at(base), vec![(Some(2), Some(8))]);
        assert!(
            problems(base)[0].reason.contains("service"),
            "{:?}",
            problems(base)
        );

        let misspelt = format!("{base}patroni = {{ service = \"orders\", regoins = {{}} }}\n");
        assert_eq!(
            at(&misspelt),
            vec![(Some(5), Some(33))],
            "at the misspelt key"
        );
        assert!(problems(&misspelt)[0].reason.contains("regoins"));

        let empty = format!("{base}patroni = {{ service = \" \" }}\n");
        assert_eq!(at(&empty), vec![(Some(5), Some(23))], "at the value");
        assert!(problems(&empty)[0].reason.contains("service is empty"));

        let with_credentials = format!(
            "{base}patroni = {{ service = \"orders\", members = [\"http://me:pw@10.0.0.2:8008\"] }}\n"
        );
        let found = problems(&with_credentials);
        assert_eq!(
            at(&with_credentials),
            vec![(Some(5), Some(43))],
            "at the list"
        );
        assert!(found[0].reason.contains("credentials"), "{found:?}");
        assert!(!found[0].reason.contains("pw"), "{found:?}");

        let zero = format!("{base}patroni = {{ service = \"orders\", poll_interval = 0 }}\n");
        assert!(problems(&zero)[0].reason.contains("at least 1 second"));

        let wrong_kind = "\
[[contexts.prod.sources]]
name = \"api\"
url = \"http://127.0.0.1:7300\"
patroni = { service = \"orders\" }
";
        assert_eq!(at(wrong_kind), vec![(Some(4), Some(11))]);
        assert!(
            problems(wrong_kind)[0]
                .reason
                .contains("kind = \"patroni\"")
        );
    }

    #[test]
    fn a_password_in_a_patroni_table_goes_to_the_keyring() {
        let text = "\
[[contexts.prod.sources]]
name = \"db\"
kind = \"patroni\"
url = \"http://10.0.0.1:8008\"
[contexts.prod.sources.patroni]
service = \"orders\"
password = \"hunter2\"
";
        let found = problems(text);
        assert_eq!(at(text), vec![(Some(7), Some(1))]);
        assert!(found[0].reason.contains("keyring"), "{found:?}");
        assert!(!found[0].reason.contains("hunter2"));
    }

    /// The example context users adapt parses, and says what the README says it does.
    #[test]
    fn the_example_patroni_context_parses() {
        let text = include_str!("../../fixtures/contexts/patroni.toml");
        let config = parse_file(Path::new("patroni.toml"), text).unwrap();
        let context = &config.contexts["orders"];
        assert_eq!(context.sources[0].kind, SourceKind::Native);
        let database = context.source("orders-db").unwrap();
        assert_eq!(database.kind, SourceKind::Patroni);
        let settings = database.patroni.as_ref().unwrap();
        assert_eq!(settings.service, "credit-decision");
        assert_eq!(settings.member_urls(&database.url).len(), 2);
        assert_eq!(settings.regions.len(), 2);
    }
}
