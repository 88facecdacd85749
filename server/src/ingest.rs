//! From MQTT delivery (or a device's HTTP request) to durable effects:
//! decode and validate, count rejections, limit floods per device, run the
//! engine on each of the device's orders, publish the device messages, and
//! only then ack the delivery to the broker (or answer the request).

mod device_limits;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use backon::BackoffBuilder;
use futures_util::FutureExt;
use futures_util::future::join_all;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use metrics::{Counter, Histogram};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vangnet_engine::Event;
use vangnet_proto::order::OrderBody;
use vangnet_proto::{
    Ack, AlarmKind, Channel, DeviceId, ProtoError, RejectReason, TimestampMs, Topics, Uplink,
    owntracks, parse_uplink,
};

use self::device_limits::DeviceLimits;
use crate::downlink::{DeviceMessages, receipt_for};
use crate::mqtt::connection::{Delivery, Lane, Queue};
use crate::orders::OrderIndex;
use crate::partitions::{Partitions, StepError};
use crate::store::{PartitionKey, SetAside, SetAsideReason, Store, StoreError};

/// Location and status messages per second one device in an order may send before the excess is dropped.
pub const DEVICE_RATE_PER_S: u32 = 20;
/// Messages one device may send in a burst above its rate.
pub const DEVICE_BURST: u32 = 100;
/// Alarms other than panics one device in an order may send per second, in
/// a bucket of their own so that a location flood cannot use it up; a flood
/// of them (a tag sending `tamper` in a loop) stays cheap for the devices
/// whose messages share its worker.
const ALARMS_PER_S: u32 = 5;
/// Such alarms one device may send in a burst above that rate.
const ALARM_BURST: u32 = 50;
/// Panics from devices in no order that are raised per second, and in a
/// burst: they are rare, and a flood of them from made-up ids must stay cheap.
const UNASSIGNED_PANICS_PER_S: u32 = 1;
/// Panics from devices in no order raised in a burst above that rate.
const UNASSIGNED_PANIC_BURST: u32 = 60;
/// Tries of a commit the store refuses while it answers pings, before the
/// message is set aside (1.5–3 s of backoff).
const REFUSALS_BEFORE_SET_ASIDE: u32 = 6;

/// Everything needed to turn deliveries into effects.
pub struct Ingest<S> {
    partitions: Arc<Partitions<S>>,
    orders: Arc<OrderIndex>,
    topics: Topics,
    owntracks: bool,
    limiter: DeviceLimits,
    alarm_limiter: DeviceLimits,
    unassigned: DefaultDirectRateLimiter,
    unassigned_limited: Counter,
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
        let unassigned =
            Quota::per_second(NonZeroU32::new(UNASSIGNED_PANICS_PER_S).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(UNASSIGNED_PANIC_BURST).unwrap_or(NonZeroU32::MIN));
        Self {
            partitions,
            orders,
            topics,
            owntracks,
            limiter: DeviceLimits::new(rate, burst),
            alarm_limiter: DeviceLimits::new(
                NonZeroU32::new(ALARMS_PER_S).unwrap_or(NonZeroU32::MIN),
                NonZeroU32::new(ALARM_BURST).unwrap_or(NonZeroU32::MIN),
            ),
            unassigned: RateLimiter::direct(unassigned),
            unassigned_limited: metrics::counter!(
                "vangnet_rate_limited_messages_total",
                "kind" => "panic_unassigned"
            ),
            downlink,
            stop,
            metrics: KINDS.map(KindMetrics::new),
        }
    }

    /// Forgets the rate limits of devices quiet long enough to be back at a
    /// full burst, so their memory follows the devices sending now.
    pub fn forget_quiet_devices(&self) {
        self.limiter.forget_quiet();
        self.alarm_limiter.forget_quiet();
        metrics::gauge!("vangnet_rate_limited_devices")
            .set((self.limiter.remembered() + self.alarm_limiter.remembered()) as f64);
    }

    /// Handles one delivery completely; when this returns the delivery may be acked.
    /// Returns `false` when it could not be stored before shutdown (do not ack).
    /// A delivery whose handling panics is set aside, and the worker goes on.
    pub async fn handle(&self, delivery: &Delivery) -> bool {
        match AssertUnwindSafe(self.handle_unguarded(delivery))
            .catch_unwind()
            .await
        {
            Ok(handled) => handled,
            Err(_) => {
                let publish = &delivery.publish;
                self.set_aside(&publish.topic, &publish.payload, SetAsideReason::Panicked)
                    .await
            }
        }
    }

    async fn handle_unguarded(&self, delivery: &Delivery) -> bool {
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
        let handled = match self.process(decoded, metrics, now).await {
            Processed::Done(_) | Processed::Refused(_) => true,
            Processed::Stopped => false,
            Processed::Failed(reason, _) => {
                let publish = &delivery.publish;
                self.set_aside(&publish.topic, &publish.payload, reason)
                    .await
            }
        };
        metrics.processing.record(started.elapsed().as_secs_f64());
        handled
    }

    /// Handles one message that `device`, proven by its credentials, sent
    /// over HTTP on `channel`: the same validation, limits, engine steps and
    /// device messages as a delivery, answered with what became of it.
    pub async fn handle_direct(
        &self,
        device: &DeviceId,
        channel: Channel,
        payload: &[u8],
    ) -> DirectReply {
        let handled = AssertUnwindSafe(self.handle_direct_unguarded(device, channel, payload))
            .catch_unwind()
            .await;
        let (reason, receipt) = match handled {
            Ok(Processed::Done(receipt)) => return DirectReply::Accepted(receipt),
            Ok(Processed::Refused(refusal)) => return DirectReply::Refused(refusal),
            Ok(Processed::Stopped) => return DirectReply::Stopped,
            Ok(Processed::Failed(reason, receipt)) => (reason, receipt),
            Err(_) => (SetAsideReason::Panicked, None),
        };
        let topic = self.topics.uplink(device, channel);
        match (self.set_aside(&topic, payload, reason).await, receipt) {
            (_, Some(receipt)) => DirectReply::Accepted(Some(receipt)),
            (true, None) => DirectReply::SetAside,
            (false, None) => DirectReply::Stopped,
        }
    }

    async fn handle_direct_unguarded(
        &self,
        device: &DeviceId,
        channel: Channel,
        payload: &[u8],
    ) -> Processed {
        let started = Instant::now();
        let now = TimestampMs::now();
        let uplink = match self.parse(channel, payload, device, now) {
            Ok(uplink) => uplink,
            Err(err) => {
                reject(&err);
                return Processed::Refused(Refusal::Invalid(err));
            }
        };
        let metrics = &self.metrics[kind_index(&uplink)];
        metrics.messages.increment(1);
        let decoded = Decoded {
            device: device.clone(),
            uplink,
        };
        let processed = self.process(decoded, metrics, now).await;
        metrics.processing.record(started.elapsed().as_secs_f64());
        processed
    }

    /// Keeps a delivery that failed for good, so it no longer holds up the
    /// acks of its connection; counted and logged without its payload.
    /// Only once it is kept may it be acked: while the store refuses it too,
    /// it is tried again, and `false` (do not ack) comes at shutdown.
    async fn set_aside(&self, topic: &str, payload: &[u8], reason: SetAsideReason) -> bool {
        metrics::counter!("vangnet_set_aside_messages_total", "reason" => reason.label())
            .increment(1);
        tracing::warn!(
            topic,
            reason = reason.label(),
            "a message failed every time it was handled and is set aside"
        );
        let message = SetAside {
            topic: topic.to_owned(),
            payload_hex: hex::encode(payload),
            reason,
            at: TimestampMs::now(),
        };
        let mut retries = crate::backoff::store().build();
        while let Err(err) = self.partitions.store().set_aside(&message).await {
            tracing::error!(%err, topic, "could not keep a set-aside message; trying again");
            let wait = retries.next().unwrap_or(crate::backoff::STORE_LONGEST);
            tokio::select! {
                () = self.stop.cancelled() => return false,
                () = tokio::time::sleep(wait) => {}
            }
        }
        true
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
        if delivery.publish.retain {
            return Err(ProtoError::new("retain", RejectReason::Retained));
        }
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
        let uplink = self.parse(channel, payload, &device, now)?;
        Ok(Some(Decoded { device, uplink }))
    }

    /// Validates a payload of `device` on `channel`, counting the fields a panic had to drop.
    fn parse(
        &self,
        channel: Channel,
        payload: &[u8],
        device: &DeviceId,
        now: TimestampMs,
    ) -> Result<Uplink, ProtoError> {
        let uplink = parse_uplink(channel, payload, device, now)?;
        if let Uplink::Alarm(parsed) = &uplink {
            for ignored in &parsed.ignored {
                metrics::counter!("vangnet_panic_fields_ignored_total", "reason" => ignored.reason.label())
                    .increment(1);
            }
        }
        Ok(uplink)
    }

    /// Runs a message through the engine of each of its device's orders.
    /// Only devices in an order are rate limited (panics never, other alarms
    /// in a bucket of their own), so made-up ids leave no state behind; a
    /// panic goes only to orders still in force. A panic from a device in no order is
    /// checked against the stored orders once more, then raised unassigned
    /// within a global rate, so a flood of them from made-up ids stays cheap.
    async fn process(
        &self,
        decoded: Decoded,
        metrics: &KindMetrics,
        now: TimestampMs,
    ) -> Processed {
        let Decoded { device, uplink } = decoded;
        let is_panic = matches!(&uplink, Uplink::Alarm(p) if p.alarm.kind == AlarmKind::Panic);
        let orders_in_force = |orders: Vec<(PartitionKey, Arc<OrderBody>)>| {
            let mut orders = orders;
            if is_panic {
                orders.retain(|(_, body)| crate::orders::active(body, now));
            }
            orders
        };
        let mut orders = orders_in_force(self.orders.orders_of(&device));
        if orders.is_empty()
            && is_panic
            && self
                .orders
                .refresh(self.partitions.store().as_ref())
                .await
                .is_ok()
        {
            orders = orders_in_force(self.orders.orders_of(&device));
        }
        if orders.is_empty() && !is_panic {
            let err = ProtoError::new("topic", RejectReason::UnknownDevice);
            reject(&err);
            return Processed::Refused(Refusal::Invalid(err));
        }
        let limiter = match &uplink {
            Uplink::Alarm(_) if is_panic => None,
            Uplink::Alarm(_) => Some(&self.alarm_limiter),
            _ => Some(&self.limiter),
        };
        if limiter.is_some_and(|limiter| !limiter.allows(&device)) {
            metrics.rate_limited.increment(1);
            return Processed::Refused(Refusal::RateLimited);
        }
        let mut targets: Vec<_> = orders
            .into_iter()
            .map(|(key, body)| (key, Some(body)))
            .collect();
        if targets.is_empty() {
            if self.unassigned.check().is_err() {
                self.unassigned_limited.increment(1);
                tracing::debug!("a panic from a device in no order is over the unassigned rate");
                return Processed::Refused(Refusal::RateLimited);
            }
            targets.push((PartitionKey::Unassigned, None));
        }
        let event = Event::from(uplink);
        let mut downlink = Vec::new();
        let mut failed = None;
        let mut index = 0;
        while let Some((key, body)) = targets.get(index).cloned() {
            index += 1;
            let persistent = is_panic && key == PartitionKey::Unassigned;
            match self
                .step(&key, body.as_ref(), &device, &event, now, persistent)
                .await
            {
                Stepped::Done(messages) => downlink.extend(messages),
                Stepped::Stopped => return Processed::Stopped,
                Stepped::Failed(reason) => {
                    failed = Some(reason);
                    if is_panic && key != PartitionKey::Unassigned {
                        tracing::error!(partition = %key, "a panic could not be raised in its order; raising it unassigned");
                        targets.push((PartitionKey::Unassigned, None));
                    }
                }
            }
        }
        let receipt = receipt_for(&device, &downlink);
        self.downlink.publish(downlink).await;
        match failed {
            None => Processed::Done(receipt),
            Some(reason) => Processed::Failed(reason, receipt),
        }
    }

    /// Runs the engine on one partition and commits, retrying while the store
    /// is unavailable; gives up on state it cannot read, on a step that
    /// panics, or on a commit the store refuses again and again while it
    /// answers pings, unless `persistent` (a panic's last resort), which
    /// retries a refused commit until shutdown.
    async fn step(
        &self,
        key: &PartitionKey,
        body: Option<&Arc<OrderBody>>,
        device: &DeviceId,
        event: &Event,
        now: TimestampMs,
        persistent: bool,
    ) -> Stepped {
        let mut attempt = 0;
        let mut retries = crate::backoff::store().build();
        loop {
            let step =
                self.partitions
                    .step::<std::convert::Infallible>(key, body, now, None, |engine| {
                        Ok(engine.handle(device, event.clone(), now))
                    });
            let Ok(result) = AssertUnwindSafe(step).catch_unwind().await else {
                tracing::error!(partition = %key, "handling a message panicked");
                return Stepped::Failed(SetAsideReason::Panicked);
            };
            let err = match result {
                Ok(outcome) => return Stepped::Done(outcome.downlink),
                Err(StepError::Refused(never)) => match never {},
                Err(StepError::Store(StoreError::Corrupt(err))) => {
                    tracing::error!(%err, partition = %key, "stored state is unreadable");
                    return Stepped::Failed(SetAsideReason::CorruptState);
                }
                Err(StepError::Store(err)) => err,
            };
            attempt += 1;
            if !persistent
                && attempt >= REFUSALS_BEFORE_SET_ASIDE
                && self.partitions.store().ping().await.is_ok()
            {
                tracing::error!(%err, partition = %key, "the store answers but refuses this commit");
                return Stepped::Failed(SetAsideReason::StoreRefused);
            }
            tracing::warn!(%err, partition = %key, "store unavailable; retrying the step");
            let wait = retries.next().unwrap_or(crate::backoff::STORE_LONGEST);
            tokio::select! {
                () = self.stop.cancelled() => return Stepped::Stopped,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// What became of one message.
enum Processed {
    /// Handled: its effects are stored, with the receipt if it was an alarm.
    Done(Option<Ack>),
    /// Refused and counted: nothing stored.
    Refused(Refusal),
    /// Shutdown came first: not handled, not to be acked.
    Stopped,
    /// A partition failed for good; the effects on the others are stored,
    /// with the receipt a panic got where it could still be raised.
    Failed(SetAsideReason, Option<Ack>),
}

/// Why a message changed nothing; it is counted in the metrics already.
#[derive(Debug)]
pub enum Refusal {
    /// It failed validation, or comes from a device in no order (and is no panic).
    Invalid(ProtoError),
    /// Its device sent too many (or, for a panic from a device in no order, all such devices did).
    RateLimited,
}

/// What became of a message a device sent over HTTP.
#[derive(Debug)]
pub enum DirectReply {
    /// Its effects are stored; an alarm's receipt.
    Accepted(Option<Ack>),
    /// It changed nothing.
    Refused(Refusal),
    /// It failed every time it was handled and is kept for an operator.
    SetAside,
    /// Shutdown came first; the device should send it again.
    Stopped,
}

/// What became of one message in one partition.
enum Stepped {
    /// Committed, with the device messages to publish.
    Done(Vec<crate::partitions::Downlink>),
    /// Shutdown came first.
    Stopped,
    /// Failed for good.
    Failed(SetAsideReason),
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

/// Deliveries a worker handles at once.
const BATCH: usize = 32;
/// Deliveries of one device in one batch: a device that floods its topic
/// takes no more, so the devices whose messages share its worker go first.
const PER_DEVICE: usize = 4;
/// Deliveries a worker holds while they wait their turn; the broker sends no
/// more than its in-flight window anyway.
const HOLD: usize = 2048;

/// Runs one worker per queue of a lane on `tasks`. A worker takes what its
/// queue holds, and handles it in batches of up to `BATCH` with at most
/// `PER_DEVICE` of one device's messages each, oldest first: each device's
/// messages in order and different devices concurrently, so their store
/// writes leave together. It acks the handled ones after each batch, and
/// finishes when the lane stops handing on messages and its queue is empty.
pub fn spawn_workers<S: Store>(
    tasks: &TaskTracker,
    ingest: Arc<Ingest<S>>,
    lane: Lane,
    queues: Vec<Queue>,
) {
    for mut queue in queues {
        let (ingest, lane) = (ingest.clone(), lane.clone());
        tasks.spawn(async move {
            let mut held = Vec::with_capacity(HOLD);
            loop {
                if held.is_empty() {
                    if queue.recv_many(&mut held, HOLD).await == 0 {
                        break;
                    }
                } else {
                    let room = HOLD.saturating_sub(held.len());
                    queue.take_waiting(&mut held, room);
                }
                let batch = fair_batch(&mut held);
                let handled = ingest.handle_batch(&batch).await;
                lane.ack_all(
                    batch
                        .iter()
                        .zip(handled)
                        .filter_map(|(d, ok)| ok.then_some(d)),
                )
                .await;
                queue.finished(batch.len());
            }
        });
    }
}

/// Takes the next batch out of `held` (oldest first): up to [`BATCH`]
/// deliveries, at most [`PER_DEVICE`] of any one topic; the rest keep their order.
fn fair_batch(held: &mut Vec<Delivery>) -> Vec<Delivery> {
    let mut chosen = vec![false; held.len()];
    let mut count = 0;
    let mut per_topic: HashMap<&str, usize> = HashMap::new();
    for (delivery, chosen) in held.iter().zip(chosen.iter_mut()) {
        if count == BATCH {
            break;
        }
        let taken = per_topic
            .entry(delivery.publish.topic.as_str())
            .or_default();
        if *taken < PER_DEVICE {
            *taken += 1;
            *chosen = true;
            count += 1;
        }
    }
    let mut batch = Vec::with_capacity(count);
    let mut rest = Vec::with_capacity(held.len() - count);
    for (delivery, chosen) in held.drain(..).zip(chosen) {
        if chosen {
            batch.push(delivery);
        } else {
            rest.push(delivery);
        }
    }
    *held = rest;
    batch
}

#[cfg(test)]
mod tests {
    use rumqttc::{Publish, QoS};

    use super::*;
    use crate::mqtt::ack_order::Position;

    fn deliveries(topics: &[&str]) -> Vec<Delivery> {
        topics
            .iter()
            .enumerate()
            .map(|(seq, topic)| Delivery {
                publish: Publish::new(*topic, QoS::AtLeastOnce, b"{}".to_vec()),
                position: Position {
                    epoch: 1,
                    seq: seq as u64,
                },
            })
            .collect()
    }

    fn seqs(batch: &[Delivery]) -> Vec<u64> {
        batch.iter().map(|d| d.position.seq).collect()
    }

    #[test]
    fn a_flooding_device_leaves_room_in_the_first_batch_for_the_device_behind_it() {
        let mut topics = vec!["flood"; 100];
        topics.push("victim");
        let mut held = deliveries(&topics);

        let batch = fair_batch(&mut held);

        assert_eq!(seqs(&batch), [0, 1, 2, 3, 100]);
        assert_eq!(held.len(), 96);
    }

    #[test]
    fn each_device_keeps_its_order_across_batches() {
        let mut held = deliveries(&["a", "b", "a", "a", "a", "a", "b"]);

        let first = fair_batch(&mut held);
        let second = fair_batch(&mut held);

        assert_eq!(seqs(&first), [0, 1, 2, 3, 4, 6]);
        assert_eq!(seqs(&second), [5]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_batch_holds_at_most_its_size() {
        let topics: Vec<String> = (0..100).map(|n| format!("d-{n}")).collect();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let mut held = deliveries(&topics);

        assert_eq!(fair_batch(&mut held).len(), BATCH);
        assert_eq!(held.len(), 100 - BATCH);
    }
}
