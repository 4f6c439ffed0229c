//! What a Patroni source reports, folded into the app: its cluster becomes the service it
//! backs (leader and replicas, in the services view like any other service), and a change of
//! leader enters the timeline, so that a promotion is seen through on screen.

use std::time::Duration;

use super::{App, Level};
use crate::domain::command::Command;
use crate::domain::fleet::{Connection, STALE_AFTER, SourceData};
use crate::domain::patroni::ClusterRead;

impl App {
    /// Adds a Patroni source polled every `poll_interval`, after the protocol v1 sources;
    /// called by the runner before the first message.
    pub fn add_patroni_source(&mut self, name: &str, url: &str, poll_interval: Duration) {
        self.sources.push(SourceData {
            stale_after: poll_interval.saturating_mul(2).max(STALE_AFTER),
            ..SourceData::new(name, url)
        });
        self.refresh_visible();
    }

    /// The promotions of the members of the Patroni clusters behind `service`: the service's
    /// one row offers them whichever source it comes from, and Patroni performs them
    /// (`domain::performer`).
    pub(super) fn patroni_promotions(&self, service: &str) -> Vec<Command> {
        let reads = (self.sources.iter()).filter_map(|s| s.patroni.as_ref());
        reads
            .filter(|read| read.service == service)
            .flat_map(|read| read.cluster.members.iter().filter(|m| !m.leads()))
            .map(|member| Command::Promote {
                service: service.to_string(),
                replica: member.name.clone(),
            })
            .collect()
    }

    pub(super) fn on_cluster(&mut self, index: usize, read: ClusterRead) {
        let now = self.now;
        let source = &mut self.sources[index];
        let was_down = matches!(source.connection, Connection::Down { .. });
        source.connection = Connection::Live;
        source.received_at = Some(now);
        let leader = |read: Option<&ClusterRead>| {
            read.and_then(|r| r.cluster.healthy_leader())
                .map(|m| (m.name.clone(), m.timeline))
        };
        let before = leader(source.patroni.as_ref());
        let after = leader(Some(&read));
        let service = read.service.clone();
        source.snapshot = Some(read.as_snapshot());
        source.patroni = Some(read);
        let name = source.name.clone();
        if was_down {
            self.log(Some(&name), Level::Info, "connection restored".to_string());
        }
        match (&before, &after) {
            (Some(old), Some((new, timeline))) if old.0 != *new => {
                let timeline = timeline.map_or(String::new(), |t| format!(" on timeline {t}"));
                let text = format!("{service}: {new} leads now{timeline} (was {})", old.0);
                self.log(Some(&name), Level::Info, text);
            }
            (Some(old), None) => {
                let text = format!("{service}: no healthy leader ({} was)", old.0);
                self.log(Some(&name), Level::Error, text);
            }
            _ => {}
        }
        self.refresh_visible();
        self.refresh_confirm(index);
    }
}
