//! Configuration layering: embedded defaults < user file < environment < flags, and a
//! bad file never stops the console (problems with positions, defaults in use).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use switchboard::config::{
    Config, ConfigOverrides, LAB_CONTEXT, LoadedConfig, SourceKind, load_with_env,
};

const PROD_FILE: &str = r#"# team config
default_context = "prod"
theme = "light"

[contexts.prod]
production = true
read_only = true

[[contexts.prod.sources]]
name = "gateway"
url = "https://gateway.example:7300"

[[contexts.prod.sources]]
name = "escalations"
url = "http://127.0.0.1:7301"
kind = "native"

[contexts.staging]
[[contexts.staging.sources]]
name = "gateway"
url = "https://staging.example"
"#;

struct Setup {
    dir: tempfile::TempDir,
    env: HashMap<&'static str, String>,
}

impl Setup {
    fn new() -> Self {
        Setup {
            dir: tempfile::tempdir().unwrap(),
            env: HashMap::new(),
        }
    }

    /// The platform file location the loader falls back to.
    fn default_file(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(&self, overrides: &ConfigOverrides) -> LoadedConfig {
        load_with_env(
            overrides,
            |name| self.env.get(name).cloned(),
            &self.default_file(),
        )
    }
}

fn assert_defaults(config: &Config) {
    assert_eq!(config.default_context, LAB_CONTEXT);
    assert_eq!(config.theme, "dark");
    assert_eq!(
        config.contexts.keys().collect::<Vec<_>>(),
        vec![LAB_CONTEXT]
    );
    let lab = config.context(LAB_CONTEXT).unwrap();
    assert!(lab.is_lab() && lab.sources.is_empty() && !lab.read_only);
}

#[test]
fn defaults_when_no_file_exists() {
    let setup = Setup::new();
    let loaded = setup.load(&ConfigOverrides::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.file, None);
    assert_defaults(&loaded.config);
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn file_overrides_defaults_and_keeps_the_lab() {
    let setup = Setup::new();
    setup.write("config.toml", PROD_FILE);
    let loaded = setup.load(&ConfigOverrides::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.file, Some(setup.default_file()));
    let config = &loaded.config;
    assert_eq!(config.default_context, "prod");
    assert_eq!(config.theme, "light");
    assert_eq!(
        config.contexts.keys().collect::<Vec<_>>(),
        vec!["lab", "prod", "staging"]
    );

    let prod = config.selected_context().unwrap();
    assert_eq!(prod.name, "prod");
    assert!(prod.production && prod.read_only && !prod.is_lab());
    let names: Vec<_> = prod.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["gateway", "escalations"]);
    assert_eq!(prod.sources[0].url, "https://gateway.example:7300");
    assert!(prod.sources.iter().all(|s| s.kind == SourceKind::Native));

    let staging = config.context("staging").unwrap();
    assert!(!staging.production && !staging.read_only);
}

#[test]
fn environment_overrides_the_file() {
    let mut setup = Setup::new();
    setup.write("config.toml", PROD_FILE);
    setup
        .env
        .insert("SWITCHBOARD_CONTEXT", "staging".to_string());
    setup
        .env
        .insert("SWITCHBOARD_THEME", "high-contrast".to_string());
    let config = setup.load(&ConfigOverrides::default()).config;
    assert_eq!(config.default_context, "staging");
    assert_eq!(config.theme, "high-contrast");

    // Empty variables count as unset.
    setup.env.insert("SWITCHBOARD_CONTEXT", String::new());
    assert_eq!(
        setup
            .load(&ConfigOverrides::default())
            .config
            .default_context,
        "prod"
    );
}

#[test]
fn switchboard_config_names_another_file() {
    let mut setup = Setup::new();
    setup.write("config.toml", "theme = \"light\"\n");
    let other = setup.write("other.toml", PROD_FILE.replace("light", "dark").as_str());
    setup
        .env
        .insert("SWITCHBOARD_CONFIG", other.display().to_string());
    let loaded = setup.load(&ConfigOverrides::default());
    assert_eq!(loaded.file.as_deref(), Some(other.as_path()));
    assert_eq!(loaded.config.theme, "dark");
    assert_eq!(loaded.config.default_context, "prod");
}

#[test]
fn flags_override_the_environment() {
    let mut setup = Setup::new();
    setup.write("config.toml", PROD_FILE);
    let flag_file = setup.write("flag.toml", "theme = \"high-contrast\"\n");
    setup
        .env
        .insert("SWITCHBOARD_CONFIG", "/nonexistent/env.toml".to_string());
    setup
        .env
        .insert("SWITCHBOARD_CONTEXT", "staging".to_string());
    setup.env.insert("SWITCHBOARD_THEME", "light".to_string());

    let overrides = ConfigOverrides {
        config_file: None,
        context: Some("prod".to_string()),
        theme: Some("dark".to_string()),
        read_only: true,
    };
    let loaded = setup.load(&overrides);
    // The env file does not exist: named explicitly, that is a problem.
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(loaded.problems[0].file, Path::new("/nonexistent/env.toml"));
    assert_eq!(loaded.config.default_context, "prod");
    assert_eq!(loaded.config.theme, "dark");
    assert!(loaded.config.contexts.values().all(|c| c.read_only));

    let overrides = ConfigOverrides {
        config_file: Some(flag_file.clone()),
        ..ConfigOverrides::default()
    };
    let loaded = setup.load(&overrides);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.file, Some(flag_file));
    // The flag's file, with the environment still on top of it.
    assert_eq!(loaded.config.theme, "light");
    assert_eq!(loaded.config.default_context, "staging");
}

#[test]
fn bad_file_reports_its_line_and_runs_on_defaults() {
    let setup = Setup::new();
    let cases = [
        // syntax error: unterminated string
        ("theme = \"dark\n[contexts.x]\n", 1, "syntax"),
        // typo in a key
        (
            "default_context = \"lab\"\n\n[contexts.lab]\nread_onyl = true\n",
            4,
            "read_onyl",
        ),
        // wrong type
        ("[contexts.lab]\nproduction = \"yes\"\n", 2, "bool"),
        // unknown source kind
        (
            "[[contexts.p.sources]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nkind = \"grpc\"\n",
            4,
            "grpc",
        ),
    ];
    for (text, line, needle) in cases {
        let path = setup.write("config.toml", text);
        let loaded = setup.load(&ConfigOverrides::default());
        assert_eq!(loaded.problems.len(), 1, "{text:?}: {:?}", loaded.problems);
        let problem = &loaded.problems[0];
        assert_eq!(problem.file, path);
        assert_eq!(problem.line, Some(line), "{text:?}: {problem}");
        if needle != "syntax" {
            assert!(problem.reason.contains(needle), "{text:?}: {problem}");
        }
        assert!(
            problem
                .to_string()
                .starts_with(&format!("{}:{line}:", path.display()))
        );
        assert_defaults(&loaded.config);
    }
}

#[test]
fn bad_file_still_takes_environment_and_flags() {
    let mut setup = Setup::new();
    setup.write("config.toml", "theme = 3\n");
    setup.env.insert("SWITCHBOARD_THEME", "light".to_string());
    let loaded = setup.load(&ConfigOverrides {
        read_only: true,
        ..ConfigOverrides::default()
    });
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(loaded.config.theme, "light");
    assert!(loaded.config.context(LAB_CONTEXT).unwrap().read_only);
}

#[test]
fn token_in_the_file_is_refused() {
    let setup = Setup::new();
    let text = "\
[contexts.prod]
[[contexts.prod.sources]]
name = \"gateway\"
url = \"https://gateway.example\"
token = \"sk-live-123\"
";
    setup.write("config.toml", text);
    let loaded = setup.load(&ConfigOverrides::default());
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    let problem = &loaded.problems[0];
    assert_eq!((problem.line, problem.column), (Some(5), Some(1)));
    assert!(
        problem.reason.contains("tokens belong in the keyring")
            && problem.reason.contains("switchboard login"),
        "{problem}"
    );
    assert!(!problem.to_string().contains("sk-live-123"));
    assert_defaults(&loaded.config);
}

#[test]
fn unknown_context_error_lists_known_ones() {
    let mut setup = Setup::new();
    setup.write("config.toml", PROD_FILE);
    setup.env.insert("SWITCHBOARD_CONTEXT", "prdo".to_string());
    let config = setup.load(&ConfigOverrides::default()).config;
    let err = config.selected_context().unwrap_err();
    assert_eq!(err.name, "prdo");
    assert_eq!(err.known, vec!["lab", "prod", "staging"]);
    assert_eq!(
        err.to_string(),
        "unknown context \"prdo\"; known contexts: lab, prod, staging"
    );
}

#[test]
fn unreadable_default_location_is_a_problem_without_position() {
    let setup = Setup::new();
    // A directory where the file should be: exists, but cannot be read as a file.
    std::fs::create_dir(setup.default_file()).unwrap();
    let loaded = setup.load(&ConfigOverrides::default());
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(loaded.problems[0].line, None);
    assert!(loaded.problems[0].reason.contains("cannot read"));
    assert_defaults(&loaded.config);
}

#[test]
fn a_context_may_name_an_approval_policy_and_none_is_the_default() {
    let setup = Setup::new();
    let text = format!(
        "{PROD_FILE}\n[contexts.prod.approvals]\nverbs = [\"promote\", \"breaker force-open\"]\nservices = [\"risk-scorer\"]\ndrain_share_above = 0.3\nexpires_after_s = 600\n"
    );
    setup.write("config.toml", &text);
    let loaded = setup.load(&ConfigOverrides::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let policy =
        (loaded.config.context("prod").unwrap().approvals.clone()).expect("prod names a policy");
    assert_eq!(policy.verbs, ["promote", "breaker force-open"]);
    assert_eq!(policy.services, ["risk-scorer"]);
    assert_eq!(policy.drain_share_above, Some(0.3));
    assert_eq!(policy.expires_after_s, 600);
    assert!(
        policy.forced,
        "forced commands wait whenever a policy is given"
    );
    // Nothing waits where no policy is named.
    assert_eq!(loaded.config.context("staging").unwrap().approvals, None);
    assert_eq!(loaded.config.context(LAB_CONTEXT).unwrap().approvals, None);
}

#[test]
fn a_bad_approval_policy_is_reported_at_its_line() {
    let setup = Setup::new();
    let lab = "[contexts.lab]\n\n[contexts.lab.approvals]\n";
    let cases = [
        (
            format!("{lab}verbs = [\"drian\"]\n"),
            3,
            "\"drian\" is no command",
        ),
        (
            format!("{lab}drain_share_above = 1.5\n"),
            3,
            "drain_share_above",
        ),
        (format!("{lab}expires_after_s = 0\n"), 3, "expires_after_s"),
        (format!("{lab}approvers = 2\n"), 4, "approvers"),
    ];
    for (text, line, needle) in cases {
        let path = setup.write("config.toml", &text);
        let loaded = setup.load(&ConfigOverrides::default());
        assert_eq!(loaded.problems.len(), 1, "{text:?}: {:?}", loaded.problems);
        let problem = &loaded.problems[0];
        assert_eq!(problem.file, path);
        assert_eq!(problem.line, Some(line), "{text:?}: {problem}");
        assert!(problem.reason.contains(needle), "{text:?}: {problem}");
        assert_defaults(&loaded.config);
    }
}
