//! The layering rules of ARCHITECTURE.md, checked on the source so that they cannot bend by
//! accident: which top-level modules may use which, no cycles between them, and crates that
//! never reach into the console.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level module -> the top-level modules of the same crate it names (`crate::x`).
type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The code of a file without its comments, so that a doc link is not a dependency.
fn code_of(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file's code: `src/app/update.rs` -> `app::update`, `src/app/mod.rs` ->
/// `app`, and a sibling test file `src/x_tests.rs` -> `x::tests` (it is declared from `x.rs`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut path: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    match path.last().map(String::as_str) {
        Some("mod" | "lib" | "main") => {
            path.pop();
        }
        Some(name) if name.ends_with("_tests") => {
            let tested = name.trim_end_matches("_tests").to_string();
            path.pop();
            path.extend([tested, "tests".to_string()]);
        }
        _ => {}
    }
    path
}

/// The first identifier of `text`.
fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The paths a `use` or path expression continues with after `prefix::`: one path, or one for
/// each item of a `{a, b::c}` group (each cut to its first two segments, all a check needs).
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    let first_two = |text: &str| -> Vec<String> {
        let end = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(text.len());
        text[..end]
            .split("::")
            .take(2)
            .map(|segment| ident(segment.trim()))
            .take_while(|segment| !segment.is_empty())
            .collect()
    };
    match rest.strip_prefix('{') {
        Some(group) => group[..group.find('}').unwrap_or(group.len())]
            .split(',')
            .map(|item| first_two(item.trim()))
            .filter(|path| !path.is_empty())
            .collect(),
        None => vec![first_two(rest)],
    }
}

/// Every absolute module path (from the crate root) that the code of module `here` names
/// through `crate::`, `super::` (any number) or `self::`.
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let joined = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if joined {
                continue;
            }
            let mut rest = &code[at..];
            let base: Vec<String> = match start {
                "crate::" => {
                    rest = &rest["crate::".len()..];
                    Vec::new()
                }
                "self::" => {
                    rest = &rest["self::".len()..];
                    here.to_vec()
                }
                _ => {
                    let mut base = here.to_vec();
                    while let Some(after) = rest.strip_prefix("super::") {
                        base.pop();
                        rest = after;
                    }
                    base
                }
            };
            for tail in paths_after(rest) {
                let mut path = base.clone();
                path.extend(tail);
                found.push(path);
            }
        }
    }
    found
}

/// The graph among the children of module `parent` in the crate whose sources are in `src`:
/// child -> the other children its code (and its descendants' code) names.
fn module_graph(src: &Path, parent: &[String]) -> Graph {
    let mut graph = Graph::new();
    let files: Vec<(Vec<String>, PathBuf)> = rust_files(src)
        .into_iter()
        .map(|file| (module_path(src, &file), file))
        .collect();
    let children: BTreeSet<String> = files
        .iter()
        .filter(|(path, _)| path.len() > parent.len() && path.starts_with(parent))
        .map(|(path, _)| path[parent.len()].clone())
        .collect();
    for (path, file) in &files {
        if path.len() <= parent.len() || !path.starts_with(parent) {
            continue;
        }
        let from = path[parent.len()].clone();
        let uses = graph.entry(from.clone()).or_default();
        for named in named_paths(&code_of(file), path) {
            if named.len() > parent.len() && named.starts_with(parent) {
                let to = &named[parent.len()];
                if *to != from && children.contains(to) {
                    uses.insert(to.clone());
                }
            }
        }
    }
    graph
}

/// Every folder module of the crate in `src` (its module path), the crate root first.
fn folder_modules(src: &Path) -> Vec<Vec<String>> {
    let mut folders: BTreeSet<Vec<String>> = BTreeSet::from([Vec::new()]);
    for file in rust_files(src) {
        let path = module_path(src, &file);
        for len in 1..path.len() {
            folders.insert(path[..len].to_vec());
        }
    }
    folders.into_iter().collect()
}

/// A cycle in `graph` as `a -> b -> a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<String> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle.join(" -> "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn console_graph() -> Graph {
    let mut graph = module_graph(&workspace().join("src"), &[]);
    // Shared test builders may use anything; nothing but tests uses them.
    graph.remove("testing");
    for uses in graph.values_mut() {
        uses.remove("testing");
    }
    graph
}

/// The first cycle among the children of any folder module of the crate in `src`.
fn first_cycle_in_any_folder(src: &Path) -> Option<String> {
    folder_modules(src).into_iter().find_map(|folder| {
        let mut graph = module_graph(src, &folder);
        // Shared test builders may use anything; nothing but tests uses them.
        graph.remove("testing");
        for uses in graph.values_mut() {
            uses.remove("testing");
            uses.remove("tests");
        }
        graph.remove("tests");
        find_cycle(&graph).map(|cycle| format!("in {}: {cycle}", folder.join("::")))
    })
}

#[test]
fn no_console_module_cycles_back_to_itself() {
    assert_eq!(first_cycle_in_any_folder(&workspace().join("src")), None);
}

#[test]
fn each_console_layer_uses_only_what_is_below_it() {
    // Module -> what it must never use (ARCHITECTURE.md, "Rules").
    let forbidden: [(&str, &[&str]); 6] = [
        (
            "domain",
            &[
                "app", "views", "runner", "sources", "cli", "config", "journal", "keymap", "theme",
                "terminal", "format",
            ],
        ),
        ("format", &["app", "views", "runner", "sources", "cli"]),
        ("sources", &["app", "views", "runner", "cli"]),
        ("app", &["views", "runner", "cli", "terminal"]),
        (
            "views",
            &["runner", "sources", "cli", "journal", "terminal"],
        ),
        ("runner", &["cli"]),
    ];
    let graph = console_graph();
    let mut broken = Vec::new();
    for (module, never) in forbidden {
        for used in graph.get(module).into_iter().flatten() {
            if never.contains(&used.as_str()) {
                broken.push(format!("{module} uses {used}"));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken: {broken:?}");
}

#[test]
fn no_lab_or_protocol_module_cycles_back_to_itself() {
    for krate in ["crates/lab/src", "crates/protocol/src"] {
        assert_eq!(
            first_cycle_in_any_folder(&workspace().join(krate)),
            None,
            "{krate}"
        );
    }
}

#[test]
fn the_lab_and_the_protocol_never_reach_into_the_console() {
    for (krate, never) in [
        ("crates/lab", &["switchboard"][..]),
        ("crates/protocol", &["switchboard", "lab"][..]),
    ] {
        let dir = workspace().join(krate);
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Table = manifest.parse().unwrap();
        for section in ["dependencies", "dev-dependencies"] {
            let deps = manifest.get(section).and_then(|d| d.as_table());
            for name in never {
                assert!(
                    !deps.is_some_and(|d| d.contains_key(*name)),
                    "{krate} must not depend on {name}"
                );
            }
        }
        for file in rust_files(&dir.join("src")) {
            let code = code_of(&file);
            for name in never {
                assert!(
                    !code.contains(&format!("{name}::")),
                    "{} names {name}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_checker_resolves_paths_and_finds_cycles() {
    let here = ["http".to_string(), "commands".to_string()];
    let code = "use crate::{app::App, views};\nuse super::state::X;\nuse super::super::sim;\nself::inner::f();";
    let named: BTreeSet<String> = named_paths(code, &here)
        .into_iter()
        .map(|path| path.join("::"))
        .collect();
    let expected = [
        "app::App",
        "views",
        "http::state::X",
        "sim",
        "http::commands::inner::f",
    ];
    assert_eq!(named, expected.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        module_path(Path::new("src"), Path::new("src/http/auth_tests.rs")),
        ["http", "auth", "tests"]
    );
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&graph).as_deref(), Some("a -> b -> c -> a"));
}
