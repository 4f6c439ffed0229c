//! Issue 11: a LiteLLM gateway beside the lab. Its deployments show as breakers under the
//! provider they are mapped to (open while cooled down, with why and until when; unknown before
//! any call, never ok), its routes with their fallbacks, a breaker the lab reports otherwise as
//! a disagreement, and what each has spent; the gateway down greys only its own lines; and
//! what LiteLLM cannot do is refused with why, and listed so in the palette.

use std::collections::BTreeMap;

use super::*;
use switchboard::domain::gateway::{
    Cooldown, DeploymentState, DeploymentUsage, GatewayDeployment, GatewayFacts, GatewayRoute,
    SpendBasis,
};
use switchboard::sources::SourceMsg;

const GATEWAY: &str = "gateway";

fn from_gateway(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: GATEWAY.into(),
        event,
    })
}

fn deployment(id: &str, group: &str, region: &str, state: DeploymentState) -> GatewayDeployment {
    GatewayDeployment {
        id: id.into(),
        group: group.into(),
        model: format!("openai/{group}"),
        provider: "openai".into(),
        region: Some(region.into()),
        api_base: Some(format!("http://10.0.0.1/{id}")),
        state,
        cooldown: None,
        cooldowns: BTreeMap::new(),
        usage: None,
    }
}

/// gpt-4o's us-east deployment cooled down after 500s (until 57 s from now), eu-west's never
/// called, `small` healthy in us-east and serving gpt-4o's fallbacks; read 3 s ago. With
/// `ap_east`, one more deployment in a region the lab does not have, cooled down.
fn read(ap_east: bool) -> GatewayFacts {
    let wall = fixture_wall();
    let mut east = deployment(
        "gpt-4o-us-east",
        "gpt-4o",
        "us-east",
        DeploymentState::Outage,
    );
    east.cooldown = Some(Cooldown {
        status: Some("500".into()),
        seen_at: wall - chrono::TimeDelta::seconds(3),
        until: Some(wall + chrono::TimeDelta::seconds(57)),
    });
    east.cooldowns = BTreeMap::from([("500".into(), 1)]);
    // Spent what LiteLLM counts, $1.20 an hour over the last reads.
    east.usage = Some(DeploymentUsage {
        requests: 2.0,
        input_tokens: 200.0,
        output_tokens: 100.0,
        spend: 0.0015,
        basis: SpendBasis::Reported,
        spend_per_hour: Some(1.2),
    });
    // Priced by the config at $0.50 per 1k tokens, read once: no rate yet.
    let mut small = deployment(
        "small-us-east",
        "small",
        "us-east",
        DeploymentState::Healthy,
    );
    small.usage = Some(DeploymentUsage {
        requests: 4.0,
        input_tokens: 3000.0,
        output_tokens: 1000.0,
        spend: 2.0,
        basis: SpendBasis::Priced { per_1k_tokens: 0.5 },
        spend_per_hour: None,
    });
    let mut deployments = vec![
        east,
        deployment(
            "gpt-4o-eu-west",
            "gpt-4o",
            "eu-west",
            DeploymentState::Unknown,
        ),
        small,
    ];
    if ap_east {
        let mut far = deployment("small-ap-east", "small", "ap-east", DeploymentState::Outage);
        far.cooldown = Some(Cooldown {
            status: Some("429".into()),
            seen_at: wall,
            until: Some(wall + chrono::TimeDelta::seconds(60)),
        });
        deployments.push(far);
    }
    let mut served = BTreeMap::new();
    served.insert("small".to_string(), 4);
    GatewayFacts {
        read_at: wall - chrono::TimeDelta::seconds(3),
        routing_strategy: "simple-shuffle".into(),
        allowed_fails: Some(1),
        cooldown_s: Some(60.0),
        routes: vec![
            GatewayRoute {
                group: "gpt-4o".into(),
                deployments: vec!["gpt-4o-us-east".into(), "gpt-4o-eu-west".into()],
                fallbacks: vec!["small".into()],
                served,
            },
            GatewayRoute {
                group: "small".into(),
                deployments: deployments
                    .iter()
                    .filter(|d| d.group == "small")
                    .map(|d| d.id.clone())
                    .collect(),
                fallbacks: Vec::new(),
                served: BTreeMap::new(),
            },
        ],
        deployments,
    }
}

fn merged(width: u16, height: u16, ap_east: bool) -> App {
    let mut app = app(width, height, Instant::now());
    app.add_gateway_source(GATEWAY, "http://127.0.0.1:4000", Duration::from_secs(10));
    app.update(from_gateway(SourceEvent::Gateway(Box::new(read(ap_east)))));
    app
}

/// Selects the matrix cell of `vendor` in `region`.
fn select(app: &mut App, region: &str, vendor: &str) {
    app.selection.fleet_row = (app.visible.regions.iter())
        .position(|&r| app.region_at(r).id == region)
        .unwrap();
    app.selection.fleet_col = app
        .visible
        .vendors
        .iter()
        .position(|v| v == vendor)
        .unwrap()
        + 1;
}

/// Opens the palette and types `command` in it.
fn type_in_palette(app: &mut App, command: &str) {
    app.update(key(KeyCode::Char(':')));
    for c in command.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

fn screen(app: &mut App) -> String {
    text(&show(app))
}

#[test]
fn a_cooled_down_deployment_is_an_open_breaker_with_why_and_until_when() {
    let mut app = merged(120, 32, false);
    select(&mut app, "us-east", "openai");
    let screen = screen(&mut app);
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(screen.contains("source gateway · read 3s ago"), "{screen}");
    // The facts column wraps long lines: each part on its row.
    assert!(
        screen.contains("✖ gpt-4o-us-east · gpt-4o → openai/gpt-4o: breaker open: cooled"),
        "{screen}"
    );
    assert!(
        screen.contains("down after 500s, until 14:03:57 at the latest"),
        "{screen}"
    );
    assert!(
        screen.contains("● small-us-east · small → openai/small: breaker closed (healthy)"),
        "{screen}"
    );
    // One deployment cooled down, the other serving: degraded, where the lab says ok.
    assert!(screen.contains("▲ degraded  ≠ lab says ok"), "{screen}");
    assert!(
        screen.contains("route gpt-4o (simple-shuffle): gpt-4o-us-east ✖, gpt-4o-eu-west ?"),
        "{screen}"
    );
    assert!(screen.contains("→ fallback small (served 4)"), "{screen}");
    insta::assert_snapshot!("gateway_provider_120x32", screen);
}

#[test]
fn a_deployment_never_called_is_unknown_never_ok() {
    let mut app = merged(120, 32, false);
    select(&mut app, "eu-west", "openai");
    let screen = screen(&mut app);
    assert!(
        screen.contains("? gpt-4o-eu-west · gpt-4o → openai/gpt-4o: unknown: no call since"),
        "{screen}"
    );
    assert!(screen.contains("? unknown"), "{screen}");
    // The lab's open breaker cannot disagree with a state nobody knows.
    assert!(!screen.contains("says breaker"), "{screen}");
}

#[test]
fn a_breaker_the_lab_reports_otherwise_is_a_disagreement() {
    let mut app = merged(120, 32, false);
    // The lab's openai@eu-west breaker is open; the gateway's deployment there answers.
    let mut healthy = read(false);
    healthy.deployments[1].state = DeploymentState::Healthy;
    app.update(from_gateway(SourceEvent::Gateway(Box::new(healthy))));
    select(&mut app, "eu-west", "openai");
    let screen = screen(&mut app);
    assert!(
        screen.contains("≠ lab says breaker open: the sources disagree"),
        "{screen}"
    );
}

#[test]
fn the_gateway_down_greys_only_its_own_lines() {
    let mut app = merged(120, 32, false);
    select(&mut app, "us-east", "openai");
    app.update(from_gateway(SourceEvent::Down {
        error: "cannot reach http://127.0.0.1:4000/: connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(2),
    }));
    let theme = dark();
    let buffer = render(&app, &theme);
    let screen = text(&buffer);
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(
        screen.contains("source gateway · DOWN (cannot reach http://127.0.0.1:4000/"),
        "{screen}"
    );
    assert!(!screen.contains("disagree"), "{screen}");
    let row = |needle: &str| find(&buffer, needle).unwrap_or_else(|| panic!("{needle}: {screen}"));
    let (x, y) = row("✖ gpt-4o-us-east");
    assert_eq!(buffer[(x, y)].style().fg, theme.stale.fg, "greyed");
}

#[test]
fn a_region_only_the_gateway_reads_shows_its_open_breaker_in_the_matrix() {
    let mut app = merged(120, 32, true);
    let screen = screen(&mut app);
    let row = screen
        .lines()
        .find(|l| l.contains("ap-east"))
        .unwrap_or_else(|| panic!("ap-east on screen:\n{screen}"));
    assert!(row.contains("✖ open"), "{row}");
    assert!(
        row.contains("✖ down"),
        "every deployment there is cooled down: {row}"
    );
}

#[test]
fn cooldowns_and_fallbacks_enter_the_timeline_once() {
    let mut app = merged(120, 32, false);
    let mut later = read(false);
    later.routes[0].served.insert("small".into(), 6);
    app.update(from_gateway(SourceEvent::Gateway(Box::new(later.clone()))));
    app.update(from_gateway(SourceEvent::Gateway(Box::new(later))));
    let texts: Vec<&str> = (app.timeline.iter())
        .filter(|e| e.source == GATEWAY)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "deployment gpt-4o-us-east (openai@us-east) cooled down after 500s: the router \
             sends it nothing until 14:03:57 at the latest",
            "model group gpt-4o served by its fallback small: 6 calls since the proxy started",
        ]
    );
}

/// Commands LiteLLM cannot perform are refused with why, never sent nor silently dropped.
#[test]
fn a_command_on_what_only_litellm_knows_is_refused_with_why() {
    let mut app = merged(120, 32, true);
    type_in_palette(&mut app, "drain ap-east 30m");
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "{effects:?}");
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(
        flash.starts_with("LiteLLM has no drain (drain refused): "),
        "{flash}"
    );
    assert!(flash.contains("model_list"), "what to do instead: {flash}");

    type_in_palette(&mut app, "breaker openai@ap-east force-open");
    app.update(key(KeyCode::Enter));
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(
        flash.starts_with("LiteLLM has no breaker to force"),
        "{flash}"
    );

    // What the lab has goes to the lab as before.
    type_in_palette(&mut app, "drain eu-west");
    app.update(key(KeyCode::Enter));
    assert!(
        app.overlays.confirm().is_some(),
        "the lab's drain is confirmed"
    );
}

/// A context with nothing but a gateway: every fleet command is listed in the palette with
/// why it is refused, rather than hidden; choosing one says why again.
#[test]
fn a_gateway_only_context_lists_the_commands_it_refuses_with_why() {
    let mut app = lab_app(100, 30, Instant::now());
    app.sources.clear();
    app.add_gateway_source(GATEWAY, "http://127.0.0.1:4000", Duration::from_secs(10));
    app.update(from_gateway(SourceEvent::Gateway(Box::new(read(false)))));
    type_in_palette(&mut app, "drain");
    let screen = text(&show(&mut app));
    assert!(screen.contains("LiteLLM has no drain"), "{screen}");
    insta::assert_snapshot!("gateway_only_palette_100x30", screen);
    app.update(key(KeyCode::Enter));
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(flash.starts_with("LiteLLM has no drain"), "{flash}");
}
