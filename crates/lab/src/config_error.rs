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
    /// An error about the text at byte offsets `span` of `text`. The reason often quotes the
    /// file's text, so it is made one safe line here, for every caller.
    pub fn at(file: &str, text: &str, span: Range<usize>, reason: impl Into<String>) -> Self {
        let (line, column) = protocol::source_text::line_column(text, span.start);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            reason: one_line(&reason.into()),
        }
    }
}

/// Parses TOML, turning syntax and type errors into [`ConfigError`]s.
pub fn parse_toml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        // The message may span lines; the location is carried separately.
        ConfigError::at(file, text, span, err.message())
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

    /// Found by fuzz/ (scenario, topology): toml's messages quote the file's text, so an
    /// unknown value holding a tab or an escape sequence reached the terminal as it was.
    #[test]
    fn errors_quoting_the_file_carry_no_control_characters() {
        // Only ever deserialized: a value the file must name exactly.
        #[allow(dead_code)]
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        enum Kind {
            RateLimitStorm,
        }
        type File = std::collections::BTreeMap<String, Kind>;
        let err = parse_toml::<File>("x.toml", "kind = \"rat\te-\\u001b[2Jlimit\"\n").unwrap_err();
        assert!(!err.reason.contains(['\t', '\u{1b}']), "{:?}", err.reason);
        assert!(err.reason.contains("`rat e-limit`"), "{:?}", err.reason);
        let err = ConfigError::at("x.toml", "a", 0..1, "bad\u{202e}\tvalue");
        assert_eq!(err.reason, "bad value");
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
