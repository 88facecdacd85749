//! Putting the bench fleet's orders straight into the Redis store (in 0.2 s,
//! where the API's limit on changes would take minutes), and removing every
//! key of a run afterwards.

use anyhow::Context;
use redis::AsyncTypedCommands;
use tokio::task::JoinSet;
use url::Url;
use vangnet_proto::OrderId;
use vangnet_server::store::{OrderStore, RedisStore, StoredOrder};

use crate::fleet::SimOrder;

/// Concurrent writers while seeding.
const WRITERS: usize = 16;
/// Keys per DEL while cleaning up.
const DELETE_BATCH: usize = 500;

/// Stores every order under `prefix` with `RedisStore::put_order`.
pub async fn put_orders(redis_url: &str, prefix: &str, orders: &[SimOrder]) -> anyhow::Result<()> {
    let url = Url::parse(redis_url).with_context(|| format!("Redis URL {redis_url}"))?;
    let store = RedisStore::connect(&url, prefix).context("connecting to Redis")?;
    let mut writers = JoinSet::new();
    for share in orders.chunks(orders.len().div_ceil(WRITERS).max(1)) {
        let store = store.clone();
        let share: Vec<StoredOrder> = share
            .iter()
            .map(|order| StoredOrder {
                id: OrderId::new(&order.id),
                body: order.body().to_string().into_bytes(),
            })
            .collect();
        writers.spawn(async move {
            for order in &share {
                store
                    .put_order(order)
                    .await
                    .with_context(|| format!("storing order {}", order.id))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(written) = writers.join_next().await {
        written.context("seeding task")??;
    }
    Ok(())
}

/// Deletes every key under `prefix:` (SCAN MATCH + DEL); returns how many.
pub async fn delete_keys(redis_url: &str, prefix: &str) -> anyhow::Result<usize> {
    let client =
        redis::Client::open(redis_url).with_context(|| format!("Redis URL {redis_url}"))?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let mut keys: Vec<String> = Vec::new();
    {
        let mut scan = connection
            .scan_match::<_, String>(format!("{prefix}:*"))
            .await
            .context("SCAN")?;
        while let Some(key) = scan.next_item().await {
            keys.push(key.context("SCAN")?);
        }
    }
    for batch in keys.chunks(DELETE_BATCH) {
        connection.del(batch).await.context("DEL")?;
    }
    Ok(keys.len())
}
