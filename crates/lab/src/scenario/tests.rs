use super::*;

fn topology() -> Topology {
    Topology::embedded_default()
}

#[test]
fn durations_parse_and_format() {
    assert_eq!(parse_duration("30s"), Ok(30.0));
    assert_eq!(parse_duration("2m"), Ok(120.0));
    assert_eq!(parse_duration("1m30s"), Ok(90.0));
    assert_eq!(parse_duration("1h"), Ok(3600.0));
    assert_eq!(parse_duration("0s"), Ok(0.0));
    for bad in ["", "30", "3x", "m", "1.5m", "-1s", "25h"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(format_duration(300.0), "5m");
    assert_eq!(format_duration(90.0), "1m30s");
    assert_eq!(format_duration(0.0), "0s");
    assert_eq!(format_duration(3605.0), "1h5s");
}

#[test]
fn every_shipped_scenario_loads_against_the_default_topology() {
    let t = topology();
    for name in shipped_scenarios() {
        let scenario = Scenario::load(Path::new(name), &t).unwrap();
        assert_eq!(scenario.name, name);
        assert!(!scenario.narrative.is_empty(), "{name} has no narrative");
        // Each scenario must show something early in a drill.
        assert!(
            scenario.injects.iter().any(|i| i.at_s <= 30.0),
            "{name} starts late"
        );
    }
}

#[test]
fn resolves_targets_by_provider_region_vendor_and_replica() {
    let t = topology();
    let parse = |kind: &str, target: &str| {
        let text = format!(
            "name = \"x\"\n[[inject]]\nat = \"1s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\nduration = \"1m\"\n"
        );
        Scenario::parse("x.toml", &text, &t).map(|s| s.injects[0].target.clone())
    };
    let openai_east = t.provider_index("openai@us-east").unwrap();
    assert_eq!(
        parse("provider-outage", "openai@us-east"),
        Ok(InjectTarget::Providers(vec![openai_east]))
    );
    let InjectTarget::Providers(openai) = parse("rate-limit-storm", "openai").unwrap() else {
        panic!("vendor target is a set of providers")
    };
    assert_eq!(openai.len(), 3);
    let InjectTarget::Providers(eu) = parse("latency-brownout", "eu-west").unwrap() else {
        panic!("region target of a brownout is its providers")
    };
    assert!(
        eu.iter()
            .all(|&p| t.providers[p].region_index == t.region_index("eu-west").unwrap())
    );
    assert_eq!(
        parse("region-down", "ap-south"),
        Ok(InjectTarget::Region(3))
    );
    assert_eq!(
        parse("standby-not-warm", "credit-decision"),
        Ok(InjectTarget::Replicas(vec![(1, 1), (1, 2)]))
    );
    assert_eq!(
        parse("standby-not-warm", "credit-decision@us-west"),
        Ok(InjectTarget::Replicas(vec![(1, 1)]))
    );
    let err = parse("standby-not-warm", "credit-decision@us-east").unwrap_err();
    assert_eq!(err.line, 5, "{err}");
    assert!(parse("region-down", "openai@us-east").is_err());
}

#[test]
fn errors_name_file_line_and_reason() {
    let t = topology();
    let cases = [
        ("at = \"soon\"", 3, "at: \"soon\" is not a duration"),
        ("kind = \"meteor\"", 4, "unknown variant"),
        ("target = \"mars\"", 5, "not a provider, region or vendor"),
        ("magnitude = 7.0", 7, "magnitude must be an error rate"),
    ];
    for (line, expected_line, expected) in cases {
        let mut lines = [
            "name = \"x\"",
            "[[inject]]",
            "at = \"1s\"",
            "kind = \"provider-outage\"",
            "target = \"openai@us-east\"",
            "duration = \"1m\"",
            "magnitude = 0.5",
        ];
        let key = line.split(' ').next().unwrap();
        let slot = lines.iter().position(|l| l.starts_with(key)).unwrap();
        lines[slot] = line;
        let err = Scenario::parse("s.toml", &lines.join("\n"), &t).unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.line),
            ("s.toml", expected_line),
            "{err}"
        );
        assert!(err.reason.contains(expected), "{err}");
    }
}

#[test]
fn loads_files_by_path_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drill.toml");
    let drill = |target: &str| {
        format!(
            "name = \"drill\"\n[[inject]]\nat = \"1s\"\nkind = \"region-down\"\ntarget = \"{target}\"\nduration = \"1m\"\n"
        )
    };
    std::fs::write(&path, drill("us-east")).unwrap();
    assert_eq!(Scenario::load(&path, &topology()).unwrap().name, "drill");
    std::fs::write(&path, drill("atlantis")).unwrap();
    let err = Scenario::load(&path, &topology()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:5:", path.display())), "{err}");
}

#[test]
fn unknown_scenario_name_lists_the_shipped_ones() {
    let err = Scenario::load(Path::new("no-such-drill"), &topology()).unwrap_err();
    assert!(err.to_string().contains("provider-outage"), "{err}");
}
