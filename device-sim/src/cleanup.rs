//! Removing what a run of its own `vangnet` left behind: every key under its
//! Redis prefix and the persistent MQTT sessions on the broker.

use anyhow::Context;
use redis::AsyncTypedCommands;
use vangnet_proto::Topics;

use crate::broker;
use crate::service::ServiceConfig;

/// Keys per DEL while cleaning up.
const DELETE_BATCH: usize = 500;

/// Deletes every key under `prefix:` (SCAN MATCH + DEL); returns how many.
async fn delete_keys(redis_url: &str, prefix: &str) -> anyhow::Result<usize> {
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

/// Removes the run's Redis keys and the persistent MQTT sessions its `vangnet` left on the broker.
pub async fn clean_up(config: &ServiceConfig) -> anyhow::Result<()> {
    if config.store_url.contains("+cluster://") {
        println!(
            "left the keys under {}:* on the Redis Cluster: SCAN there is per node",
            config.store_prefix
        );
    } else {
        let deleted = delete_keys(&config.store_url, &config.store_prefix).await?;
        println!(
            "cleaned up: {deleted} Redis keys under {}:*",
            config.store_prefix
        );
    }
    let sessions = Topics::new(&config.mqtt_prefix)
        .context("topic prefix")?
        .client_id_part();
    for lane in ["loc", "alarm"] {
        broker::forget_session(&config.mqtt_url, &format!("vangnet-{sessions}-{lane}")).await?;
    }
    Ok(())
}
