//! The latest revision of every alert, held in memory newest first, so the
//! alert list answers from an index instead of reading every partition.
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
//! first (by its alerts' latest `updated_at`), for the incident list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde_json::value::RawValue;
use vangnet_proto::DispatchBody;

use crate::incident::Incident;
use crate::store::{EventId, Store, StoreError};

/// Events read from the log per call while catching up.
const BATCH: usize = 1000;

/// Where an alert sits in the newest-first order: `updated_at` ms, then alert id.
pub type BoardKey = (u64, String);

/// The key of an alert's latest revision.
pub fn key_of(alert: &DispatchBody) -> BoardKey {
    (
        alert.updated_at.0.millis(),
        alert.alert_id.as_str().to_owned(),
    )
}

/// Every alert's latest revision, ordered by [`BoardKey`].
#[derive(Default)]
pub struct AlertBoard {
    /// Where the board is in the event log; `None` until it was first filled.
    log: tokio::sync::Mutex<Option<LogPosition>>,
    alerts: RwLock<Alerts>,
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

#[derive(Default)]
struct Alerts {
    /// Each alert's latest revision, newest last.
    by_key: BTreeMap<BoardKey, Arc<Held>>,
    /// Where each alert id sits in `by_key`.
    key_of_id: HashMap<String, BoardKey>,
    /// Each incident's alert ids and key (its latest `updated_at`, its id).
    incidents: HashMap<String, Members>,
    /// The incidents' keys, newest last.
    incident_keys: BTreeSet<BoardKey>,
}

/// The alerts of one incident, and where it sits in `incident_keys`.
struct Members {
    alert_ids: Vec<String>,
    key: BoardKey,
}

impl Alerts {
    /// Keeps `alert` if it is newer than the revision held.
    fn apply(&mut self, alert: DispatchBody) -> Result<(), StoreError> {
        let id = alert.alert_id.as_str().to_owned();
        if let Some(key) = self.key_of_id.get(&id) {
            if self
                .by_key
                .get(key)
                .is_some_and(|held| held.body.revision >= alert.revision)
            {
                return Ok(());
            }
            self.by_key.remove(key);
        }
        let json = serde_json::value::to_raw_value(&alert)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let key = key_of(&alert);
        self.join_incident(&alert, &id);
        self.key_of_id.insert(id, key.clone());
        self.by_key.insert(
            key,
            Arc::new(Held {
                body: alert,
                json: Arc::from(json),
            }),
        );
        Ok(())
    }

    /// Files the alert `id` under its incident, which moves up to its `updated_at`.
    fn join_incident(&mut self, alert: &DispatchBody, id: &str) {
        let incident = alert.incident_id.as_str();
        let members = self
            .incidents
            .entry(incident.to_owned())
            .or_insert_with(|| Members {
                alert_ids: Vec::new(),
                key: (0, incident.to_owned()),
            });
        if !members.alert_ids.iter().any(|known| known == id) {
            members.alert_ids.push(id.to_owned());
        }
        self.incident_keys.remove(&members.key);
        members.key.0 = members.key.0.max(alert.updated_at.0.millis());
        self.incident_keys.insert(members.key.clone());
    }

    /// The incident `id` made of the alerts of it that `visible` accepts.
    fn incident(&self, id: &str, visible: &impl Fn(&DispatchBody) -> bool) -> Option<Incident> {
        let members = self.incidents.get(id)?;
        let alerts = members
            .alert_ids
            .iter()
            .filter_map(|alert| self.by_key.get(self.key_of_id.get(alert)?))
            .filter(|held| visible(&held.body))
            .cloned()
            .collect();
        Incident::of(alerts)
    }
}

impl AlertBoard {
    /// Reads what the store committed before this call (everything, the first
    /// time). Callers waiting while another reads the log share its read when
    /// that read began after they arrived.
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

    /// Up to `limit` alerts older than `before` (newest first) that `wanted` accepts.
    pub fn page(
        &self,
        before: Option<&BoardKey>,
        limit: usize,
        wanted: impl Fn(&DispatchBody) -> bool,
    ) -> Vec<Arc<Held>> {
        let alerts = self
            .alerts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        alerts
            .by_key
            .range((Bound::Unbounded, upper))
            .rev()
            .map(|(_, held)| held)
            .filter(|held| wanted(&held.body))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Up to `limit` incidents older than `before` (newest first), each made
    /// of its alerts that `visible` accepts, that have any and that `wanted`
    /// accepts; with each its key, for the next page's cursor.
    pub fn incidents(
        &self,
        before: Option<&BoardKey>,
        limit: usize,
        visible: impl Fn(&DispatchBody) -> bool,
        wanted: impl Fn(&Incident) -> bool,
    ) -> Vec<(BoardKey, Incident)> {
        let alerts = self
            .alerts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        alerts
            .incident_keys
            .range((Bound::Unbounded, upper))
            .rev()
            .filter_map(|key| Some((key.clone(), alerts.incident(&key.1, &visible)?)))
            .filter(|(_, incident)| wanted(incident))
            .take(limit)
            .collect()
    }

    /// The incident `id`, made of its alerts that `visible` accepts, if any.
    pub fn incident(&self, id: &str, visible: impl Fn(&DispatchBody) -> bool) -> Option<Incident> {
        let alerts = self
            .alerts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        alerts.incident(id, &visible)
    }

    /// Loads every partition's alerts; the log is followed from before the load,
    /// so a revision committed meanwhile is read again rather than missed.
    async fn fill<S: Store>(&self, store: &S) -> Result<LogPosition, StoreError> {
        let after = store.last_event_id().await?;
        let mut loaded = Vec::new();
        for partition in store.partitions().await? {
            loaded.extend(store.alerts(&partition).await?);
        }
        self.apply(loaded)?;
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
            self.apply(events.into_iter().map(|(_, body)| body).collect())?;
            if !full {
                return Ok(());
            }
        }
    }

    fn apply(&self, revisions: Vec<DispatchBody>) -> Result<(), StoreError> {
        let mut alerts = self
            .alerts
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        revisions
            .into_iter()
            .try_for_each(|revision| alerts.apply(revision))
    }
}
