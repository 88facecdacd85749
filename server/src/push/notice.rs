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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A P1 proximity alarm of an exercise order, with both parties' fixes and a distance.
    fn proximity_alarm() -> DispatchBody {
        let party = |device: &str, lat: f64| json!({"device": device, "lat": lat, "lon": 4.47917, "acc": 12.0, "ts": 1_764_331_200_000u64});
        serde_json::from_value(json!({
            "alert_id": "alert-1", "incident_id": "incident-1", "revision": 3,
            "order_id": "order-1", "region": "rotterdam", "priority": "P1",
            "kind": "proximity_alarm", "confidence": "certain", "status": "acknowledged",
            "exercise": true, "late": false, "count": 1,
            "created_at": "2025-11-28T12:00:00Z", "updated_at": "2025-11-28T12:01:00Z",
            "cleared_at": null, "victim": party("victim-1", 51.92250),
            "perpetrator": party("perp-1", 51.92301), "zone": null, "distance_m": 57.0,
            "summary": "Perpetrator 57 m from the victim"
        }))
        .unwrap()
    }

    #[test]
    fn a_notice_says_what_and_where_without_a_position_distance_device_or_summary() {
        let alert = proximity_alarm();

        let notice: Value = serde_json::to_value(Notice::of(&alert)).unwrap();

        let text = notice.to_string();
        for leak in [
            "51.92",
            "4.479",
            "57",
            "victim-1",
            "perp-1",
            "order-1",
            "Perpetrator",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_eq!(notice["kind"], "proximity_alarm");
        assert_eq!(notice["region"], "rotterdam");
        assert_eq!(notice["status"], "acknowledged");
        assert_eq!(
            notice["title"],
            "EXERCISE P1 proximity_alarm — region rotterdam"
        );
        assert!(text.len() < 3 * 1024);
    }

    #[test]
    fn p1_and_p2_are_pushed_and_p3_is_not() {
        let mut alert = proximity_alarm();
        for (priority, pushed) in [
            (Priority::P1, true),
            (Priority::P2, true),
            (Priority::P3, false),
        ] {
            alert.priority = priority;
            assert_eq!(is_pushed(&alert), pushed, "{priority:?}");
        }
    }

    #[test]
    fn a_topic_is_32_base64url_characters_and_differs_per_alert() {
        let one = topic(&AlertId::new("alert-1"));
        assert_eq!(one.len(), 32);
        assert!(
            one.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(one, topic(&AlertId::new("alert-2")));
    }
}
