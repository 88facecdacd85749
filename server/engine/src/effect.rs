//! What the engine asks the service to do, as plain values: the engine never
//! sends, stores or publishes anything itself.

use serde::{Deserialize, Serialize};
use vangnet_proto::{
    Ack, AlertId, Command, CommandKind, DeviceId, DispatchBody, Fix, OrderId, TimestampMs,
    WarningLevel,
};

/// One thing for the service to carry out, in the order given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Store and dispatch one alert revision (docs/api.md#police-dispatch).
    Dispatch(Box<DispatchBody>),
    /// Publish a warning on the device's `cmd` topic. A [`Command`] has no
    /// field for a position or a distance, so no command can carry the other
    /// party's whereabouts; [`Effect::warning`] is the only way the engine makes one.
    Command {
        /// The receiving device.
        device: DeviceId,
        /// The warning.
        command: Command,
    },
    /// Publish the receipt of an alarm on the device's `ack` topic.
    Ack {
        /// The device that raised the alarm.
        device: DeviceId,
        /// The receipt.
        ack: Ack,
    },
    /// Append a fix to the device's location history, keyed by `(device, seq, ts)`.
    History {
        /// The device.
        device: DeviceId,
        /// The fix as received.
        fix: Fix,
    },
    /// This piece of state changed and must be saved.
    Persist(StateKey),
}

/// A piece of engine state the service stores on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateKey {
    /// An order's [`crate::OrderState`].
    Order(OrderId),
    /// A device's [`crate::DeviceState`].
    Device(DeviceId),
}

impl Effect {
    /// A warning of `level` about `alert` to `device`.
    pub fn warning(
        device: DeviceId,
        level: WarningLevel,
        alert: AlertId,
        now: TimestampMs,
    ) -> Self {
        Self::Command {
            device,
            command: Command {
                kind: CommandKind::Warning,
                level,
                alert_id: alert,
                ts: now,
            },
        }
    }
}
