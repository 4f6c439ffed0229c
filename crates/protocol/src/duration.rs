//! Durations as operators read and type them: `4s`, `3m04s`, `2h05m`; `90s`, `30m`, `1h30m`.

use std::time::Duration;

/// An age as people read it on a status line: `4s`, `3m04s`, `2h05m`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Parses a duration as operators type it: `90s`, `30m`, `2h`, `1h30m`, or plain seconds.
pub fn parse_duration_s(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a duration (use e.g. 90s, 30m, 2h, 1h30m)"
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (a number must come before {c:?})"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(format!(
            "{text:?} is not a duration (use e.g. 90s, 30m, 2h, 1h30m)"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(Duration::from_secs(4)), "4s");
        assert_eq!(age(Duration::from_secs(184)), "3m04s");
        assert_eq!(age(Duration::from_secs(7500)), "2h05m");
    }
}
