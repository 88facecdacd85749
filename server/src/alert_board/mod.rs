//! The latest revisions of the alerts a dispatcher works on, held in memory
//! newest first, so the alert list answers from an index instead of reading
//! every partition.
//!
//! The board holds every incident that has an alert not resolved, however
//! old, and every incident with a revision within the window
//! (`VANGNET_ALERT_WINDOW_S`) of the newest revision it has seen; an
//! incident is held or dropped with all its alerts. Below its *horizon* (the
//! newest time less the window, which only moves forward) the board holds
//! only incidents still being worked on, so the lists continue from the
//! store's time index ([`PartitionStore::alerts_before`]) past it, and an
//! incident no longer held is read from its partition. The window changes
//! memory, not what the lists answer.
//!
//! The board is filled from the store's partitions on first use and then
//! follows the store's event log ([`crate::store::EventLog::events_after`]), filling again if
//! the log dropped revisions it had not read (only a board at least a full
//! read behind can have missed any, so only then does it ask). Each read first
//! catches up with the log, so a list shows every revision committed before
//! the request, by this instance or another. Each revision is serialized
//! once, when it arrives, so a page is answered by copying JSON.
//!
//! The board also indexes the alerts by their `incident_id`, newest incident
//! first (by its alerts' latest `updated_at`), for the incident list. An
//! incident is named after the alert that opened it, in the same partition
//! as all its alerts, which is how one no longer held is found in the store.

mod held;
mod stored;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use vangnet_proto::{AlertId, AlertStatus, DispatchBody};

pub use self::held::Held;
use self::held::{Alerts, incident_of};
use self::stored::StoredIncidents;
use crate::incident::Incident;
use crate::store::{EventId, PartitionKey, PartitionStore, Store, StoreError};

/// Events read from the log per call while catching up.
const BATCH: usize = 1000;
/// Alerts read from the store's time index per call when a list reaches past the horizon.
const STORE_BATCH: usize = 500;

/// Where an alert sits in the newest-first order: `updated_at` ms, then alert id.
pub type BoardKey = (u64, String);

/// The key of an alert's latest revision.
pub fn key_of(alert: &DispatchBody) -> BoardKey {
    (
        alert.updated_at.0.millis(),
        alert.alert_id.as_str().to_owned(),
    )
}

/// The open incidents and the recent alerts, ordered by [`BoardKey`].
pub struct AlertBoard {
    /// Where the board is in the event log; `None` until it was first filled.
    log: tokio::sync::Mutex<Option<LogPosition>>,
    alerts: RwLock<Alerts>,
    /// How far behind the newest revision a resolved incident is still held, in ms.
    window_ms: u64,
}

/// How far the board has read the event log, and when it last began to.
struct LogPosition {
    after: Option<EventId>,
    read_at: Instant,
}

impl AlertBoard {
    /// A board holding resolved incidents for `window` after the newest revision it has seen.
    pub fn new(window: Duration) -> Self {
        Self {
            log: tokio::sync::Mutex::new(None),
            alerts: RwLock::new(Alerts::default()),
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Reads what the store committed before this call (the open incidents
    /// and the window, the first time). Callers waiting while another reads
    /// the log share its read when that read began after they arrived.
    pub async fn catch_up<S: Store>(&self, store: &S) -> Result<(), StoreError> {
        let arrived = Instant::now();
        let mut log = self.log.lock().await;
        if log
            .as_ref()
            .is_some_and(|position| position.read_at > arrived)
        {
            return Ok(());
        }
        let mut position = match log.take() {
            Some(position) => position,
            None => self.fill(store).await?,
        };
        position.read_at = Instant::now();
        let caught_up = self.follow(store, &mut position).await;
        *log = Some(position);
        caught_up
    }

    /// Up to `limit` alerts older than `before` (newest first) that `wanted`
    /// accepts: those at or above the horizon from memory, then the store's.
    /// With `not_resolved` (`wanted` takes no resolved alert) all come from
    /// memory, which holds every alert not resolved.
    pub async fn page<S: PartitionStore>(
        &self,
        store: &S,
        before: Option<&BoardKey>,
        limit: usize,
        not_resolved: bool,
        wanted: impl Fn(&DispatchBody) -> bool,
    ) -> Result<Vec<Arc<Held>>, StoreError> {
        let (mut found, floor) = {
            let alerts = self.read();
            let floor = alerts.floor(not_resolved);
            let held: Vec<_> = alerts
                .by_key
                .range(below(&floor, before))
                .rev()
                .map(|(_, held)| held)
                .filter(|held| wanted(&held.body))
                .take(limit)
                .cloned()
                .collect();
            (held, floor)
        };
        if found.len() == limit || floor.0 == 0 {
            return Ok(found);
        }
        let shown: HashSet<AlertId> = found
            .iter()
            .map(|held| held.body.alert_id.clone())
            .collect();
        let mut cursor = before
            .filter(|before| **before < floor)
            .unwrap_or(&floor)
            .clone();
        loop {
            let batch = store.alerts_before(Some(&cursor), STORE_BATCH).await?;
            let exhausted = batch.len() < STORE_BATCH;
            for body in batch {
                cursor = key_of(&body);
                if wanted(&body) && !shown.contains(&body.alert_id) {
                    found.push(Held::of(body)?);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if exhausted {
                return Ok(found);
            }
        }
    }

    /// Up to `limit` incidents older than `before` (newest first), each made
    /// of its alerts that `visible` accepts, that have any and that `wanted`
    /// accepts; with each its key, for the next page's cursor. Those at or
    /// above the horizon come from memory, then the store's; with
    /// `not_resolved` (`wanted` takes no resolved incident) all from memory.
    pub async fn incidents<S: PartitionStore>(
        &self,
        store: &S,
        before: Option<&BoardKey>,
        limit: usize,
        not_resolved: bool,
        visible: impl Fn(&DispatchBody) -> bool,
        wanted: impl Fn(&Incident) -> bool,
    ) -> Result<Vec<(BoardKey, Incident)>, StoreError> {
        let (mut found, floor) = {
            let alerts = self.read();
            let floor = alerts.floor(not_resolved);
            let held: Vec<_> = alerts
                .incident_keys
                .range(below(&floor, before))
                .rev()
                .filter_map(|key| {
                    let incident = incident_of(&alerts.members(&key.1)?, &visible)?;
                    Some((key.clone(), incident))
                })
                .filter(|(_, incident)| wanted(incident))
                .take(limit)
                .collect();
            (held, floor)
        };
        if found.len() == limit || floor.0 == 0 {
            return Ok(found);
        }
        let upper = before
            .filter(|before| **before < floor)
            .unwrap_or(&floor)
            .clone();
        let wanted_here = limit - found.len();
        found.extend(stored::incidents_below(store, &upper, wanted_here, &visible, &wanted).await?);
        Ok(found)
    }

    /// The incident `id`, made of its alerts that `visible` accepts, if any:
    /// from memory while held, else from its partition in the store.
    pub async fn incident<S: PartitionStore>(
        &self,
        store: &S,
        id: &str,
        visible: impl Fn(&DispatchBody) -> bool,
    ) -> Result<Option<Incident>, StoreError> {
        let held = self.read().members(id);
        if let Some(members) = held {
            return Ok(incident_of(&members, &visible));
        }
        let Some(opened) = store.alert(&AlertId::new(id)).await? else {
            return Ok(None);
        };
        let mut stored = StoredIncidents::default();
        let members = stored.of(store, &opened.partition, id).await?;
        Ok(incident_of(members, &visible))
    }

    /// Loads the incidents of every partition that have an alert not
    /// resolved or within the window of the newest revision; the log is
    /// followed from before the load, so a revision committed meanwhile is
    /// read again rather than missed.
    async fn fill<S: Store>(&self, store: &S) -> Result<LogPosition, StoreError> {
        let after = store.last_event_id().await?;
        let newest = store
            .alerts_before(None, 1)
            .await?
            .first()
            .map_or(0, |alert| alert.updated_at.0.millis());
        let horizon = self
            .read()
            .horizon
            .max(newest.saturating_sub(self.window_ms));
        for partition in store.partitions().await? {
            let mut incidents: HashMap<String, Vec<DispatchBody>> = HashMap::new();
            for alert in store.alerts(&partition).await? {
                incidents
                    .entry(alert.incident_id.as_str().to_owned())
                    .or_default()
                    .push(alert);
            }
            let kept = incidents
                .into_values()
                .filter(|alerts| {
                    alerts.iter().any(|alert| {
                        alert.status != AlertStatus::Resolved
                            || alert.updated_at.0.millis() >= horizon
                    })
                })
                .flatten()
                .collect();
            self.apply(kept)?;
        }
        Ok(LogPosition {
            after,
            read_at: Instant::now(),
        })
    }

    async fn follow<S: Store>(
        &self,
        store: &S,
        position: &mut LogPosition,
    ) -> Result<(), StoreError> {
        loop {
            let events = store.events_after(position.after.as_ref(), BATCH).await?;
            let full = events.len() == BATCH;
            if full
                && store
                    .log_gap_after(position.after.as_ref())
                    .await?
                    .is_some()
            {
                tracing::warn!(
                    "the event log dropped revisions the alert board had not read; reloading it"
                );
                *position = self.fill(store).await?;
                return Ok(());
            }
            let Some((last, _)) = events.last() else {
                return Ok(());
            };
            position.after = Some(last.clone());
            let unknown = self.apply(
                events
                    .into_iter()
                    .map(|(_, entry)| entry.revision)
                    .collect(),
            )?;
            self.complete(store, unknown).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Adds from the store the alerts of incidents the board had dropped
    /// (or never loaded) that a revision brought back.
    async fn complete<S: PartitionStore>(
        &self,
        store: &S,
        incidents: Vec<(PartitionKey, String)>,
    ) -> Result<(), StoreError> {
        let mut stored = StoredIncidents::default();
        for (partition, incident) in incidents {
            let members = stored.of(store, &partition, &incident).await?;
            self.apply(members.iter().map(|held| held.body.clone()).collect())?;
        }
        Ok(())
    }

    /// Applies `revisions`, then drops what fell out of the window; returns
    /// the partition and id of each incident that may have alerts the board lacks.
    fn apply(
        &self,
        revisions: Vec<DispatchBody>,
    ) -> Result<Vec<(PartitionKey, String)>, StoreError> {
        let mut alerts = self
            .alerts
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut unknown = Vec::new();
        for revision in revisions {
            unknown.extend(alerts.apply(revision)?);
        }
        alerts.evict(self.window_ms);
        Ok(unknown)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Alerts> {
        self.alerts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The keys from `floor` up to just below `before` (or all above `floor`).
fn below<'a>(
    floor: &'a BoardKey,
    before: Option<&'a BoardKey>,
) -> (Bound<&'a BoardKey>, Bound<&'a BoardKey>) {
    let upper = before.map_or(Bound::Unbounded, |before| {
        Bound::Excluded(before.max(floor))
    });
    (Bound::Included(floor), upper)
}
