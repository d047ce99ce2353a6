//! A tiny RFC 3339 formatter for Unix seconds.
//!
//! Image configs carry `created` timestamps derived from `SOURCE_DATE_EPOCH`. A
//! date library would be a large dependency for one pure function, and this one
//! has no notion of local time zones or the clock, which is exactly what a
//! reproducible build wants: the output depends on the input number only.

/// The last second RFC 3339 can express (`9999-12-31T23:59:59Z`): its year
/// field has exactly four digits.
pub const MAX_RFC3339_SECONDS: u64 = 253_402_300_799;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timestamp {seconds} (seconds since 1970-01-01) is after 9999-12-31T23:59:59Z and cannot be written as RFC 3339; set SOURCE_DATE_EPOCH to a value of at most {MAX_RFC3339_SECONDS}"
)]
pub struct TimeError {
    pub seconds: u64,
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, no fraction).
pub fn rfc3339(seconds: u64) -> Result<String, TimeError> {
    if seconds > MAX_RFC3339_SECONDS {
        return Err(TimeError { seconds });
    }
    let days = seconds / 86_400;
    let rem = seconds % 86_400;
    let (y, m, d) = civil_from_days(days);
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// This is Howard Hinnant's `civil_from_days`, restricted to non-negative day
/// counts so it can use unsigned arithmetic: days are shifted to start on
/// 0000-03-01 so that the leap day is the last day of the (March-based) year,
/// then split into 400-year eras of 146097 days each.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(951_868_799).unwrap(), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339(951_868_800).unwrap(), "2000-03-01T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_400).unwrap(), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339(4_107_456_000).unwrap(), "2100-02-28T00:00:00Z");
        assert_eq!(rfc3339(1_234_567_890).unwrap(), "2009-02-13T23:31:30Z");
    }

    #[test]
    fn upper_bound() {
        assert_eq!(
            rfc3339(MAX_RFC3339_SECONDS).unwrap(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339(MAX_RFC3339_SECONDS + 1),
            Err(TimeError {
                seconds: MAX_RFC3339_SECONDS + 1
            })
        );
        assert!(rfc3339(u64::MAX).is_err());
    }

    /// Every day for ~200 years: the date advances by exactly one day each time,
    /// months and years roll over correctly.
    #[test]
    fn consecutive_days_are_consecutive() {
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for day in 1..(200 * 366) {
            let cur = civil_from_days(day);
            let next_in_month = (prev.0, prev.1, prev.2 + 1);
            let next_month = if prev.1 == 12 {
                (prev.0 + 1, 1, 1)
            } else {
                (prev.0, prev.1 + 1, 1)
            };
            assert!(
                cur == next_in_month || cur == next_month,
                "{prev:?} -> {cur:?}"
            );
            if cur == next_month {
                let leap = prev.0.is_multiple_of(4)
                    && (!prev.0.is_multiple_of(100) || prev.0.is_multiple_of(400));
                let len = match prev.1 {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(prev.2, len, "month {prev:?} ended early");
            }
            prev = cur;
        }
    }
}
