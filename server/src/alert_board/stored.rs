//! Incidents the board no longer holds, read from the store: a partition's
//! alerts grouped by incident, and the incident list below the horizon.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use vangnet_proto::DispatchBody;

use super::held::{Held, incident_of, partition_of};
use super::{BoardKey, STORE_BATCH, key_of};
use crate::incident::Incident;
use crate::store::{PartitionKey, PartitionStore, StoreError};

/// The latest revisions of each incident's alerts, read from the store a
/// partition at a time and kept for one list call.
#[derive(Default)]
pub(super) struct StoredIncidents {
    partitions: HashMap<PartitionKey, HashMap<String, Vec<Arc<Held>>>>,
}

impl StoredIncidents {
    /// The alerts of the incident `incident` of `partition`.
    pub(super) async fn of<S: PartitionStore>(
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

/// Up to `limit` incidents below `upper` read from the store, newest
/// first: walking the alerts from `upper`'s time down, each incident is
/// met first at its newest alert, so its key is that alert's time.
pub(super) async fn incidents_below<S: PartitionStore>(
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
