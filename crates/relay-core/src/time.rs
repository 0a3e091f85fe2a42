//! Time as Relay stores it: milliseconds since the Unix epoch (UTC), shown as RFC 3339, and the
//! UTC calendar day that the daily rollup is keyed on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// An instant, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond())
    }

    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 time such as `2026-12-04T10:00:00Z`.
    pub fn parse_rfc3339(value: &str) -> Result<Self, ValidationError> {
        let ts: jiff::Timestamp = value.parse().map_err(|_| {
            ValidationError::new(
                "time",
                value,
                "expected RFC 3339, e.g. 2026-12-04T10:00:00Z",
            )
        })?;
        Ok(Self(ts.as_millisecond()))
    }

    fn as_jiff(self) -> jiff::Timestamp {
        // Out-of-range values cannot be stored by Relay (they fail parsing), but a row written by
        // hand could hold one: clamp instead of panicking.
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }

    /// The UTC day this instant falls on.
    pub fn day(self) -> Day {
        Day(self.as_jiff().to_zoned(jiff::tz::TimeZone::UTC).date())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_jiff())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&raw).map_err(serde::de::Error::custom)
    }
}

/// A calendar day in UTC, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(jiff::civil::Date);

impl Day {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let date: jiff::civil::Date = value
            .parse()
            .map_err(|_| ValidationError::new("date", value, "expected YYYY-MM-DD"))?;
        Ok(Self(date))
    }

    /// The first instant of this day.
    pub fn start(self) -> Timestamp {
        let ts = self
            .0
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|zoned| zoned.timestamp())
            .unwrap_or(jiff::Timestamp::MIN);
        Timestamp(ts.as_millisecond())
    }

    /// The day after this one (saturating at the end of the calendar).
    pub fn next(self) -> Self {
        Self(self.0.tomorrow().unwrap_or(self.0))
    }

    /// `days` days later (earlier when negative), saturating at the ends of the calendar.
    pub fn plus_days(self, days: i64) -> Self {
        let span = jiff::Span::new().days(days.clamp(-7_000_000, 7_000_000));
        Self(self.0.checked_add(span).unwrap_or(if days < 0 {
            jiff::civil::Date::MIN
        } else {
            jiff::civil::Date::MAX
        }))
    }

    /// The Monday of this day's ISO week.
    pub fn week_start(self) -> Self {
        let back = self.0.weekday().to_monday_zero_offset();
        self.plus_days(-i64::from(back))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        (later.start().as_millis() - self.start().as_millis()).div_euclid(86_400_000)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_count_and_weeks_start_on_monday() {
        let day = Day::parse("2026-12-04").unwrap(); // a Friday
        assert_eq!(day.week_start().to_string(), "2026-11-30");
        assert_eq!(day.plus_days(-4).week_start(), day.week_start());
        assert_eq!(day.plus_days(28).to_string(), "2027-01-01");
        assert_eq!(day.days_until(day.plus_days(-30)), -30);
        assert_eq!(day.week_start().week_start(), day.week_start());
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let ts = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();
        assert_eq!(ts.to_string(), "2026-12-04T10:00:00Z");
        assert_eq!(ts.day().to_string(), "2026-12-04");
        let offset = Timestamp::parse_rfc3339("2026-12-04T23:30:00-02:00").unwrap();
        assert_eq!(offset.day().to_string(), "2026-12-05");
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn days_parse_and_start_at_midnight_utc() {
        let day = Day::parse("2026-02-28").unwrap();
        assert_eq!(day.start().to_string(), "2026-02-28T00:00:00Z");
        assert_eq!(day.next().to_string(), "2026-03-01");
        assert!(Day::parse("2026-02-30").is_err());
    }
}
