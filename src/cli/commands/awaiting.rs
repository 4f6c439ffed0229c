//! A fleet command the source's two-person rule holds for a second operator: said as pending
//! (exit 5, with the id and what to ask), or with `--wait` followed until it is decided: the
//! request is read again with growing pauses until it is approved and carried out (exit 0),
//! denied, withdrawn, expired or failed (each its own exit code), the wait runs out, or Ctrl-C
//! (the request stays pending and the run says so).

use std::io::Write;
use std::time::{Duration, Instant};

use super::text::Human;
use super::{
    EXIT_APPLIED, EXIT_CONFLICT, EXIT_DENIED, EXIT_ERROR, EXIT_EXPIRED, EXIT_PENDING,
    EXIT_WITHDRAWN, POLL_FAILURES_TOLERATED, Report,
};
use crate::sources::Client;
use crate::sources::backoff::{Backoff, BackoffPolicy};
use protocol::approvals::{ApprovalRequest, ApprovalState};
use protocol::commands::Operation;
use protocol::sanitize::clean;

/// Pauses between reads of a held request: soon at first, then every few seconds.
const POLL: BackoffPolicy = BackoffPolicy {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(5),
    healthy_after: Duration::MAX,
};

/// Records that the source holds the command as `request`: exit 5, naming what to ask.
pub(super) fn held(report: &mut Report, request: ApprovalRequest) {
    let message = format!(
        "pending approval {id}: {why}; ask another operator: switchboard approvals approve {id} --reason ...",
        id = clean(&request.id),
        why = clean(&request.why_approval),
    );
    report.approval = Some(request);
    report.finish("pending", EXIT_PENDING, Some(message));
}

/// Reads the held request until it is decided, at most `limit` seconds when given, or until
/// Ctrl-C; the report ends as the decision says.
pub(super) async fn wait_for_decision(
    client: &Client,
    limit: Option<u64>,
    human: &mut Human<'_, impl Write>,
    report: &mut Report,
) {
    let Some(request) = report.approval.clone() else {
        return;
    };
    human.waiting(&request);
    let id = clean(&request.id).into_owned();
    // Ctrl-C ends the wait whatever it is doing, a pause or a read: the request stays.
    let followed = tokio::select! {
        followed = follow(client, request, limit) => followed,
        _ = tokio::signal::ctrl_c() => Err((
            "pending",
            EXIT_PENDING,
            format!(
                "stopped waiting (Ctrl-C): {id} is still pending approval; \
                 `switchboard approvals show {id}` follows it, `withdraw` takes it back"
            ),
        )),
    };
    match followed {
        Ok(request) => decided(report, request),
        Err((outcome, code, message)) => report.finish(outcome, code, Some(message)),
    }
}

/// How a wait ended without a decision: the report's outcome, exit code and message.
type Undecided = (&'static str, i32, String);

/// Reads `request` again, with growing pauses, until it is decided; the wait running out
/// (still pending) and reads that keep failing (fate unknown) end it undecided.
async fn follow(
    client: &Client,
    mut request: ApprovalRequest,
    limit: Option<u64>,
) -> Result<ApprovalRequest, Undecided> {
    let id = clean(&request.id).into_owned();
    let deadline = limit.map(|seconds| Instant::now() + Duration::from_secs(seconds));
    let mut pauses = Backoff::new(POLL);
    let mut failures = 0;
    while request.state == ApprovalState::Pending {
        let mut pause = pauses.delay(false, None, 0.5 + rand::random::<f64>() / 2.0);
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let message = format!(
                    "still pending approval after the wait: {id} waits for another operator \
                     (switchboard approvals show {id})"
                );
                return Err(("pending", EXIT_PENDING, message));
            }
            pause = pause.min(left);
        }
        tokio::time::sleep(pause).await;
        match client.approval(&request.id).await {
            Ok(now) => {
                request = now;
                failures = 0;
            }
            Err(error) => {
                failures += 1;
                if failures >= POLL_FAILURES_TOLERATED {
                    let message = format!(
                        "lost track of {id}: {error}; it was pending approval when last read"
                    );
                    return Err(("unknown", EXIT_ERROR, message));
                }
            }
        }
    }
    Ok(request)
}

/// The operation an approved command started (a promotion): the newest of its kind on its
/// target that started when it was approved or since, as the fleet shows it; an approval
/// names the command's audit entry, not its operation.
pub(super) async fn started_operation(client: &Client, report: &Report) -> Option<Operation> {
    let approved_at = report.approval.as_ref()?.decision.as_ref()?.at;
    let fleet = client.fleet().await.ok()?;
    (fleet.operations.into_iter())
        .filter(|op| op.kind == report.command && op.target == report.target)
        .filter(|op| op.started_at >= approved_at)
        .max_by_key(|op| op.started_at)
}

/// What a decided request means for the command: carried out (exit 0, with the command's
/// audit id), or not, and who said so and why.
fn decided(report: &mut Report, request: ApprovalRequest) {
    let (by, why) = request.decision.as_ref().map_or_else(
        || ("someone".to_string(), String::new()),
        |d| (clean(&d.by).into_owned(), clean(&d.reason).into_owned()),
    );
    let (outcome, code, message) = match request.state {
        ApprovalState::Approved => {
            report.audit_id = request.decision.as_ref().and_then(|d| d.audit_id);
            // The held answer's revision is from before the change; the one after is not said.
            report.control_revision = None;
            ("accepted", EXIT_APPLIED, format!("approved by {by}: {why}"))
        }
        ApprovalState::Denied => ("denied", EXIT_DENIED, format!("denied by {by}: {why}")),
        ApprovalState::Withdrawn => (
            "withdrawn",
            EXIT_WITHDRAWN,
            format!("withdrawn by {by}: {why}"),
        ),
        ApprovalState::Expired => (
            "expired",
            EXIT_EXPIRED,
            "nobody decided in time: it was never carried out".to_string(),
        ),
        ApprovalState::Failed => {
            let error = (request.decision.as_ref())
                .and_then(|d| d.error.as_deref())
                .map_or(String::new(), |e| format!(": {}", clean(e)));
            (
                "conflict",
                EXIT_CONFLICT,
                format!("approved by {by} but not carried out{error}"),
            )
        }
        ApprovalState::Pending => ("pending", EXIT_PENDING, "still pending".to_string()),
    };
    report.approval = Some(request);
    report.finish(outcome, code, Some(message));
}

#[cfg(test)]
#[path = "awaiting_tests.rs"]
mod tests;
