use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as Unix epoch milliseconds: the `ts` of every MQTT message.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct TimestampMs(pub u64);

impl TimestampMs {
    /// The current wall-clock time; only adapters call this, never the engine.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// Milliseconds between two instants, whichever is later.
    pub fn abs_diff(self, other: Self) -> u64 {
        self.0.abs_diff(other.0)
    }

    /// This instant moved `ms` milliseconds later (saturating).
    pub fn plus_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

impl fmt::Display for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        UtcTime(*self).fmt(f)
    }
}

/// A point in time written as RFC 3339 UTC with milliseconds
/// (`2026-11-28T12:00:01.120Z`): the timestamps of the dispatch body and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(value_type = String, format = DateTime)]
pub struct UtcTime(pub TimestampMs);

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_rfc3339_millis(self.0.to_system_time()).fmt(f)
    }
}

/// The form of every [`UtcTime`] the API reads: RFC 3339 in UTC (`Z`), from
/// 1970 on, with up to nine digits of fraction and no leap second; the
/// OpenAPI document gives it as the pattern of `UtcTime`.
pub const UTC_TIME_PATTERN: &str = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z$";

/// Whether `text` has the form of [`UTC_TIME_PATTERN`]; the calendar (no
/// 30 February) is humantime's to check.
fn has_utc_time_form(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let fields = [(0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)];
    let digits = fields
        .iter()
        .all(|&(from, to)| b[from..to].iter().all(u8::is_ascii_digit));
    if !digits || (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':') {
        return false;
    }
    let two = |at: usize| (b[at] - b'0') * 10 + (b[at + 1] - b'0');
    let fraction = &b[19..b.len() - 1];
    b[0..4] >= b"1970"[..]
        && (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) <= 23
        && two(14) <= 59
        && two(17) <= 59
        && (fraction.is_empty()
            || (fraction[0] == b'.'
                && (2..=10).contains(&fraction.len())
                && fraction[1..].iter().all(u8::is_ascii_digit)))
}

impl std::str::FromStr for UtcTime {
    type Err = humantime::TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !has_utc_time_form(text) {
            return Err(humantime::TimestampError::InvalidFormat);
        }
        let time = humantime::parse_rfc3339_weak(text)?;
        let ms = time
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Ok(Self(TimestampMs(ms)))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for UtcTime {
    fn schema_name() -> Cow<'static, str> {
        "UtcTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_is_rfc3339_with_milliseconds() {
        let time = UtcTime(TimestampMs(1_764_331_201_120));
        assert_eq!(time.to_string(), "2025-11-28T12:00:01.120Z");
        assert_eq!("2025-11-28T12:00:01.120Z".parse::<UtcTime>(), Ok(time));
    }

    #[test]
    fn utc_time_reads_only_the_form_of_its_pattern() {
        for good in [
            "1970-01-01T00:00:00Z",
            "2027-06-01T00:00:00Z",
            "2024-02-29T23:59:59.123456789Z",
            "9999-12-31T23:59:59.1Z",
        ] {
            assert!(good.parse::<UtcTime>().is_ok(), "{good}");
        }
        for bad in [
            "1969-12-31T23:59:59Z",
            "0149-11-30T10:24:21Z",
            "2027-06-01 00:00:00Z",
            "2027-06-01T00:00:00",
            "2027-06-01T00:00:00+00:00",
            "2027-06-01T00:00:00-02:45",
            "2027-06-01T00:00:00Zabc",
            "2027-06-01t00:00:00z",
            "2027-06-01T00:00:60Z",
            "2027-06-01T00:00:00.Z",
            "2027-06-01T00:00:00.1234567890Z",
            "2027-13-01T00:00:00Z",
            "2027-02-30T00:00:00Z",
            "2027-06-01T24:00:00Z",
            "2027-06-0\u{e9}T00:00:00Z",
        ] {
            assert!(bad.parse::<UtcTime>().is_err(), "{bad}");
        }
    }
}
