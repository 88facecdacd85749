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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use vangnet_proto::{AlertId, AlertStatus, DispatchBody};

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

/// An alert's latest revision, and the same as JSON.
#[derive(Debug)]
pub struct Held {
    /// The revision, for filtering.
    pub body: DispatchBody,
    /// The revision as the API sends it.
    pub json: Arc<RawValue>,
}

impl Held {
    /// Serializes `body` once, for every page that shows it.
    fn of(body: DispatchBody) -> Result<Arc<Self>, StoreError> {
        let json = serde_json::value::to_raw_value(&body)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        Ok(Arc::new(Self {
            body,
            json: Arc::from(json),
        }))
    }
}

#[derive(Default)]
struct Alerts {
    /// Each held alert's latest revision, newest last.
    by_key: BTreeMap<BoardKey, Arc<Held>>,
    /// Where each alert id sits in `by_key`.
    key_of_id: HashMap<String, BoardKey>,
    /// Each held incident's alert ids, key and alerts not resolved.
    incidents: HashMap<String, Members>,
    /// The incidents' keys, newest last.
    incident_keys: BTreeSet<BoardKey>,
    /// The keys of the incidents whose alerts are all resolved, oldest first.
    resolved: BTreeSet<BoardKey>,
    /// The newest `updated_at` seen, in ms.
    newest: u64,
    /// Every alert updated at or after it (ms) is held.
    horizon: u64,
}

/// The alerts of one incident, and where it sits in `incident_keys`.
struct Members {
    alert_ids: Vec<String>,
    key: BoardKey,
    /// How many of its alerts are not resolved.
    unresolved: usize,
}

impl Alerts {
    /// Keeps `alert` if it is newer than the revision held; returns its
    /// partition and incident when it starts an incident the board did not
    /// hold that may have alerts before it (it is not the first revision of
    /// the alert that opened it).
    fn apply(&mut self, alert: DispatchBody) -> Result<Option<(PartitionKey, String)>, StoreError> {
        let id = alert.alert_id.as_str().to_owned();
        let mut was_resolved = None;
        if let Some(key) = self.key_of_id.get(&id) {
            if let Some(held) = self.by_key.get(key) {
                if held.body.revision >= alert.revision {
                    return Ok(None);
                }
                was_resolved = Some(held.body.status == AlertStatus::Resolved);
            }
            self.by_key.remove(key);
        }
        self.newest = self.newest.max(alert.updated_at.0.millis());
        let held = Held::of(alert)?;
        let key = key_of(&held.body);
        let unknown = self.join_incident(&held.body, &id, was_resolved).then(|| {
            (
                partition_of(&held.body),
                held.body.incident_id.as_str().to_owned(),
            )
        });
        self.key_of_id.insert(id, key.clone());
        self.by_key.insert(key, held);
        Ok(unknown)
    }

    /// Files the alert `id` under its incident, which moves up to its
    /// `updated_at`; `was_resolved` says whether the revision it replaces
    /// was resolved, `None` when none was held. True as [`Self::apply`] says.
    fn join_incident(
        &mut self,
        alert: &DispatchBody,
        id: &str,
        was_resolved: Option<bool>,
    ) -> bool {
        let incident = alert.incident_id.as_str();
        let unknown =
            !self.incidents.contains_key(incident) && (alert.revision > 1 || incident != id);
        let members = self
            .incidents
            .entry(incident.to_owned())
            .or_insert_with(|| Members {
                alert_ids: Vec::new(),
                key: (0, incident.to_owned()),
                unresolved: 0,
            });
        if !members.alert_ids.iter().any(|known| known == id) {
            members.alert_ids.push(id.to_owned());
        }
        let resolved = alert.status == AlertStatus::Resolved;
        match (was_resolved, resolved) {
            (None | Some(true), false) => members.unresolved += 1,
            (Some(false), true) => members.unresolved = members.unresolved.saturating_sub(1),
            _ => {}
        }
        self.incident_keys.remove(&members.key);
        self.resolved.remove(&members.key);
        members.key.0 = members.key.0.max(alert.updated_at.0.millis());
        self.incident_keys.insert(members.key.clone());
        if members.unresolved == 0 {
            self.resolved.insert(members.key.clone());
        }
        unknown
    }

    /// Moves the horizon up to `window_ms` behind the newest revision and
    /// drops the resolved incidents all of whose alerts are older.
    fn evict(&mut self, window_ms: u64) {
        self.horizon = self.horizon.max(self.newest.saturating_sub(window_ms));
        while let Some(key) = self.resolved.first().filter(|key| key.0 < self.horizon) {
            let key = key.clone();
            self.resolved.remove(&key);
            self.incident_keys.remove(&key);
            for id in self
                .incidents
                .remove(&key.1)
                .map(|members| members.alert_ids)
                .unwrap_or_default()
            {
                if let Some(alert) = self.key_of_id.remove(&id) {
                    self.by_key.remove(&alert);
                }
            }
        }
        metrics::gauge!("vangnet_alert_board_alerts").set(self.by_key.len() as f64);
    }

    /// The latest revisions of the incident `id`'s alerts, if it is held.
    fn members(&self, id: &str) -> Option<Vec<Arc<Held>>> {
        let members = self.incidents.get(id)?;
        Some(
            members
                .alert_ids
                .iter()
                .filter_map(|alert| self.by_key.get(self.key_of_id.get(alert)?))
                .cloned()
                .collect(),
        )
    }

    /// The lowest key every alert or incident at or above which is held.
    fn floor(&self) -> BoardKey {
        (self.horizon, String::new())
    }
}

/// The incident of `members` made of those `visible` accepts.
fn incident_of(
    members: &[Arc<Held>],
    visible: &impl Fn(&DispatchBody) -> bool,
) -> Option<Incident> {
    Incident::of(
        members
            .iter()
            .filter(|held| visible(&held.body))
            .cloned()
            .collect(),
    )
}

/// The partition of `alert`: its order's, or that of devices in no order.
fn partition_of(alert: &DispatchBody) -> PartitionKey {
    alert
        .order_id
        .clone()
        .map_or(PartitionKey::Unassigned, PartitionKey::Order)
}

/// The latest revisions of each incident's alerts, read from the store a
/// partition at a time and kept for one list call.
#[derive(Default)]
struct StoredIncidents {
    partitions: HashMap<PartitionKey, HashMap<String, Vec<Arc<Held>>>>,
}

impl StoredIncidents {
    /// The alerts of the incident `incident` of `partition`.
    async fn of<S: PartitionStore>(
        &mut self,
        store: &S,
        partition: &PartitionKey,
        incident: &str,
    ) -> Result<&[Arc<Held>], StoreError> {
        if !self.partitions.contains_key(partition) {
            let mut incidents: HashMap<String, Vec<Arc<Held>>> = HashMap::new();
            for body in store.alerts(partition).await? {
                incidents
                    .entry(body.incident_id.as_str().to_owned())
                    .or_default()
                    .push(Held::of(body)?);
            }
            self.partitions.insert(partition.clone(), incidents);
        }
        Ok(self
            .partitions
            .get(partition)
            .and_then(|incidents| incidents.get(incident))
            .map_or(&[], Vec::as_slice))
    }
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
            let floor = if not_resolved {
                (0, String::new())
            } else {
                alerts.floor()
            };
            let upper = before.map_or(Bound::Unbounded, |before| {
                Bound::Excluded(before.max(&floor))
            });
            let held: Vec<_> = alerts
                .by_key
                .range((Bound::Included(&floor), upper))
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
            let floor = if not_resolved {
                (0, String::new())
            } else {
                alerts.floor()
            };
            let upper = before.map_or(Bound::Unbounded, |before| {
                Bound::Excluded(before.max(&floor))
            });
            let held: Vec<_> = alerts
                .incident_keys
                .range((Bound::Included(&floor), upper))
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
        found.extend(
            self.stored_incidents(store, &upper, wanted_here, &visible, &wanted)
                .await?,
        );
        Ok(found)
    }

    /// Up to `limit` incidents below `upper` read from the store, newest
    /// first: walking the alerts from `upper`'s time down, each incident is
    /// met first at its newest alert, so its key is that alert's time.
    async fn stored_incidents<S: PartitionStore>(
        &self,
        store: &S,
        upper: &BoardKey,
        limit: usize,
        visible: &impl Fn(&DispatchBody) -> bool,
        wanted: &impl Fn(&Incident) -> bool,
    ) -> Result<Vec<(BoardKey, Incident)>, StoreError> {
        let mut stored = StoredIncidents::default();
        let mut met = HashSet::new();
        let mut found: Vec<(BoardKey, Incident)> = Vec::new();
        let mut cursor = (upper.0.saturating_add(1), String::new());
        loop {
            let batch = store.alerts_before(Some(&cursor), STORE_BATCH).await?;
            let exhausted = batch.len() < STORE_BATCH;
            for body in batch {
                cursor = key_of(&body);
                if found.len() >= limit && found[limit - 1].0.0 > cursor.0 {
                    found.truncate(limit);
                    return Ok(found);
                }
                if !met.insert(body.incident_id.clone()) {
                    continue;
                }
                let incident = body.incident_id.as_str();
                let members = stored.of(store, &partition_of(&body), incident).await?;
                let Some(newest) = members
                    .iter()
                    .map(|held| held.body.updated_at.0.millis())
                    .max()
                else {
                    continue;
                };
                let key = (newest, incident.to_owned());
                if key >= *upper {
                    continue;
                }
                if let Some(incident) = incident_of(members, visible).filter(|i| wanted(i)) {
                    found.push((key, incident));
                    found.sort_by(|a, b| b.0.cmp(&a.0));
                }
            }
            if exhausted {
                found.truncate(limit);
                return Ok(found);
            }
        }
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
            let unknown = self.apply(events.into_iter().map(|(_, body)| body).collect())?;
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

#[cfg(test)]
mod tests {
    use vangnet_proto::{AlertKind, IncidentId, OrderId, Priority, TimestampMs, UtcTime};

    use super::*;
    use crate::store::{Commit, CommitOutcome, EmbeddedStore, StateParts, TimelineEntry};

    const T0: u64 = 1_764_331_200_000;
    const HOUR_S: u64 = 3600;

    /// A store in a temporary file, kept as long as the directory.
    fn store() -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        (dir, store)
    }

    /// Revision `revision` of `alert` in `incident` of `order`, made at `T0 + at_s`.
    fn revision(
        order: &str,
        alert: &str,
        incident: &str,
        revision: u32,
        status: AlertStatus,
        at_s: u64,
    ) -> DispatchBody {
        DispatchBody {
            alert_id: AlertId::new(alert),
            incident_id: IncidentId::new(incident),
            revision,
            order_id: Some(OrderId::new(order)),
            region: Some(
                if order == "order-18" {
                    "noord"
                } else {
                    "utrecht"
                }
                .into(),
            ),
            priority: Priority::P2,
            kind: AlertKind::ZoneAlarm,
            confidence: None,
            status,
            exercise: false,
            late: false,
            count: 1,
            created_at: UtcTime(TimestampMs(T0)),
            updated_at: UtcTime(TimestampMs(T0 + at_s * 1000)),
            cleared_at: None,
            victim: None,
            perpetrator: None,
            zone: None,
            distance_m: None,
            summary: format!("{alert} revision {revision}"),
        }
    }

    /// Commits `revisions`, each in its order's partition.
    async fn commit(store: &EmbeddedStore, revisions: Vec<DispatchBody>) {
        for body in revisions {
            let partition = partition_of(&body);
            let expected = store
                .load(&partition)
                .await
                .unwrap()
                .map_or(0, |v| v.version);
            let commit = Commit {
                parts: StateParts::new(),
                revisions: vec![TimelineEntry {
                    revision: body,
                    act: None,
                }],
                history: Vec::new(),
                at: TimestampMs(T0),
            };
            let outcome = store.commit(&partition, expected, commit).await.unwrap();
            assert_eq!(outcome, CommitOutcome::Committed(expected + 1));
        }
    }

    fn held_ids(board: &AlertBoard) -> Vec<String> {
        let mut ids: Vec<_> = board.read().key_of_id.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn everything(_: &DispatchBody) -> bool {
        true
    }

    /// Every alert `wanted` accepts (with `not_resolved`, only alerts not
    /// resolved), read `limit` at a time: each as `id/revision`.
    async fn every_page(
        board: &AlertBoard,
        store: &EmbeddedStore,
        limit: usize,
        (not_resolved, wanted): (bool, impl Fn(&DispatchBody) -> bool + Copy),
    ) -> Vec<String> {
        board.catch_up(store).await.unwrap();
        let mut listed = Vec::new();
        let mut before = None;
        loop {
            let page = board
                .page(store, before.as_ref(), limit, not_resolved, wanted)
                .await
                .unwrap();
            assert!(page.len() <= limit);
            listed.extend(page.iter().map(|held| {
                assert_eq!(
                    held.json.get(),
                    Held::of(held.body.clone()).unwrap().json.get()
                );
                format!("{}/{}", held.body.alert_id, held.body.revision)
            }));
            match page.last() {
                Some(last) if page.len() == limit => before = Some(key_of(&last.body)),
                _ => return listed,
            }
        }
    }

    /// Every incident `wanted` accepts (with `not_resolved`, only incidents
    /// not resolved), read `limit` at a time: each as JSON.
    async fn every_incident_page(
        board: &AlertBoard,
        store: &EmbeddedStore,
        limit: usize,
        (not_resolved, wanted): (bool, impl Fn(&Incident) -> bool + Copy),
    ) -> Vec<String> {
        board.catch_up(store).await.unwrap();
        let mut listed = Vec::new();
        let mut before = None;
        loop {
            let page = board
                .incidents(
                    store,
                    before.as_ref(),
                    limit,
                    not_resolved,
                    everything,
                    wanted,
                )
                .await
                .unwrap();
            assert!(page.len() <= limit);
            listed.extend(
                page.iter()
                    .map(|(_, incident)| serde_json::to_string(incident).unwrap()),
            );
            match page.last() {
                Some((key, _)) if page.len() == limit => before = Some(key.clone()),
                _ => return listed,
            }
        }
    }

    /// Two days of incidents in two orders: resolved and open, of one alert
    /// and of several, some revised later, some alerts at the same time.
    async fn two_days(store: &EmbeddedStore) {
        use AlertStatus::{Acknowledged, Open, Resolved};
        commit(
            store,
            vec![
                revision("order-17", "a1", "a1", 1, Open, 0),
                revision("order-17", "a2", "a1", 1, Open, 60),
                revision("order-18", "b1", "b1", 1, Open, 60),
                revision("order-17", "c1", "c1", 1, Open, 120),
                revision("order-17", "a1", "a1", 2, Resolved, 2 * HOUR_S),
                revision("order-17", "a2", "a1", 2, Resolved, 2 * HOUR_S),
                revision("order-18", "d1", "d1", 1, Open, 3 * HOUR_S),
                revision("order-18", "b1", "b1", 2, Acknowledged, 5 * HOUR_S),
                revision("order-17", "e1", "e1", 1, Open, 20 * HOUR_S),
                revision("order-17", "e1", "e1", 2, Resolved, 21 * HOUR_S),
                revision("order-18", "d2", "d1", 1, Open, 30 * HOUR_S),
                revision("order-18", "d1", "d1", 2, Resolved, 30 * HOUR_S),
                revision("order-18", "d2", "d1", 2, Resolved, 31 * HOUR_S),
                revision("order-17", "f1", "f1", 1, Open, 40 * HOUR_S),
                revision("order-17", "g1", "g1", 1, Open, 40 * HOUR_S),
                revision("order-17", "f1", "f1", 2, Resolved, 41 * HOUR_S),
                revision("order-17", "h1", "h1", 1, Open, 47 * HOUR_S),
            ],
        )
        .await;
    }

    /// A list's filter of alerts.
    type AlertFilter = fn(&DispatchBody) -> bool;
    /// A list's filter of incidents.
    type IncidentFilter = fn(&Incident) -> bool;

    fn unbounded() -> AlertBoard {
        AlertBoard::new(Duration::MAX)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_resolved_alert_older_than_the_window_leaves_memory() {
        let (_dir, store) = store();
        let board = AlertBoard::new(Duration::from_secs(HOUR_S));
        commit(
            &store,
            vec![
                revision("order-17", "a1", "a1", 1, AlertStatus::Open, 0),
                revision("order-17", "b1", "b1", 1, AlertStatus::Open, 0),
            ],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["a1", "b1"]);

        commit(
            &store,
            vec![revision(
                "order-17",
                "a1",
                "a1",
                2,
                AlertStatus::Resolved,
                60,
            )],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["a1", "b1"]);

        commit(
            &store,
            vec![revision(
                "order-17",
                "c1",
                "c1",
                1,
                AlertStatus::Open,
                60 + HOUR_S + 1,
            )],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["b1", "c1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_alert_stays_on_the_board_however_old() {
        let (_dir, store) = store();
        let board = AlertBoard::new(Duration::ZERO);
        commit(
            &store,
            vec![
                revision("order-17", "a1", "a1", 1, AlertStatus::Open, 0),
                revision("order-17", "b1", "b1", 1, AlertStatus::Acknowledged, 0),
                revision("order-17", "c1", "c1", 1, AlertStatus::Resolved, 0),
                revision(
                    "order-17",
                    "d1",
                    "d1",
                    1,
                    AlertStatus::Resolved,
                    365 * 24 * HOUR_S,
                ),
            ],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["a1", "b1", "d1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_board_filled_from_the_store_loads_only_open_incidents_and_the_window() {
        let (_dir, store) = store();
        two_days(&store).await;
        let board = AlertBoard::new(Duration::from_secs(10 * HOUR_S));
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["b1", "c1", "f1", "g1", "h1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_alert_of_an_open_incident_stays_with_it_though_resolved_and_old() {
        let (_dir, store) = store();
        let board = AlertBoard::new(Duration::ZERO);
        commit(
            &store,
            vec![
                revision("order-17", "a1", "a1", 1, AlertStatus::Resolved, 0),
                revision("order-17", "a2", "a1", 1, AlertStatus::Open, 10),
                revision("order-17", "b1", "b1", 1, AlertStatus::Resolved, 20),
            ],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["a1", "a2", "b1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revision_of_an_incident_that_left_memory_brings_back_all_its_alerts() {
        let (_dir, store) = store();
        let board = AlertBoard::new(Duration::from_secs(HOUR_S));
        commit(
            &store,
            vec![
                revision("order-17", "a1", "a1", 1, AlertStatus::Resolved, 0),
                revision("order-17", "a2", "a1", 1, AlertStatus::Resolved, 10),
                revision("order-17", "b1", "b1", 1, AlertStatus::Open, 2 * HOUR_S),
            ],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["b1"]);

        commit(
            &store,
            vec![revision(
                "order-17",
                "a3",
                "a1",
                1,
                AlertStatus::Open,
                3 * HOUR_S,
            )],
        )
        .await;
        board.catch_up(&store).await.unwrap();
        assert_eq!(held_ids(&board), ["a1", "a2", "a3", "b1"]);
        let incident = board
            .incident(&store, "a1", everything)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(incident.alerts.len(), 3);
        assert_eq!(incident.status, AlertStatus::Open);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_alert_list_pages_past_the_window_into_the_store_without_gaps_or_repeats() {
        let (_dir, store) = store();
        two_days(&store).await;
        let all = every_page(&unbounded(), &store, 100, (false, everything)).await;
        assert_eq!(
            all,
            [
                "h1/1", "f1/2", "g1/1", "d2/2", "d1/2", "e1/2", "b1/2", "a2/2", "a1/2", "c1/1"
            ]
        );
        for window_h in [0, 1, 10, 30] {
            let board = AlertBoard::new(Duration::from_secs(window_h * HOUR_S));
            for limit in [1, 2, 3, 100] {
                let listed = every_page(&board, &store, limit, (false, everything)).await;
                assert_eq!(listed, all);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_alert_list_answers_the_same_with_a_window_of_0_s_as_unbounded() {
        let (_dir, store) = store();
        two_days(&store).await;
        let narrow = AlertBoard::new(Duration::ZERO);
        let wide = unbounded();
        let filters: [(bool, AlertFilter); 5] = [
            (false, everything),
            (false, |alert| alert.status == AlertStatus::Resolved),
            (false, |alert| alert.status != AlertStatus::Resolved),
            (true, |alert| alert.status != AlertStatus::Resolved),
            (false, |alert| alert.region.as_deref() == Some("noord")),
        ];
        for wanted in filters {
            for limit in [1, 2, 5] {
                assert_eq!(
                    every_page(&narrow, &store, limit, wanted).await,
                    every_page(&wide, &store, limit, wanted).await
                );
            }
        }
        commit(
            &store,
            vec![
                revision(
                    "order-17",
                    "c1",
                    "c1",
                    2,
                    AlertStatus::Resolved,
                    48 * HOUR_S,
                ),
                revision(
                    "order-18",
                    "b1",
                    "b1",
                    3,
                    AlertStatus::Resolved,
                    48 * HOUR_S,
                ),
            ],
        )
        .await;
        assert_eq!(
            every_page(&narrow, &store, 2, (false, everything)).await,
            every_page(&wide, &store, 2, (false, everything)).await
        );
        assert_eq!(held_ids(&narrow), ["b1", "c1", "g1", "h1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_incident_list_and_reads_answer_the_same_with_a_window_of_0_s_as_unbounded() {
        let (_dir, store) = store();
        two_days(&store).await;
        let narrow = AlertBoard::new(Duration::ZERO);
        let wide = unbounded();
        let all = every_incident_page(&wide, &store, 100, (false, |_| true)).await;
        assert_eq!(all.len(), 8);
        let filters: [(bool, IncidentFilter); 4] = [
            (false, |_| true),
            (false, |incident| incident.status == AlertStatus::Resolved),
            (true, |incident| incident.status != AlertStatus::Resolved),
            (false, |incident| {
                incident.region.as_deref() == Some("utrecht")
            }),
        ];
        for wanted in filters {
            for limit in [1, 2, 3, 100] {
                assert_eq!(
                    every_incident_page(&narrow, &store, limit, wanted).await,
                    every_incident_page(&wide, &store, limit, wanted).await
                );
            }
        }
        for id in ["a1", "b1", "c1", "d1", "e1", "f1", "g1", "h1", "a2", "none"] {
            assert_eq!(
                board_incident(&narrow, &store, id).await,
                board_incident(&wide, &store, id).await,
                "incident {id}"
            );
        }
        assert!(board_incident(&narrow, &store, "d1").await.is_some());
        assert!(board_incident(&narrow, &store, "a2").await.is_none());
        let only_noord = |alert: &DispatchBody| alert.region.as_deref() == Some("noord");
        assert!(
            narrow
                .incident(&store, "a1", only_noord)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_list_of_alerts_not_resolved_is_answered_from_memory_however_old() {
        let (_dir, store) = store();
        two_days(&store).await;
        let board = AlertBoard::new(Duration::ZERO);
        board.catch_up(&store).await.unwrap();
        let (_empty_dir, empty) = self::store();
        let not_resolved = |alert: &DispatchBody| alert.status != AlertStatus::Resolved;
        let listed = board
            .page(&empty, None, 100, true, not_resolved)
            .await
            .unwrap();
        let ids: Vec<_> = listed
            .iter()
            .map(|held| held.body.alert_id.as_str())
            .collect();
        assert_eq!(ids, ["h1", "g1", "b1", "c1"]);
    }

    /// The incident `id` as JSON, if there is one.
    async fn board_incident(board: &AlertBoard, store: &EmbeddedStore, id: &str) -> Option<String> {
        let incident = board.incident(store, id, everything).await.unwrap();
        incident.map(|incident| serde_json::to_string(&incident).unwrap())
    }
}
