//! What a push says: which alert, what kind, which region and how urgent,
//! never where. A dispatcher's lock screen is not a secure place, so no
//! coordinates, distances, devices or free text leave in a push; the
//! console shows the rest behind the dispatcher's token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vangnet_proto::{AlertId, AlertKind, AlertStatus, DispatchBody, IncidentId, Priority};

/// The JSON a service worker receives.
#[derive(Debug, Serialize)]
pub struct Notice<'a> {
    /// The alert.
    pub alert_id: &'a AlertId,
    /// Its incident.
    pub incident_id: &'a IncidentId,
    /// The revision pushed.
    pub revision: u32,
    /// How urgent.
    pub priority: Priority,
    /// What happened.
    pub kind: AlertKind,
    /// The order's region, or null for a panic from a device in no order.
    pub region: Option<&'a str>,
    /// Handling status.
    pub status: AlertStatus,
    /// True for simulation and pilot orders.
    pub exercise: bool,
    /// The notification's title, e.g. `P1 panic — rotterdam`.
    pub title: String,
    /// The notification's text.
    pub body: String,
}

/// Whether a revision is pushed: P1 and P2 only.
pub fn is_pushed(alert: &DispatchBody) -> bool {
    matches!(alert.priority, Priority::P1 | Priority::P2)
}

impl<'a> Notice<'a> {
    /// The notice of `alert`.
    pub fn of(alert: &'a DispatchBody) -> Self {
        let kind = label(&alert.kind);
        let region = alert.region.as_deref();
        let title = format!(
            "{}{:?} {kind} — {}",
            if alert.exercise { "EXERCISE " } else { "" },
            alert.priority,
            region.map_or_else(|| "no region".to_owned(), |r| format!("region {r}"))
        );
        Self {
            alert_id: &alert.alert_id,
            incident_id: &alert.incident_id,
            revision: alert.revision,
            priority: alert.priority,
            kind: alert.kind,
            region,
            status: alert.status,
            exercise: alert.exercise,
            title,
            body: format!(
                "Status {}, revision {}. Open the console for details.",
                label(&alert.status),
                alert.revision
            ),
        }
    }
}

/// The RFC 8030 `Topic` of an alert's pushes, so a newer revision replaces
/// an older one the push service still holds: 32 base64url characters.
pub fn topic(alert: &AlertId) -> String {
    let digest = Sha256::digest(alert.as_str().as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..32].to_owned()
}

/// A value's serde name, e.g. `proximity_alarm`.
fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
