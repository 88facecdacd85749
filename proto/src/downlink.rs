//! Server → device messages (`ack`, `cmd`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AlertId, TimestampMs};

/// Receipt of an accepted alarm: the device shows the victim that help is coming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    /// The alarm's `seq` (null when the alarm carried none).
    pub seq: Option<u64>,
    /// One alert per order the device is in.
    pub alert_ids: Vec<AlertId>,
    /// Server time of the receipt.
    pub ts: TimestampMs,
}

/// What a command asks the device to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Show or sound a warning.
    Warning,
}

/// How serious a warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningLevel {
    /// Perpetrator: you are nearing a forbidden area, turn back.
    Prealarm,
    /// Victim: the perpetrator is within the alarm distance.
    Alarm,
    /// The condition has cleared.
    Clear,
}

/// A warning to one device. Carries no position or distance of the other party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Command {
    /// Always `warning` in v1.
    pub kind: CommandKind,
    /// Which warning.
    pub level: WarningLevel,
    /// The alert this warning belongs to.
    pub alert_id: AlertId,
    /// Server time of the command.
    pub ts: TimestampMs,
}
