//! A running lab: [`LabServer`] loads the topology and scenario, serves protocol v1 over
//! HTTP (the routes are in [`crate::http`]) and ticks the simulation until it is shut down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::escalations::EscalationQueue;
use crate::exercise::{self, Exercise};
use crate::http::auth::Credentials;
use crate::http::{self, LabShared, RouterState};
use crate::listener;
use crate::scenario::Scenario;
use crate::sim::{MAX_SPEED, Sim};
use crate::topology::Topology;
use crate::{BuiltinOperator, LabOptions};
use protocol::exercise::record::Player;

/// Real time between ticks of the simulation.
const TICK: Duration = Duration::from_millis(250);
/// How long a backlog waits to be asked for before it is built anyway. Built when first
/// asked for, it is not built while an embedded console draws its first frame (the console
/// asks once it has drawn it), when both would share the machine's few cores.
const BACKLOG_UNASKED: Duration = Duration::from_secs(1);
/// How long shutdown waits for the server and ticker before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What players need to know of the exercise a lab plays.
#[derive(Clone, Debug, PartialEq)]
pub struct ExerciseInfo {
    /// E.g. `ex-20261202-071500-provider-outage`.
    pub run_id: String,
    /// The recording (JSON Lines); the report files go beside it at the end.
    pub recording: PathBuf,
    /// Who plays, in the scenario's order; their tokens are in [`LabServer::operators`].
    pub players: Vec<Player>,
}

/// A running lab: protocol v1 on `addr`, with the simulation ticking.
pub struct LabServer {
    pub addr: SocketAddr,
    pub operators: Vec<BuiltinOperator>,
    /// The scenario's narrative (an exercise's briefing), for whoever runs the drill.
    briefing: Option<String>,
    /// The exercise being played, if any.
    pub exercise: Option<ExerciseInfo>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl LabServer {
    /// Loads the topology and scenario, binds `listen` (port 0 picks a free port), and
    /// spawns the HTTP server and the simulation ticker on the current tokio runtime.
    ///
    /// It answers at once: a synthetic backlog (`opts.escalations`) is built on a blocking
    /// thread once an escalation route first asks for it (at most 1 s after the start,
    /// `BACKLOG_UNASKED`); the escalation routes wait for it and the simulation starts ticking when
    /// it is in, as if the lab had started then. Without a backlog nothing is built
    /// apart: the lab starts as light as it can, beside a console drawing its first frame.
    pub async fn start(opts: LabOptions, listen: SocketAddr) -> anyhow::Result<LabServer> {
        let (seed, backlog) = (opts.seed, opts.escalations);
        LabServer::start_with(opts, listen, move |topology, epoch| {
            EscalationQueue::new(topology, seed, backlog, epoch)
        })
        .await
    }

    /// [`LabServer::start`] with the backlog built by `build_queue` (tests hold it back); not
    /// called without a backlog.
    pub(crate) async fn start_with(
        opts: LabOptions,
        listen: SocketAddr,
        build_queue: impl FnOnce(&Topology, DateTime<Utc>) -> EscalationQueue + Send + 'static,
    ) -> anyhow::Result<LabServer> {
        if !(opts.speed.is_finite() && opts.speed > 0.0 && opts.speed <= MAX_SPEED) {
            bail!(
                "speed must be above 0 and at most {MAX_SPEED}, not {}",
                opts.speed
            );
        }
        if opts.scenario.is_some() && opts.exercise.is_some() {
            bail!("a lab plays a scenario or an exercise, not both");
        }
        let mut topology = match &opts.topology {
            Some(path) => Topology::load(path)?,
            None => Topology::embedded_default(),
        };
        let scenario = match opts.exercise.as_ref().or(opts.scenario.as_ref()) {
            Some(file_or_name) => Some(Scenario::load(file_or_name, &topology)?),
            None => None,
        };
        if let Some(policy) = scenario.as_ref().and_then(|s| s.approvals.clone()) {
            topology.approvals = Some(policy);
        }
        let epoch = DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let exercise = match (&opts.exercise, &scenario) {
            (Some(_), Some(scenario)) => {
                // The players are the lab's operators: their tokens carry their drill roles.
                let players = scenario.players.clone();
                topology.operators = exercise::operators_of(&players, &topology.operators);
                let dir = opts
                    .record_dir
                    .clone()
                    .unwrap_or_else(exercise::default_record_dir);
                let exercise =
                    Exercise::load(scenario, players, opts.seed, opts.speed, epoch, &dir)
                        .with_context(|| {
                            format!("cannot record the exercise in {}", dir.display())
                        })?;
                Some(exercise)
            }
            _ => None,
        };
        let briefing = scenario
            .as_ref()
            .map(|s| s.narrative.clone())
            .filter(|n| !n.is_empty());
        let exercise_info = exercise.as_ref().map(|e| ExerciseInfo {
            run_id: e.header().run_id.clone(),
            recording: e.recording().to_path_buf(),
            players: e.header().players.clone(),
        });
        let credentials = Arc::new(Credentials::new(opts.seed, &topology.operators));
        let (stop, stopped) = watch::channel(false);
        // Without a backlog this is the queue; with one, a stand-in until it is built.
        let queue = EscalationQueue::new(&topology, opts.seed, 0, epoch);
        let backlog = (opts.escalations > 0).then(|| topology.clone());
        let mut lab = LabShared::new(
            Sim::new(topology, scenario, opts.seed, epoch),
            queue,
            opts.speed,
            stopped.clone(),
        );
        if backlog.is_some() {
            lab = lab.with_backlog_building(opts.escalations, opts.limits.backlog_wait);
        }
        if let Some(exercise) = exercise {
            lab = lab.with_exercise(exercise);
        }
        let lab = Arc::new(lab);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let app = http::router(
            RouterState::new(Arc::clone(&lab), Arc::clone(&credentials)),
            opts.limits.body_timeout,
        );
        let server = tokio::spawn(listener::serve(listener, app, opts.limits, stopped.clone()));
        let ticker = match backlog {
            Some(topology) => {
                let build = move || build_queue(&topology, epoch);
                tokio::spawn(fill_queue_then_tick(lab, build, stopped))
            }
            None => tokio::spawn(run_ticker(lab, stopped)),
        };
        Ok(LabServer {
            addr,
            operators: credentials.builtin_operators(),
            briefing,
            exercise: exercise_info,
            stop,
            tasks: vec![server, ticker],
        })
    }

    /// Base URL of the lab, e.g. `http://127.0.0.1:7300` (loopback when listening on all interfaces).
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        format!("http://{addr}")
    }

    pub fn token_for(&self, name: &str) -> Option<&str> {
        self.operators
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.token.as_str())
    }

    /// The narrative of the scenario being played, if any.
    pub fn briefing(&self) -> Option<&str> {
        self.briefing.as_deref()
    }

    /// Stops the ticker and the server, ending open event streams.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Builds the escalation queue on a blocking thread once it is asked for, puts it in, then
/// ticks.
async fn fill_queue_then_tick(
    lab: Arc<LabShared>,
    build: impl FnOnce() -> EscalationQueue + Send + 'static,
    stopped: watch::Receiver<bool>,
) {
    lab.backlog_wanted(BACKLOG_UNASKED).await;
    match tokio::task::spawn_blocking(build).await {
        Ok(queue) => lab.install_backlog(queue),
        Err(error) => {
            tracing::error!(%error, "the lab could not build its escalation backlog");
            lab.backlog_failed();
        }
    }
    run_ticker(lab, stopped).await
}

async fn run_ticker(lab: Arc<LabShared>, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    // After a stall, keep the cadence rather than bursting: simulated time follows ticks.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => lab.tick(TICK),
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
