//! One alert episode: its revisions and its handling
//! (docs/detection.md#alert-episodes-and-revisions).
//!
//! An alert is opened by a trigger, updated by later triggers of the same
//! (order, kind, zone) while it is not resolved, cleared when its condition
//! goes away, and acknowledged and resolved by people. Every change that
//! matters makes a new revision, returned for dispatch; new positions alone
//! make one at most once per `position_revision_s` of fix time (device
//! time, or receive time where that is earlier).
//!
//! While the condition lasts, priority and confidence only rise (no flapping
//! between P1 and P2 on jitter). A condition that returns after it cleared is
//! judged afresh: the revision carries the priority of the new trigger.

use serde::{Deserialize, Serialize};
use vangnet_proto::{
    AlertId, AlertKind, AlertStatus, Confidence, DispatchBody, IncidentId, OrderId, Party,
    Priority, TimestampMs, UtcTime, ZoneId,
};

/// Where an alert lives within its order: one open alert per slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slot {
    /// What the alert is about.
    pub kind: AlertKind,
    /// The zone, for zone kinds.
    pub zone: Option<ZoneId>,
}

impl Slot {
    /// The slot of a kind that is not about a zone.
    pub fn of(kind: AlertKind) -> Self {
        Self { kind, zone: None }
    }
}

/// The facts one evaluation or one alarm contributes to an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The priority this trigger alone warrants.
    pub priority: Priority,
    /// For zone and proximity alarms.
    pub confidence: Option<Confidence>,
    /// The victim's fix used, if any.
    pub victim: Option<Party>,
    /// The perpetrator's fix used, if any.
    pub perpetrator: Option<Party>,
    /// Signed distance, if measured.
    pub distance_m: Option<f64>,
    /// An alarm press (counted), and whether it arrived late.
    pub press: Option<Press>,
    /// Time of the evaluation, for pacing position revisions: the device
    /// time of its fixes or alarm, or the receive time where that is earlier.
    pub time: TimestampMs,
}

/// One press of an alarm button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Press {
    /// Received more than `late_after_s` after it was raised.
    pub late: bool,
}

/// Whose alert it is, for the dispatch body.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The order, or `None` for `panic_unassigned`.
    pub order_id: Option<&'a OrderId>,
    /// The order's region.
    pub region: Option<&'a str>,
    /// Exercise order.
    pub exercise: bool,
}

/// A person's act on an alert, kept in its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    /// Who acted (the token's subject).
    pub actor: String,
    /// Why; required to resolve.
    pub note: String,
}

/// One revision as dispatched, with the act that caused it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The dispatch body of this revision.
    pub body: DispatchBody,
    /// The person's act behind it; `None` for the engine's own revisions.
    pub act: Option<Act>,
}

/// Why a person's act on an alert was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// No alert has this id.
    #[error("no such alert")]
    NotFound,
    /// The alert's status does not allow the act.
    #[error("cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// Its status now.
        from: AlertStatus,
        /// The status asked for.
        to: AlertStatus,
    },
    /// Resolving needs a note saying why.
    #[error("a note is required")]
    NoteRequired,
}

/// One alert episode as it stands. Its earlier revisions are not kept
/// here: each went out as an effect, and the store keeps the timeline, so an
/// alert open for days costs the same memory as a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its slot within the order.
    pub slot: Slot,
    /// The latest revision.
    latest: Revision,
    /// Whether devices were warned about it, so that clearing tells them.
    pub warned: bool,
    position_revised_at: TimestampMs,
}

fn confidence_rank(confidence: Option<Confidence>) -> u8 {
    match confidence {
        None => 0,
        Some(Confidence::Possible) => 1,
        Some(Confidence::Certain) => 2,
    }
}

impl Alert {
    /// Opens an alert from its first trigger, in `incident`; its first
    /// revision is `current()`.
    pub fn open(
        id: AlertId,
        incident: IncidentId,
        slot: Slot,
        owner: Owner<'_>,
        trigger: Trigger,
        now: TimestampMs,
    ) -> Self {
        let mut body = DispatchBody {
            alert_id: id,
            incident_id: incident,
            revision: 1,
            order_id: owner.order_id.cloned(),
            region: owner.region.map(str::to_owned),
            priority: trigger.priority,
            kind: slot.kind,
            confidence: trigger.confidence,
            status: AlertStatus::Open,
            exercise: owner.exercise,
            late: trigger.press.is_some_and(|p| p.late),
            count: 1,
            created_at: UtcTime(now),
            updated_at: UtcTime(now),
            cleared_at: None,
            victim: trigger.victim,
            perpetrator: trigger.perpetrator,
            zone: slot.zone.clone(),
            distance_m: trigger.distance_m,
            summary: String::new(),
        };
        body.summary = summary(&body);
        Self {
            slot,
            latest: Revision { body, act: None },
            warned: false,
            position_revised_at: trigger.time,
        }
    }

    /// The latest revision.
    pub fn current(&self) -> &DispatchBody {
        &self.latest.body
    }

    /// The person's act behind the latest revision, if a person made it.
    pub fn act(&self) -> Option<&Act> {
        self.latest.act.as_ref()
    }

    /// Its id.
    pub fn id(&self) -> &AlertId {
        &self.current().alert_id
    }

    /// The incident it belongs to.
    pub fn incident(&self) -> &IncidentId {
        &self.current().incident_id
    }

    /// Whether a person (or, for P3, its condition) has closed it.
    pub fn is_resolved(&self) -> bool {
        self.current().status == AlertStatus::Resolved
    }

    /// Folds a later trigger in; the new revision when the change matters.
    pub fn trigger(
        &mut self,
        trigger: Trigger,
        position_revision_s: u64,
        now: TimestampMs,
    ) -> Option<DispatchBody> {
        let current = self.current();
        let mut next = current.clone();
        if current.cleared_at.is_some() {
            next.priority = trigger.priority;
            next.confidence = trigger.confidence;
        } else {
            next.priority = next.priority.max(trigger.priority);
            if confidence_rank(trigger.confidence) > confidence_rank(next.confidence) {
                next.confidence = trigger.confidence;
            }
        }
        if let Some(press) = trigger.press {
            next.count += 1;
            next.late = press.late;
        }
        next.cleared_at = None;
        let matters = next.priority != current.priority
            || next.confidence != current.confidence
            || next.count != current.count
            || next.cleared_at != current.cleared_at;
        let moved = trigger.victim != current.victim
            || trigger.perpetrator != current.perpetrator
            || trigger.distance_m != current.distance_m;
        let position_due =
            trigger.time.millis() >= self.position_revised_at.millis() + position_revision_s * 1000;
        if !(matters || (moved && position_due)) {
            return None;
        }
        next.victim = trigger.victim;
        next.perpetrator = trigger.perpetrator;
        next.distance_m = trigger.distance_m;
        self.position_revised_at = trigger.time;
        Some(self.revise(next, now, None))
    }

    /// Marks the condition as gone: `cleared_at`, and a P3 resolves itself.
    pub fn clear(&mut self, now: TimestampMs) -> Option<DispatchBody> {
        let current = self.current();
        if current.cleared_at.is_some() {
            return None;
        }
        let mut next = current.clone();
        next.cleared_at = Some(UtcTime(now));
        if next.priority == Priority::P3 {
            next.status = AlertStatus::Resolved;
        }
        Some(self.revise(next, now, None))
    }

    /// A dispatcher takes the alert: `open` → `acknowledged`.
    pub fn acknowledge(&mut self, act: Act, now: TimestampMs) -> Result<DispatchBody, AlertError> {
        self.transition(AlertStatus::Acknowledged, &[AlertStatus::Open], act, now)
    }

    /// A dispatcher closes the alert, with a note: `open`/`acknowledged` → `resolved`.
    pub fn resolve(&mut self, act: Act, now: TimestampMs) -> Result<DispatchBody, AlertError> {
        if act.note.trim().is_empty() {
            return Err(AlertError::NoteRequired);
        }
        let from = [AlertStatus::Open, AlertStatus::Acknowledged];
        self.transition(AlertStatus::Resolved, &from, act, now)
    }

    fn transition(
        &mut self,
        to: AlertStatus,
        allowed_from: &[AlertStatus],
        act: Act,
        now: TimestampMs,
    ) -> Result<DispatchBody, AlertError> {
        let from = self.current().status;
        if !allowed_from.contains(&from) {
            return Err(AlertError::InvalidTransition { from, to });
        }
        let mut next = self.current().clone();
        next.status = to;
        Ok(self.revise(next, now, Some(act)))
    }

    fn revise(
        &mut self,
        mut next: DispatchBody,
        now: TimestampMs,
        act: Option<Act>,
    ) -> DispatchBody {
        next.revision += 1;
        next.updated_at = UtcTime(now);
        next.summary = summary(&next);
        self.latest = Revision {
            body: next.clone(),
            act,
        };
        next
    }
}

/// A revision without the parties' positions or the distance measured from
/// them, its summary naming no distance: what history retention leaves of a
/// resolved alert.
pub fn without_positions(mut body: DispatchBody) -> DispatchBody {
    body.victim = None;
    body.perpetrator = None;
    body.distance_m = None;
    body.summary = summary(&body);
    body
}

/// One line for the dispatcher's screen; names no coordinates.
fn summary(body: &DispatchBody) -> String {
    let what = match body.kind {
        AlertKind::Panic => "Victim pressed the panic button".to_owned(),
        AlertKind::PanicUnassigned => "Panic from a device in no active order".to_owned(),
        AlertKind::ZoneAlarm => "Perpetrator inside exclusion zone".to_owned(),
        AlertKind::ZonePrealarm => "Perpetrator near exclusion zone".to_owned(),
        AlertKind::ProximityAlarm => {
            "Perpetrator within the alarm distance of the victim".to_owned()
        }
        AlertKind::ProximityPrealarm => {
            "Perpetrator within the pre-alarm distance of the victim".to_owned()
        }
        AlertKind::ProximityApproach => "Perpetrator closing in on the victim".to_owned(),
        AlertKind::Tamper => "Perpetrator's tag tampered with".to_owned(),
        AlertKind::StrapOpen => "Perpetrator's strap opened".to_owned(),
        AlertKind::Separation => "Perpetrator's tag separated from its unit".to_owned(),
        AlertKind::Fall => "Victim's device detected a fall".to_owned(),
        AlertKind::SignalLost => "A device of the order went silent".to_owned(),
        AlertKind::BatteryLow => "A device of the order has a low battery".to_owned(),
    };
    let mut line = what;
    if let Some(zone) = &body.zone {
        line.push_str(&format!(" {zone}"));
    }
    if let Some(distance) = body.distance_m {
        line.push_str(&format!(", distance {distance:.0} m"));
    }
    if let Some(confidence) = body.confidence {
        line.push_str(match confidence {
            Confidence::Certain => " (certain)",
            Confidence::Possible => " (possible)",
        });
    }
    if body.count > 1 {
        line.push_str(&format!(", {} times", body.count));
    }
    if body.cleared_at.is_some() {
        line.push_str("; condition cleared");
    }
    line
}
