//! The latest revision of every alert, held in memory newest first, so the
//! alert list answers from an index instead of reading every partition.
//!
//! The board is filled from the store's partitions on first use and then
//! follows the store's event log ([`Store::events_after`]). Each read first
//! catches up with the log, so a list shows every revision committed before
//! the request, by this instance or another.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use vangnet_proto::DispatchBody;

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

/// How far the board has read the event log.
struct LogPosition {
    after: Option<EventId>,
}

#[derive(Default)]
struct Alerts {
    latest: HashMap<String, DispatchBody>,
    order: BTreeSet<BoardKey>,
}

impl Alerts {
    /// Keeps `alert` if it is newer than the revision held.
    fn apply(&mut self, alert: DispatchBody) {
        let id = alert.alert_id.as_str().to_owned();
        if let Some(held) = self.latest.get(&id) {
            if held.revision >= alert.revision {
                return;
            }
            self.order.remove(&key_of(held));
        }
        self.order.insert(key_of(&alert));
        self.latest.insert(id, alert);
    }
}

impl AlertBoard {
    /// Reads what the store committed since the last call (everything, the first time).
    pub async fn catch_up<S: Store>(&self, store: &S) -> Result<(), StoreError> {
        let mut log = self.log.lock().await;
        let mut position = match log.take() {
            Some(position) => position,
            None => self.fill(store).await?,
        };
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
    ) -> Vec<DispatchBody> {
        let alerts = self
            .alerts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        alerts
            .order
            .range((Bound::Unbounded, upper))
            .rev()
            .filter_map(|(_, id)| alerts.latest.get(id))
            .filter(|alert| wanted(alert))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Loads every partition's alerts; the log is followed from before the load,
    /// so a revision committed meanwhile is read again rather than missed.
    async fn fill<S: Store>(&self, store: &S) -> Result<LogPosition, StoreError> {
        let after = store.last_event_id().await?;
        let mut loaded = Vec::new();
        for partition in store.partitions().await? {
            loaded.extend(store.alerts(&partition).await?);
        }
        self.apply(loaded);
        Ok(LogPosition { after })
    }

    async fn follow<S: Store>(
        &self,
        store: &S,
        position: &mut LogPosition,
    ) -> Result<(), StoreError> {
        loop {
            let events = store.events_after(position.after.as_ref(), BATCH).await?;
            let Some((last, _)) = events.last() else {
                return Ok(());
            };
            position.after = Some(last.clone());
            let full = events.len() == BATCH;
            self.apply(events.into_iter().map(|(_, body)| body).collect());
            if !full {
                return Ok(());
            }
        }
    }

    fn apply(&self, revisions: Vec<DispatchBody>) {
        let mut alerts = self
            .alerts
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for revision in revisions {
            alerts.apply(revision);
        }
    }
}
