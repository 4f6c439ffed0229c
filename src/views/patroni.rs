//! What the Patroni sources say about a service in the services view: each member with its
//! role, state, timeline, region and replication lag (bytes and a readable size, against the
//! cluster's `maximum_lag_on_failover`), under the source's name and the read's age. A source
//! down or late greys only its own lines and says why; a protocol v1 source that reports the
//! same service differently is written out as a disagreement, never settled.

use ratatui::text::{Line, Span};

use crate::app::App;
use crate::domain::fleet::{Connection, Freshness};
use crate::domain::patroni::{ClusterRead, Lag, Member, bytes};
use crate::format::age;
use crate::theme::Theme;
use protocol::sanitize::clean;

/// The lines of every Patroni source whose cluster backs `service`.
pub(super) fn lines(app: &App, theme: &Theme, service: &str) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for source in &app.sources {
        let Some(read) = source.patroni.as_ref().filter(|r| r.service == service) else {
            continue;
        };
        let fresh = source.freshness(app.now) == Freshness::Fresh;
        let style = if fresh { theme.text } else { theme.stale };
        let read_age = source
            .age(app.now)
            .map_or("never".into(), |a| format!("{} ago", age(a)));
        let provenance = match (&source.connection, fresh) {
            (_, true) => format!("patroni {} · read {read_age}", source.name),
            (Connection::Down { error, kind, .. }, false) => format!(
                "patroni {} · DOWN: {} ({}) · STALE: read {read_age}, may have changed",
                source.name,
                kind.headline(),
                clean(error)
            ),
            (_, false) => format!(
                "patroni {} · STALE: read {read_age}, may have changed",
                source.name
            ),
        };
        lines.push(Line::styled(
            provenance,
            if fresh { theme.dim } else { theme.stale },
        ));
        for member in &read.cluster.members {
            lines.push(Line::styled(member_text(read, member), style));
        }
        if read.cluster.members.is_empty() {
            lines.push(Line::styled("  no members: Patroni lists none", style));
        }
        if fresh {
            lines.extend(disagreements(app, theme, read));
        }
    }
    lines
}

/// `  node2   replica        streaming  tl 3  eu-west   lag 19256528 B (18.4 MiB) > max 1.0 MiB`
pub fn member_text(read: &ClusterRead, member: &Member) -> String {
    let timeline = member.timeline.map_or("tl ?".into(), |t| format!("tl {t}"));
    let lag = match member.lag {
        None => String::new(),
        Some(Lag::Unknown) => "lag unknown".into(),
        Some(Lag::Bytes(lag)) => {
            let limit = if lag > read.max_lag { ">" } else { "≤" };
            format!(
                "lag {lag} B ({}) {limit} max {}",
                bytes(lag),
                bytes(read.max_lag)
            )
        }
    };
    let nofailover = if member.no_failover {
        " nofailover"
    } else {
        ""
    };
    format!(
        "  {:<10} {:<14} {:<10} {:<6} {:<9} {lag}{nofailover}",
        clean(&member.name),
        member.role.word(),
        clean(&member.state),
        timeline,
        clean(read.region_of(&member.name)),
    )
    .trim_end()
    .to_string()
}

/// A live protocol v1 report of the same service that places the active replica elsewhere.
fn disagreements(app: &App, theme: &Theme, read: &ClusterRead) -> Vec<Line<'static>> {
    let others = app.sources.iter().filter(|s| s.patroni.is_none());
    others
        .filter(|s| s.freshness(app.now) == Freshness::Fresh)
        .filter_map(|s| {
            let snapshot = s.snapshot.as_ref()?;
            let service = snapshot.services.iter().find(|x| x.id == read.service)?;
            let says = read.disagreement(service)?;
            Some(Line::from(Span::styled(
                format!("  ≠ {} {}: the sources disagree", s.name, clean(&says)),
                theme.warning,
            )))
        })
        .collect()
}
