//! The outbox in the embedded store: [`OUTBOX`] in delivery order, and
//! [`OUTBOX_KEYS`] to find an entry by its key.

use redb::ReadableTable;
use vangnet_proto::Priority;

use super::{EmbeddedStore, OUTBOX, OUTBOX_KEYS, db_error};
use crate::store::outbox::{PRIORITIES, rank};
use crate::store::{Outbox, OutboxEntry, PartitionKey, StoreError, decode};

impl Outbox for EmbeddedStore {
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read(move |txn| {
            let outbox = txn.open_table(OUTBOX).map_err(db_error)?;
            let mut entries = Vec::new();
            for item in outbox.iter().map_err(db_error)? {
                if entries.len() >= limit {
                    break;
                }
                let (key, body) = item.map_err(db_error)?;
                match decode(body.value().as_bytes()) {
                    Ok(entry) => entries.push(entry),
                    Err(err) => {
                        let (_, _, name, key) = key.value();
                        tracing::error!("skipping outbox entry {key} of {name}: {err}");
                    }
                }
            }
            Ok(entries)
        })
        .await
    }

    async fn outbox_depth(&self) -> Result<Vec<(Priority, u64)>, StoreError> {
        self.read(|txn| {
            let outbox = txn.open_table(OUTBOX).map_err(db_error)?;
            let mut depth = PRIORITIES.map(|p| (p, 0));
            for item in outbox.iter().map_err(db_error)? {
                let (key, _) = item.map_err(db_error)?;
                let (entry_rank, ..) = key.value();
                if let Some((_, count)) = depth.iter_mut().find(|(p, _)| rank(*p) == entry_rank) {
                    *count += 1;
                }
            }
            Ok(depth.to_vec())
        })
        .await
    }

    async fn delivered(&self, partition: &PartitionKey, key: &str) -> Result<bool, StoreError> {
        let name = partition.to_string();
        let key = key.to_owned();
        self.write(move |txn| {
            let (name, key) = (name.as_str(), key.as_str());
            let place = txn
                .open_table(OUTBOX_KEYS)
                .map_err(db_error)?
                .remove((name, key))
                .map_err(db_error)?
                .map(|place| place.value());
            let Some((entry_rank, enqueued_at)) = place else {
                return Ok(false);
            };
            txn.open_table(OUTBOX)
                .map_err(db_error)?
                .remove((entry_rank, enqueued_at, name, key))
                .map_err(db_error)?;
            Ok(true)
        })
        .await
    }
}
