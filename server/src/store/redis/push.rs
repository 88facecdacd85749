//! Push subscriptions on Redis: the hash `P:push-subscriptions`.

use super::{RedisStore, unavailable};
use crate::store::{PushSubscription, PushSubscriptions, StoreError, decode, encode};

impl PushSubscriptions for RedisStore {
    async fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
    ) -> Result<(), StoreError> {
        redis::cmd("HSET")
            .arg(self.global("push-subscriptions"))
            .arg(&subscription.id)
            .arg(encode(subscription)?)
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn push_subscriptions(&self) -> Result<Vec<PushSubscription>, StoreError> {
        let stored: Vec<String> = redis::cmd("HVALS")
            .arg(self.global("push-subscriptions"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        stored.iter().map(|json| decode(json.as_bytes())).collect()
    }

    async fn remove_push_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let removed: u64 = redis::cmd("HDEL")
            .arg(self.global("push-subscriptions"))
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }
}
