//! What the board holds: each alert's latest revision, by key and by id,
//! and the incidents they make up, with the horizon below which only
//! incidents still being worked on stay.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::value::RawValue;
use vangnet_proto::{AlertStatus, DispatchBody};

use super::{BoardKey, key_of};
use crate::incident::Incident;
use crate::store::{PartitionKey, StoreError};

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
    pub(super) fn of(body: DispatchBody) -> Result<Arc<Self>, StoreError> {
        let json = serde_json::value::to_raw_value(&body)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        Ok(Arc::new(Self {
            body,
            json: Arc::from(json),
        }))
    }
}

/// The held alerts and incidents, and how far back they reach.
#[derive(Default)]
pub(super) struct Alerts {
    /// Each held alert's latest revision, newest last.
    pub(super) by_key: BTreeMap<BoardKey, Arc<Held>>,
    /// Where each alert id sits in `by_key`.
    pub(super) key_of_id: HashMap<String, BoardKey>,
    /// Each held incident's alert ids, key and alerts not resolved.
    incidents: HashMap<String, Members>,
    /// The incidents' keys, newest last.
    pub(super) incident_keys: BTreeSet<BoardKey>,
    /// The keys of the incidents whose alerts are all resolved, oldest first.
    resolved: BTreeSet<BoardKey>,
    /// The newest `updated_at` seen, in ms.
    newest: u64,
    /// Every alert updated at or after it (ms) is held.
    pub(super) horizon: u64,
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
    pub(super) fn apply(
        &mut self,
        alert: DispatchBody,
    ) -> Result<Option<(PartitionKey, String)>, StoreError> {
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
    pub(super) fn evict(&mut self, window_ms: u64) {
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
    pub(super) fn members(&self, id: &str) -> Option<Vec<Arc<Held>>> {
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

    /// The lowest key a list answers from memory down to: the horizon, or
    /// for a list of what is not resolved none, as memory holds all of that.
    pub(super) fn floor(&self, not_resolved: bool) -> BoardKey {
        (if not_resolved { 0 } else { self.horizon }, String::new())
    }
}

/// The incident of `members` made of those `visible` accepts.
pub(super) fn incident_of(
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
pub(super) fn partition_of(alert: &DispatchBody) -> PartitionKey {
    alert
        .order_id
        .clone()
        .map_or(PartitionKey::Unassigned, PartitionKey::Order)
}
