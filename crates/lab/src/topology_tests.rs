use super::*;

#[test]
fn embedded_default_is_valid_and_complete() {
    let t = Topology::parse(DEFAULT_TOPOLOGY_FILE, DEFAULT_TOPOLOGY_TOML).unwrap();
    let regions: Vec<_> = t.regions.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(regions, ["us-east", "us-west", "eu-west", "ap-south"]);
    let vendors = ["openai", "anthropic", "google", "self-hosted"];
    for vendor in vendors {
        assert!(t.providers.iter().any(|p| p.vendor == vendor), "{vendor}");
    }
    assert!(
        t.providers.len() < vendors.len() * regions.len(),
        "not every vendor in every region"
    );
    let tiers: Vec<_> = t.services.iter().map(|s| (s.id.as_str(), s.tier)).collect();
    assert_eq!(
        tiers,
        [
            ("risk-scorer", RedundancyTier::ActiveActive),
            ("credit-decision", RedundancyTier::ActivePassive),
            ("feature-store", RedundancyTier::NPlusOne),
            ("email-notifier", RedundancyTier::DegradedOnly),
            ("log-aggregator", RedundancyTier::DegradedOnly),
        ]
    );
    let operators: Vec<_> = t
        .operators
        .iter()
        .map(|o| (o.name.as_str(), o.role, o.on_call))
        .collect();
    assert_eq!(
        operators,
        [
            ("alice", Role::Admin, true),
            ("bob", Role::Operator, true),
            ("victor", Role::Viewer, false)
        ]
    );
    assert_eq!(
        t.providers[t.provider_index("openai@us-east").unwrap()].model,
        "gpt-4o"
    );
}

fn with_replaced(from: &str, to: &str) -> Result<Topology, ConfigError> {
    assert!(
        DEFAULT_TOPOLOGY_TOML.contains(from),
        "fixture lacks {from:?}"
    );
    Topology::parse("t.toml", &DEFAULT_TOPOLOGY_TOML.replacen(from, to, 1))
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

#[test]
fn unknown_region_reference_names_its_line() {
    let err = with_replaced(
        "vendor = \"openai\"\nregion = \"us-west\"",
        "vendor = \"openai\"\nregion = \"mars\"",
    )
    .unwrap_err();
    assert_eq!(err.file, "t.toml");
    assert_eq!(
        err.line,
        line_of(
            DEFAULT_TOPOLOGY_TOML,
            "vendor = \"openai\"\nregion = \"us-west\""
        ) + 1
    );
    assert!(err.reason.contains("unknown region \"mars\""), "{err}");
}

#[test]
fn rejects_invalid_values_with_reasons() {
    let cases = [
        ("capacity_rps = 260", "capacity_rps = -1", "positive"),
        ("error_rate = 0.004", "error_rate = 1.5", "0..1"),
        ("name = \"bob\"", "name = \"alice\"", "duplicate operator"),
        ("role = \"viewer\"", "role = \"root\"", "unknown variant"),
        (
            "{ vendor = \"openai\", rank = 1, weight = 1.0 }",
            "{ vendor = \"azure\", rank = 1, weight = 1.0 }",
            "no provider of vendor",
        ),
        (
            "role = \"hot-standby\"",
            "role = \"active\"",
            "exactly one active",
        ),
        ("p50 = 380, p95 = 900", "p50 = 980, p95 = 900", "p50 <= p95"),
        (
            "id = \"us-east\"",
            "id = \"US East\"",
            "must be 1-64 characters",
        ),
        // Dot segments would be collapsed out of the URL paths the id is written into.
        (
            "id = \"us-east\"",
            "id = \"..\"",
            "must not be \".\" or \"..\"",
        ),
        (
            "id = \"risk-scorer\"",
            "id = \".\"",
            "must not be \".\" or \"..\"",
        ),
    ];
    for (from, to, expected) in cases {
        let err = with_replaced(from, to).unwrap_err();
        assert!(err.reason.contains(expected), "{from} -> {to}: {err}");
        assert!(err.line > 1, "{err}");
    }
}

#[test]
fn the_two_person_rule_is_off_unless_the_topology_names_a_policy() {
    assert_eq!(Topology::embedded_default().approvals, None);
    let with_policy = format!(
        "{DEFAULT_TOPOLOGY_TOML}\n[approvals]\nverbs = [\"promote\"]\nservices = [\"risk-scorer\"]\ndrain_share_above = 0.3\n"
    );
    let policy = Topology::parse("t.toml", &with_policy)
        .unwrap()
        .approvals
        .expect("a policy");
    assert_eq!(policy.verbs, ["promote"]);
    assert_eq!(policy.drain_share_above, Some(0.3));
    assert!(
        policy.forced,
        "forced commands wait whenever a policy is given"
    );
}

#[test]
fn an_approval_policy_naming_what_does_not_exist_is_refused_where_it_is() {
    let text = format!("{DEFAULT_TOPOLOGY_TOML}\n[approvals]\nservices = [\"risk-scoring\"]\n");
    let err = Topology::parse("t.toml", &text).unwrap_err();
    assert_eq!(err.line, line_of(&text, "[approvals]"));
    assert!(
        err.reason
            .contains("approvals: no service \"risk-scoring\" in this fleet"),
        "{err}"
    );
    let text = format!("{DEFAULT_TOPOLOGY_TOML}\n[approvals]\nverb = [\"drain\"]\n");
    let err = Topology::parse("t.toml", &text).unwrap_err();
    assert!(err.reason.contains("unknown field"), "{err}");
}

#[test]
fn the_default_prices_its_fleet_and_states_each_services_posture() {
    let t = Topology::embedded_default();
    let credit = &t.services[t.service_index("credit-decision").unwrap()].posture;
    assert_eq!(credit.criticality, protocol::posture::Criticality::Critical);
    assert_eq!(credit.slo.target, 0.99);
    assert_eq!(credit.slo.window_s, 30.0 * 86_400.0);
    assert_eq!(credit.budget_spent, 0.35);
    assert_eq!(credit.depends_on, ["risk-scorer", "feature-store"]);
    assert_eq!(credit.replica_cost_per_hour, Some(4.50));
    let price = |id: &str| t.providers[t.provider_index(id).unwrap()].price_per_1k_tokens;
    assert_eq!(price("openai@us-east"), Some(0.015), "premium");
    assert_eq!(price("google@eu-west"), Some(0.005), "standard");
    assert_eq!(t.standby_shares, StandbyShares::default());
}

#[test]
fn posture_without_a_section_takes_the_defaults_and_a_price_overrides_the_tier() {
    let bare = with_replaced(
        "[service.posture]\ncriticality = \"nice-to-have\"\nslo = { target = 0.95, window_days = 30 }\ndowntime_cost_per_min = 5\nreplica_cost_per_hour = 0.80\ntokens_per_request = 2000\n",
        "",
    )
    .unwrap();
    let logs = &bare.services[bare.service_index("log-aggregator").unwrap()].posture;
    assert_eq!(logs, &PostureSpec::default());
    let priced = with_replaced(
        "cost_tier = \"premium\"\n",
        "cost_tier = \"premium\"\nprice_per_1k_tokens = 0.03\n",
    )
    .unwrap();
    assert_eq!(priced.providers[0].price_per_1k_tokens, Some(0.03));
    let odd_tier = with_replaced("cost_tier = \"premium\"\n", "cost_tier = \"bespoke\"\n").unwrap();
    assert_eq!(
        odd_tier.providers[0].price_per_1k_tokens, None,
        "unknown, not guessed"
    );
}

#[test]
fn posture_values_that_make_no_sense_are_refused_where_they_are() {
    let cases = [
        (
            "slo = { target = 0.99, window_days = 30 }",
            "slo = { target = 1.5, window_days = 30 }",
            "slo needs 0 < target < 1",
        ),
        (
            "budget_spent = 0.35",
            "budget_spent = -1",
            "budget_spent must be in 0..2",
        ),
        (
            "downtime_cost_per_min = 800",
            "downtime_cost_per_min = -3",
            "downtime_cost_per_min must be zero or more",
        ),
        (
            "depends_on = [\"risk-scorer\", \"feature-store\"]",
            "depends_on = [\"risk-scorer\", \"ledger\"]",
            "unknown service \"ledger\"",
        ),
        (
            "depends_on = [\"credit-decision\"]",
            "depends_on = [\"email-notifier\"]",
            "cannot depend on itself",
        ),
        (
            "warm = 0.4\ncold = 0.05",
            "warm = 0.4\ncold = 0.5",
            "a cold standby cannot cost more",
        ),
        (
            "criticality = \"critical\"",
            "criticality = \"vital\"",
            "unknown variant",
        ),
    ];
    for (from, to, reason) in cases {
        let err = with_replaced(from, to).unwrap_err();
        assert!(err.reason.contains(reason), "{to}: {err}");
        let text = DEFAULT_TOPOLOGY_TOML.replacen(from, to, 1);
        let first_line = to.lines().last().unwrap();
        assert!(
            err.line <= line_of(&text, first_line) && err.line + 8 >= line_of(&text, first_line),
            "{to}: line {} vs {}",
            err.line,
            line_of(&text, first_line)
        );
    }
}
