//! Durations as scenarios write them: "90s", "2m", "1m30s", "1h".

/// Longest inject time or duration accepted: a drill, not a soak test.
const MAX_SECONDS: f64 = 24.0 * 3600.0;

/// Parses "90s", "2m", "1m30s", "1h" into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let invalid = || format!("{text:?} is not a duration like 30s, 2m or 1m30s");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let value: u64 = digits.parse().map_err(|_| invalid())?;
        total = value
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    let seconds = total as f64;
    if seconds > MAX_SECONDS {
        return Err(format!("{text:?} is longer than 24h"));
    }
    Ok(seconds)
}

/// Formats seconds the way scenarios write them: "45s", "5m", "1m30s", "2h".
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
