//! The verdict of a chaos run, from what the devices, the dispatch sink and
//! Vangnet's API saw:
//!
//! 1. every alarm whose receipt came is at the sink: each alert its receipt
//!    names was delivered (an Idempotency-Key of it answered 2xx), with a
//!    press count at least the receipted presses naming it; and every alarm,
//!    repeated as a device does, got its receipt in the end;
//! 2. every committed revision reached its routes: each P1 and P2 revision
//!    was delivered to the dispatch route, unless it changed only the press
//!    count or positions and a later revision of its alert was delivered
//!    (press thinning, docs/detection.md#press-floods); and every revision
//!    is in the alert stream;
//! 3. no episode has two alerts: alerts of one (order, kind, zone) never
//!    overlap, each ending only when it is resolved (the engine's slot).

use std::collections::{HashMap, HashSet};

use vangnet_proto::{AlertStatus, DispatchBody, Priority, UtcTime};

use super::readback::{Alert, key};
use super::victims::Alarm;

/// An engine slot: order, kind and zone (empty for kinds without one).
type Slot = (String, String, String);
/// One alert's life: when it was raised, when resolved if it was, and its id.
type Span<'a> = (UtcTime, Option<UtcTime>, &'a str);

/// What the check found; a failure is one line naming what failed.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Alarms pressed.
    pub alarms: usize,
    /// Of those, alarms whose receipt came.
    pub receipted: usize,
    /// Alarms whose receipt never came.
    pub never_receipted: Vec<String>,
    /// Distinct alerts the receipts name.
    pub receipted_alerts: usize,
    /// Receipted alarms not at the sink.
    pub receipted_not_dispatched: Vec<String>,
    /// Alerts Vangnet committed.
    pub alerts: usize,
    /// Revisions Vangnet committed.
    pub revisions: usize,
    /// Of those, revisions the dispatch route takes (P1, P2).
    pub routed: usize,
    /// Of those, revisions delivered.
    pub delivered: usize,
    /// Of those, revisions a later delivered one carried instead.
    pub superseded: usize,
    /// Routed revisions neither delivered nor superseded.
    pub undelivered: Vec<String>,
    /// Revisions the alert stream did not send.
    pub not_streamed: Vec<String>,
    /// Pairs of alerts of one episode.
    pub duplicate_episodes: Vec<String>,
}

impl Verdict {
    /// Judges the run.
    pub fn of(
        alarms: &[Alarm],
        alerts: &[Alert],
        delivered: &HashSet<String>,
        streamed: &HashSet<String>,
    ) -> Self {
        let mut verdict = Self {
            alarms: alarms.len(),
            receipted: alarms.iter().filter(|a| a.receipt.is_some()).count(),
            alerts: alerts.len(),
            ..Self::default()
        };
        verdict.judge_receipts(alarms, alerts, delivered);
        for alert in alerts {
            verdict.judge_revisions(alert, delivered, streamed);
        }
        verdict.judge_episodes(alerts);
        verdict
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.receipted_not_dispatched.is_empty()
            && self.never_receipted.is_empty()
            && self.undelivered.is_empty()
            && self.not_streamed.is_empty()
            && self.duplicate_episodes.is_empty()
    }

    /// Revision keys the stream must have sent.
    pub fn expected_in_stream(alerts: &[Alert]) -> HashSet<String> {
        alerts
            .iter()
            .flat_map(|alert| alert.timeline.iter().map(key))
            .collect()
    }

    fn judge_receipts(&mut self, alarms: &[Alarm], alerts: &[Alert], delivered: &HashSet<String>) {
        let by_id: HashMap<&str, &Alert> = alerts
            .iter()
            .filter_map(|alert| Some((alert.timeline.first()?.alert_id.as_str(), alert)))
            .collect();
        let mut presses: HashMap<&str, u32> = HashMap::new();
        for alarm in alarms {
            let name = format!("alarm {} of {} ({})", alarm.seq, alarm.device, alarm.order);
            let Some(ids) = &alarm.receipt else {
                self.never_receipted.push(name);
                continue;
            };
            if ids.is_empty() {
                self.receipted_not_dispatched
                    .push(format!("{name}: its receipt names no alert"));
            }
            for id in ids {
                *presses.entry(id).or_default() += 1;
                match by_id.get(id.as_str()) {
                    None => self.receipted_not_dispatched.push(format!(
                        "{name}: alert {id} of its receipt is unknown to the API"
                    )),
                    Some(alert) if delivered_count(alert, delivered).is_none() => self
                        .receipted_not_dispatched
                        .push(format!("{name}: alert {id} never reached the sink")),
                    Some(_) => {}
                }
            }
        }
        self.receipted_alerts = presses.len();
        for (id, pressed) in presses {
            if let Some(count) = by_id
                .get(id)
                .and_then(|alert| delivered_count(alert, delivered))
                && count < pressed
            {
                self.receipted_not_dispatched.push(format!(
                    "alert {id}: {pressed} receipted presses, the sink's highest count {count}"
                ));
            }
        }
    }

    fn judge_revisions(
        &mut self,
        alert: &Alert,
        delivered: &HashSet<String>,
        streamed: &HashSet<String>,
    ) {
        let mut previous: Option<&DispatchBody> = None;
        for (n, revision) in alert.timeline.iter().enumerate() {
            self.revisions += 1;
            let this = key(revision);
            if !streamed.contains(&this) {
                self.not_streamed
                    .push(format!("revision {this} not in the stream"));
            }
            if matches!(revision.priority, Priority::P1 | Priority::P2) && !revision.exercise {
                self.routed += 1;
                let later_delivered = alert.timeline[n + 1..]
                    .iter()
                    .any(|later| delivered.contains(&key(later)));
                if delivered.contains(&this) {
                    self.delivered += 1;
                } else if previous.is_some_and(|before| only_presses(before, revision))
                    && later_delivered
                {
                    self.superseded += 1;
                } else {
                    self.undelivered.push(format!(
                        "revision {this} ({:?} {:?} of {}) never reached the sink",
                        revision.priority,
                        revision.kind,
                        order_of(revision)
                    ));
                }
            }
            previous = Some(revision);
        }
    }

    fn judge_episodes(&mut self, alerts: &[Alert]) {
        let mut episodes: HashMap<Slot, Vec<Span<'_>>> = HashMap::new();
        for alert in alerts {
            let Some(first) = alert.timeline.first() else {
                continue;
            };
            let Some(order) = &first.order_id else {
                continue;
            };
            let resolved = alert
                .timeline
                .iter()
                .find(|revision| revision.status == AlertStatus::Resolved)
                .map(|revision| revision.updated_at);
            let slot = (
                order.as_str().to_owned(),
                format!("{:?}", first.kind),
                first.zone.as_ref().map_or("", |z| z.as_str()).to_owned(),
            );
            episodes.entry(slot).or_default().push((
                first.created_at,
                resolved,
                first.alert_id.as_str(),
            ));
        }
        for ((order, kind, zone), mut spans) in episodes {
            spans.sort();
            for pair in spans.windows(2) {
                let ((_, ended, earlier), (started, _, later)) = (pair[0], pair[1]);
                if ended.is_none_or(|ended| ended > started) {
                    self.duplicate_episodes.push(format!(
                        "order {order} {kind} {zone}: alerts {earlier} and {later} open at once"
                    ));
                }
            }
        }
    }
}

/// The highest press count among the alert's delivered revisions, if any was delivered.
fn delivered_count(alert: &Alert, delivered: &HashSet<String>) -> Option<u32> {
    alert
        .timeline
        .iter()
        .filter(|revision| delivered.contains(&key(revision)))
        .map(|revision| revision.count)
        .max()
}

/// Whether `after` changes, next to `before`, only what a press or new
/// positions change: such a revision may be thinned on a route.
fn only_presses(before: &DispatchBody, after: &DispatchBody) -> bool {
    before.priority == after.priority
        && before.confidence == after.confidence
        && before.status == after.status
        && before.cleared_at == after.cleared_at
}

fn order_of(revision: &DispatchBody) -> &str {
    revision
        .order_id
        .as_ref()
        .map_or("no order", |o| o.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn revision(id: &str, revision: u32, count: u32, status: &str, at: &str) -> DispatchBody {
        serde_json::from_value(json!({
            "alert_id": id, "revision": revision, "order_id": "o-1", "region": "r",
            "priority": "P1", "kind": "panic", "confidence": null, "status": status,
            "exercise": false, "late": false, "count": count,
            "created_at": "2026-12-07T12:00:00.000Z", "updated_at": at, "cleared_at": null,
            "victim": null, "perpetrator": null, "zone": null, "distance_m": null, "summary": "s"
        }))
        .unwrap()
    }

    fn alert(timeline: Vec<DispatchBody>) -> Alert {
        Alert { timeline }
    }

    fn alarm(seq: u64, receipt: Option<&[&str]>) -> Alarm {
        Alarm {
            order: "o-1".into(),
            device: "v-1".into(),
            seq,
            receipt: receipt.map(|ids| ids.iter().map(|id| (*id).to_owned()).collect()),
        }
    }

    fn keys(keys: &[&str]) -> HashSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    const T0: &str = "2026-12-07T12:00:00.000Z";
    const T1: &str = "2026-12-07T12:00:05.000Z";

    #[test]
    fn a_receipted_alarm_whose_alert_never_reached_the_sink_fails_the_run() {
        let alerts = [alert(vec![revision("a", 1, 1, "open", T0)])];
        let verdict = Verdict::of(
            &[alarm(1, Some(&["a"]))],
            &alerts,
            &keys(&[]),
            &keys(&["a/1"]),
        );
        assert!(!verdict.passed());
        assert_eq!(verdict.receipted_not_dispatched.len(), 1);
        assert_eq!(verdict.undelivered.len(), 1);
    }

    #[test]
    fn receipted_presses_beyond_the_delivered_count_fail_the_run() {
        let alerts = [alert(vec![
            revision("a", 1, 1, "open", T0),
            revision("a", 2, 2, "open", T1),
        ])];
        let verdict = Verdict::of(
            &[alarm(1, Some(&["a"])), alarm(2, Some(&["a"]))],
            &alerts,
            &keys(&["a/1"]),
            &keys(&["a/1", "a/2"]),
        );
        assert!(verdict.receipted_not_dispatched[0].contains("2 receipted presses"));
    }

    #[test]
    fn a_press_only_revision_carried_by_a_later_delivery_is_superseded_not_lost() {
        let alerts = [alert(vec![
            revision("a", 1, 1, "open", T0),
            revision("a", 2, 2, "open", T0),
            revision("a", 3, 3, "open", T1),
        ])];
        let verdict = Verdict::of(
            &[alarm(1, Some(&["a"]))],
            &alerts,
            &keys(&["a/1", "a/3"]),
            &keys(&["a/1", "a/2", "a/3"]),
        );
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!(
            (verdict.routed, verdict.delivered, verdict.superseded),
            (3, 2, 1)
        );
    }

    #[test]
    fn an_alarm_whose_receipt_never_came_fails_the_run() {
        let verdict = Verdict::of(&[alarm(1, None)], &[], &keys(&[]), &keys(&[]));
        assert_eq!((verdict.alarms, verdict.receipted), (1, 0));
        assert_eq!(verdict.never_receipted, ["alarm 1 of v-1 (o-1)"]);
        assert!(!verdict.passed());
    }

    #[test]
    fn an_undelivered_change_of_status_is_not_superseded() {
        let alerts = [alert(vec![
            revision("a", 1, 1, "open", T0),
            revision("a", 2, 1, "resolved", T0),
            revision("a", 3, 1, "resolved", T1),
        ])];
        let verdict = Verdict::of(
            &[],
            &alerts,
            &keys(&["a/1", "a/3"]),
            &keys(&["a/1", "a/2", "a/3"]),
        );
        assert_eq!(verdict.undelivered.len(), 1, "{verdict:?}");
    }

    #[test]
    fn a_revision_missing_from_the_stream_fails_the_run() {
        let alerts = [alert(vec![revision("a", 1, 1, "open", T0)])];
        let verdict = Verdict::of(&[], &alerts, &keys(&["a/1"]), &keys(&[]));
        assert_eq!(verdict.not_streamed, ["revision a/1 not in the stream"]);
    }

    #[test]
    fn two_unresolved_alerts_of_one_order_and_kind_are_a_duplicate_episode() {
        let alerts = [
            alert(vec![revision("a", 1, 1, "open", T0)]),
            alert(vec![revision("b", 1, 1, "open", T1)]),
        ];
        let verdict = Verdict::of(&[], &alerts, &keys(&["a/1", "b/1"]), &keys(&["a/1", "b/1"]));
        assert_eq!(verdict.duplicate_episodes.len(), 1);
    }

    #[test]
    fn an_alert_raised_after_the_last_one_was_resolved_is_a_new_episode() {
        let mut later = revision("b", 1, 1, "open", "2026-12-07T12:00:09.000Z");
        later.created_at = later.updated_at;
        let alerts = [
            alert(vec![
                revision("a", 1, 1, "open", T0),
                revision("a", 2, 1, "resolved", T1),
            ]),
            alert(vec![later]),
        ];
        let all = keys(&["a/1", "a/2", "b/1"]);
        let verdict = Verdict::of(&[], &alerts, &all, &all);
        assert!(verdict.passed(), "{verdict:?}");
    }
}
