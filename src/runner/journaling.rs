//! What every journaled effect of the runner shares: writing the journal off the async
//! workers, and how a failed request reads to the operator.

use std::sync::{Arc, Mutex};

use crate::app::FailureKind;
use crate::journal::Journal;
use crate::sources::delivery::SendFailure;

/// fsync can take a while on a busy disk: it runs off the async workers.
pub(super) async fn write_journal(
    journal: &Arc<Mutex<Journal>>,
    write: impl FnOnce(&mut Journal) -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    let journal = journal.clone();
    tokio::task::spawn_blocking(move || {
        let mut journal = journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        write(&mut journal)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// How a failed request reads to the operator: refused, conflicting, or of unknown outcome.
pub(super) fn failure_kind(conflict: bool, error: &impl SendFailure) -> FailureKind {
    if conflict {
        FailureKind::Conflict
    } else if error.outcome_unknown() {
        FailureKind::Unknown
    } else {
        FailureKind::Rejected
    }
}
