//! A fleet command in words, for people (silent with `--json`): the preflight before it asks
//! or sends (one line per region, replica and provider whose load moves, then the takeover,
//! lost paths, warnings and errors), a followed operation's progress, and the conclusion.

use std::io::Write;

use super::Report;
use crate::domain::command::Command;
use crate::domain::preflight::{Preflight, Verdict};
use protocol::FleetSnapshot;
use protocol::approvals::ApprovalRequest;
use protocol::commands::Operation;
use protocol::sanitize::clean;

/// Text output; silent in JSON mode.
pub(super) struct Human<'o, W: Write> {
    pub(super) out: &'o mut W,
    pub(super) quiet: bool,
}

impl<W: Write> Human<'_, W> {
    pub(super) fn preflight(
        &mut self,
        check: &Preflight,
        command: &Command,
        snapshot: &FleetSnapshot,
    ) -> std::io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        write_preflight(self.out, check, command, snapshot)
    }

    pub(super) fn progress(&mut self, operation: &Operation) {
        if self.quiet {
            return;
        }
        // Progress is a courtesy: a broken pipe shows up at the conclusion.
        let _ = writeln!(
            self.out,
            "  operation {} {}: {} {} — {}",
            clean(&operation.id),
            clean(&operation.target),
            operation.state.word(),
            percent(operation.progress),
            clean(&operation.message)
        );
    }

    /// Says that the run now waits for another operator's decision on `request`.
    pub(super) fn waiting(&mut self, request: &ApprovalRequest) {
        if self.quiet {
            return;
        }
        // A courtesy, like progress: a broken pipe shows up at the conclusion.
        let _ = writeln!(
            self.out,
            "pending approval {}: {}; waiting for another operator (Ctrl-C stops waiting, the request stays)",
            clean(&request.id),
            clean(&request.why_approval)
        );
    }

    pub(super) fn conclusion(&mut self, report: &Report) -> std::io::Result<()> {
        let out = &mut self.out;
        match report.outcome {
            "accepted" | "succeeded" => {
                write!(out, "{}", report.outcome)?;
                if let Some(id) = report.audit_id {
                    write!(out, ": audit #{id}")?;
                }
                if let Some(revision) = report.control_revision {
                    write!(
                        out,
                        ", {} now at control revision {revision}",
                        clean(&report.target)
                    )?;
                }
                writeln!(out)?;
                if let Some(message) = &report.message {
                    writeln!(out, "  {}", clean(message))?;
                }
                if let Some(operation) = &report.operation {
                    writeln!(
                        out,
                        "  operation {}: {} {} — {}",
                        clean(&operation.id),
                        operation.state.word(),
                        percent(operation.progress),
                        clean(&operation.message)
                    )?;
                }
            }
            // Its message starts with the words, and the id to ask about.
            "pending" => writeln!(out, "{}", clean(report.message.as_deref().unwrap_or("")))?,
            other => writeln!(
                out,
                "{other}: {}",
                clean(report.message.as_deref().unwrap_or(""))
            )?,
        }
        for warning in &report.warnings {
            writeln!(out, "  warning   {}", clean(warning))?;
        }
        if let Some(key) = &report.idempotency_key {
            writeln!(
                out,
                "  idempotency key {key}, {} attempt(s)",
                report.attempts
            )?;
        }
        Ok(())
    }
}

/// Writes the preflight of `command`, with the revisions it was computed at.
fn write_preflight(
    out: &mut impl Write,
    check: &Preflight,
    command: &Command,
    snapshot: &FleetSnapshot,
) -> std::io::Result<()> {
    writeln!(out, "{}", clean(&check.summary))?;
    if let Some(revision) = command.control_revision(snapshot) {
        writeln!(
            out,
            "  {} at control revision {revision}, fleet revision {}",
            clean(&command.target_label()),
            snapshot.revision
        )?;
    }
    for r in &check.regions {
        writeln!(
            out,
            "  region    {:<14} share {:>4} -> {:>4}  {}",
            clean(&r.region),
            percent(r.share_before),
            percent(r.share_after),
            load_shift(
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.headroom_after,
                r.verdict
            ),
        )?;
    }
    for r in &check.replicas {
        writeln!(
            out,
            "  replica   {:<28} {}",
            clean(&r.replica),
            load_shift(
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.headroom_after,
                r.verdict
            ),
        )?;
    }
    for p in &check.providers {
        let limit = match (p.rate_limit_rps, p.headroom_after, p.verdict) {
            (Some(limit), Some(headroom), Some(v)) => {
                format!("  rate limit {limit:.0}, headroom {}", verdict(headroom, v))
            }
            _ => "  rate limit unknown (idle)".to_string(),
        };
        writeln!(
            out,
            "  provider  {:<22} load {:>5.0} -> {:>5.0} rps ({:+.0}){limit}",
            clean(&p.provider),
            p.load_before_rps,
            p.load_after_rps,
            p.load_after_rps - p.load_before_rps,
        )?;
    }
    if let Some(t) = &check.takeover {
        writeln!(
            out,
            "  takeover  {} ({}, {}): {}, lag {:.1}s, expect about {:.0}s",
            clean(&t.replica),
            t.role.word(),
            clean(&t.region),
            if t.ready { "ready" } else { "not ready" },
            t.replication_lag_s,
            t.expected_takeover_s
        )?;
    }
    for line in check.readiness.iter().flat_map(|r| r.describe()) {
        writeln!(out, "  standby   {}", clean(&line))?;
    }
    for n in &check.no_path {
        let at = n
            .region
            .as_deref()
            .map(|r| format!(" at {}", clean(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "  NO PATH   {}{at}: {}",
            clean(&n.service),
            clean(&n.why)
        )?;
    }
    for w in &check.warnings {
        writeln!(out, "  warning   {}", clean(w))?;
    }
    for line in crate::format::cost_effect_lines(check) {
        writeln!(out, "  {line}")?;
    }
    for e in &check.errors {
        writeln!(out, "  error     {}", clean(e))?;
    }
    Ok(())
}

/// A share (0..1) as a whole percentage.
fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// `load   204 ->     0 rps (-204)  of 260  headroom 100%`: one way for regions and replicas.
fn load_shift(before: f64, after: f64, capacity: f64, headroom: f64, v: Verdict) -> String {
    format!(
        "load {before:>5.0} -> {after:>5.0} rps ({:+.0})  of {capacity:.0}  headroom {}",
        after - before,
        verdict(headroom, v)
    )
}

fn verdict(headroom: f64, verdict: Verdict) -> String {
    match verdict {
        Verdict::Ok => percent(headroom),
        Verdict::Low => format!("{} LOW", percent(headroom)),
        Verdict::Overload => format!("{} OVERLOAD", percent(headroom)),
    }
}
