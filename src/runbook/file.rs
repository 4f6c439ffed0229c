//! The runbook file: TOML front matter between `+++` lines, then Markdown whose `##` sections
//! (or, without any, the items of its numbered lists) are the steps. A fenced block gives its
//! step a kind:
//!
//! ````markdown
//! ```check
//! breaker(openai@us-east) == open
//! ```
//! ```action
//! breaker openai@us-east open 30m
//! ```
//! ```gate
//! until: share(openai@us-east) < 5%
//! timeout: 5m
//! on_timeout: step 2
//! ```
//! ```decision
//! Traffic moved -> 5
//! Still failing -> end
//! ```
//! ````
//!
//! Front matter in TOML rather than YAML: `toml` is already a dependency, reports spans, and
//! has no implicit typing (`version: 1.10` or `owner: no` are not silently a float or false).

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::Deserialize;

use super::expr::{self, Expr};
use super::{LineIndex, Position, byte_offset};
use crate::domain::command::{self, Command};
use protocol::command::Verb;
use protocol::duration::parse_duration_s;

/// What the front matter says about the runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: String,
    pub title: String,
    pub version: u32,
    pub owner: String,
    pub last_reviewed: toml::value::Datetime,
    #[serde(default)]
    pub applies_when: AppliesWhen,
}

/// When the console suggests the runbook; every list empty means "any".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesWhen {
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub providers: Vec<String>,
    #[serde(default)]
    pub scenarios: Vec<String>,
    pub condition: Option<toml::Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Runbook {
    pub front: FrontMatter,
    /// `applies_when.condition`, parsed.
    pub applies: Option<Expr>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub title: String,
    pub at: Position,
    /// The step's text, blocks left out.
    pub prose: String,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug)]
pub enum Block {
    Check(Expr),
    /// The line as written (pre-filled into the confirmation) and the command it parses to.
    Action {
        line: String,
        command: Command,
    },
    Gate(Gate),
    Decision(Vec<Choice>),
}

#[derive(Clone, Debug)]
pub struct Gate {
    pub until: Expr,
    pub timeout_s: u64,
    pub on_timeout: Jump,
}

#[derive(Clone, Debug)]
pub struct Choice {
    pub label: String,
    pub jump: Jump,
}

/// Where a decision or an expired gate leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jump {
    /// A step by its number, from 1.
    Step(usize),
    /// On to the next step.
    Continue,
    /// The run ends here.
    End,
}

/// A lint finding: file, line, column and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub at: Position,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.at, self.message)
    }
}

const FENCE: &str = "+++";

/// Parses and lints a runbook; `file` names it in the problems. Every problem is reported,
/// not only the first.
pub fn parse(file: &str, text: &str) -> Result<Runbook, Vec<Problem>> {
    let mut lint = Lint {
        file,
        lines: LineIndex::new(text),
        problems: Vec::new(),
    };
    let Some((front_range, body_start)) = front_matter(text) else {
        lint.at(
            0,
            format!("a runbook starts with TOML front matter between `{FENCE}` lines"),
        );
        return Err(lint.problems);
    };
    let front = match toml::from_str::<FrontMatter>(&text[front_range.clone()]) {
        Ok(front) => Some(front),
        Err(error) => {
            let offset = front_range.start + error.span().map_or(0, |span| span.start);
            lint.at(offset, format!("front matter: {}", error.message()));
            None
        }
    };
    let applies = front.as_ref().and_then(|front| {
        let condition = front.applies_when.condition.as_ref()?;
        // The span covers the quotes; the condition starts one past the opening one.
        let start = front_range.start + condition.span().start + 1;
        lint.condition(condition.get_ref(), 0, &[(0, start)])
    });
    if let Some(front) = &front
        && front.last_reviewed.date.is_none()
    {
        lint.at(
            front_range.start,
            "front matter: last_reviewed must be a date, e.g. 2026-11-20".into(),
        );
    }
    let steps = lint.steps(&text[body_start..], body_start);
    if steps.is_empty() {
        lint.at(
            body_start,
            "no steps: write `## ` sections or a numbered list".into(),
        );
    }
    lint.jumps(&steps);
    match front {
        Some(front) if lint.problems.is_empty() => Ok(Runbook {
            front,
            applies,
            steps,
        }),
        _ => Err(lint.problems),
    }
}

/// The front matter's byte range and where the Markdown starts.
fn front_matter(text: &str) -> Option<(Range<usize>, usize)> {
    let first = text.strip_prefix(FENCE)?;
    let open = FENCE.len() + first.find('\n')? + 1;
    if !text[FENCE.len()..open].trim().is_empty() {
        return None;
    }
    let mut at = open;
    for line in text[open..].split_inclusive('\n') {
        if line.trim_end() == FENCE {
            return Some((open..at, at + line.len()));
        }
        at += line.len();
    }
    None
}

/// A block's text and, per piece the Markdown parser gave, (offset in the text, offset in the
/// file): indentation inside a list item is not part of the text, so pieces map separately.
struct BlockText {
    text: String,
    pieces: Vec<(usize, usize)>,
    info: String,
    start: usize,
}

fn file_offset(pieces: &[(usize, usize)], in_text: usize) -> usize {
    let index = pieces
        .partition_point(|(at, _)| *at <= in_text)
        .saturating_sub(1);
    pieces
        .get(index)
        .map_or(0, |(at, file)| file + (in_text - at))
}

struct Lint<'a> {
    file: &'a str,
    lines: LineIndex<'a>,
    problems: Vec<Problem>,
}

impl Lint<'_> {
    fn at(&mut self, offset: usize, message: String) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            at: self.lines.position(offset),
            message,
        });
    }

    /// Parses a condition found at byte `from` of a block mapped by `pieces`.
    fn condition(&mut self, text: &str, from: usize, pieces: &[(usize, usize)]) -> Option<Expr> {
        match expr::parse(text, Position::START) {
            Ok(expr) => Some(expr),
            Err(error) => {
                let offset = file_offset(pieces, from + byte_offset(text, error.at));
                self.at(offset, error.message);
                None
            }
        }
    }

    fn steps(&mut self, body: &str, body_start: usize) -> Vec<Step> {
        let events: Vec<_> = Parser::new(body).into_offset_iter().collect();
        let by_sections = events.iter().any(|(event, _)| {
            matches!(
                event,
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                })
            )
        });
        let mut steps: Vec<Step> = Vec::new();
        let mut title: Option<String> = None;
        let mut block: Option<BlockText> = None;
        let mut list_depth = 0usize;
        let mut numbered = false;
        for (event, range) in events {
            let file_at = body_start + range.start;
            match event {
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                }) if by_sections => {
                    title = Some(String::new());
                    steps.push(step(self.lines.position(file_at)));
                }
                Event::End(TagEnd::Heading(HeadingLevel::H2)) if by_sections => {
                    if let (Some(step), Some(done)) = (steps.last_mut(), title.take()) {
                        step.title = numbered_title(&done);
                    }
                }
                Event::Start(Tag::List(first_number)) => {
                    list_depth += 1;
                    if list_depth == 1 {
                        numbered = first_number.is_some();
                    }
                }
                Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
                Event::Start(Tag::Item) if !by_sections && numbered && list_depth == 1 => {
                    title = Some(String::new());
                    steps.push(step(self.lines.position(file_at)));
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    if let (Some(step), Some(done)) = (steps.last_mut(), title.take()) {
                        step.title = done;
                    }
                    let info = match kind {
                        CodeBlockKind::Fenced(info) => {
                            info.split_whitespace().next().unwrap_or("").to_string()
                        }
                        CodeBlockKind::Indented => String::new(),
                    };
                    block = Some(BlockText {
                        text: String::new(),
                        pieces: Vec::new(),
                        info,
                        start: file_at,
                    });
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some(done) = block.take() {
                        self.block(done, steps.last_mut());
                    }
                }
                Event::Text(text) | Event::Code(text) => {
                    if let Some(open) = block.as_mut() {
                        open.pieces.push((open.text.len(), file_at));
                        open.text.push_str(&text);
                    } else if let Some(open) = title.as_mut() {
                        open.push_str(&text);
                    } else if let Some(step) = steps.last_mut() {
                        step.prose.push_str(&text);
                    }
                }
                Event::SoftBreak
                | Event::HardBreak
                | Event::End(TagEnd::Paragraph | TagEnd::Item) => {
                    // An item's first line is its title; what follows is prose.
                    if let (Some(step), Some(done)) = (steps.last_mut(), title.take()) {
                        step.title = done;
                    } else if let Some(step) = steps.last_mut() {
                        step.prose.push('\n');
                    }
                }
                _ => {}
            }
        }
        steps
    }

    fn block(&mut self, block: BlockText, step: Option<&mut Step>) {
        let kind = block.info.as_str();
        if !matches!(kind, "check" | "action" | "gate" | "decision") {
            // Any other fenced block (a shell snippet, a log excerpt) is prose.
            return;
        }
        let Some(step) = step else {
            self.at(
                block.start,
                format!("a `{kind}` block must be inside a step"),
            );
            return;
        };
        let pieces = &block.pieces;
        let parsed = match kind {
            "check" => self.condition(&block.text, 0, pieces).map(Block::Check),
            "action" => self.action(&block.text, pieces),
            "gate" => self.gate(&block.text, pieces),
            _ => self.decision(&block.text, pieces),
        };
        step.blocks.extend(parsed);
    }

    fn action(&mut self, text: &str, pieces: &[(usize, usize)]) -> Option<Block> {
        let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let [line] = lines[..] else {
            self.at(
                file_offset(pieces, 0),
                "an `action` block holds one command line".into(),
            );
            return None;
        };
        let line_at = file_offset(pieces, line.as_ptr() as usize - text.as_ptr() as usize);
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(verb) = Verb::ALL.iter().find(|v| Some(&v.word()) == words.first()) else {
            let known: Vec<_> = Verb::ALL.iter().map(|v| v.word()).collect();
            self.at(
                line_at,
                format!(
                    "unknown command `{}`; commands: {}",
                    words[0],
                    known.join(", ")
                ),
            );
            return None;
        };
        match command::parse(*verb, &words[1..], None) {
            Ok(command) => Some(Block::Action {
                line: words.join(" "),
                command,
            }),
            Err(why) => {
                self.at(line_at, why);
                None
            }
        }
    }

    fn gate(&mut self, text: &str, pieces: &[(usize, usize)]) -> Option<Block> {
        let (mut until, mut timeout_s, mut on_timeout) = (None, None, Some(Jump::End));
        let (mut saw_until, mut saw_timeout) = (false, false);
        for line in key_lines(text) {
            let value_at = file_offset(pieces, line.value_from);
            match line.key {
                "until" => {
                    saw_until = true;
                    until = self.condition(line.value, line.value_from, pieces);
                }
                "timeout" => {
                    saw_timeout = true;
                    match parse_duration_s(line.value) {
                        Ok(s) => timeout_s = Some(s),
                        Err(why) => self.at(value_at, why),
                    }
                }
                "on_timeout" => {
                    on_timeout = jump(line.value);
                    if on_timeout.is_none() {
                        let why = format!(
                            "on_timeout takes `step N`, `continue` or `end`, not `{}`",
                            line.value
                        );
                        self.at(value_at, why);
                    }
                }
                other => {
                    let why = format!(
                        "a gate line is `until:`, `timeout:` or `on_timeout:`, not `{other}`"
                    );
                    self.at(file_offset(pieces, line.line_from), why);
                }
            }
        }
        let start = file_offset(pieces, 0);
        if !saw_until {
            self.at(start, "a gate needs `until: <condition>`".into());
        }
        if !saw_timeout {
            self.at(
                start,
                "a gate needs `timeout: <duration>`, e.g. `timeout: 5m`".into(),
            );
        }
        Some(Block::Gate(Gate {
            until: until?,
            timeout_s: timeout_s?,
            on_timeout: on_timeout?,
        }))
    }

    fn decision(&mut self, text: &str, pieces: &[(usize, usize)]) -> Option<Block> {
        let mut choices = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let line_at = file_offset(pieces, offset);
            offset += line.len();
            if line.trim().is_empty() {
                continue;
            }
            match line
                .rsplit_once("->")
                .map(|(l, t)| (l.trim(), jump(t.trim())))
            {
                Some((label, Some(jump))) if !label.is_empty() => choices.push(Choice {
                    label: label.to_string(),
                    jump,
                }),
                _ => self.at(
                    line_at,
                    "a choice is `label -> step N`, `label -> continue` or `label -> end`".into(),
                ),
            }
        }
        if choices.is_empty() {
            self.at(
                file_offset(pieces, 0),
                "a decision needs at least one choice".into(),
            );
            return None;
        }
        Some(Block::Decision(choices))
    }

    /// Every `step N` names a step that exists.
    fn jumps(&mut self, steps: &[Step]) {
        for step in steps {
            for block in &step.blocks {
                let targets: Vec<Jump> = match block {
                    Block::Gate(gate) => vec![gate.on_timeout],
                    Block::Decision(choices) => choices.iter().map(|c| c.jump).collect(),
                    _ => continue,
                };
                for target in targets {
                    if let Jump::Step(n) = target
                        && !(1..=steps.len()).contains(&n)
                    {
                        let message = format!(
                            "`{}` jumps to step {n}; the runbook has {} steps",
                            step.title,
                            steps.len()
                        );
                        self.problems.push(Problem {
                            file: self.file.to_string(),
                            at: step.at,
                            message,
                        });
                    }
                }
            }
        }
    }
}

fn step(at: Position) -> Step {
    Step {
        title: String::new(),
        at,
        prose: String::new(),
        blocks: Vec::new(),
    }
}

/// `1. Confirm the outage` -> `Confirm the outage`: the number is the step's place.
fn numbered_title(heading: &str) -> String {
    let rest = heading.trim_start_matches(|c: char| c.is_ascii_digit());
    match rest.strip_prefix('.') {
        Some(title) if rest.len() < heading.len() => title.trim().to_string(),
        _ => heading.trim().to_string(),
    }
}

/// `step 4` | `continue` | `end`.
fn jump(text: &str) -> Option<Jump> {
    match text {
        "continue" => Some(Jump::Continue),
        "end" => Some(Jump::End),
        _ => text
            .strip_prefix("step ")?
            .trim()
            .parse()
            .ok()
            .map(Jump::Step),
    }
}

/// A non-empty line of a gate: `key: value`, or the whole line as the key without a colon.
struct KeyLine<'a> {
    key: &'a str,
    value: &'a str,
    line_from: usize,
    value_from: usize,
}

fn key_lines(text: &str) -> Vec<KeyLine<'_>> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let (key, value, value_from) = match line.split_once(':') {
            Some((key, value)) => {
                let skipped = value.len() - value.trim_start().len();
                (key.trim(), value.trim(), offset + key.len() + 1 + skipped)
            }
            None => (line.trim(), "", offset + line.len()),
        };
        if !key.is_empty() {
            found.push(KeyLine {
                key,
                value,
                line_from: offset + indent,
                value_from,
            });
        }
        offset += line.len();
    }
    found
}
