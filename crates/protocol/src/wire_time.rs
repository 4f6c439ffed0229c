//! Timestamps of the busiest wire type, the escalation summary (a page of a list holds a
//! thousand, a backlog a hundred thousand), written and read exactly as chrono's serde does
//! (RFC 3339 in UTC with `Z`, a fraction only when there is one) but faster: chrono writes
//! through serde's `collect_str`, escaping the text a character at a time, and reads with
//! its general RFC 3339 parser. The common form, whole seconds in UTC, takes a short path
//! here; every other text goes through chrono as before.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use serde::{Deserializer, Serializer, de};

/// `YYYY-MM-DDTHH:MM:SSZ`
const WHOLE_SECONDS_LEN: usize = 20;

/// Writes `at` as chrono's `Serialize` does.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match whole_seconds(at) {
        Some(text) => {
            serializer.serialize_str(std::str::from_utf8(&text).expect("digits are ASCII"))
        }
        None => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// Reads a timestamp as chrono's `Deserialize` does (any RFC 3339 offset, turned to UTC).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(Visitor)
}

struct Visitor;

impl de::Visitor<'_> for Visitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
        if let Some(at) = parse_whole_seconds(text.as_bytes()) {
            return Ok(at);
        }
        text.parse::<DateTime<FixedOffset>>()
            .map(|at| at.with_timezone(&Utc))
            .map_err(E::custom)
    }
}

/// The text of `at` when it is whole seconds in years 0 to 9999 (what chrono writes then).
fn whole_seconds(at: &DateTime<Utc>) -> Option<[u8; WHOLE_SECONDS_LEN]> {
    use chrono::{Datelike, Timelike};
    if at.nanosecond() != 0 || !(0..=9999).contains(&at.year()) {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let year = at.year() as u32;
    let fields = [
        (0, year / 100),
        (2, year % 100),
        (5, at.month()),
        (8, at.day()),
        (11, at.hour()),
        (14, at.minute()),
        (17, at.second()),
    ];
    for (at, value) in fields {
        text[at] = b'0' + (value / 10) as u8;
        text[at + 1] = b'0' + (value % 10) as u8;
    }
    Some(text)
}

/// `YYYY-MM-DDTHH:MM:SSZ` read without chrono's parser; `None` for anything else, which
/// chrono then reads (or refuses) as it always did.
fn parse_whole_seconds(text: &[u8]) -> Option<DateTime<Utc>> {
    if text.len() != WHOLE_SECONDS_LEN
        || text[4] != b'-'
        || text[7] != b'-'
        || text[10] != b'T'
        || text[13] != b':'
        || text[16] != b':'
        || text[19] != b'Z'
    {
        return None;
    }
    let number = |from: usize, len: usize| -> Option<u32> {
        text[from..from + len].iter().try_fold(0, |n, &digit| {
            digit
                .is_ascii_digit()
                .then(|| n * 10 + u32::from(digit - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
    let time = date.and_hms_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Fast(#[serde(with = "super")] DateTime<Utc>);

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Chrono(DateTime<Utc>);

    #[test]
    fn timestamps_are_written_and_read_as_chrono_does() {
        let start = Utc.with_ymd_and_hms(2024, 2, 28, 23, 59, 58).unwrap();
        let mut times = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for step in 0..5_000 {
            let whole = start + TimeDelta::seconds(step * 7_919);
            times.push(whole);
            times.push(whole + TimeDelta::milliseconds(step % 1000));
            times.push(whole + TimeDelta::microseconds(step * 13));
            times.push(whole + TimeDelta::nanoseconds(step * 1_000_003));
        }
        for at in times {
            let fast = serde_json::to_string(&Fast(at)).unwrap();
            assert_eq!(fast, serde_json::to_string(&Chrono(at)).unwrap());
            assert_eq!(serde_json::from_str::<Fast>(&fast).unwrap().0, at);
        }
    }

    #[test]
    fn every_text_chrono_reads_or_refuses_is_read_or_refused_alike() {
        let texts = [
            "2025-03-01T06:24:32Z",
            "2025-03-01T06:24:32.5Z",
            "2025-03-01t06:24:32z",
            "2025-03-01 06:24:32Z",
            "2025-03-01T06:24:32+02:00",
            "2025-03-01T06:24:60Z",
            "2024-02-29T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-03-01T24:00:00Z",
            "2025-03-01T06:24:3xZ",
            "+2025-03-01T06:24:3Z",
            "2025-03-01T06:24:32",
            "",
        ];
        for text in texts {
            let json = serde_json::to_string(text).unwrap();
            let fast = serde_json::from_str::<Fast>(&json).map(|f| f.0);
            let chrono = serde_json::from_str::<Chrono>(&json).map(|c| c.0);
            match (fast, chrono) {
                (Ok(fast), Ok(chrono)) => assert_eq!(fast, chrono, "{text}"),
                (Err(fast), Err(chrono)) => {
                    assert_eq!(fast.to_string(), chrono.to_string(), "{text}")
                }
                (fast, chrono) => panic!("{text}: {fast:?} vs chrono {chrono:?}"),
            }
        }
    }
}
