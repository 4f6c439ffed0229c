use switchboard::domain::command::Command;
use switchboard::domain::preflight::preflight;
#[test]
fn measure() {
    let fleet = switchboard::testing::default_fleet();
    let cmds = [
        Command::Drain {
            region: "us-east".into(),
            expires_in_s: None,
        },
        Command::Breaker {
            provider: "openai@us-east".into(),
            action: switchboard::api::commands::BreakerAction::ForceOpen,
            expires_in_s: None,
        },
    ];
    for c in &cmds {
        let n = 20000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(preflight(c, &fleet));
        }
        eprintln!("MEASURE {}: {:?} per call", c, t.elapsed() / n);
    }
}
