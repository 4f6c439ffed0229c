//! Runbooks that act: Markdown files whose steps are checks over the live fleet, console
//! actions, health gates and decisions (DESIGN.md section 2, issue 12).
//!
//! This module is pure but for [`catalog`], which reads the runbook files: it parses and lints
//! runbook files ([`mod@file`]), parses conditions
//! ([`expr`]) and evaluates them against the fleet as the console knows it ([`eval`]); [`run`]
//! follows one: the current step and the record of each step's outcome.

pub mod catalog;
pub mod eval;
pub mod expr;
pub mod file;
pub mod run;

#[cfg(test)]
mod tests;

use std::fmt;

/// A place in a text: 1-based line and column, the column counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub const START: Position = Position { line: 1, column: 1 };

    /// The position just past `c`.
    fn after(self, c: char) -> Position {
        if c == '\n' {
            Position {
                line: self.line + 1,
                column: 1,
            }
        } else {
            Position {
                column: self.column + 1,
                ..self
            }
        }
    }

    /// Where `relative` (a position inside a text that starts at `self`) is in the whole file.
    fn advanced_by(self, relative: Position) -> Position {
        if relative.line == 1 {
            Position {
                line: self.line,
                column: self.column + relative.column - 1,
            }
        } else {
            Position {
                line: self.line + relative.line - 1,
                column: relative.column,
            }
        }
    }
}

/// Byte offsets of a file to line:column.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|start| *start <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Position { line, column }
    }
}

/// Where `relative` (a position in `text`) is, as a byte offset into `text`.
fn byte_offset(text: &str, relative: Position) -> usize {
    let mut at = Position::START;
    for (offset, c) in text.char_indices() {
        if at >= relative {
            return offset;
        }
        at = at.after(c);
    }
    text.len()
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
