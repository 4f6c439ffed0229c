//! Issue 9: the fleet matrix at scale (8 regions x 12 vendors) and at every width from 80
//! columns. Every region column stays; provider columns that do not fit scroll with the
//! selection and the border says how many are hidden on each side; a name that does not fit
//! its column ends in `…`, never silently cut.

use super::*;
use switchboard::testing::wide_fleet;

const REGION_HEADERS: [&str; 7] = ["REGION", "HEALTH", "P95", "ERR", "429", "SHARE", "ROOM"];

fn fleet_app(fleet: protocol::FleetSnapshot, width: u16, height: u16) -> App {
    let mut app = app(width, height, Instant::now());
    app.update(source(SourceEvent::Snapshot(fleet)));
    app
}

fn vendors(fleet: &protocol::FleetSnapshot) -> Vec<String> {
    let mut vendors: Vec<String> = Vec::new();
    for p in &fleet.providers {
        if !vendors.contains(&p.vendor) {
            vendors.push(p.vendor.clone());
        }
    }
    vendors
}

/// The numbers in the matrix's top border: `(hidden left, hidden right)`.
fn hidden_counts(screen: &str) -> (usize, usize) {
    let border = screen
        .lines()
        .find(|l| l.contains("Regions × providers"))
        .expect("matrix border");
    let count_before = |marker: &str| -> usize {
        border.find(marker).map_or(0, |at| {
            border[..at]
                .split_whitespace()
                .last()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
    };
    let left = border.find('◀').map_or(0, |at| {
        border[at + '◀'.len_utf8()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    });
    (left, count_before("more ▶"))
}

/// What the header row of the matrix shows, and checks that each vendor header is whole or
/// cut with an ellipsis, in the fleet's order, and that the hidden counts add up.
fn check_matrix(screen: &str, vendors: &[String]) {
    let header: Vec<&str> = screen
        .lines()
        .find(|l| l.contains("REGION"))
        .expect("header row")
        .trim_matches(|c| c == '│' || c == ' ')
        .split_whitespace()
        .collect();
    assert_eq!(&header[..7], &REGION_HEADERS, "{screen}");
    let shown = &header[7..];
    assert!(!shown.is_empty(), "no vendor column:\n{screen}");
    let (left, right) = hidden_counts(screen);
    assert_eq!(left + shown.len() + right, vendors.len(), "{screen}");
    for (drawn, vendor) in shown.iter().zip(&vendors[left..]) {
        let full = vendor.to_uppercase();
        let whole = *drawn == full;
        let cut = drawn
            .strip_suffix('…')
            .is_some_and(|prefix| full.starts_with(prefix));
        assert!(whole || cut, "{drawn:?} for {full:?}:\n{screen}");
    }
}

/// At every width from 80 columns, on the default fleet and on 8x12: the seven region
/// columns, each drawn vendor whole or marked cut, hidden columns counted in the border; the
/// default fleet keeps all four vendors in view at 80 columns (it did before).
#[test]
fn every_width_from_80_columns_keeps_every_column_readable_or_counted() {
    for fleet in [default_fleet(), wide_fleet()] {
        let vendors = vendors(&fleet);
        for width in 80..=200 {
            let app = fleet_app(fleet.clone(), width, 30);
            let screen = text(&render(&app, &dark()));
            check_matrix(&screen, &vendors);
            if vendors.len() == 4 {
                assert_eq!(hidden_counts(&screen), (0, 0), "{screen}");
            }
        }
    }
}

/// The 8x12 fleet at 120x40, drawn once; and its vendors.
fn wide_at_120x40() -> (App, Vec<String>) {
    let fleet = wide_fleet();
    let vendors = vendors(&fleet);
    let mut app = fleet_app(fleet, 120, 40);
    show(&mut app);
    (app, vendors)
}

/// Moving right past the last column drawn scrolls the providers: the selected one is always
/// in view, the border counts the hidden ones on each side; moving back scrolls back.
#[test]
fn the_provider_columns_scroll_with_the_selection() {
    let (mut app, vendors) = wide_at_120x40();
    for _ in 0..vendors.len() {
        app.update(key(KeyCode::Right));
        let screen = text(&show(&mut app));
        check_matrix(&screen, &vendors);
        let vendor = &vendors[app.selection.fleet_col - 1];
        assert!(
            screen.contains(&format!("{vendor}@us-east")),
            "the detail pane shows {vendor}:\n{screen}"
        );
    }
    let screen = text(&show(&mut app));
    let (left, right) = hidden_counts(&screen);
    assert!(left > 0 && right == 0, "{screen}");
    assert!(screen.contains("AZURE"), "{screen}");
    for _ in 0..vendors.len() {
        app.update(key(KeyCode::Left));
        show(&mut app);
    }
    let screen = text(&show(&mut app));
    assert_eq!(hidden_counts(&screen).0, 0, "{screen}");
}

/// A click lands on the provider drawn there, also when the columns are scrolled.
#[test]
fn a_click_on_a_scrolled_column_selects_the_provider_drawn_there() {
    let (mut app, vendors) = wide_at_120x40();
    for _ in 0..vendors.len() {
        app.update(key(KeyCode::Right));
    }
    let buffer = show(&mut app);
    let (x, y) = find(&buffer, "AZURE").expect("the last vendor is in view");
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y + 2,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.selection.fleet_row, 1);
    assert_eq!(app.selection.fleet_col, vendors.len());
}

/// The 8x12 fleet with something to see: a degraded region, an overloaded one, a drained
/// one, an open breaker, a half-open one, a quarantine, a provider near its rate limit.
fn wide_fleet_under_pressure() -> protocol::FleetSnapshot {
    let mut fleet = wide_fleet();
    let region = |fleet: &mut protocol::FleetSnapshot, id: &str| -> usize {
        fleet.regions.iter().position(|r| r.id == id).unwrap()
    };
    let provider = |fleet: &mut protocol::FleetSnapshot, id: &str| -> usize {
        fleet.providers.iter().position(|p| p.id == id).unwrap()
    };
    let control = protocol::commands::TimedControl {
        set_by: "alice".into(),
        reason: "drill".into(),
        since: fixture_wall(),
        expires_at: None,
    };
    let us_east = region(&mut fleet, "us-east");
    fleet.regions[us_east].health = protocol::Health::Degraded;
    let eu_central = region(&mut fleet, "eu-central");
    let overloaded = &mut fleet.regions[eu_central];
    overloaded.load_rps = overloaded.capacity_rps * 1.15;
    let sa_east = region(&mut fleet, "sa-east");
    fleet.regions[sa_east].drain = Some(control.clone());
    let open = provider(&mut fleet, "anthropic@us-east");
    fleet.providers[open].breaker.state = protocol::BreakerState::Open;
    let half = provider(&mut fleet, "google@eu-west");
    fleet.providers[half].breaker.state = protocol::BreakerState::HalfOpen;
    let held = provider(&mut fleet, "azure@us-east");
    fleet.providers[held].breaker.state = protocol::BreakerState::Open;
    fleet.providers[held].quarantine = Some(control);
    let limit = provider(&mut fleet, "openai@ap-northeast");
    fleet.providers[limit].rate_limit_headroom = 0.05;
    fleet
}

#[test]
fn wide_fleet_at_120x40_80x24_and_scrolled() {
    let fleet = wide_fleet_under_pressure();
    for (width, height) in [(120, 40), (80, 24)] {
        let app = fleet_app(fleet.clone(), width, height);
        insta::assert_snapshot!(
            format!("wide_fleet_{width}x{height}"),
            text(&render(&app, &dark()))
        );
    }
    let mut app = fleet_app(fleet, 120, 40);
    show(&mut app);
    for _ in 0..10 {
        app.update(key(KeyCode::Right));
        show(&mut app);
    }
    insta::assert_snapshot!("wide_fleet_120x40_scrolled", text(&show(&mut app)));
}

/// A provider in trouble in a column scrolled out of view is counted on its side of the
/// border: a held breaker on the right is never silently out of sight.
#[test]
fn trouble_in_hidden_columns_is_counted_in_the_border() {
    let app = fleet_app(wide_fleet_under_pressure(), 80, 24);
    let screen = text(&render(&app, &dark()));
    let border = screen.lines().nth(1).unwrap();
    assert!(border.contains("(1 not ok) 9 more ▶"), "{screen}");
}

/// The same class elsewhere: help's long descriptions continue on the next row instead of
/// being cut at the popup's edge (`… confirmation fir`), and the palette keeps each command's
/// keys, ending a description that does not fit before them in `…`.
#[test]
fn help_and_palette_cut_nothing_silently_at_80x24() {
    let mut app = app(80, 24, Instant::now());
    app.update(key(KeyCode::Char('?')));
    let screen = text(&render(&app, &dark()));
    // The popup is 76 wide, centred: its text is in columns 3..77.
    let rows: Vec<String> = screen
        .lines()
        .map(|l| l.chars().skip(3).take(74).collect())
        .collect();
    let joined = rows
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for description in [
        "Commands for the selection (preflight and confirmation first)",
        "Force-open, close, pin or unpin the selected provider's breaker",
    ] {
        assert!(joined.contains(description), "{description}:\n{screen}");
    }
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char(':')));
    for c in "breaker".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let screen = text(&render(&app, &dark()));
    let line = screen
        .lines()
        .find(|l| l.contains("Force-open"))
        .expect("the breaker command");
    assert!(line.contains("… b│"), "{screen}");
}

/// A service id longer than its column ends in `…` in the services list.
#[test]
fn a_long_service_name_ends_in_an_ellipsis() {
    let mut fleet = default_fleet();
    fleet.services[0].id = "payments-authorization-gateway-eu".into();
    let mut app = fleet_app(fleet, 80, 24);
    app.update(key(KeyCode::Char('2')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("│payments-author… "), "{screen}");
}

/// Issue 9: on a live fleet whose metrics stay within their deadbands the lab sends only a
/// clock-only delta every 2 s. It tells the operator nothing the screen does not already say
/// (the source is live), so nothing but the wall clock is redrawn: the status bar's revision
/// counter, the detail pane's "updated 1s ago" and the charts' time axis moved with it.
#[test]
fn a_clock_only_delta_redraws_nothing_but_the_clock() {
    let start = Instant::now();
    let (width, height) = (120, 40);
    let mut app = app(width, height, start);
    let fleet = small_fleet();
    let at = |app: &mut App, seconds: u64| {
        app.update(Msg::Tick {
            now: start + Duration::from_secs(seconds),
            wall: fixture_wall() + Duration::from_secs(seconds),
        })
    };
    let delta = |seconds: u64, regions: Vec<protocol::Region>| {
        source(SourceEvent::Delta(protocol::FleetDelta {
            revision: fleet.revision + seconds,
            generated_at: fleet.generated_at + Duration::from_secs(seconds),
            regions,
            ..protocol::FleetDelta::default()
        }))
    };
    for i in 1..=6 {
        let mut region = fleet.regions[0].clone();
        region.latency.p95_ms += 40.0 * i as f64;
        at(&mut app, 2 * i);
        app.update(delta(2 * i, vec![region]));
    }
    at(&mut app, 13);
    let before = render(&app, &dark());
    at(&mut app, 14);
    app.update(delta(14, Vec::new()));
    let after = render(&app, &dark());
    let clock = find(&after, "14:03:14 UTC").expect("the wall clock");
    for y in 0..height {
        for x in 0..width {
            let changed = before[(x, y)] != after[(x, y)];
            let in_clock = y == clock.1 && x >= clock.0;
            assert!(
                !changed || in_clock,
                "({x}, {y}) changed:\n{}\n{}",
                text(&before),
                text(&after)
            );
        }
    }
}

/// The detail pane of a provider with much to say (a quarantine, a pin, a long breaker
/// reason) under the 8x12 matrix at 80x24: facts that do not fit are counted on its last
/// row, not cut silently.
#[test]
fn detail_facts_that_do_not_fit_are_counted() {
    let mut fleet = wide_fleet_under_pressure();
    let held = fleet
        .providers
        .iter_mut()
        .find(|p| p.id == "anthropic@us-east")
        .unwrap();
    held.breaker.reason = Some("error rate 71% > 50% for 3 checks; probes failing ".repeat(3));
    held.pinned = held
        .quarantine
        .clone()
        .or(Some(protocol::commands::TimedControl {
            set_by: "bob".into(),
            reason: "keep it until the vendor answers the ticket".into(),
            since: fixture_wall(),
            expires_at: None,
        }));
    let mut app = fleet_app(fleet, 80, 24);
    app.update(key(KeyCode::Right));
    app.update(key(KeyCode::Right));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("anthropic@us-east"), "{screen}");
    assert!(
        screen.contains("more rows: a taller window shows them"),
        "{screen}"
    );
}
