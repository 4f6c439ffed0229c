use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::*;
use crate::domain::fleet::DownKind;

/// What one scripted poll does.
#[derive(Clone, Copy)]
enum Step {
    Read,
    Fails,
    FailsUntilTheUserActs,
}

/// A polled source playing a script, noting when each poll came; once the script is over a
/// poll never ends.
struct Scripted {
    steps: VecDeque<Step>,
    polled_at: Arc<Mutex<Vec<Instant>>>,
}

struct ScriptedFailure {
    until_the_user_acts: bool,
}

impl std::fmt::Display for ScriptedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.until_the_user_acts {
            "token refused"
        } else {
            "connection refused"
        })
    }
}

const EVERY: Duration = Duration::from_secs(10);

impl PolledSource for Scripted {
    type Error = ScriptedFailure;

    async fn poll<M: From<SourceMsg> + Send>(
        &mut self,
        outbox: &Outbox<M>,
    ) -> Result<bool, ScriptedFailure> {
        self.polled_at.lock().unwrap().push(Instant::now());
        match self.steps.pop_front() {
            Some(Step::Read) => Ok(outbox.send(SourceEvent::Operators(vec![])).await.is_ok()),
            Some(Step::Fails) => Err(ScriptedFailure {
                until_the_user_acts: false,
            }),
            Some(Step::FailsUntilTheUserActs) => Err(ScriptedFailure {
                until_the_user_acts: true,
            }),
            None => std::future::pending().await,
        }
    }

    fn only_the_user_can_fix(error: &ScriptedFailure) -> bool {
        error.until_the_user_acts
    }

    fn down_kind(error: &ScriptedFailure) -> DownKind {
        if error.until_the_user_acts {
            DownKind::Unauthorized
        } else {
            DownKind::Unreachable
        }
    }

    fn poll_interval(&self) -> Duration {
        EVERY
    }
}

/// The event as a short word, a Down with its wait.
fn said(event: &SourceEvent) -> String {
    match event {
        SourceEvent::Connecting { attempt } => format!("connecting {attempt}"),
        SourceEvent::Operators(_) => "read".into(),
        SourceEvent::Down {
            error,
            kind,
            retry_in,
        } => format!("down {kind:?} {error} {retry_in:?}"),
        other => format!("{other:?}"),
    }
}

/// The one polling loop: connecting until a read, each read every interval, each failure a
/// Down whose wait doubles (the whole cap when only the user can fix it), a good read
/// starting the backoff over, and shutdown stopping it even in the middle of a poll.
#[tokio::test(start_paused = true)]
async fn the_polling_loop_backs_off_resets_after_a_read_and_stops_on_shutdown() {
    use Step::*;
    let script = [
        Read,
        Fails,
        Fails,
        Fails,
        Read,
        Fails,
        FailsUntilTheUserActs,
        Read,
    ];
    let polled_at = Arc::new(Mutex::new(Vec::new()));
    let source = Scripted {
        steps: script.into(),
        polled_at: polled_at.clone(),
    };
    let (tx, mut rx) = mpsc::channel::<SourceMsg>(64);
    let (stop, shutdown) = watch::channel(false);
    let outbox = Outbox {
        source: "scripted".into(),
        tx,
    };
    // A jitter of 1 waits the whole window: the delays are the backoff's ceilings.
    let worker = poll_until_stopped(source, outbox, BackoffPolicy::default(), || 1.0);
    let handle = spawn_until_shutdown(worker, shutdown);

    let mut events = Vec::new();
    while events.len() < 14 {
        let message = rx.recv().await.expect("the worker is running");
        assert_eq!(message.source, "scripted");
        events.push(said(&message.event));
    }
    assert_eq!(
        events,
        [
            "connecting 1",
            "read",
            "down Unreachable connection refused 250ms",
            "connecting 2",
            "down Unreachable connection refused 500ms",
            "connecting 3",
            "down Unreachable connection refused 1s",
            "connecting 4",
            "read",
            "down Unreachable connection refused 250ms",
            "connecting 2",
            "down Unauthorized token refused 15s",
            "connecting 3",
            "read",
        ]
    );
    let gaps: Vec<Duration> = (polled_at.lock().unwrap().windows(2))
        .map(|pair| pair[1] - pair[0])
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(
        gaps,
        [
            EVERY,
            ms(250),
            ms(500),
            ms(1000),
            EVERY,
            ms(250),
            ms(15_000)
        ]
    );

    // The script is over: the next poll, an interval later, never ends; shutdown stops it.
    tokio::time::sleep(EVERY + Duration::from_millis(1)).await;
    assert_eq!(polled_at.lock().unwrap().len(), 9);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), handle)
        .await
        .expect("shutdown stops the loop at once")
        .unwrap();
    assert!(rx.recv().await.is_none(), "the loop let go of its outbox");
}

/// The app gone (its receiver dropped) ends the loop while it waits for the next poll.
#[tokio::test(start_paused = true)]
async fn the_polling_loop_ends_when_the_app_stops_listening() {
    let source = Scripted {
        steps: [Step::Read].into(),
        polled_at: Arc::default(),
    };
    let (tx, mut rx) = mpsc::channel::<SourceMsg>(8);
    let outbox = Outbox {
        source: "scripted".into(),
        tx,
    };
    let worker = tokio::spawn(poll_until_stopped(
        source,
        outbox,
        BackoffPolicy::default(),
        || 1.0,
    ));
    assert!(matches!(
        rx.recv().await.map(|m| m.event),
        Some(SourceEvent::Connecting { attempt: 1 })
    ));
    assert!(matches!(
        rx.recv().await.map(|m| m.event),
        Some(SourceEvent::Operators(_))
    ));
    drop(rx);
    tokio::time::timeout(Duration::from_secs(1), worker)
        .await
        .expect("the loop ends without waiting its interval")
        .unwrap();
}
