//! Location history in the embedded store: [`HISTORY`] by device, and
//! [`HISTORY_BY_TIME`] to trim it.

use vangnet_proto::{DeviceId, Fix, TimestampMs};

use super::{EmbeddedStore, HISTORY, HISTORY_BY_TIME, db_error};
use crate::store::{History, PartitionKey, StoreError, decode};

impl History for EmbeddedStore {
    async fn history(
        &self,
        partition: &PartitionKey,
        device: &DeviceId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<Fix>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let name = partition.to_string();
        let device = device.clone();
        self.read(move |txn| {
            let (name, device) = (name.as_str(), device.as_str());
            let history = txn.open_table(HISTORY).map_err(db_error)?;
            history
                .range((name, device, from.millis(), 0)..(name, device, to.millis(), 0))
                .map_err(db_error)?
                .map(|item| decode(item.map_err(db_error)?.1.value().as_bytes()))
                .collect()
        })
        .await
    }

    async fn trim_history(&self, before: TimestampMs) -> Result<u64, StoreError> {
        self.write(move |txn| {
            let mut by_time = txn.open_table(HISTORY_BY_TIME).map_err(db_error)?;
            let mut history = txn.open_table(HISTORY).map_err(db_error)?;
            let mut removed = 0;
            for item in by_time
                .extract_from_if(..(before.millis(), "", "", 0), |_, _| true)
                .map_err(db_error)?
            {
                let (key, _) = item.map_err(db_error)?;
                let (ts, name, device, seq) = key.value();
                history.remove((name, device, ts, seq)).map_err(db_error)?;
                removed += 1;
            }
            Ok(removed)
        })
        .await
    }
}
