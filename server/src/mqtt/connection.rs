//! One supervised MQTT connection ("lane"): persistent session, reconnect
//! with backoff (rumqttc has none of its own), re-subscribe on every ConnAck,
//! and manual acks that are only sent once a message is durably handled.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::BackoffBuilder;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, SubscribeFilter, Transport};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use super::ack_order::{AckOrder, Position};
use super::progress::LaneProgress;
use crate::config::BrokerAuth;

/// Capacity of rumqttc's request channel (acks and publishes queue there).
const REQUEST_CAPACITY: usize = 4096;
/// QoS 1 messages the broker may have in flight to us before it waits for acks.
const INFLIGHT: u16 = 1000;
/// The largest packet MQTT can frame (its remaining length's limit). Vangnet
/// reads whatever the broker passes, however large, and rejects what is over
/// the protocol's 64 KiB itself: a packet the client refused to read would
/// drop the connection, and the broker would redeliver it on every reconnect.
const MAX_INCOMING_PACKET: usize = 268_435_455;

/// How to open one lane.
#[derive(Debug, Clone)]
pub struct LaneSpec {
    /// Short name for logs and metrics (`alarm`, `loc`).
    pub name: &'static str,
    /// Broker address.
    pub broker: Url,
    /// The broker's CA for `mqtts://`, and the password instead of the URL's.
    pub auth: BrokerAuth,
    /// Stable client id, so the broker keeps the session across restarts.
    pub client_id: String,
    /// Topic filters to (re)subscribe on every connection.
    pub filters: Vec<String>,
    /// Send each packet at once (`TCP_NODELAY`). A lane that publishes to
    /// devices needs it: otherwise Nagle's algorithm meets delayed ACKs and
    /// holds its messages for about 40 ms. A lane that only acks is cheaper
    /// for itself and the broker when its acks share segments.
    pub nodelay: bool,
}

/// One message as received, with the connection it came on.
#[derive(Debug)]
pub struct Delivery {
    /// The MQTT message.
    pub publish: Publish,
    /// Which connection of the lane delivered it, and its place among that
    /// connection's QoS 1 deliveries; acks for older connections are not sent.
    pub position: Position,
}

/// Hands a lane's deliveries straight to its workers: one queue per worker,
/// picked by topic, so each device's messages stay in order.
#[derive(Debug, Clone)]
pub struct Deliveries {
    queues: Vec<mpsc::UnboundedSender<Delivery>>,
    progress: Vec<Arc<LaneProgress>>,
}

impl Deliveries {
    /// Queues for `workers` workers (at least one), and each worker's receiving end.
    pub fn new(workers: usize) -> (Self, Vec<Queue>) {
        let (queues, receivers): (Vec<_>, Vec<_>) = (0..workers.max(1))
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let progress: Vec<_> = queues
            .iter()
            .map(|_| Arc::new(LaneProgress::default()))
            .collect();
        let receivers = receivers
            .into_iter()
            .zip(&progress)
            .map(|(receiver, progress)| Queue {
                receiver,
                progress: progress.clone(),
            })
            .collect();
        (Self { queues, progress }, receivers)
    }

    /// How many deliveries each worker was handed and finished, one queue
    /// each: one stuck worker stalls the devices whose messages go to it.
    pub fn progress(&self) -> Vec<Arc<LaneProgress>> {
        self.progress.clone()
    }

    /// Queues `delivery` for the worker of its topic; false once the workers are gone.
    fn send(&self, delivery: Delivery) -> bool {
        let mut hasher = DefaultHasher::new();
        delivery.publish.topic.hash(&mut hasher);
        let worker = (hasher.finish() % self.queues.len() as u64) as usize;
        let sent = self.queues[worker].send(delivery).is_ok();
        if sent {
            self.progress[worker].handed();
        }
        sent
    }
}

/// One worker's queue of deliveries.
#[derive(Debug)]
pub struct Queue {
    receiver: mpsc::UnboundedReceiver<Delivery>,
    progress: Arc<LaneProgress>,
}

impl Queue {
    /// Takes up to `limit` waiting deliveries into `batch`; 0 once the lane hands on no more.
    pub async fn recv_many(&mut self, batch: &mut Vec<Delivery>, limit: usize) -> usize {
        self.receiver.recv_many(batch, limit).await
    }

    /// Takes up to `limit` deliveries that are waiting already, without waiting for more.
    pub fn take_waiting(&mut self, batch: &mut Vec<Delivery>, limit: usize) {
        for _ in 0..limit {
            match self.receiver.try_recv() {
                Ok(delivery) => batch.push(delivery),
                Err(_) => return,
            }
        }
    }

    /// Records that the worker is done with `count` deliveries.
    pub fn finished(&self, count: usize) {
        self.progress.finished(count);
    }
}

/// Sends acks and publishes on a running lane.
#[derive(Clone)]
pub struct Lane {
    name: &'static str,
    client: AsyncClient,
    epoch: Arc<AtomicU64>,
    order: Arc<Mutex<AckOrder<Publish>>>,
    subscribed: watch::Receiver<bool>,
}

impl Lane {
    /// Acknowledges handled QoS 1 deliveries, each once every earlier
    /// delivery of its connection is handled too. A delivery from a connection
    /// that has since dropped is not acknowledged: the broker redelivers it,
    /// and deduplication makes the repeat harmless.
    pub async fn ack_all(&self, deliveries: impl IntoIterator<Item = &Delivery>) {
        let current = self.epoch.load(Ordering::Acquire);
        let mut order = self.order.lock().await;
        let mut ready = Vec::new();
        for delivery in deliveries {
            if delivery.publish.qos == QoS::AtMostOnce {
                continue;
            }
            if delivery.position.epoch != current {
                metrics::counter!("vangnet_mqtt_stale_acks_total", "lane" => self.name)
                    .increment(1);
                continue;
            }
            ready.extend(order.handled(delivery.position, current, delivery.publish.clone()));
        }
        for publish in ready {
            if let Err(err) = self.client.ack(&publish).await {
                tracing::warn!(lane = self.name, %err, "could not queue an MQTT ack");
            }
        }
    }

    /// Publishes `payload` on `topic` with QoS 1.
    pub async fn publish(&self, topic: String, payload: Vec<u8>) {
        if let Err(err) = self
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
        {
            tracing::warn!(lane = self.name, %err, "could not queue an MQTT publish");
        }
    }

    /// The lane's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// True while the lane is connected and subscribed.
    pub fn is_subscribed(&self) -> bool {
        *self.subscribed.borrow()
    }

    /// Waits until the lane is connected and subscribed.
    pub async fn until_subscribed(&self) {
        let mut subscribed = self.subscribed.clone();
        let _ = subscribed.wait_for(|up| *up).await;
    }

    /// Says goodbye to the broker; the persistent session keeps unacked messages.
    pub async fn disconnect(&self) {
        let _ = self.client.disconnect().await;
    }
}

/// When a lane stops: first `intake` (no new messages are handed on; the
/// broker keeps them for the persistent session), then `stop` (no more polling).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop handing on messages.
    pub intake: CancellationToken,
    /// Stop the connection.
    pub stop: CancellationToken,
}

/// Opens the lane and keeps it connected until `shutdown.stop`, handing
/// every received message to `deliveries` until `shutdown.intake`.
///
/// The poll loop never waits on the workers: they queue their acks through
/// this same connection, so a loop blocked on a full queue would never send
/// them. The queue is bounded by the broker instead, which sends no more QoS 1
/// messages than its in-flight window allows until acks come back.
pub fn spawn(
    tasks: &TaskTracker,
    spec: LaneSpec,
    deliveries: Deliveries,
    shutdown: Shutdown,
) -> Result<Lane, rumqttc::OptionError> {
    let mut options = MqttOptions::parse_url(with_client_id(&spec.broker, &spec.client_id))?;
    if let Some(ca) = &spec.auth.ca_pem
        && matches!(spec.broker.scheme(), "mqtts" | "ssl")
    {
        let client = spec
            .auth
            .client
            .as_ref()
            .map(|client| (client.cert_pem.clone(), client.key_pem.expose().to_vec()));
        options.set_transport(Transport::tls(ca.clone(), client, None));
    }
    if let Some(password) = &spec.auth.password {
        let password = String::from_utf8_lossy(password.expose()).into_owned();
        options.set_credentials(spec.broker.username(), password);
    }
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(15))
        .set_inflight(INFLIGHT)
        .set_max_packet_size(MAX_INCOMING_PACKET, vangnet_proto::MAX_PAYLOAD_BYTES * 2);
    let (client, mut event_loop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let mut network = event_loop.network_options();
    network.set_tcp_nodelay(spec.nodelay);
    event_loop.set_network_options(network);
    let epoch = Arc::new(AtomicU64::new(0));
    let (subscribed_tx, subscribed) = watch::channel(false);
    let lane = Lane {
        name: spec.name,
        client: client.clone(),
        epoch: epoch.clone(),
        order: Arc::new(Mutex::new(AckOrder::default())),
        subscribed,
    };

    tasks.spawn(async move {
        let Shutdown { intake, stop } = shutdown;
        let mut deliveries = Some(deliveries);
        let mut reconnect = crate::backoff::mqtt_reconnect().build();
        let mut awaiting_suback = false;
        let mut next_seq = 0;
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => break,
                () = intake.cancelled(), if deliveries.is_some() => {
                    deliveries = None;
                    continue;
                }
                event = event_loop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    epoch.fetch_add(1, Ordering::AcqRel);
                    next_seq = 0;
                    reconnect = crate::backoff::mqtt_reconnect().build();
                    awaiting_suback = true;
                    let filters = spec
                        .filters
                        .iter()
                        .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                    if let Err(err) = client.try_subscribe_many(filters) {
                        tracing::warn!(lane = spec.name, %err, "could not queue the subscription");
                    }
                    tracing::info!(lane = spec.name, "connected to the MQTT broker");
                }
                Ok(Event::Incoming(Packet::SubAck(_))) if awaiting_suback => {
                    awaiting_suback = false;
                    subscribed_tx.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let Some(sink) = &deliveries else { continue };
                    let position = Position {
                        epoch: epoch.load(Ordering::Acquire),
                        seq: next_seq,
                    };
                    if publish.qos != QoS::AtMostOnce {
                        next_seq += 1;
                    }
                    let delivery = Delivery { publish, position };
                    if !sink.send(delivery) {
                        deliveries = None;
                    }
                }
                Ok(_) => {}
                Err(_) if intake.is_cancelled() => break,
                Err(err) => {
                    subscribed_tx.send_replace(false);
                    let wait = reconnect
                        .next()
                        .unwrap_or(crate::backoff::MQTT_RECONNECT_LONGEST);
                    tracing::warn!(lane = spec.name, %err, retry_in_ms = wait.as_millis() as u64, "MQTT connection lost");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        subscribed_tx.send_replace(false);
    });
    Ok(lane)
}

fn with_client_id(broker: &Url, client_id: &str) -> String {
    let mut url = broker.clone();
    url.query_pairs_mut().append_pair("client_id", client_id);
    if url.scheme() == "tcp" {
        let _ = url.set_scheme("mqtt");
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(topic: &str, seq: u64) -> Delivery {
        Delivery {
            publish: Publish::new(topic, QoS::AtLeastOnce, b"{}".to_vec()),
            position: Position { epoch: 1, seq },
        }
    }

    #[test]
    fn one_device_s_deliveries_queue_for_one_worker_in_order() {
        let (deliveries, mut queues) = Deliveries::new(4);
        for seq in 0..3 {
            assert!(deliveries.send(delivery("vangnet/devices/v-1/loc", seq)));
        }
        let holding: Vec<Vec<u64>> = queues
            .iter_mut()
            .map(|queue| {
                std::iter::from_fn(|| queue.receiver.try_recv().ok())
                    .map(|d| d.position.seq)
                    .collect()
            })
            .filter(|seqs: &Vec<u64>| !seqs.is_empty())
            .collect();
        assert_eq!(holding, vec![vec![0, 1, 2]]);
    }

    #[test]
    fn many_devices_spread_over_the_workers() {
        let (deliveries, mut queues) = Deliveries::new(4);
        for device in 0..100 {
            deliveries.send(delivery(&format!("vangnet/devices/d-{device}/loc"), 0));
        }
        assert!(
            queues
                .iter_mut()
                .all(|queue| queue.receiver.try_recv().is_ok())
        );
    }

    #[test]
    fn the_client_id_travels_in_the_url() {
        let url = Url::parse("tcp://127.0.0.1:1883").unwrap();
        let text = with_client_id(&url, "vangnet-alarm");
        assert_eq!(text, "mqtt://127.0.0.1:1883?client_id=vangnet-alarm");
    }
}
