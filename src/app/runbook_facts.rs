//! What runbook conditions read in the console: the facts of its fresh sources, protocol v1
//! and metrics alike, and the open escalations the inbox holds, counted by priority.

use super::App;
use crate::domain::fleet::Freshness;
use crate::runbook::eval::{FleetView, OpenEscalations};

impl App {
    /// The fleet as runbook conditions read it now.
    pub fn fleet_view(&self) -> FleetView<'_> {
        FleetView::of_sources(&self.sources, self.now)
            .with_open_escalations(self.open_escalations())
    }

    /// Open escalations by priority over the sources that listed theirs: unknown until one
    /// has, and while one of them is down or late (its tasks may have changed unseen). The
    /// inbox keeps the counts as tasks come and go: this is a sum per source.
    fn open_escalations(&self) -> Option<OpenEscalations> {
        let mut open: Option<OpenEscalations> = None;
        for (index, source) in self.sources.iter().enumerate() {
            if !self.inbox.has_loaded(index) {
                continue;
            }
            if source.freshness(self.now) != Freshness::Fresh {
                return None;
            }
            let sums = open.get_or_insert_default();
            for (sum, count) in sums.iter_mut().zip(self.inbox.open_by_priority(index)) {
                *sum += count;
            }
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::app::App;
    use crate::domain::fleet::DownKind;
    use crate::runbook::Position;
    use crate::runbook::eval::{Truth, evaluate};
    use crate::runbook::expr::parse;
    use crate::sources::{EscalationEventKind, SourceEvent};
    use crate::testing::{
        escalation_event, escalation_summaries, from_source, lab_app, operator_inbox, small_fleet,
    };
    use protocol::escalations::{EscalationState, Priority};

    fn reading(app: &App, text: &str) -> (Truth, String) {
        let evaluation = evaluate(&parse(text, Position::START).unwrap(), &app.fleet_view());
        (evaluation.truth, evaluation.readings[0].text.clone())
    }

    /// The open tasks of each priority, counted the slow way.
    fn counted(app: &App, priority: Priority) -> usize {
        (app.inbox.open_rows().iter())
            .filter(|k| app.inbox.item(k.slot).summary().priority == priority)
            .count()
    }

    #[test]
    fn open_escalations_are_counted_from_the_inbox_once_its_source_listed_them() {
        let mut app = lab_app(100, 30, Instant::now());
        app.update(from_source(SourceEvent::Snapshot(small_fleet())));
        assert_eq!(
            reading(&app, "open_escalations(all) == 0").0,
            Truth::Unknown,
            "the list is not read yet"
        );

        let (mut app, queue) = operator_inbox(300);
        for priority in Priority::ALL {
            let text = format!("open_escalations({}) == 0", priority.word());
            let n = counted(&app, priority);
            assert_eq!(
                reading(&app, &text).1,
                format!("open_escalations({}) = {n} == 0", priority.word())
            );
        }
        assert_eq!(
            reading(&app, "open_escalations(all) == 300"),
            (
                Truth::True,
                "open_escalations(all) = 300 == 300".to_string()
            )
        );

        // A P1 resolved leaves the count as it leaves the inbox.
        let p1 = (escalation_summaries(&queue).into_iter())
            .find(|s| s.priority == Priority::P1)
            .unwrap();
        let before = counted(&app, Priority::P1);
        let mut resolved = p1;
        resolved.revision += 1;
        resolved.state = EscalationState::Resolved;
        app.update(escalation_event(EscalationEventKind::Resolved, resolved));
        assert_eq!(counted(&app, Priority::P1), before - 1);
        let text = format!("open_escalations(p1) == {}", before - 1);
        assert_eq!(reading(&app, &text).0, Truth::True);
        assert_eq!(reading(&app, "open_escalations(all) == 299").0, Truth::True);

        // Its source down: the tasks may change unseen, the count is unknown.
        app.update(from_source(SourceEvent::Down {
            error: "refused".into(),
            kind: DownKind::Unreachable,
            retry_in: Duration::from_secs(4),
        }));
        assert_eq!(
            reading(&app, "open_escalations(all) == 299").0,
            Truth::Unknown
        );
    }
}
