//! From MQTT delivery to durable effects: decode and validate, count
//! rejections, limit floods per device, run the engine on each of the
//! device's orders, publish the device messages, and only then ack the
//! delivery to the broker.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics::{Counter, Histogram};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vangnet_engine::Event;
use vangnet_proto::{
    AlarmKind, DeviceId, ProtoError, RejectReason, TimestampMs, Topics, Uplink, owntracks,
    parse_uplink,
};

use crate::downlink::DeviceMessages;
use crate::mqtt::connection::{Delivery, Lane};
use crate::orders::OrderIndex;
use crate::partitions::{Partitions, StepError, store_retry_delay};
use crate::store::{PartitionKey, Store};

/// Messages per second one device may send on `loc` and `status` before the excess is dropped.
pub const DEVICE_RATE_PER_S: u32 = 20;
/// Messages one device may send in a burst above its rate.
pub const DEVICE_BURST: u32 = 100;

/// Everything needed to turn deliveries into effects.
pub struct Ingest<S> {
    partitions: Arc<Partitions<S>>,
    orders: Arc<OrderIndex>,
    topics: Topics,
    owntracks: bool,
    limiter: DefaultKeyedRateLimiter<DeviceId>,
    downlink: DeviceMessages,
    stop: CancellationToken,
    metrics: [KindMetrics; 3],
}

/// The metrics of one kind of message, registered once rather than looked up per message.
struct KindMetrics {
    messages: Counter,
    rate_limited: Counter,
    processing: Histogram,
}

impl KindMetrics {
    fn new(kind: &'static str) -> Self {
        Self {
            messages: metrics::counter!("vangnet_messages_total", "kind" => kind),
            rate_limited: metrics::counter!("vangnet_rate_limited_messages_total", "kind" => kind),
            processing: metrics::histogram!("vangnet_processing_seconds", "kind" => kind),
        }
    }
}

/// One message, decoded: whose, and what.
struct Decoded {
    device: DeviceId,
    uplink: Uplink,
}

impl<S: Store> Ingest<S> {
    /// Builds the pipeline; device messages are published on `downlink`.
    pub fn new(
        partitions: Arc<Partitions<S>>,
        orders: Arc<OrderIndex>,
        topics: Topics,
        owntracks: bool,
        downlink: DeviceMessages,
        stop: CancellationToken,
    ) -> Self {
        let rate = NonZeroU32::new(DEVICE_RATE_PER_S).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(DEVICE_BURST).unwrap_or(NonZeroU32::MIN);
        Self {
            partitions,
            orders,
            topics,
            owntracks,
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            downlink,
            stop,
            metrics: KINDS.map(KindMetrics::new),
        }
    }

    /// Handles one delivery completely; when this returns the delivery may be acked.
    /// Returns `false` when it could not be stored before shutdown (do not ack).
    pub async fn handle(&self, delivery: &Delivery) -> bool {
        let started = Instant::now();
        let now = TimestampMs::now();
        let decoded = match self.decode(delivery, now) {
            Ok(Some(decoded)) => decoded,
            Ok(None) => return true,
            Err(err) => {
                reject(&err);
                return true;
            }
        };
        let metrics = &self.metrics[kind_index(&decoded.uplink)];
        metrics.messages.increment(1);
        if !matches!(decoded.uplink, Uplink::Alarm(_))
            && self.limiter.check_key(&decoded.device).is_err()
        {
            metrics.rate_limited.increment(1);
            return true;
        }
        let stored = self.process(decoded, now).await;
        metrics.processing.record(started.elapsed().as_secs_f64());
        stored
    }

    /// Handles a batch, each device's messages in the order given and
    /// different devices concurrently; says which may be acked, as [`Self::handle`].
    pub async fn handle_batch(&self, batch: &[Delivery]) -> Vec<bool> {
        let mut by_topic: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, delivery) in batch.iter().enumerate() {
            by_topic
                .entry(delivery.publish.topic.as_str())
                .or_default()
                .push(index);
        }
        let per_device = by_topic.into_values().map(|indices| async move {
            let mut handled = Vec::with_capacity(indices.len());
            for index in indices {
                handled.push((index, self.handle(&batch[index]).await));
            }
            handled
        });
        let mut handled = vec![false; batch.len()];
        for (index, ok) in join_all(per_device).await.into_iter().flatten() {
            handled[index] = ok;
        }
        handled
    }

    fn decode(&self, delivery: &Delivery, now: TimestampMs) -> Result<Option<Decoded>, ProtoError> {
        let topic = delivery.publish.topic.as_str();
        let payload = &delivery.publish.payload;
        if self.owntracks && topic.starts_with("owntracks/") {
            let device = Topics::parse_owntracks(topic)?;
            let fix = owntracks::parse_location(payload, &device, now)?;
            return Ok(fix.map(|fix| Decoded {
                device,
                uplink: Uplink::Fixes(vec![fix]),
            }));
        }
        let (device, channel) = self.topics.parse_uplink(topic)?;
        let uplink = parse_uplink(channel, payload, &device, now)?;
        if let Uplink::Alarm(parsed) = &uplink {
            for ignored in &parsed.ignored {
                metrics::counter!("vangnet_panic_fields_ignored_total", "reason" => ignored.reason.label())
                    .increment(1);
            }
        }
        Ok(Some(Decoded { device, uplink }))
    }

    async fn process(&self, decoded: Decoded, now: TimestampMs) -> bool {
        let Decoded { device, uplink } = decoded;
        let is_panic = matches!(&uplink, Uplink::Alarm(p) if p.alarm.kind == AlarmKind::Panic);
        let mut orders = self.orders.orders_of(&device);
        if orders.is_empty()
            && self
                .orders
                .refresh(self.partitions.store().as_ref())
                .await
                .is_ok()
        {
            orders = self.orders.orders_of(&device);
        }
        let mut targets: Vec<_> = orders
            .into_iter()
            .map(|(key, body)| (key, Some(body)))
            .collect();
        if targets.is_empty() {
            if !is_panic {
                reject(&ProtoError::new("topic", RejectReason::UnknownDevice));
                return true;
            }
            targets.push((PartitionKey::Unassigned, None));
        }
        let event = Event::from(uplink);
        let mut downlink = Vec::new();
        for (key, body) in targets {
            let mut attempt = 0;
            loop {
                let result = self
                    .partitions
                    .step::<std::convert::Infallible>(&key, body.as_ref(), now, None, |engine| {
                        Ok(engine.handle(&device, event.clone(), now))
                    })
                    .await;
                match result {
                    Ok(outcome) => {
                        downlink.extend(outcome.downlink);
                        break;
                    }
                    Err(StepError::Refused(never)) => match never {},
                    Err(StepError::Store(err)) => {
                        tracing::warn!(%err, partition = %key, "store unavailable; retrying the step");
                        let wait = store_retry_delay(attempt);
                        attempt += 1;
                        tokio::select! {
                            () = self.stop.cancelled() => return false,
                            () = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        }
        self.downlink.publish(downlink).await;
        true
    }
}

/// The `kind` label of each message kind, in the order of [`kind_index`].
const KINDS: [&str; 3] = ["loc", "alarm", "status"];

fn kind_index(uplink: &Uplink) -> usize {
    match uplink {
        Uplink::Fixes(_) => 0,
        Uplink::Alarm(_) => 1,
        Uplink::Status(_) => 2,
    }
}

/// Counts a rejected message; logged at debug without the payload.
fn reject(err: &ProtoError) {
    metrics::counter!("vangnet_rejected_messages_total", "reason" => err.reason.label())
        .increment(1);
    tracing::debug!(field = %err.field, reason = err.reason.label(), "message rejected");
}

/// Deliveries a worker takes from its queue at once.
const BATCH: usize = 32;

/// Runs one worker per queue of a lane. A worker takes what its queue holds
/// (up to [`BATCH`]), handles each device's messages in order and different
/// devices concurrently, so their store writes leave together, then acks the
/// handled ones. Finishes when the lane stops handing on messages and the
/// queues are empty.
pub fn spawn_workers<S: Store>(
    ingest: Arc<Ingest<S>>,
    lane: Lane,
    queues: Vec<mpsc::UnboundedReceiver<Delivery>>,
) -> tokio::task::JoinHandle<()> {
    let workers: Vec<_> = queues
        .into_iter()
        .map(|mut queue| {
            let (ingest, lane) = (ingest.clone(), lane.clone());
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(BATCH);
                while queue.recv_many(&mut batch, BATCH).await > 0 {
                    let handled = ingest.handle_batch(&batch).await;
                    lane.ack_all(
                        batch
                            .iter()
                            .zip(handled)
                            .filter_map(|(d, ok)| ok.then_some(d)),
                    )
                    .await;
                    batch.clear();
                }
            })
        })
        .collect();
    tokio::spawn(async move {
        for worker in workers {
            let _ = worker.await;
        }
    })
}
