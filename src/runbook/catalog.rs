//! Where runbooks come from: the ones shipped with Switchboard (compiled in, so an installed
//! binary has them without its source tree), the user's under the platform config dir
//! (`runbooks/`), and the directories a config names. A file that does not parse stays in the
//! catalog with its problems: a runbook silently missing during an incident is worse than one
//! marked broken.

use std::path::{Path, PathBuf};

use super::Position;
use super::file::{self, Problem, Runbook};

/// The runbooks in `fixtures/runbooks/`, by file name. A test keeps this list and the folder
/// in step.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "provider-outage.md",
        include_str!("../../fixtures/runbooks/provider-outage.md"),
    ),
    (
        "rate-limit-storm.md",
        include_str!("../../fixtures/runbooks/rate-limit-storm.md"),
    ),
    (
        "region-brownout.md",
        include_str!("../../fixtures/runbooks/region-brownout.md"),
    ),
    (
        "region-down.md",
        include_str!("../../fixtures/runbooks/region-down.md"),
    ),
    (
        "standby-not-warm.md",
        include_str!("../../fixtures/runbooks/standby-not-warm.md"),
    ),
    (
        "escalation-burst.md",
        include_str!("../../fixtures/runbooks/escalation-burst.md"),
    ),
];

/// Where a runbook was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary; named by its file name under `fixtures/runbooks/`.
    Shipped(&'static str),
    File(PathBuf),
}

impl Origin {
    /// How problems and lists name it: `shipped:provider-outage.md` or the path.
    pub fn name(&self) -> String {
        match self {
            Origin::Shipped(name) => format!("shipped:{name}"),
            Origin::File(path) => path.display().to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub origin: Origin,
    /// The runbook, or every problem that keeps it from being followed.
    pub parsed: Result<Runbook, Vec<Problem>>,
    /// A user file with a shipped runbook's id replaces it; this names the one replaced.
    pub replaces: Option<Origin>,
}

impl Entry {
    fn read(origin: Origin, text: &str) -> Entry {
        Entry {
            parsed: file::parse(&origin.name(), text),
            origin,
            replaces: None,
        }
    }

    fn unreadable(origin: Origin, message: String) -> Entry {
        Entry {
            parsed: Err(vec![Problem {
                file: origin.name(),
                at: Position::START,
                message,
            }]),
            origin,
            replaces: None,
        }
    }

    pub fn id(&self) -> Option<&str> {
        self.parsed
            .as_ref()
            .ok()
            .map(|runbook| runbook.front.id.as_str())
    }
}

/// Every runbook the console and the CLI know, shipped first, then each directory's files in
/// name order.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub entries: Vec<Entry>,
}

impl Catalog {
    /// The shipped runbooks, then `*.md` files of `user_dir` (the platform's, silently absent
    /// when it does not exist) and of each of `named_dirs` (from the config: absent is a
    /// problem, since someone asked for it).
    pub fn load(user_dir: Option<&Path>, named_dirs: &[PathBuf]) -> Catalog {
        let mut catalog = Catalog {
            entries: SHIPPED
                .iter()
                .map(|(name, text)| Entry::read(Origin::Shipped(name), text))
                .collect(),
        };
        if let Some(dir) = user_dir.filter(|dir| dir.is_dir()) {
            catalog.add_dir(dir);
        }
        for dir in named_dirs {
            catalog.add_dir(dir);
        }
        catalog
    }

    /// Only the runbooks at `paths` (files, or directories of `*.md`), without the shipped
    /// ones: what `switchboard runbook lint PATH...` reads.
    pub fn of_paths(paths: &[PathBuf]) -> Catalog {
        let mut catalog = Catalog::default();
        for path in paths {
            if path.is_dir() {
                catalog.add_dir(path);
            } else {
                catalog.add_file(path.clone());
            }
        }
        catalog
    }

    /// Every problem of every entry, in catalog order.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.entries
            .iter()
            .filter_map(|entry| entry.parsed.as_ref().err())
            .flatten()
    }

    /// The runbook with this id.
    pub fn find(&self, id: &str) -> Option<&Runbook> {
        self.entries
            .iter()
            .filter_map(|entry| entry.parsed.as_ref().ok())
            .find(|runbook| runbook.front.id == id)
    }

    fn add_dir(&mut self, dir: &Path) {
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(error) => {
                let origin = Origin::File(dir.to_path_buf());
                self.entries.push(Entry::unreadable(
                    origin,
                    format!("runbook directory cannot be read: {error}"),
                ));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|item| item.ok().map(|item| item.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "md") && path.is_file())
            .collect();
        paths.sort();
        for path in paths {
            self.add_file(path);
        }
    }

    fn add_file(&mut self, path: PathBuf) {
        let entry = match std::fs::read_to_string(&path) {
            Ok(text) => Entry::read(Origin::File(path), &text),
            Err(error) => Entry::unreadable(
                Origin::File(path),
                format!("runbook cannot be read: {error}"),
            ),
        };
        self.add(entry);
    }

    /// Adds a user's runbook: it replaces a shipped one of the same id; a second user file
    /// with an id already taken is a problem, since following the wrong one is worse than
    /// following none.
    fn add(&mut self, mut entry: Entry) {
        let taken = entry
            .id()
            .and_then(|id| self.entries.iter().position(|known| known.id() == Some(id)));
        let Some(taken) = taken else {
            self.entries.push(entry);
            return;
        };
        let known = &self.entries[taken];
        if let Origin::Shipped(_) = known.origin {
            entry.replaces = Some(known.origin.clone());
            self.entries[taken] = entry;
            return;
        }
        let message = format!(
            "id {:?} is already the id of {}",
            entry.id().unwrap_or_default(),
            known.origin.name()
        );
        let file = entry.origin.name();
        entry.parsed = Err(vec![Problem {
            file,
            at: Position::START,
            message,
        }]);
        self.entries.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_runbooks_folder_is_shipped() {
        let mut on_disk: Vec<String> = std::fs::read_dir("fixtures/runbooks")
            .unwrap()
            .map(|item| item.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".md"))
            .collect();
        on_disk.sort();
        let mut shipped: Vec<String> = SHIPPED.iter().map(|(name, _)| name.to_string()).collect();
        shipped.sort();
        assert_eq!(
            on_disk, shipped,
            "SHIPPED lists every file of fixtures/runbooks"
        );
        assert_eq!(Catalog::load(None, &[]).problems().count(), 0);
    }

    #[test]
    fn every_condition_of_a_shipped_runbook_reads_facts_the_lab_reports() {
        use crate::runbook::eval::{FleetView, Sourced, evaluate};
        use crate::runbook::file::Block;
        let fleet = crate::testing::default_fleet();
        let view = FleetView {
            snapshots: vec![Sourced {
                source: "lab",
                data: &fleet,
            }],
            ..FleetView::default()
        }
        .with_open_escalations(Some([0; 4]));
        for runbook in Catalog::load(None, &[])
            .entries
            .iter()
            .flat_map(|e| &e.parsed)
        {
            let blocks = runbook.steps.iter().flat_map(|step| &step.blocks);
            let conditions = blocks.filter_map(|block| match block {
                Block::Check(expr) => Some(expr),
                Block::Gate(gate) => Some(&gate.until),
                _ => None,
            });
            for condition in conditions.chain(&runbook.applies) {
                for reading in evaluate(condition, &view).readings {
                    assert!(
                        !reading.text.contains("not reported"),
                        "{}: {}",
                        runbook.front.id,
                        reading.text
                    );
                }
            }
        }
    }

    fn write(dir: &Path, name: &str, id: &str) {
        let text = format!(
            "+++\nid = \"{id}\"\ntitle = \"T\"\nversion = 2\nowner = \"me\"\n\
             last_reviewed = 2026-12-01\n+++\n\n## 1. Look\n\nRead the fleet.\n"
        );
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn a_user_runbook_replaces_the_shipped_one_of_its_id_and_a_second_of_an_id_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.md", "provider-outage");
        write(dir.path(), "b.md", "provider-outage");
        write(dir.path(), "c.md", "mine");
        std::fs::write(dir.path().join("notes.txt"), "not a runbook").unwrap();

        let catalog = Catalog::load(Some(dir.path()), &[]);

        let outage = catalog.find("provider-outage").unwrap();
        assert_eq!(
            outage.front.version, 2,
            "the user's copy, not the shipped one"
        );
        let replacing = catalog
            .entries
            .iter()
            .find(|entry| entry.origin == Origin::File(dir.path().join("a.md")))
            .unwrap();
        assert_eq!(
            replacing.replaces,
            Some(Origin::Shipped("provider-outage.md"))
        );
        let problems: Vec<String> = catalog.problems().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("b.md:1:1: id \"provider-outage\" is already the id of"));
        assert!(catalog.find("mine").is_some());
        assert_eq!(catalog.entries.len(), SHIPPED.len() + 2);
    }

    #[test]
    fn a_missing_platform_dir_is_fine_but_a_named_one_is_a_problem() {
        let missing = PathBuf::from("/nonexistent/switchboard-runbooks");
        let quiet = Catalog::load(Some(&missing), &[]);
        assert_eq!(quiet.problems().count(), 0);

        let named = Catalog::load(None, std::slice::from_ref(&missing));
        let problems: Vec<String> = named.problems().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "/nonexistent/switchboard-runbooks:1:1: runbook directory cannot be read"
            ),
            "{problems:?}"
        );
    }
}
