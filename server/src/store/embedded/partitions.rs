//! Partitions in the embedded store: their state, the commit, and the alerts
//! commits wrote.

use std::str::FromStr;

use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use vangnet_proto::{AlertId, DispatchBody, TimestampMs};

use super::{
    ALERT_PARTITIONS, ALERT_TIMES, ALERTS, EVENTS, EmbeddedStore, HISTORY, HISTORY_BY_TIME, OUTBOX,
    OUTBOX_KEYS, STATE_PARTS, STATES, TIMELINES, db_error,
};
use crate::store::outbox::rank;
use crate::store::partitions::without_positions;
use crate::store::{
    Commit, CommitOutcome, OutboxEntry, PartitionKey, PartitionStore, StateParts, StoreError,
    StoredAlert, TimelineEntry, Versioned, decode, encode,
};

impl PartitionStore for EmbeddedStore {
    async fn load(
        &self,
        partition: &PartitionKey,
    ) -> Result<Option<Versioned<StateParts>>, StoreError> {
        let name = partition.to_string();
        self.read(move |txn| {
            let name = name.as_str();
            let states = txn.open_table(STATES).map_err(db_error)?;
            let Some(state) = states.get(name).map_err(db_error)? else {
                return Ok(None);
            };
            let (version, _) = state.value();
            let mut parts = StateParts::new();
            let stored = txn.open_table(STATE_PARTS).map_err(db_error)?;
            for item in stored.range((name, "")..).map_err(db_error)? {
                let (key, bytes) = item.map_err(db_error)?;
                let (owner, part) = key.value();
                if owner != name {
                    break;
                }
                parts.insert(part.to_owned(), bytes.value().to_vec());
            }
            Ok(Some(Versioned {
                version,
                value: parts,
            }))
        })
        .await
    }

    async fn commit(
        &self,
        partition: &PartitionKey,
        expected: u64,
        commit: Commit,
    ) -> Result<CommitOutcome, StoreError> {
        let partition = partition.clone();
        let events_kept = self.events_kept;
        self.write(move |txn| write_commit(txn, &partition, expected, commit, events_kept))
            .await
    }

    async fn partitions(&self) -> Result<Vec<PartitionKey>, StoreError> {
        self.read(|txn| {
            let states = txn.open_table(STATES).map_err(db_error)?;
            let mut partitions = states
                .iter()
                .map_err(db_error)?
                .map(|item| PartitionKey::from_str(item.map_err(db_error)?.0.value()))
                .collect::<Result<Vec<_>, _>>()?;
            partitions.sort();
            Ok(partitions)
        })
        .await
    }

    async fn remove_parts(
        &self,
        partition: &PartitionKey,
        expected: u64,
        names: &[String],
        before: TimestampMs,
    ) -> Result<bool, StoreError> {
        let name = partition.to_string();
        let names = names.to_vec();
        self.write(move |txn| {
            let name = name.as_str();
            let mut states = txn.open_table(STATES).map_err(db_error)?;
            let Some((version, committed_at)) = states.get(name).map_err(db_error)?.map(|state| {
                let (version, at) = state.value();
                (
                    version,
                    <[u8; 8]>::try_from(at).ok().map(u64::from_be_bytes),
                )
            }) else {
                return Ok(false);
            };
            if names.is_empty()
                || version != expected
                || committed_at.is_some_and(|at| at >= before.millis())
            {
                return Ok(false);
            }
            let at = committed_at.map(u64::to_be_bytes);
            states
                .insert(
                    name,
                    (version + 1, at.as_ref().map_or(&[][..], |at| &at[..])),
                )
                .map_err(db_error)?;
            let mut parts = txn.open_table(STATE_PARTS).map_err(db_error)?;
            for part in &names {
                parts.remove((name, part.as_str())).map_err(db_error)?;
            }
            Ok(true)
        })
        .await
    }

    async fn forget_positions(
        &self,
        from: TimestampMs,
        before: TimestampMs,
    ) -> Result<u64, StoreError> {
        self.write(move |txn| {
            let times = txn.open_table(ALERT_TIMES).map_err(db_error)?;
            let mut alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let mut timelines = txn.open_table(TIMELINES).map_err(db_error)?;
            let mut forgotten = 0;
            for item in times
                .range((from.millis(), "")..(before.millis(), ""))
                .map_err(db_error)?
            {
                let (key, partition) = item.map_err(db_error)?;
                let (_, id) = key.value();
                let partition = partition.value();
                let current = alerts
                    .get((partition, id))
                    .map_err(db_error)?
                    .map(|current| decode::<DispatchBody>(current.value().as_bytes()))
                    .transpose()?;
                let Some(current) = current else {
                    continue;
                };
                let timeline = timelines
                    .range((id, 0)..=(id, u64::MAX))
                    .map_err(db_error)?
                    .map(|item| {
                        let (key, entry) = item.map_err(db_error)?;
                        let entry = decode::<TimelineEntry>(entry.value().as_bytes())?;
                        Ok((key.value().1, entry))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let (positions, entries): (Vec<u64>, Vec<TimelineEntry>) =
                    timeline.into_iter().unzip();
                let Some((stripped, entries)) = without_positions(&current, &entries) else {
                    continue;
                };
                alerts
                    .insert((partition, id), encode(&stripped)?.as_str())
                    .map_err(db_error)?;
                for (position, entry) in positions.into_iter().zip(entries) {
                    timelines
                        .insert((id, position), encode(&entry)?.as_str())
                        .map_err(db_error)?;
                }
                forgotten += 1;
            }
            Ok(forgotten)
        })
        .await
    }

    async fn alert(&self, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let id = id.as_str();
            let alert_partitions = txn.open_table(ALERT_PARTITIONS).map_err(db_error)?;
            let Some(name) = alert_partitions.get(id).map_err(db_error)? else {
                return Ok(None);
            };
            let name = name.value();
            let alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let Some(current) = alerts.get((name, id)).map_err(db_error)? else {
                return Ok(None);
            };
            let timelines = txn.open_table(TIMELINES).map_err(db_error)?;
            let timeline = timelines
                .range((id, 0)..=(id, u64::MAX))
                .map_err(db_error)?
                .map(|item| decode::<TimelineEntry>(item.map_err(db_error)?.1.value().as_bytes()))
                .collect::<Result<_, _>>()?;
            Ok(Some(StoredAlert {
                partition: PartitionKey::from_str(name)?,
                current: decode(current.value().as_bytes())?,
                timeline,
            }))
        })
        .await
    }

    async fn alerts(&self, partition: &PartitionKey) -> Result<Vec<DispatchBody>, StoreError> {
        let name = partition.to_string();
        self.read(move |txn| {
            let name = name.as_str();
            let alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let mut found = Vec::new();
            for item in alerts.range((name, "")..).map_err(db_error)? {
                let (key, body) = item.map_err(db_error)?;
                if key.value().0 != name {
                    break;
                }
                found.push(decode(body.value().as_bytes())?);
            }
            Ok(found)
        })
        .await
    }

    async fn alerts_before(
        &self,
        before: Option<&(u64, String)>,
        limit: usize,
    ) -> Result<Vec<DispatchBody>, StoreError> {
        let before = before.cloned();
        self.read(move |txn| {
            let times = txn.open_table(ALERT_TIMES).map_err(db_error)?;
            let alerts = txn.open_table(ALERTS).map_err(db_error)?;
            let range = match &before {
                Some((ms, id)) => times.range(..(*ms, id.as_str())),
                None => times.range::<(u64, &str)>(..),
            }
            .map_err(db_error)?;
            let mut found = Vec::new();
            for item in range.rev().take(limit) {
                let (key, partition) = item.map_err(db_error)?;
                let (_, id) = key.value();
                let current = alerts
                    .get((partition.value(), id))
                    .map_err(db_error)?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("alert {id} is indexed but gone"))
                    })?;
                found.push(decode(current.value().as_bytes())?);
            }
            Ok(found)
        })
        .await
    }
}

/// Fills [`ALERT_TIMES`] from the alerts of a file written before it existed.
pub(super) fn index_alert_times(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut times = txn.open_table(ALERT_TIMES).map_err(db_error)?;
    if !times.is_empty().map_err(db_error)? {
        return Ok(());
    }
    let alerts = txn.open_table(ALERTS).map_err(db_error)?;
    for item in alerts.iter().map_err(db_error)? {
        let (key, body) = item.map_err(db_error)?;
        let (partition, id) = key.value();
        let body: DispatchBody = decode(body.value().as_bytes())?;
        times
            .insert((body.updated_at.0.millis(), id), partition)
            .map_err(db_error)?;
    }
    Ok(())
}

/// The body of [`EmbeddedStore::commit`], inside its write transaction.
fn write_commit(
    txn: &WriteTransaction,
    partition: &PartitionKey,
    expected: u64,
    commit: Commit,
    events_kept: u64,
) -> Result<CommitOutcome, StoreError> {
    let name = partition.to_string();
    let name = name.as_str();
    let mut states = txn.open_table(STATES).map_err(db_error)?;
    let current = states
        .get(name)
        .map_err(db_error)?
        .map_or(0, |state| state.value().0);
    if current != expected {
        return Ok(CommitOutcome::Conflict);
    }
    let version = current + 1;
    states
        .insert(name, (version, commit.at.millis().to_be_bytes().as_slice()))
        .map_err(db_error)?;
    let mut parts = txn.open_table(STATE_PARTS).map_err(db_error)?;
    for (part, bytes) in &commit.parts {
        parts
            .insert((name, part.as_str()), bytes.as_slice())
            .map_err(db_error)?;
    }

    let mut alerts = txn.open_table(ALERTS).map_err(db_error)?;
    let mut times = txn.open_table(ALERT_TIMES).map_err(db_error)?;
    let mut alert_partitions = txn.open_table(ALERT_PARTITIONS).map_err(db_error)?;
    let mut timelines = txn.open_table(TIMELINES).map_err(db_error)?;
    let mut outbox = txn.open_table(OUTBOX).map_err(db_error)?;
    let mut outbox_keys = txn.open_table(OUTBOX_KEYS).map_err(db_error)?;
    let mut events = txn.open_table(EVENTS).map_err(db_error)?;
    let first_event = events
        .last()
        .map_err(db_error)?
        .map_or(1, |(seq, _)| seq.value() + 1);
    for (seq, entry) in (first_event..).zip(commit.revisions) {
        events
            .insert(seq, encode(&entry)?.as_str())
            .map_err(db_error)?;
        let id = entry.revision.alert_id.as_str();
        let replaced = alerts
            .insert((name, id), encode(&entry.revision)?.as_str())
            .map_err(db_error)?
            .map(|old| decode::<DispatchBody>(old.value().as_bytes()))
            .transpose()?;
        if let Some(old) = replaced {
            times
                .remove((old.updated_at.0.millis(), id))
                .map_err(db_error)?;
        }
        times
            .insert((entry.revision.updated_at.0.millis(), id), name)
            .map_err(db_error)?;
        alert_partitions.insert(id, name).map_err(db_error)?;
        let position = timelines
            .range((id, 0)..=(id, u64::MAX))
            .map_err(db_error)?
            .next_back()
            .transpose()
            .map_err(db_error)?
            .map_or(0, |(key, _)| key.value().1 + 1);
        timelines
            .insert((id, position), encode(&entry)?.as_str())
            .map_err(db_error)?;

        let queued = OutboxEntry {
            partition: partition.clone(),
            body: entry.revision.clone(),
            enqueued_at: commit.at,
        };
        let key = queued.key();
        let place = (rank(queued.body.priority), commit.at.millis());
        let replaced = outbox_keys
            .insert((name, key.as_str()), place)
            .map_err(db_error)?
            .map(|old| old.value());
        if let Some((old_rank, old_at)) = replaced {
            outbox
                .remove((old_rank, old_at, name, key.as_str()))
                .map_err(db_error)?;
        }
        outbox
            .insert(
                (place.0, place.1, name, key.as_str()),
                encode(&queued)?.as_str(),
            )
            .map_err(db_error)?;
    }
    drop_old_events(&mut events, events_kept)?;

    let mut history = txn.open_table(HISTORY).map_err(db_error)?;
    let mut by_time = txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
    for entry in &commit.history {
        let (device, ts, seq) = (entry.device.as_str(), entry.fix.ts.millis(), entry.fix.seq);
        history
            .insert((name, device, ts, seq), encode(&entry.fix)?.as_str())
            .map_err(db_error)?;
        by_time
            .insert((ts, name, device, seq), ())
            .map_err(db_error)?;
    }
    Ok(CommitOutcome::Committed(version))
}

/// Drops the oldest events beyond the newest `kept`.
fn drop_old_events(events: &mut Table<u64, &str>, kept: u64) -> Result<(), StoreError> {
    let first = events
        .first()
        .map_err(db_error)?
        .map(|(seq, _)| seq.value());
    let last = events.last().map_err(db_error)?.map(|(seq, _)| seq.value());
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(());
    };
    let keep_from = last.saturating_sub(kept - 1);
    if first < keep_from {
        events
            .retain_in(first..keep_from, |_, _| false)
            .map_err(db_error)?;
    }
    Ok(())
}
