//! The console's configuration file parser (`config::parse_file`) on arbitrary text.
//!
//! Properties: it never panics; every problem carries a line and a column inside the file
//! (1-based, columns in characters) and a reason safe to print on one line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use switchboard::config::parse_file;
use switchboard_fuzz::is_forbidden;

fuzz_target!(|text: &str| {
    let Err(problems) = parse_file(Path::new("config.toml"), text) else {
        return;
    };
    assert!(!problems.is_empty(), "an error without a problem");
    let lines = text.split('\n').collect::<Vec<_>>();
    for problem in problems {
        let (Some(line), Some(column)) = (problem.line, problem.column) else {
            panic!("a problem without line:column: {problem:?}");
        };
        assert!(
            line >= 1 && line <= lines.len(),
            "line {line} outside the file: {problem:?}"
        );
        let width = lines[line - 1].chars().count();
        assert!(
            column >= 1 && column <= width + 1,
            "column {column} outside line {line}: {problem:?}"
        );
        assert!(
            !problem.reason.chars().any(|c| is_forbidden(c)),
            "unsafe reason: {problem:?}"
        );
    }
});
