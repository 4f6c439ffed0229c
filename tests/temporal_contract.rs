//! The Temporal contract exists three times: in docs/temporal.md (what users read), in the
//! reference module assets/temporal/switchboard_escalation.py (what they copy) and in
//! protocol v1 (what the console speaks). These tests hold the three to the same words.

use std::collections::BTreeMap;

use protocol::escalations::{
    self, AttemptErrorKind, EscalationReason, EscalationState, Priority, ResolutionKind,
};
use regex::Regex;
use serde::de::DeserializeOwned;

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn doc() -> String {
    read("docs/temporal.md")
}

fn module() -> String {
    read("assets/temporal/switchboard_escalation.py")
}

/// `NAME: str = "value"` fields of the module's `Names` dataclass.
fn python_names() -> BTreeMap<String, String> {
    let module = module();
    let body = module
        .split("class Names:")
        .nth(1)
        .expect("the module defines Names")
        .split("\n\n\n")
        .next()
        .unwrap();
    let field = Regex::new(r#"(?m)^    ([a-z_]+): str = "([^"]+)""#).unwrap();
    field
        .captures_iter(body)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

/// The words of a Python tuple constant, e.g. `PRIORITIES = ("p1", "p2")`.
fn python_words(constant: &str) -> Vec<String> {
    let pattern = Regex::new(&format!(r#"(?m)^{constant} = \(([^)]*)\)"#)).unwrap();
    let module = module();
    let tuple = pattern
        .captures(&module)
        .unwrap_or_else(|| panic!("the module defines {constant}"));
    Regex::new(r#""([^"]+)""#)
        .unwrap()
        .captures_iter(&tuple[1])
        .map(|c| c[1].to_string())
        .collect()
}

fn python_int(constant: &str) -> u64 {
    let pattern = Regex::new(&format!(r"(?m)^{constant} = ([0-9 *]+)$")).unwrap();
    let module = module();
    let value = &pattern
        .captures(&module)
        .unwrap_or_else(|| panic!("the module defines {constant}"))[1];
    value
        .split('*')
        .map(|factor| factor.trim().parse::<u64>().unwrap())
        .product()
}

fn parses_as<T: DeserializeOwned>(word: &str) -> bool {
    serde_json::from_value::<T>(serde_json::Value::String(word.to_string())).is_ok()
}

#[test]
fn every_default_name_of_the_module_is_documented() {
    let names = python_names();
    assert_eq!(
        names.len(),
        11,
        "search attributes, memo, Query, Updates: {names:?}"
    );
    let doc = doc();
    for (field, name) in &names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/temporal.md does not name {field} = {name}"
        );
    }
}

#[test]
fn the_modules_words_are_protocol_v1s() {
    let priorities: Vec<String> = Priority::ALL.iter().map(|p| p.word().into()).collect();
    assert_eq!(python_words("PRIORITIES"), priorities);
    let reasons: Vec<String> = EscalationReason::ALL
        .iter()
        .map(|r| r.word().into())
        .collect();
    assert_eq!(python_words("REASONS"), reasons);
    let kinds = python_words("RESOLUTION_KINDS");
    assert_eq!(kinds.len(), 6, "protocol v1 has six resolution kinds");
    assert!(
        kinds.iter().all(|k| parses_as::<ResolutionKind>(k)),
        "{kinds:?}"
    );
    assert_eq!(python_int("DEFAULT_LEASE_S"), escalations::DEFAULT_LEASE_S);
    assert_eq!(python_int("MIN_LEASE_S"), escalations::MIN_LEASE_S);
    assert_eq!(python_int("MAX_LEASE_S"), escalations::MAX_LEASE_S);
    assert_eq!(
        python_int("MAX_NOTE_BYTES"),
        escalations::MAX_NOTE_BYTES as u64
    );
    assert_eq!(
        python_int("MAX_OUTPUT_BYTES"),
        escalations::MAX_OUTPUT_BYTES as u64
    );
}

#[test]
fn the_doc_lists_every_state_kind_and_error_kind() {
    let doc = doc();
    for state in EscalationState::ALL {
        assert!(doc.contains(&format!("`{}`", state.word())), "{state:?}");
    }
    for reason in EscalationReason::ALL {
        assert!(doc.contains(&format!("`{}`", reason.word())), "{reason:?}");
    }
    for kind in python_words("RESOLUTION_KINDS") {
        assert!(doc.contains(&format!("| `{kind}` |")), "resolution {kind}");
    }
    let error_kinds = Regex::new(r"`([a-z]+(?:-[a-z]+)*)`")
        .unwrap()
        .captures_iter(doc.split("applicationFailureInfo.type").nth(1).unwrap())
        .map(|c| c[1].to_string())
        .take(5)
        .collect::<Vec<_>>();
    for kind in &error_kinds {
        assert!(parses_as::<AttemptErrorKind>(kind), "error kind {kind}");
    }
    assert_eq!(error_kinds.len(), 5, "{error_kinds:?}");
}

#[test]
fn the_rejection_types_are_documented() {
    let module = module();
    let doc = doc();
    let types = Regex::new(r#"(?m)^[A-Z_]+ = "(Switchboard[A-Za-z]+)""#).unwrap();
    let found: Vec<String> = types
        .captures_iter(&module)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(found.len(), 4, "{found:?}");
    for name in found {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{name} is not documented"
        );
    }
}
