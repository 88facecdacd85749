//! Vangnet's wire protocol: the messages devices send and receive over MQTT,
//! the body Vangnet posts to police dispatch, and the validation every
//! incoming byte goes through before the service trusts it (docs/protocol.md, docs/api.md).
//!
//! Parsing never panics: each function takes raw bytes and returns either a
//! typed, validated value or a [`ProtoError`] naming the offending field and a
//! [`RejectReason`] that the service counts.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod device_id;
mod dispatch;
mod downlink;
mod error;
mod json;
pub mod order;
pub mod owntracks;
pub mod schema;
mod time;
pub mod token;
mod topic;
mod units;
mod uplink;

pub use device_id::DeviceId;
pub use dispatch::{
    AlertId, AlertKind, AlertStatus, Confidence, DispatchBody, IncidentId, OrderId, Party,
    Priority, ZoneId, dispatch_signature,
};
pub use downlink::{Ack, Command, CommandKind, WarningLevel};
pub use error::{ProtoError, RejectReason};
pub use time::{TimestampMs, UTC_TIME_PATTERN, UtcTime};
pub use topic::{Channel, TopicError, Topics};
pub use units::{BatteryPercent, Degrees, Latitude, Longitude, Meters, MetersPerSecond};
pub use uplink::{
    Alarm, AlarmKind, Fix, FixBatch, FixSource, LocationMessage, ParsedAlarm, Status, StatusKind,
    Uplink, parse_alarm, parse_loc, parse_status, parse_uplink,
};

/// Largest payload accepted on any uplink topic (docs/protocol.md#limits).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most fixes one `{"fixes":[...]}` batch may carry (docs/protocol.md#limits).
pub const MAX_BATCH_FIXES: usize = 500;
/// How far a device clock may run ahead of the server's before a message is rejected.
pub const MAX_FUTURE_SKEW_MS: u64 = 5 * 60 * 1000;
