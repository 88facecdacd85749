//! Who is warned about which alert (docs/detection.md#warnings-to-devices).
//! A P1 alarm warns the victim; a zone pre-alarm warns the perpetrator (turn
//! back); a proximity pre-alarm or approach warns him only when the order
//! asks for it, since a warning that starts and stops with her distance lets
//! him find her. Clearing tells whoever was warned.

use vangnet_proto::order::WarnPerpetrator;
use vangnet_proto::{AlertKind, DeviceId, Priority, WarningLevel};

use crate::order::Order;

/// The devices an alert of `kind` warns and the level of that warning;
/// `None` for kinds that warn nobody.
pub(crate) fn recipients(order: &Order, kind: AlertKind) -> Option<(WarningLevel, &[DeviceId])> {
    match kind {
        AlertKind::ZoneAlarm | AlertKind::ProximityAlarm => {
            Some((WarningLevel::Alarm, &order.victims))
        }
        AlertKind::ZonePrealarm | AlertKind::ProximityPrealarm | AlertKind::ProximityApproach => {
            Some((WarningLevel::Prealarm, &order.perpetrators))
        }
        _ => None,
    }
}

/// Whether a revision of `kind` at `priority` starts a warning under `order`.
pub(crate) fn starts(order: &Order, kind: AlertKind, priority: Priority) -> bool {
    match kind {
        AlertKind::ZoneAlarm | AlertKind::ProximityAlarm => priority == Priority::P1,
        AlertKind::ZonePrealarm => true,
        AlertKind::ProximityPrealarm | AlertKind::ProximityApproach => {
            order.warn_perpetrator == WarnPerpetrator::All
        }
        _ => false,
    }
}
