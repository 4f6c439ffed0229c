//! A replay of a recorded drill (`switchboard replay FILE`): the console shows the recording
//! at the replay's clock, which the keys move (pause, speed, seek, jump to the next inject or
//! action), and changes nothing: every mutating action is refused with [`READ_ONLY`], and any
//! effect that would reach a system is dropped here, whatever asked for it.

use std::time::{Duration, Instant};

use protocol::exercise::{ExercisePhase, clock_label};
use protocol::sanitize::clean;

use super::{App, Effect, FLASH_FOR, Flash, Level, ShareOrder, TimelineEntry};
use crate::domain::fleet::{Connection, SourceData};
use crate::keymap::ReplayControl;
use crate::sources::replay::{ReplayFrame, ReplayMark};

/// What a replay answers every action that would change something.
pub const READ_ONLY: &str = "replay is read-only";
/// The speeds a replay runs at: halved and doubled within these.
pub const SLOWEST: f64 = 0.25;
pub const FASTEST: f64 = 64.0;
/// How far `<` and `>` seek.
pub const SEEK_STEP_S: f64 = 30.0;
/// A jump back from just after a mark goes to the one before it, not to the same one again.
const BACK_PAST_S: f64 = 1.0;

/// What the console needs to know of a recording to play it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayInit {
    pub run_id: String,
    /// The name of the source the replay feeds.
    pub source: String,
    pub end_s: f64,
    pub marks: Vec<ReplayMark>,
    pub speed: f64,
}

/// The replay's clock and what the recording showed at it.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub run_id: String,
    pub source: String,
    /// Exercise seconds since T0 on screen.
    pub clock_s: f64,
    pub end_s: f64,
    /// Exercise seconds per real second.
    pub speed: f64,
    pub playing: bool,
    pub marks: Vec<ReplayMark>,
    /// The recording at the clock as the replay source last reported it.
    pub shown: Option<ShownFrame>,
}

/// The parts of the last [`ReplayFrame`] the screen shows (its notes went to the timeline).
#[derive(Clone, Debug, PartialEq)]
pub struct ShownFrame {
    pub clock_s: f64,
    pub fleet_at_s: Option<f64>,
    pub phase: ExercisePhase,
}

impl Replay {
    /// The clock in words for the bar: `T+03:12 / T+20:00`.
    pub fn position(&self) -> String {
        format!(
            "{} / {}",
            clock_label(self.clock_s),
            clock_label(self.end_s)
        )
    }
}

impl App {
    /// Makes this console a replay: read-only, its one source fed by the replay worker.
    /// Returns the first clock for the worker.
    pub fn start_replay(&mut self, init: ReplayInit) -> Vec<Effect> {
        self.context.read_only = true;
        if let Some(index) = self.source_index(&init.source) {
            self.sources[index] = replay_source(&self.sources[index]);
        }
        self.replay = Some(Replay {
            run_id: init.run_id,
            source: init.source,
            clock_s: 0.0,
            end_s: init.end_s,
            speed: init.speed.clamp(SLOWEST, FASTEST),
            playing: true,
            marks: init.marks,
            shown: None,
        });
        self.dirty = true;
        vec![Effect::ReplayTo { t_s: 0.0 }]
    }

    /// The clock moves with real time at the replay's speed while it plays; it stops at the end.
    pub(super) fn advance_replay(&mut self, now: Instant) -> Vec<Effect> {
        let elapsed = now.saturating_duration_since(self.now);
        let Some(replay) = self.replay.as_mut().filter(|r| r.playing) else {
            return Vec::new();
        };
        replay.clock_s = (replay.clock_s + elapsed.as_secs_f64() * replay.speed).min(replay.end_s);
        if replay.clock_s >= replay.end_s {
            replay.playing = false;
        }
        self.dirty = true;
        vec![Effect::ReplayTo {
            t_s: replay.clock_s,
        }]
    }

    pub(super) fn control_replay(&mut self, control: ReplayControl) -> Vec<Effect> {
        let Some(replay) = self.replay.as_mut() else {
            return Vec::new();
        };
        let clock = replay.clock_s;
        let target = match control {
            ReplayControl::PlayPause => {
                replay.playing = !replay.playing;
                // Play at the end starts again from T0.
                if replay.playing && clock >= replay.end_s {
                    0.0
                } else {
                    return Vec::new();
                }
            }
            ReplayControl::Faster => {
                replay.speed = (replay.speed * 2.0).min(FASTEST);
                return Vec::new();
            }
            ReplayControl::Slower => {
                replay.speed = (replay.speed / 2.0).max(SLOWEST);
                return Vec::new();
            }
            ReplayControl::Back => clock - SEEK_STEP_S,
            ReplayControl::Forward => clock + SEEK_STEP_S,
            ReplayControl::Start => 0.0,
            ReplayControl::End => replay.end_s,
            ReplayControl::NextMark | ReplayControl::PrevMark => {
                let forward = control == ReplayControl::NextMark;
                let mark = if forward {
                    replay.marks.iter().find(|m| m.t_s > clock)
                } else {
                    replay
                        .marks
                        .iter()
                        .rev()
                        .find(|m| m.t_s < clock - BACK_PAST_S)
                };
                let Some(mark) = mark.cloned() else {
                    let way = if forward { "after" } else { "before" };
                    self.announce(format!("no inject or action {way} {}", clock_label(clock)));
                    return Vec::new();
                };
                self.announce(format!("{} {}", clock_label(mark.t_s), clean(&mark.what)));
                mark.t_s
            }
        };
        self.seek_replay(target)
    }

    /// Says where a jump landed in the hint line; moving about a recording is not news for
    /// the timeline.
    fn announce(&mut self, text: String) {
        self.flash = Some(Flash {
            level: Level::Info,
            text,
            until: self.now + FLASH_FOR,
        });
    }

    fn seek_replay(&mut self, t_s: f64) -> Vec<Effect> {
        let Some(replay) = self.replay.as_mut() else {
            return Vec::new();
        };
        replay.clock_s = t_s.clamp(0.0, replay.end_s);
        if replay.clock_s >= replay.end_s {
            replay.playing = false;
        }
        vec![Effect::ReplayTo {
            t_s: replay.clock_s,
        }]
    }

    /// The replay source went back to T0: what it showed after the new clock goes.
    pub(super) fn replay_rewound(&mut self, index: usize) {
        let name = self.sources[index].name.clone();
        self.sources[index] = replay_source(&self.sources[index]);
        self.audit.retain(|a| a.source != name);
        self.timeline.retain(|e| e.source != name);
        self.refresh_visible();
    }

    pub(super) fn replayed(&mut self, source: &str, frame: ReplayFrame) {
        for note in frame.notes {
            self.push_timeline(TimelineEntry {
                at: note.at,
                source: source.to_string(),
                level: if note.urgent {
                    Level::Warning
                } else {
                    Level::Info
                },
                text: clean(&note.text).into_owned(),
                alert: None,
            });
        }
        if let Some(replay) = self.replay.as_mut() {
            replay.shown = Some(ShownFrame {
                clock_s: frame.clock_s,
                fleet_at_s: frame.fleet_at_s,
                phase: frame.drill.phase,
            });
        }
        self.exercise_replayed(source, *frame.drill, frame.report);
    }

    /// A replay reaches no system: it keeps the effects that stay in the console and drops
    /// the rest, saying so when one would have changed something.
    pub(super) fn keep_in_replay(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        if self.replay.is_none() {
            return effects;
        }
        let mut refused = false;
        let kept = (effects.into_iter())
            .filter(|effect| match effect {
                Effect::Quit | Effect::LoadTheme(_) | Effect::ReplayTo { .. } => true,
                // Reads of a source that is a file, and bells for what happened long ago.
                Effect::ShareRun(ShareOrder::List { .. })
                | Effect::FetchAudit { .. }
                | Effect::FetchEscalations { .. }
                | Effect::FetchEscalation { .. }
                | Effect::FetchExerciseReport { .. }
                | Effect::Notify { .. } => false,
                Effect::SendCommand(_)
                | Effect::Claim { .. }
                | Effect::Release { .. }
                | Effect::Resolve(_)
                | Effect::Silence(_)
                | Effect::RecordRun(_)
                | Effect::ControlExercise(_)
                | Effect::Decide(_)
                | Effect::ShareRun(_) => {
                    refused = true;
                    false
                }
            })
            .collect();
        if refused {
            self.flash(Level::Warning, READ_ONLY.to_string());
        }
        kept
    }
}

/// The replay's source as it starts: fed, never stale by the wall's clock (a paused replay
/// is not old data; the bar says how old the fleet sample is on the exercise clock).
fn replay_source(source: &SourceData) -> SourceData {
    SourceData {
        connection: Connection::Live,
        stale_after: Duration::MAX,
        ..SourceData::new(&source.name, &source.url)
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
