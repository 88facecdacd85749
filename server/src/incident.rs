//! An incident as the API and the live stream show it: a summary of its
//! alerts' latest revisions (docs/api.md#incidents). The engine groups
//! alerts into incidents (docs/detection.md#incidents); the service keeps no
//! incidents of its own, it reads them off the alerts' `incident_id`.

use std::sync::Arc;

use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use vangnet_proto::{AlertStatus, DispatchBody, IncidentId, OrderId, Priority, UtcTime};

use crate::alert_board::Held;

/// One row of a dispatcher's screen for the alerts of one episode.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incident {
    /// The incident, named after the alert that opened it.
    pub incident_id: IncidentId,
    /// The order, or null for a `panic_unassigned` incident.
    pub order_id: Option<OrderId>,
    /// The order's region, or null for a `panic_unassigned` incident.
    pub region: Option<String>,
    /// True for an exercise order's incident.
    pub exercise: bool,
    /// The highest priority among its alerts' latest revisions.
    pub priority: Priority,
    /// `open` while any alert in it is open, else `acknowledged` while any is
    /// not resolved, else `resolved`.
    pub status: AlertStatus,
    /// When its first alert was raised.
    pub created_at: UtcTime,
    /// When any of its alerts last got a revision.
    pub updated_at: UtcTime,
    /// The latest revision of each of its alerts, oldest alert first.
    #[schema(value_type = Vec<DispatchBody>)]
    #[serde(serialize_with = "as_json")]
    pub alerts: Vec<Arc<Held>>,
}

impl Incident {
    /// The incident made of `alerts` (the latest revisions of the alerts of
    /// one incident); `None` when there are none.
    pub fn of(mut alerts: Vec<Arc<Held>>) -> Option<Self> {
        alerts.sort_by(|a, b| {
            let key = |held: &Held| (held.body.created_at.0, held.body.alert_id.clone());
            key(a).cmp(&key(b))
        });
        let first = &alerts.first()?.body;
        let bodies = || alerts.iter().map(|held| &held.body);
        let status = if bodies().any(|b| b.status == AlertStatus::Open) {
            AlertStatus::Open
        } else if bodies().any(|b| b.status == AlertStatus::Acknowledged) {
            AlertStatus::Acknowledged
        } else {
            AlertStatus::Resolved
        };
        Some(Self {
            incident_id: first.incident_id.clone(),
            order_id: first.order_id.clone(),
            region: first.region.clone(),
            exercise: first.exercise,
            priority: bodies().map(|b| b.priority).max().unwrap_or(first.priority),
            status,
            created_at: first.created_at,
            updated_at: bodies()
                .map(|b| b.updated_at)
                .max()
                .unwrap_or(first.updated_at),
            alerts,
        })
    }
}

fn as_json<S: Serializer>(alerts: &[Arc<Held>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(alerts.iter().map(|held| &*held.json))
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{AlertId, AlertKind, TimestampMs};

    use super::*;

    fn held(alert: &str, priority: Priority, status: AlertStatus, at_s: u64) -> Arc<Held> {
        let at = UtcTime(TimestampMs(1_764_331_200_000 + at_s * 1000));
        let body = DispatchBody {
            alert_id: AlertId::new(alert),
            incident_id: IncidentId::new("A1"),
            revision: 1,
            order_id: Some(OrderId::new("order-17")),
            region: Some("utrecht".into()),
            priority,
            kind: AlertKind::ZoneAlarm,
            confidence: None,
            status,
            exercise: false,
            late: false,
            count: 1,
            created_at: at,
            updated_at: at,
            cleared_at: None,
            victim: None,
            perpetrator: None,
            zone: None,
            distance_m: None,
            summary: String::new(),
        };
        let json = serde_json::value::to_raw_value(&body).unwrap();
        Arc::new(Held {
            body,
            json: Arc::from(json),
        })
    }

    #[test]
    fn an_incident_has_its_alerts_highest_priority_and_their_first_and_last_times() {
        let incident = Incident::of(vec![
            held("A2", Priority::P1, AlertStatus::Resolved, 20),
            held("A1", Priority::P2, AlertStatus::Resolved, 10),
        ])
        .unwrap();
        assert_eq!(incident.priority, Priority::P1);
        assert_eq!(incident.created_at.0.millis(), 1_764_331_210_000);
        assert_eq!(incident.updated_at.0.millis(), 1_764_331_220_000);
        assert_eq!(incident.alerts[0].body.alert_id.as_str(), "A1");
    }

    #[test]
    fn an_incident_is_open_while_any_alert_in_it_is_open() {
        let status = |statuses: &[AlertStatus]| {
            let alerts = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| held(&format!("A{i}"), Priority::P2, *s, i as u64))
                .collect();
            Incident::of(alerts).unwrap().status
        };
        use AlertStatus::*;
        assert_eq!(status(&[Resolved, Open, Acknowledged]), Open);
        assert_eq!(status(&[Resolved, Acknowledged]), Acknowledged);
        assert_eq!(status(&[Resolved, Resolved]), Resolved);
    }
}
