//! OwnTracks compatibility (opt-in): `owntracks/{user}/{device}` location
//! messages become fixes of device `{user}.{device}`.
//!
//! OwnTracks messages carry no counter, so `tst` (whole seconds) serves as
//! `seq`: a redelivered message is then recognised as a repeat.

use serde::Deserialize;

use crate::uplink::{Check, RawFix};
use crate::{DeviceId, Fix, ProtoError, TimestampMs, json};

#[derive(Deserialize)]
struct RawLocation<'a> {
    #[serde(rename = "_type")]
    kind: Option<&'a str>,
    lat: Option<f64>,
    lon: Option<f64>,
    acc: Option<f64>,
    tst: Option<u64>,
    batt: Option<f64>,
    /// km/h
    vel: Option<f64>,
    cog: Option<f64>,
    alt: Option<f64>,
}

/// The fix in an OwnTracks message, or `None` for message types other than `location`.
pub fn parse_location(
    payload: &[u8],
    device: &DeviceId,
    received_at: TimestampMs,
) -> Result<Option<Fix>, ProtoError> {
    let raw: RawLocation<'_> = json::parse(payload)?;
    if raw.kind != Some("location") {
        return Ok(None);
    }
    let fix = RawFix {
        seq: raw.tst,
        ts: raw.tst.map(|seconds| seconds.saturating_mul(1000)),
        lat: raw.lat,
        lon: raw.lon,
        acc: raw.acc,
        spd: raw.vel.map(|kmh| kmh / 3.6),
        hdg: raw.cog,
        alt: raw.alt,
        batt: raw.batt,
        ..RawFix::default()
    };
    let check = Check {
        device,
        received_at,
    };
    check
        .fix(fix)
        .map(Some)
        .map_err(|err| match err.field.as_str() {
            "seq" | "ts" => ProtoError::new("tst", err.reason),
            _ => err,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectReason;

    const NOW: TimestampMs = TimestampMs(1_764_331_300_000);

    fn device() -> DeviceId {
        DeviceId::parse("anna.phone", "device").unwrap()
    }

    #[test]
    fn a_location_message_becomes_a_fix_with_tst_in_milliseconds() {
        let payload = br#"{"_type":"location","lat":51.9225,"lon":4.4792,"acc":12,"tst":1764331200,"batt":80,"vel":36}"#;
        let fix = parse_location(payload, &device(), NOW).unwrap().unwrap();
        assert_eq!(fix.ts, TimestampMs(1_764_331_200_000));
        assert_eq!(fix.seq, 1_764_331_200);
        assert_eq!(fix.acc.get(), 12.0);
        assert_eq!(fix.spd.map(|s| s.get()), Some(10.0));
        assert_eq!(fix.batt.map(|b| b.get()), Some(80.0));
    }

    #[test]
    fn a_fix_from_a_speed_in_km_h_written_as_json_reads_back_to_the_same_bits() {
        let payload =
            br#"{"_type":"location","lat":51.9,"lon":4.4,"acc":12,"tst":1764331200,"vel":43318}"#;
        let fix = parse_location(payload, &device(), NOW).unwrap().unwrap();
        let written = serde_json::to_vec(&fix).unwrap();
        let read = crate::parse_loc(&written, &device(), NOW).unwrap();
        assert_eq!(read, [fix]);
    }

    #[test]
    fn other_message_types_are_ignored() {
        let payload = br#"{"_type":"lwt","tst":1764331200}"#;
        assert_eq!(parse_location(payload, &device(), NOW), Ok(None));
    }

    #[test]
    fn a_location_without_tst_names_tst() {
        let payload = br#"{"_type":"location","lat":51.9,"lon":4.4,"acc":12}"#;
        let err = parse_location(payload, &device(), NOW).unwrap_err();
        assert_eq!(err, ProtoError::new("tst", RejectReason::MissingField));
    }
}
