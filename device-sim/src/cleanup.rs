//! Removing every key a benchmark run left in Redis under its own prefix.

use anyhow::Context;
use redis::AsyncTypedCommands;

/// Keys per DEL while cleaning up.
const DELETE_BATCH: usize = 500;

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
