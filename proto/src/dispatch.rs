//! The alert revision Vangnet posts to police dispatch (docs/api.md#the-request), which
//! is also what the API lists and the live stream sends.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::{DeviceId, Latitude, Longitude, Meters, TimestampMs, UtcTime};

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema, ToSchema)]
        #[schema(value_type = String)]
        pub struct $name(Arc<str>);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self(Arc::from(text.as_ref())))
            }
        }

        impl $name {
            /// Wraps an id that was made or checked elsewhere.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(Arc::from(id.as_ref()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// Identity of one alert episode, stable across its revisions.
    AlertId
);
text_id!(
    /// Identity of an incident: the alerts of one order raised during one
    /// episode, named after the alert that opened it.
    IncidentId
);
text_id!(
    /// Identity of a protection order.
    OrderId
);
text_id!(
    /// Identity of an exclusion zone within its order.
    ZoneId
);

/// How urgently people must act. Ordered so that `P1` is the greatest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    ToSchema,
)]
pub enum Priority {
    /// Can wait for working hours.
    P3,
    /// Needs an operator's attention.
    P2,
    /// Life may be at risk: police now.
    P1,
}

/// How sure a zone or proximity alarm is, given the positions' uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Even the most favourable reading of the uncertainty violates the order.
    Certain,
    /// The uncertainty admits a violation.
    Possible,
}

/// What an alert is about (docs/detection.md#alert-kinds-and-priorities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The victim pressed the panic button.
    Panic,
    /// A panic from a device in no active order.
    PanicUnassigned,
    /// The perpetrator is inside an exclusion zone.
    ZoneAlarm,
    /// The perpetrator is near an exclusion zone.
    ZonePrealarm,
    /// The perpetrator is within the alarm distance of a victim.
    ProximityAlarm,
    /// The perpetrator is within the pre-alarm distance of a victim.
    ProximityPrealarm,
    /// The perpetrator is closing in on a victim fast.
    ProximityApproach,
    /// The perpetrator's tag was tampered with.
    Tamper,
    /// The perpetrator's strap was opened.
    StrapOpen,
    /// The perpetrator's tag was separated from its companion unit.
    Separation,
    /// The victim fell.
    Fall,
    /// A device went silent.
    SignalLost,
    /// A device's battery is nearly empty.
    BatteryLow,
}

/// Where an alert stands in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Raised, nobody has taken it yet.
    Open,
    /// A dispatcher has taken it.
    Acknowledged,
    /// Closed by a person, or (P3) by its condition clearing.
    Resolved,
}

/// A party's latest fix as used by the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Party {
    /// The device the fix came from.
    pub device: DeviceId,
    /// Latitude.
    pub lat: Latitude,
    /// Longitude.
    pub lon: Longitude,
    /// Accuracy radius.
    pub acc: Meters,
    /// Device time of the fix.
    pub ts: TimestampMs,
}

/// One revision of an alert, as police dispatch receives it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, ToSchema)]
pub struct DispatchBody {
    /// The alert episode.
    pub alert_id: AlertId,
    /// The incident the alert belongs to (docs/detection.md#incidents).
    pub incident_id: IncidentId,
    /// Starts at 1; increases with every change that matters.
    pub revision: u32,
    /// The order, or null for `panic_unassigned`.
    pub order_id: Option<OrderId>,
    /// The order's region, or null for `panic_unassigned`.
    pub region: Option<String>,
    /// How urgent.
    pub priority: Priority,
    /// What happened.
    pub kind: AlertKind,
    /// For zone and proximity alarms; null otherwise.
    pub confidence: Option<Confidence>,
    /// Handling status.
    pub status: AlertStatus,
    /// True for simulation and pilot orders.
    pub exercise: bool,
    /// True for an alarm that reached Vangnet more than 120 s after it was raised.
    pub late: bool,
    /// How many triggers (alarm presses) this episode has had.
    pub count: u32,
    /// When the episode was raised.
    pub created_at: UtcTime,
    /// When this revision was made.
    pub updated_at: UtcTime,
    /// When the condition cleared, if it has.
    pub cleared_at: Option<UtcTime>,
    /// The victim's latest fix used, or null.
    pub victim: Option<Party>,
    /// The perpetrator's latest fix used, or null.
    pub perpetrator: Option<Party>,
    /// The zone of a zone alert, or null.
    pub zone: Option<ZoneId>,
    /// Signed distance (negative inside a zone), or null.
    pub distance_m: Option<f64>,
    /// One human-readable line for the dispatcher's screen.
    pub summary: String,
}

impl<'de> Deserialize<'de> for DispatchBody {
    /// Reads a revision; one stored before alerts had incidents is read as
    /// the alert's own incident, which is what the engine would have named it
    /// had it opened one.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The body's fields with `incident_id` optional.
        #[derive(Deserialize)]
        struct Stored {
            alert_id: AlertId,
            #[serde(default)]
            incident_id: Option<IncidentId>,
            revision: u32,
            order_id: Option<OrderId>,
            region: Option<String>,
            priority: Priority,
            kind: AlertKind,
            confidence: Option<Confidence>,
            status: AlertStatus,
            exercise: bool,
            late: bool,
            count: u32,
            created_at: UtcTime,
            updated_at: UtcTime,
            cleared_at: Option<UtcTime>,
            victim: Option<Party>,
            perpetrator: Option<Party>,
            zone: Option<ZoneId>,
            distance_m: Option<f64>,
            summary: String,
        }
        let stored = Stored::deserialize(deserializer)?;
        Ok(Self {
            incident_id: stored
                .incident_id
                .unwrap_or_else(|| IncidentId::new(stored.alert_id.as_str())),
            alert_id: stored.alert_id,
            revision: stored.revision,
            order_id: stored.order_id,
            region: stored.region,
            priority: stored.priority,
            kind: stored.kind,
            confidence: stored.confidence,
            status: stored.status,
            exercise: stored.exercise,
            late: stored.late,
            count: stored.count,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            cleared_at: stored.cleared_at,
            victim: stored.victim,
            perpetrator: stored.perpetrator,
            zone: stored.zone,
            distance_m: stored.distance_m,
            summary: stored.summary,
        })
    }
}

/// The `X-Vangnet-Signature` of a dispatch request (docs/api.md#headers):
/// `sha256=` and the hex HMAC-SHA256 of `body` under the route's secret, so
/// dispatch can tell Vangnet's requests from forgeries.
pub fn dispatch_signature(key: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            dispatch_signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn revision_json() -> serde_json::Value {
        serde_json::json!({
            "alert_id": "01JD8Q6Z3K4W8M2N5P7R9T1V3X", "incident_id": "01JD8Q6Z3K4W8M2N5P7R9T1V3W",
            "revision": 2, "order_id": "order-17", "region": "rotterdam", "priority": "P1",
            "kind": "zone_alarm", "confidence": "certain", "status": "open", "exercise": false,
            "late": false, "count": 1, "created_at": "2026-11-28T12:00:01.120Z",
            "updated_at": "2026-11-28T12:00:31.004Z", "cleared_at": null, "victim": null,
            "perpetrator": null, "zone": "home", "distance_m": -20.5, "summary": "Perpetrator inside exclusion zone home"
        })
    }

    #[test]
    fn a_revision_reads_back_as_it_was_written() {
        let body: DispatchBody = serde_json::from_value(revision_json()).unwrap();
        assert_eq!(body.incident_id.as_str(), "01JD8Q6Z3K4W8M2N5P7R9T1V3W");
        assert_eq!(serde_json::to_value(&body).unwrap(), revision_json());
    }

    #[test]
    fn a_revision_stored_without_an_incident_is_its_alerts_own_incident() {
        let mut stored = revision_json();
        if let serde_json::Value::Object(fields) = &mut stored {
            fields.remove("incident_id");
        }
        let body: DispatchBody = serde_json::from_value(stored).unwrap();
        assert_eq!(body.incident_id.as_str(), body.alert_id.as_str());
    }
}
