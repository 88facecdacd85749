//! Press floods on one route (docs/detection.md#press-floods): a revision that, next to the
//! last revision of its alert sent on the route, changes only the press
//! `count` (and what comes with a press: positions, distance, summary,
//! `late`) is held until 10 s after that send, and a newer such revision
//! replaces the held one; any other change goes at once and replaces it too.
//! A replaced revision is superseded: the one that replaced it carries its
//! presses, so the receiver misses nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use vangnet_proto::{AlertId, DispatchBody};

use crate::store::OutboxEntry;

/// How long after a send a revision that changes only `count` waits,
/// unless the configuration says otherwise.
pub const COUNT_ONLY_EVERY: Duration = Duration::from_secs(10);

/// The last revision of an alert released for sending, and when.
struct Sent {
    entry: Arc<OutboxEntry>,
    at: Instant,
}

/// A count-only revision waiting for its alert's interval to pass.
struct Held {
    entry: Arc<OutboxEntry>,
    until: Instant,
}

/// What became of a revision given to [`Coalescer::admit`].
#[derive(Default)]
pub struct Admitted {
    /// To send now.
    pub send: Option<Arc<OutboxEntry>>,
    /// A revision that will never be sent on this route, and the revision
    /// that carries its presses instead.
    pub superseded: Option<(Arc<OutboxEntry>, u32)>,
}

/// One route's memory of what it sent and holds, per alert.
pub struct Coalescer {
    sent: HashMap<AlertId, Sent>,
    held: HashMap<AlertId, Held>,
    count_only_every: Duration,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new(COUNT_ONLY_EVERY)
    }
}

impl Coalescer {
    /// A coalescer sending a count-only revision at most once per `count_only_every`.
    pub fn new(count_only_every: Duration) -> Self {
        Self {
            sent: HashMap::new(),
            held: HashMap::new(),
            count_only_every,
        }
    }

    /// Decides, at `now`, whether `entry` goes now or waits.
    pub fn admit(&mut self, entry: Arc<OutboxEntry>, now: Instant) -> Admitted {
        let id = entry.body.alert_id.clone();
        let revision = entry.body.revision;
        let newest = [
            self.sent.get(&id).map(|s| s.entry.body.revision),
            self.held.get(&id).map(|h| h.entry.body.revision),
        ]
        .into_iter()
        .flatten()
        .max();
        if newest.is_some_and(|newest| revision <= newest) {
            return Admitted {
                send: Some(entry),
                superseded: None,
            };
        }
        let hold_until = self.sent.get(&id).and_then(|sent| {
            let until = sent.at + self.count_only_every;
            (now < until && only_count_changed(&sent.entry.body, &entry.body)).then_some(until)
        });
        match hold_until {
            Some(until) => Admitted {
                send: None,
                superseded: self
                    .held
                    .insert(id, Held { entry, until })
                    .map(|old| (old.entry, revision)),
            },
            None => {
                let superseded = self.held.remove(&id).map(|old| (old.entry, revision));
                self.sent.insert(
                    id,
                    Sent {
                        entry: entry.clone(),
                        at: now,
                    },
                );
                Admitted {
                    send: Some(entry),
                    superseded,
                }
            }
        }
    }

    /// Releases the held revisions whose time has come, at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<Arc<OutboxEntry>> {
        let ready: Vec<AlertId> = self
            .held
            .iter()
            .filter(|(_, held)| held.until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let mut released = Vec::with_capacity(ready.len());
        for id in ready {
            if let Some(held) = self.held.remove(&id) {
                self.sent.insert(
                    id,
                    Sent {
                        entry: held.entry.clone(),
                        at: now,
                    },
                );
                released.push(held.entry);
            }
        }
        released
    }

    /// When the next held revision is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.values().map(|held| held.until).min()
    }

    /// Forgets alerts that no longer affect a decision: sent long enough ago
    /// and holding nothing.
    pub fn forget_quiet(&mut self, now: Instant) {
        let (held, every) = (&self.held, self.count_only_every);
        self.sent
            .retain(|id, sent| held.contains_key(id) || now < sent.at + every);
    }
}

/// True when `next` differs from `previous` in its press count and otherwise
/// only in what every press refreshes.
fn only_count_changed(previous: &DispatchBody, next: &DispatchBody) -> bool {
    if next.count <= previous.count {
        return false;
    }
    let refreshed = DispatchBody {
        revision: previous.revision,
        count: previous.count,
        updated_at: previous.updated_at,
        late: previous.late,
        victim: previous.victim.clone(),
        perpetrator: previous.perpetrator.clone(),
        distance_m: previous.distance_m,
        summary: previous.summary.clone(),
        ..next.clone()
    };
    refreshed == *previous
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{AlertKind, AlertStatus, IncidentId, Priority, TimestampMs, UtcTime};

    use super::*;
    use crate::store::PartitionKey;

    fn press(revision: u32, count: u32) -> Arc<OutboxEntry> {
        let created = UtcTime(TimestampMs(1_764_331_200_000));
        let updated = UtcTime(TimestampMs(1_764_331_200_000 + u64::from(revision)));
        Arc::new(OutboxEntry {
            partition: PartitionKey::Unassigned,
            body: DispatchBody {
                alert_id: AlertId::new("A"),
                incident_id: IncidentId::new("A"),
                revision,
                order_id: None,
                region: None,
                priority: Priority::P1,
                kind: AlertKind::Panic,
                confidence: None,
                status: AlertStatus::Open,
                exercise: false,
                late: false,
                count,
                created_at: created,
                updated_at: updated,
                cleared_at: None,
                victim: None,
                perpetrator: None,
                zone: None,
                distance_m: None,
                summary: format!("{count} presses"),
            },
            enqueued_at: TimestampMs(0),
        })
    }

    fn revisions(entries: &[Arc<OutboxEntry>]) -> Vec<u32> {
        entries.iter().map(|e| e.body.revision).collect()
    }

    #[test]
    fn the_first_press_goes_at_once() {
        let mut coalescer = Coalescer::default();
        let admitted = coalescer.admit(press(1, 1), Instant::now());
        assert_eq!(admitted.send.map(|e| e.body.revision), Some(1));
        assert!(admitted.superseded.is_none());
    }

    #[test]
    fn presses_within_10_s_are_held_and_the_newest_goes_when_the_10_s_are_up() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        coalescer.admit(press(1, 1), start);
        let second = coalescer.admit(press(2, 2), start + Duration::from_secs(1));
        assert!(second.send.is_none() && second.superseded.is_none());
        let third = coalescer.admit(press(3, 3), start + Duration::from_secs(2));
        assert!(third.send.is_none());
        let (superseded, by) = third.superseded.unwrap();
        assert_eq!((superseded.body.revision, by), (2, 3));

        assert!(coalescer.due(start + Duration::from_secs(9)).is_empty());
        assert_eq!(coalescer.next_due(), Some(start + COUNT_ONLY_EVERY));
        assert_eq!(revisions(&coalescer.due(start + COUNT_ONLY_EVERY)), [3]);
        assert_eq!(coalescer.next_due(), None);
    }

    #[test]
    fn a_press_10_s_after_the_last_send_goes_at_once() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        coalescer.admit(press(1, 1), start);
        let later = coalescer.admit(press(2, 2), start + COUNT_ONLY_EVERY);
        assert_eq!(later.send.map(|e| e.body.revision), Some(2));
    }

    #[test]
    fn any_other_change_goes_at_once_and_supersedes_the_held_press() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        coalescer.admit(press(1, 1), start);
        coalescer.admit(press(2, 2), start + Duration::from_secs(1));
        let mut acknowledged = (*press(3, 2)).clone();
        acknowledged.body.status = AlertStatus::Acknowledged;
        let admitted = coalescer.admit(Arc::new(acknowledged), start + Duration::from_secs(2));
        assert_eq!(admitted.send.map(|e| e.body.revision), Some(3));
        let (superseded, by) = admitted.superseded.unwrap();
        assert_eq!((superseded.body.revision, by), (2, 3));
        assert!(coalescer.due(start + COUNT_ONLY_EVERY).is_empty());
    }

    #[test]
    fn a_rise_in_priority_goes_at_once() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        let mut possible = (*press(1, 1)).clone();
        possible.body.priority = Priority::P2;
        coalescer.admit(Arc::new(possible), start);
        let admitted = coalescer.admit(press(2, 2), start + Duration::from_secs(1));
        assert_eq!(admitted.send.map(|e| e.body.revision), Some(2));
    }

    #[test]
    fn a_revision_older_than_one_sent_goes_as_it_is() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        coalescer.admit(press(5, 5), start);
        let older = coalescer.admit(press(4, 4), start + Duration::from_secs(1));
        assert_eq!(older.send.map(|e| e.body.revision), Some(4));
        assert!(older.superseded.is_none());
    }

    #[test]
    fn quiet_alerts_are_forgotten_but_not_those_holding_a_press() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        coalescer.admit(press(1, 1), start);
        coalescer.admit(press(2, 2), start + Duration::from_secs(1));
        coalescer.forget_quiet(start + Duration::from_secs(60));
        assert_eq!(
            revisions(&coalescer.due(start + Duration::from_secs(60))),
            [2]
        );
        coalescer.forget_quiet(start + Duration::from_secs(120));
        assert!(coalescer.sent.is_empty());
    }
}
