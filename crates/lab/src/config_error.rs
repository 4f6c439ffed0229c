//! Errors in topology and scenario files, located by file, line and column.

use std::ops::Range;

use serde::de::DeserializeOwned;

use protocol::sanitize;

/// A topology or scenario file that cannot be used, and where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl ConfigError {
    /// An error about the text at byte offsets `span` of `text`.
    pub fn at(file: &str, text: &str, span: Range<usize>, reason: impl Into<String>) -> Self {
        let (line, column) = protocol::source_text::line_column(text, span.start);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

/// Parses TOML, turning syntax and type errors into [`ConfigError`]s.
pub fn parse_toml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        // The message may span lines; the location is carried separately.
        let reason = err.message().trim().replace('\n', " ");
        ConfigError::at(file, text, span, reason)
    })
}

/// Text from a file, fit for one line of a terminal: escape sequences and control
/// characters removed, whitespace (newlines included) collapsed.
pub fn one_line(text: &str) -> String {
    sanitize::clean(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text from a file that keeps its lines, without escape sequences or control characters.
pub fn printable_lines(text: &str) -> String {
    sanitize::clean_multiline(text)
        .trim()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse_toml::<toml::Table>("x.toml", "# comment\nname = \n").unwrap_err();
        assert_eq!(err.file, "x.toml");
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("x.toml:2:"), "{err}");
    }

    #[test]
    fn untrusted_text_loses_control_characters() {
        assert_eq!(one_line("  a\n b\x1b[31m\tc "), "a b c");
        assert_eq!(
            printable_lines("\n first\x07 line \r\nsecond\x1b[2J\n"),
            "first line\nsecond"
        );
    }
}
