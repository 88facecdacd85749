//! The silence watchdog: advances every order's engine to the server clock
//! once a second, so `signal_lost` fires when a device has been silent too
//! long — also after a restart, since the last-heard times are in the store.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_proto::TimestampMs;

use crate::downlink::DeviceMessages;
use crate::orders::OrderIndex;
use crate::partitions::Partitions;
use crate::store::Store;

/// How often every order is ticked.
pub const TICK_EVERY: Duration = Duration::from_secs(1);

/// Ticks every order until `stop`.
pub fn spawn<S: Store>(
    tasks: &TaskTracker,
    partitions: Arc<Partitions<S>>,
    orders: Arc<OrderIndex>,
    downlink: DeviceMessages,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(TICK_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            let now = TimestampMs::now();
            for (key, body) in orders.all() {
                let result = partitions
                    .step::<std::convert::Infallible>(&key, Some(&body), now, None, |engine| {
                        Ok(engine.tick(now))
                    })
                    .await;
                match result {
                    Ok(outcome) => downlink.publish(outcome.downlink).await,
                    Err(err) => {
                        tracing::warn!(%err, partition = %key, "silence check postponed");
                        break;
                    }
                }
            }
        }
    });
}
