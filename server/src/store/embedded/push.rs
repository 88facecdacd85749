//! Push subscriptions in the embedded store: [`PUSH_SUBSCRIPTIONS`].

use redb::ReadableTable;

use super::{EmbeddedStore, PUSH_SUBSCRIPTIONS, db_error};
use crate::store::{PushSubscription, PushSubscriptions, StoreError, decode, encode};

impl PushSubscriptions for EmbeddedStore {
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
    ) -> Result<(), StoreError> {
        let (id, json) = (subscription.id.clone(), encode(subscription)?);
        self.write(move |txn| {
            let mut table = txn.open_table(PUSH_SUBSCRIPTIONS).map_err(db_error)?;
            table.insert(id.as_str(), json.as_str()).map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn push_subscriptions(&self) -> Result<Vec<PushSubscription>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(PUSH_SUBSCRIPTIONS).map_err(db_error)?;
            let mut subscriptions = Vec::new();
            for row in table.iter().map_err(db_error)? {
                let (_, json) = row.map_err(db_error)?;
                subscriptions.push(decode(json.value().as_bytes())?);
            }
            Ok(subscriptions)
        })
        .await
    }

    async fn remove_push_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let mut table = txn.open_table(PUSH_SUBSCRIPTIONS).map_err(db_error)?;
            let removed = table.remove(id.as_str()).map_err(db_error)?.is_some();
            Ok(removed)
        })
        .await
    }
}
