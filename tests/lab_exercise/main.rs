//! A lab playing a tabletop exercise, over real HTTP on 127.0.0.1: the drill waits at T0,
//! only the facilitator steers it, pausing freezes the simulation, controls are idempotent
//! and end once, the new injects do what they say, every change is an event of the stream,
//! a scripted provider-outage drill through the console's own client is scored and its
//! recording gives the same report, and two players and a facilitator play at once.
//! Every answer is checked against `docs/openapi.yaml`.

mod approvals;
mod controls;
mod drill;
mod injects;
#[path = "../lab_support/mod.rs"]
mod lab_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::{LabOptions, LabServer};
use protocol::FleetSnapshot;
use protocol::commands::IDEMPOTENCY_KEY;
use protocol::exercise::{ExerciseState, InjectState};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tempfile::TempDir;

use lab_support::{SPEC, WAIT, client, get_json, send};

/// The players of a shipped scenario that lists none: the facilitator and the topology's
/// operators by role.
const FACILITATOR: &str = "facilitator";
const COMMANDER: &str = "alice";
const OPERATOR: &str = "bob";
const OBSERVER: &str = "victor";

/// A lab playing `scenario` as a drill, recording into a directory of its own.
struct Drill {
    lab: LabServer,
    dir: TempDir,
}

impl Drill {
    async fn start(scenario: &str, speed: f64) -> Drill {
        let dir = tempfile::tempdir().unwrap();
        let options = LabOptions {
            speed,
            exercise: Some(scenario.into()),
            record_dir: Some(dir.path().to_path_buf()),
            ..LabOptions::default()
        };
        let lab = LabServer::start(options, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Drill { lab, dir }
    }

    fn token(&self, who: &str) -> &str {
        self.lab.token_for(who).unwrap()
    }

    fn recording(&self) -> PathBuf {
        self.lab.exercise.as_ref().unwrap().recording.clone()
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn state(&self, who: &str) -> ExerciseState {
        get_json(&self.lab, "/v1/exercise", self.token(who)).await
    }

    async fn fleet(&self) -> FleetSnapshot {
        get_json(&self.lab, "/v1/fleet", self.token(OBSERVER)).await
    }

    /// The simulated seconds the lab has run, as its fleet says.
    async fn sim_elapsed(&self) -> f64 {
        self.fleet().await.lab.unwrap().sim_elapsed_s
    }

    /// Sends `control` as `who` under `key`, as given (refusals are tested with it too).
    async fn post(&self, who: &str, control: Value, key: &str) -> reqwest::Response {
        let body = json!({ "control": control, "reason": "drill" });
        let request = client()
            .post(format!("{}/v1/exercise/control", self.lab.url()))
            .bearer_auth(self.token(who))
            .header(IDEMPOTENCY_KEY, key)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        send(request).await
    }

    /// Sends `control` as `who` with a fresh key, after checking it against the spec; it
    /// must be accepted.
    async fn control(&self, who: &str, control: Value) -> ExerciseState {
        let body = json!({ "control": control, "reason": "drill" });
        SPEC.assert_valid(
            SPEC.request("post", "/v1/exercise/control"),
            &body,
            "the control",
        );
        let response = self.post(who, control.clone(), &fresh_key()).await;
        accepted_state(response, &control).await.0
    }

    /// Waits until `who`'s view of the drill satisfies `done`.
    async fn until(
        &self,
        who: &str,
        what: &str,
        done: impl Fn(&ExerciseState) -> bool,
    ) -> ExerciseState {
        tokio::time::timeout(WAIT, async {
            loop {
                let state = self.state(who).await;
                if done(&state) {
                    return state;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} in time"))
    }

    async fn shutdown(self) {
        self.lab.shutdown().await;
    }
}

/// A 200 answer to a control: the drill it returns, checked against the spec, and its bytes.
async fn accepted_state(response: reqwest::Response, control: &Value) -> (ExerciseState, Vec<u8>) {
    assert_eq!(response.status(), StatusCode::OK, "{control}");
    let bytes = response.bytes().await.unwrap().to_vec();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    SPEC.assert_valid(
        SPEC.response("post", "/v1/exercise/control", 200, "application/json"),
        &body,
        &control.to_string(),
    );
    (serde_json::from_value(body).unwrap(), bytes)
}

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn inject<'a>(state: &'a ExerciseState, id: &str) -> Option<&'a InjectState> {
    state.injects.iter().find(|i| i.id == id)
}
