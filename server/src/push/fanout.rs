//! Finds the revisions to push: follows the store's event log from where it
//! ends at start, as the alert stream does, and queues a push of every P1
//! and P2 revision for each subscription whose regions cover the alert's.
//! Reading the log, not the dispatch path, keeps pushing from ever slowing
//! ingest or police dispatch. It also removes expired subscriptions and
//! publishes how many there are.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vangnet_proto::{DispatchBody, TimestampMs};

use super::notice::{Notice, is_pushed, topic};
use super::queue::{Job, Queue};
use super::sender::{Audience, Outcome, TTL_S};
use crate::store::{EventId, PushSubscription, Store};

/// How often the log is read for new revisions.
const POLL: Duration = Duration::from_millis(250);
/// How often expired subscriptions are removed and the gauge published.
const SWEEP: Duration = Duration::from_secs(10);
/// Revisions read per round trip.
const BATCH: usize = 500;

/// Follows `store`'s event log into `queue` until `stop`.
pub async fn run<S: Store>(store: Arc<S>, queue: Arc<Queue>, stop: CancellationToken) {
    let mut cursor = loop {
        match store.last_event_id().await {
            Ok(cursor) => break cursor,
            Err(err) => tracing::warn!(%err, "event log unreadable; pushes wait for the store"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    let mut poll = tokio::time::interval(POLL);
    let mut sweep = tokio::time::interval(SWEEP);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = poll.tick() => read_new(store.as_ref(), &queue, &mut cursor).await,
            _ = sweep.tick() => remove_expired(store.as_ref()).await,
        }
    }
}

/// Queues the pushes of the revisions committed after `cursor`.
async fn read_new<S: Store>(store: &S, queue: &Queue, cursor: &mut Option<EventId>) {
    loop {
        let events = match store.events_after(cursor.as_ref(), BATCH).await {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(%err, "event log unreadable; pushes wait for the store");
                return;
            }
        };
        let full = events.len() == BATCH;
        let Some((last, _)) = events.last() else {
            return;
        };
        let last = last.clone();
        let pushed: Vec<DispatchBody> = events
            .into_iter()
            .map(|(_, entry)| entry.revision)
            .filter(is_pushed)
            .collect();
        if !pushed.is_empty() {
            match store.push_subscriptions().await {
                Ok(subscriptions) => queue_pushes(&pushed, &subscriptions, queue),
                Err(err) => {
                    tracing::warn!(%err, "push subscriptions unreadable; pushes wait for the store");
                    return;
                }
            }
        }
        *cursor = Some(last);
        if !full {
            return;
        }
    }
}

/// Queues a push of each of `alerts` to each live subscription that covers its region.
fn queue_pushes(alerts: &[DispatchBody], subscriptions: &[PushSubscription], queue: &Queue) {
    let now = TimestampMs::now();
    for alert in alerts {
        let Ok(payload) = serde_json::to_vec(&Notice::of(alert)) else {
            continue;
        };
        let (payload, topic) = (Arc::new(payload), Arc::<str>::from(topic(&alert.alert_id)));
        for subscription in subscriptions
            .iter()
            .filter(|s| s.expires_at.0 > now && covers(s, alert.region.as_deref()))
        {
            let job = Job {
                subscription: subscription.clone(),
                payload: payload.clone(),
                topic: topic.clone(),
                urgency: "high",
                ttl_s: TTL_S,
            };
            if queue.offer(job).is_some() {
                Outcome::Dropped.count(Audience::Dispatcher);
            }
        }
    }
}

/// Whether `subscription` is a dispatcher's for alerts of `region`; an
/// alert without one (a panic from a device in no order) is for every
/// dispatcher, as on the alert list, and never for a device's phone.
fn covers(subscription: &PushSubscription, region: Option<&str>) -> bool {
    subscription.device.is_none()
        && region.is_none_or(|region| subscription.regions.iter().any(|r| r == "*" || r == region))
}

/// Removes the subscriptions whose token has expired and publishes how many remain.
async fn remove_expired<S: Store>(store: &S) {
    let Ok(subscriptions) = store.push_subscriptions().await else {
        return;
    };
    let now = TimestampMs::now();
    let mut live = 0;
    for subscription in subscriptions {
        if subscription.expires_at.0 > now {
            live += 1;
        } else if let Err(err) = store.remove_push_subscription(&subscription.id).await {
            tracing::warn!(%err, "an expired push subscription could not be removed");
        }
    }
    metrics::gauge!("vangnet_push_subscriptions").set(f64::from(live));
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{DeviceId, UtcTime};

    use super::*;
    use crate::store::DeviceSubscriber;

    fn subscription(device: Option<&str>) -> PushSubscription {
        PushSubscription {
            id: "s".into(),
            owner: "o".into(),
            regions: vec!["*".into()],
            endpoint: String::new(),
            p256dh: String::new(),
            auth: String::new(),
            expires_at: UtcTime(TimestampMs(u64::MAX)),
            device: device.map(|id| DeviceSubscriber {
                id: DeviceId::parse(id, "device").unwrap(),
                credential: String::new(),
            }),
        }
    }

    #[test]
    fn a_devices_phone_gets_no_dispatcher_push_not_even_of_an_alert_without_region() {
        assert!(covers(&subscription(None), None));
        assert!(covers(&subscription(None), Some("rotterdam")));
        assert!(!covers(&subscription(Some("v-1")), None));
        assert!(!covers(&subscription(Some("v-1")), Some("rotterdam")));
    }
}
