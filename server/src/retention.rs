//! Retention: where the parties were is kept for the configured number of
//! days, then removed at start-up and every hour after, from the location
//! history, resolved alerts, the event log and ended orders' device states.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::TimestampMs;

use crate::partitions::is_device_part;
use crate::store::{PartitionKey, Store, StoreError};

/// How often retention runs.
pub const TRIM_EVERY: Duration = Duration::from_secs(3600);

/// Removes what is older than `retention` until `stop`.
pub fn spawn<S: Store>(
    tasks: &TaskTracker,
    store: Arc<S>,
    retention: Duration,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(TRIM_EVERY);
        let mut alerts_from = TimestampMs(0);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
            let before = TimestampMs(TimestampMs::now().millis().saturating_sub(retention_ms));
            alerts_from = trim(store.as_ref(), alerts_from, before).await;
        }
    });
}

/// Removes once what tells where the parties were before `before`, looking
/// at alerts last revised from `alerts_from` on; returns where the next run
/// looks at alerts from.
async fn trim<S: Store>(store: &S, alerts_from: TimestampMs, before: TimestampMs) -> TimestampMs {
    match store.trim_history(before).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "location history past retention trimmed"),
        Err(err) => tracing::warn!(%err, "history trim postponed"),
    }
    match trim_events(store, before).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "events past retention dropped from the event log"),
        Err(err) => tracing::warn!(%err, "event log trim postponed"),
    }
    let next = match store.forget_positions(alerts_from, before).await {
        Ok(0) => before,
        Ok(alerts) => {
            tracing::info!(
                alerts,
                "positions past retention removed from resolved alerts"
            );
            before
        }
        Err(err) => {
            tracing::warn!(%err, "removing positions from resolved alerts postponed");
            alerts_from
        }
    };
    match forget_ended_devices(store, before).await {
        Ok(0) => {}
        Ok(orders) => tracing::info!(
            orders,
            "device states of ended orders past retention removed"
        ),
        Err(err) => tracing::warn!(%err, "removing ended orders' device states postponed"),
    }
    next
}

/// Drops the events made before `before` that the audit trail has recorded.
async fn trim_events<S: Store>(store: &S, before: TimestampMs) -> Result<u64, StoreError> {
    let audited = store.audit_head().await?.event;
    store.trim_events(before, audited.as_ref()).await
}

/// Removes the device states of every partition whose order is gone and
/// which was last committed before `before`; returns of how many partitions.
async fn forget_ended_devices<S: Store>(store: &S, before: TimestampMs) -> Result<u64, StoreError> {
    let orders: HashSet<_> = store.orders().await?.into_iter().map(|o| o.id).collect();
    let mut forgotten = 0;
    for partition in store.partitions().await? {
        if !matches!(&partition, PartitionKey::Order(id) if !orders.contains(id)) {
            continue;
        }
        let Some(state) = store.load(&partition).await? else {
            continue;
        };
        let devices: Vec<String> = state
            .value
            .into_keys()
            .filter(|name| is_device_part(name))
            .collect();
        if store
            .remove_parts(&partition, state.version, &devices, before)
            .await?
        {
            forgotten += 1;
        }
    }
    Ok(forgotten)
}
