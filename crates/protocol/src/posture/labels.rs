//! Money, counts, SLOs and burn rates as people read them, for the console and the reports the lab writes
//! alike (one way to write a dollar figure everywhere).

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

/// An SLO target (0..1) as people write it, to the decimals it has: `99.9%`, `99.95%`.
pub fn target(share: f64) -> String {
    let percent = format!("{:.3}", share * 100.0);
    let percent = percent.trim_end_matches('0').trim_end_matches('.');
    format!("{percent}%")
}

/// An SLO as people say it: `99.9%/30d`.
pub fn slo_text(slo: &super::Slo) -> String {
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
