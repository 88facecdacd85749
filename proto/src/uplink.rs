//! Device → server messages (`loc`, `alarm`, `status`) and their validation.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::json;
use crate::units::{BatteryPercent, Degrees, Latitude, Longitude, Meters, MetersPerSecond};
use crate::{
    Channel, DeviceId, MAX_BATCH_FIXES, MAX_FUTURE_SKEW_MS, ProtoError, RejectReason, TimestampMs,
};

/// How a device obtained a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FixSource {
    /// Satellite positioning.
    Gps,
    /// Wi-Fi access point lookup.
    Wifi,
    /// Cell tower lookup.
    Cell,
    /// The platform's fused provider.
    Fused,
}

/// One validated position report: the unit of everything detection does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Fix {
    /// Per-device message counter.
    pub seq: u64,
    /// Device time of the fix.
    pub ts: TimestampMs,
    /// Latitude.
    pub lat: Latitude,
    /// Longitude.
    pub lon: Longitude,
    /// Horizontal accuracy radius.
    pub acc: Meters,
    /// Ground speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spd: Option<MetersPerSecond>,
    /// Heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdg: Option<Degrees>,
    /// Altitude in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<f64>,
    /// How the position was obtained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<FixSource>,
    /// Battery charge at the time of the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batt: Option<BatteryPercent>,
    /// The sending device; when present it equals the topic's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
}

impl Fix {
    /// A fix with the fields every fix has and none of the optional ones.
    pub fn new(seq: u64, ts: TimestampMs, lat: Latitude, lon: Longitude, acc: Meters) -> Self {
        Self {
            seq,
            ts,
            lat,
            lon,
            acc,
            spd: None,
            hdg: None,
            alt: None,
            src: None,
            batt: None,
            device: None,
        }
    }
}

/// Fixes uploaded together after a device was offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FixBatch {
    /// The fixes, each with its own `seq` and `ts`.
    #[schemars(length(min = 1, max = 500))]
    pub fixes: Vec<Fix>,
}

/// The payload of a `loc` topic: one fix, or a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LocationMessage {
    /// A batch of fixes.
    Batch(FixBatch),
    /// A single fix.
    Fix(Fix),
}

/// What a device's alarm reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// The victim pressed the panic button.
    Panic,
    /// The perpetrator's tag was tampered with.
    Tamper,
    /// The perpetrator's strap was opened.
    StrapOpen,
    /// The perpetrator's tag and its companion unit were separated.
    Separation,
    /// The victim's device detected a fall.
    Fall,
}

/// An alarm event from a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alarm {
    /// Per-device message counter; absent only on a panic accepted despite bad fields.
    pub seq: Option<u64>,
    /// Device time; the receive time when a panic arrived without a usable `ts`.
    pub ts: TimestampMs,
    /// What happened.
    pub kind: AlarmKind,
    /// Latitude where the alarm was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<Latitude>,
    /// Longitude where the alarm was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<Longitude>,
    /// Accuracy of that position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc: Option<Meters>,
    /// The sending device; when present it equals the topic's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
}

/// An accepted alarm with the fields that were ignored to accept it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAlarm {
    /// The alarm as it will be processed.
    pub alarm: Alarm,
    /// Bad fields of a panic that were dropped rather than losing the panic.
    pub ignored: Vec<ProtoError>,
}

/// What a device's status event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// Periodic sign of life.
    Heartbeat,
    /// Battery report.
    Battery,
    /// Connected.
    Online,
    /// Disconnected (also the MQTT will message).
    Offline,
    /// No satellite fix.
    GpsLost,
    /// Satellite fix regained.
    GpsOk,
}

/// A status event from a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Status {
    /// Per-device message counter; absent only on an `offline` will message.
    pub seq: Option<u64>,
    /// Device time; the receive time for an `offline` will message without one.
    pub ts: TimestampMs,
    /// What is reported.
    pub kind: StatusKind,
    /// Battery charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batt: Option<BatteryPercent>,
    /// The sending device; when present it equals the topic's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
}

/// A validated uplink message of any channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// One or more fixes from a `loc` topic.
    Fixes(Vec<Fix>),
    /// An alarm.
    Alarm(ParsedAlarm),
    /// A status event.
    Status(Status),
}

/// Parses and validates a payload received on `channel` for `device`.
pub fn parse_uplink(
    channel: Channel,
    payload: &[u8],
    device: &DeviceId,
    received_at: TimestampMs,
) -> Result<Uplink, ProtoError> {
    match channel {
        Channel::Loc => parse_loc(payload, device, received_at).map(Uplink::Fixes),
        Channel::Alarm => parse_alarm(payload, device, received_at).map(Uplink::Alarm),
        Channel::Status => parse_status(payload, device, received_at).map(Uplink::Status),
    }
}

/// Parses a `loc` payload: one fix or a batch of at most 500.
pub fn parse_loc(
    payload: &[u8],
    device: &DeviceId,
    received_at: TimestampMs,
) -> Result<Vec<Fix>, ProtoError> {
    let raw: RawFix<'_> = json::parse(payload)?;
    let check = Check {
        device,
        received_at,
    };
    match raw.fixes {
        None => Ok(vec![check.fix(raw)?]),
        Some(fixes) if fixes.len() > MAX_BATCH_FIXES => {
            Err(ProtoError::new("fixes", RejectReason::BatchTooLarge))
        }
        Some(fixes) => fixes
            .into_iter()
            .enumerate()
            .map(|(i, fix)| check.fix(fix).map_err(|e| e.within(&format!("fixes[{i}]"))))
            .collect(),
    }
}

/// Parses an `alarm` payload. A panic is accepted whatever its other fields
/// hold: bad ones are dropped and listed in [`ParsedAlarm::ignored`].
pub fn parse_alarm(
    payload: &[u8],
    device: &DeviceId,
    received_at: TimestampMs,
) -> Result<ParsedAlarm, ProtoError> {
    let check = Check {
        device,
        received_at,
    };
    let strict = json::parse::<RawAlarm<'_>>(payload).and_then(|raw| check.alarm(raw));
    match strict {
        Ok(alarm) => Ok(ParsedAlarm {
            alarm,
            ignored: Vec::new(),
        }),
        Err(error) => check.lenient_panic(payload, error),
    }
}

/// Parses a `status` payload; an `offline` will message may lack `seq` and `ts`.
pub fn parse_status(
    payload: &[u8],
    device: &DeviceId,
    received_at: TimestampMs,
) -> Result<Status, ProtoError> {
    let raw: RawStatus<'_> = json::parse(payload)?;
    let check = Check {
        device,
        received_at,
    };
    check.status(raw)
}

/// A fix as it arrives, before any field is trusted.
#[derive(Default, Deserialize)]
pub(crate) struct RawFix<'a> {
    pub seq: Option<u64>,
    pub ts: Option<u64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub acc: Option<f64>,
    pub spd: Option<f64>,
    pub hdg: Option<f64>,
    pub alt: Option<f64>,
    pub src: Option<FixSource>,
    pub batt: Option<f64>,
    #[serde(borrow)]
    pub device: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub fixes: Option<Vec<RawFix<'a>>>,
}

#[derive(Deserialize)]
struct RawAlarm<'a> {
    seq: Option<u64>,
    ts: Option<u64>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    lat: Option<f64>,
    lon: Option<f64>,
    acc: Option<f64>,
    #[serde(borrow)]
    device: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawStatus<'a> {
    seq: Option<u64>,
    ts: Option<u64>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    batt: Option<f64>,
    #[serde(borrow)]
    device: Option<Cow<'a, str>>,
}

/// The context every field check needs: whose topic, and when it arrived.
pub(crate) struct Check<'c> {
    pub device: &'c DeviceId,
    pub received_at: TimestampMs,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, ProtoError> {
    value.ok_or_else(|| ProtoError::new(field, RejectReason::MissingField))
}

fn bounded<T>(
    value: f64,
    field: &str,
    make: fn(f64) -> Option<T>,
    reason: RejectReason,
) -> Result<T, ProtoError> {
    if !value.is_finite() {
        return Err(ProtoError::new(field, RejectReason::NonFinite));
    }
    make(value).ok_or_else(|| ProtoError::new(field, reason))
}

fn optional<T>(
    value: Option<f64>,
    field: &str,
    make: fn(f64) -> Option<T>,
) -> Result<Option<T>, ProtoError> {
    value
        .map(|v| bounded(v, field, make, RejectReason::OutOfRange))
        .transpose()
}

impl Check<'_> {
    fn device(&self, claimed: Option<Cow<'_, str>>) -> Result<Option<DeviceId>, ProtoError> {
        match claimed {
            None => Ok(None),
            Some(id) if id == self.device.as_str() => Ok(Some(self.device.clone())),
            Some(_) => Err(ProtoError::new("device", RejectReason::DeviceMismatch)),
        }
    }

    fn ts(&self, ts: u64) -> Result<TimestampMs, ProtoError> {
        if ts > self.received_at.millis().saturating_add(MAX_FUTURE_SKEW_MS) {
            return Err(ProtoError::new("ts", RejectReason::FutureTs));
        }
        Ok(TimestampMs(ts))
    }

    fn position(
        &self,
        lat: f64,
        lon: f64,
        acc: f64,
    ) -> Result<(Latitude, Longitude, Meters), ProtoError> {
        Ok((
            bounded(lat, "lat", Latitude::new, RejectReason::LatOutOfRange)?,
            bounded(lon, "lon", Longitude::new, RejectReason::LonOutOfRange)?,
            bounded(acc, "acc", Meters::new, RejectReason::NegativeAcc)?,
        ))
    }

    pub(crate) fn fix(&self, raw: RawFix<'_>) -> Result<Fix, ProtoError> {
        let device = self.device(raw.device)?;
        let seq = required(raw.seq, "seq")?;
        let ts = self.ts(required(raw.ts, "ts")?)?;
        let (lat, lon, acc) = self.position(
            required(raw.lat, "lat")?,
            required(raw.lon, "lon")?,
            required(raw.acc, "acc")?,
        )?;
        Ok(Fix {
            seq,
            ts,
            lat,
            lon,
            acc,
            spd: optional(raw.spd, "spd", MetersPerSecond::new)?,
            hdg: optional(raw.hdg, "hdg", Degrees::new)?,
            alt: optional(raw.alt, "alt", Some)?,
            src: raw.src,
            batt: optional(raw.batt, "batt", BatteryPercent::new)?,
            device,
        })
    }

    fn alarm(&self, raw: RawAlarm<'_>) -> Result<Alarm, ProtoError> {
        let kind = alarm_kind(&required(raw.kind, "kind")?)?;
        let device = self.device(raw.device)?;
        let seq = required(raw.seq, "seq")?;
        let ts = self.ts(required(raw.ts, "ts")?)?;
        let (lat, lon, acc) = match (raw.lat, raw.lon) {
            (None, None) => (None, None, None),
            (Some(lat), Some(lon)) => {
                let lat = bounded(lat, "lat", Latitude::new, RejectReason::LatOutOfRange)?;
                let lon = bounded(lon, "lon", Longitude::new, RejectReason::LonOutOfRange)?;
                let acc = raw
                    .acc
                    .map(|acc| bounded(acc, "acc", Meters::new, RejectReason::NegativeAcc))
                    .transpose()?;
                (Some(lat), Some(lon), acc)
            }
            (Some(_), None) => return Err(ProtoError::new("lon", RejectReason::MissingField)),
            (None, Some(_)) => return Err(ProtoError::new("lat", RejectReason::MissingField)),
        };
        Ok(Alarm {
            seq: Some(seq),
            ts,
            kind,
            lat,
            lon,
            acc,
            device,
        })
    }

    /// Salvages a panic from a payload that failed strict parsing.
    fn lenient_panic(&self, payload: &[u8], error: ProtoError) -> Result<ParsedAlarm, ProtoError> {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(payload) else {
            return Err(error);
        };
        if object.get("kind").and_then(|k| k.as_str()) != Some("panic") {
            return Err(error);
        }
        let mut ignored = Vec::new();
        let seq = salvaged(&object, "seq", &mut ignored, |v| v.as_u64());
        let ts = salvaged(&object, "ts", &mut ignored, |v| {
            v.as_u64().and_then(|ts| self.ts(ts).ok())
        });
        let lat = salvaged(&object, "lat", &mut ignored, |v| {
            v.as_f64().and_then(Latitude::new)
        });
        let lon = salvaged(&object, "lon", &mut ignored, |v| {
            v.as_f64().and_then(Longitude::new)
        });
        let acc = salvaged(&object, "acc", &mut ignored, |v| {
            v.as_f64().and_then(Meters::new)
        });
        let position = lat.zip(lon);
        if ignored.is_empty() {
            ignored.push(error);
        }
        Ok(ParsedAlarm {
            alarm: Alarm {
                seq,
                ts: ts.unwrap_or(self.received_at),
                kind: AlarmKind::Panic,
                lat: position.map(|p| p.0),
                lon: position.map(|p| p.1),
                acc: position.and(acc),
                device: None,
            },
            ignored,
        })
    }

    fn status(&self, raw: RawStatus<'_>) -> Result<Status, ProtoError> {
        let kind = status_kind(&required(raw.kind, "kind")?)?;
        let device = self.device(raw.device)?;
        let will_message = kind == StatusKind::Offline;
        let seq = match raw.seq {
            None if will_message => None,
            seq => Some(required(seq, "seq")?),
        };
        let ts = match raw.ts {
            None if will_message => self.received_at,
            ts => self.ts(required(ts, "ts")?)?,
        };
        Ok(Status {
            seq,
            ts,
            kind,
            batt: optional(raw.batt, "batt", BatteryPercent::new)?,
            device,
        })
    }
}

/// Reads `field` of a salvaged panic, noting it as ignored when present but unusable.
fn salvaged<T>(
    object: &serde_json::Map<String, serde_json::Value>,
    field: &str,
    ignored: &mut Vec<ProtoError>,
    read: impl FnOnce(&serde_json::Value) -> Option<T>,
) -> Option<T> {
    let value = object.get(field)?;
    let read = read(value);
    if read.is_none() {
        ignored.push(ProtoError::new(field, RejectReason::WrongType));
    }
    read
}

fn alarm_kind(kind: &str) -> Result<AlarmKind, ProtoError> {
    Ok(match kind {
        "panic" => AlarmKind::Panic,
        "tamper" => AlarmKind::Tamper,
        "strap_open" => AlarmKind::StrapOpen,
        "separation" => AlarmKind::Separation,
        "fall" => AlarmKind::Fall,
        _ => return Err(ProtoError::new("kind", RejectReason::UnknownKind)),
    })
}

fn status_kind(kind: &str) -> Result<StatusKind, ProtoError> {
    Ok(match kind {
        "heartbeat" => StatusKind::Heartbeat,
        "battery" => StatusKind::Battery,
        "online" => StatusKind::Online,
        "offline" => StatusKind::Offline,
        "gps_lost" => StatusKind::GpsLost,
        "gps_ok" => StatusKind::GpsOk,
        _ => return Err(ProtoError::new("kind", RejectReason::UnknownKind)),
    })
}
