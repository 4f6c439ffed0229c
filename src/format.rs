//! Number and time formats shared by the views and the CLIs.

pub use protocol::duration::age;

/// A rate (0..1) as a percentage: one decimal below 10 %, none above.
pub fn pct(rate: f64) -> String {
    if !rate.is_finite() {
        return "?".to_string();
    }
    let p = rate * 100.0;
    if p.abs() < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// An SLO target (0..1) as people write it, to the decimals it has: `99.9%`, `99.95%`.
pub fn target(share: f64) -> String {
    let percent = format!("{:.3}", share * 100.0);
    let percent = percent.trim_end_matches('0').trim_end_matches('.');
    format!("{percent}%")
}

pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        "?".to_string()
    } else if value >= 10_000.0 {
        format!("{:.0}s", value / 1000.0)
    } else if value >= 1000.0 {
        format!("{:.1}s", value / 1000.0)
    } else {
        format!("{value:.0}ms")
    }
}

pub fn rps(value: f64) -> String {
    if !value.is_finite() {
        "?".to_string()
    } else if value >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

/// A manual control in words: `by bob: drill (reverts in 12m04s)`. `now` is the clock of the
/// data (the snapshot's `generated_at`), so a lab running faster than real time counts right.
pub fn control(
    set_by: &str,
    reason: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let (by, reason) = (
        protocol::sanitize::clean(set_by),
        protocol::sanitize::clean(reason),
    );
    match expires_at {
        Some(at) => format!(
            "by {by}: {reason} (reverts in {})",
            age((at - now).to_std().unwrap_or_default())
        ),
        None => format!("by {by}: {reason} (until undone)"),
    }
}

/// The word for `count` things: `one` for exactly one, else `many`.
pub fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// A count with thousands separated, e.g. `34,000`.
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// Money, `$` and thousands separated: cents below $100, whole units above (`$4.73`,
/// `$4,860`); unknown is `?`, a negative amount (a saving) keeps its sign (`-$12.50`).
pub fn money(amount: Option<f64>) -> String {
    let Some(amount) = amount.filter(|a| a.is_finite()) else {
        return "?".to_string();
    };
    let sign = if amount < 0.0 { "-" } else { "" };
    let size = amount.abs();
    if size < 100.0 {
        format!("{sign}${size:.2}")
    } else {
        format!("{sign}${}", thousands(size.round() as u64))
    }
}

/// A change of spend per hour with its sign: `+$1,080/h`, `-$4.50/h`, `±$0/h`.
pub fn money_delta(per_hour: f64) -> String {
    if per_hour.abs() < 0.005 {
        "±$0/h".to_string()
    } else if per_hour > 0.0 {
        format!("+{}/h", money(Some(per_hour)))
    } else {
        format!("{}/h", money(Some(per_hour)))
    }
}

/// An SLO as people say it: `99.9%/30d`.
pub fn slo_text(slo: &protocol::posture::Slo) -> String {
    format!(
        "{}/{}d",
        target(slo.target),
        (slo.window_s / 86_400.0).round()
    )
}

/// A burn rate: `0.45x`, `14x` (two significant figures are all it is read for); `?` unknown.
pub fn burn(rate: Option<f64>) -> String {
    match rate.filter(|r| r.is_finite()) {
        None => "?".to_string(),
        Some(rate) if rate >= 10.0 => format!("{rate:.0}x"),
        Some(rate) => format!("{rate:.2}x"),
    }
}

/// A posture finding in one line, for the views and the cost report (names cleaned).
pub fn finding(finding: &protocol::posture::Finding) -> String {
    use protocol::posture::Finding;
    let service = protocol::sanitize::clean(finding.service());
    match finding {
        Finding::HiddenSpof { why, .. } => format!(
            "hidden SPOF: {service} (critical): {}",
            protocol::sanitize::clean(why)
        ),
        Finding::GhostSpend { per_hour, .. } => format!(
            "ghost spend: {service} (nice-to-have) pays {}/h for hot standbys",
            money(Some(*per_hour))
        ),
        Finding::BudgetExhaustion { in_s, .. } => format!(
            "budget at risk: {service} spends its error budget in {} at this burn rate",
            age(std::time::Duration::from_secs_f64(in_s.max(0.0)))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_cents_only_where_they_matter_and_says_unknown() {
        let cases = [
            (Some(4.7251), "$4.73"),
            (Some(4_860.0), "$4,860"),
            (Some(-12.5), "-$12.50"),
            (None, "?"),
            (Some(f64::NAN), "?"),
        ];
        for (amount, text) in cases {
            assert_eq!(money(amount), text);
        }
        assert_eq!(money_delta(1_080.0), "+$1,080/h");
        assert_eq!(money_delta(-4.5), "-$4.50/h");
        assert_eq!(money_delta(0.001), "±$0/h");
        assert_eq!(burn(Some(14.4)), "14x");
        assert_eq!(burn(Some(0.4512)), "0.45x");
    }

    #[test]
    fn targets_read_as_people_write_them() {
        assert_eq!(target(0.999), "99.9%");
        assert_eq!(target(0.99), "99%");
        assert_eq!(target(0.9995), "99.95%");
    }

    #[test]
    fn counts_have_their_thousands_separated() {
        let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (34_000, "34,000")];
        for (count, text) in cases {
            assert_eq!(thousands(count), text);
        }
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn formats_read_naturally() {
        assert_eq!(pct(0.0321), "3.2%");
        assert_eq!(pct(0.62), "62%");
        assert_eq!(pct(-0.15), "-15%");
        assert_eq!(pct(f64::NAN), "?");
        assert_eq!(ms(412.4), "412ms");
        assert_eq!(ms(1530.0), "1.5s");
        assert_eq!(ms(45_000.0), "45s");
        assert_eq!(rps(820.2), "820");
    }
}
