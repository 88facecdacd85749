//! MQTT clients of the simulator: a pool of publishing connections that offer
//! the fleet's fixes at a paced rate, and a no-op subscriber that only counts.
//! Each connection's event loop runs in a task of its own, so nothing ever
//! waits on a publish inside the loop that must drain it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, NetworkOptions, Packet, QoS};
use tokio::sync::mpsc;

use crate::fleet::SimDevice;

/// How long to wait for the broker's CONNACK and SUBACK.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before polling again after a connection error (rumqttc has no backoff).
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);
/// Pacing tick of the publishers.
const PACING_TICK: Duration = Duration::from_millis(5);

/// Connects a client and drives its event loop in a task: `filters` are
/// subscribed (QoS 1) on every CONNACK and `on_packet` sees every incoming
/// packet. Returns once connected and subscribed.
pub async fn connect(
    broker: &str,
    client_id: &str,
    filters: &[String],
    mut on_packet: impl FnMut(&Packet) + Send + 'static,
) -> anyhow::Result<AsyncClient> {
    let mut options = MqttOptions::parse_url(format!("{broker}?client_id={client_id}"))
        .with_context(|| format!("MQTT URL {broker}"))?;
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(200)
        .set_max_packet_size(256 * 1024, 256 * 1024);
    let (client, mut event_loop) = AsyncClient::new(options, 1024);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    event_loop.set_network_options(network);
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let subscriber = client.clone();
    let handshakes = filters.len().max(1);
    let filters = filters.to_vec();
    tokio::spawn(async move {
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(packet)) => {
                    match &packet {
                        Packet::ConnAck(_) if filters.is_empty() => {
                            let _ = ready_tx.send(());
                        }
                        Packet::ConnAck(_) => {
                            for filter in &filters {
                                let _ = subscriber.try_subscribe(filter, QoS::AtLeastOnce);
                            }
                        }
                        Packet::SubAck(_) => {
                            let _ = ready_tx.send(());
                        }
                        _ => {}
                    }
                    on_packet(&packet);
                }
                Ok(Event::Outgoing(_)) => {}
                Err(ConnectionError::RequestsDone) => return,
                Err(_) => tokio::time::sleep(RECONNECT_PAUSE).await,
            }
        }
    });
    for _ in 0..handshakes {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, ready.recv())
            .await
            .ok()
            .flatten()
            .with_context(|| {
                format!("no CONNACK/SUBACK from the MQTT broker at {broker}: is it running?")
            })?;
    }
    Ok(client)
}

/// Removes a persistent session the broker keeps for `client_id`, by
/// connecting once with a clean session.
pub async fn forget_session(broker: &str, client_id: &str) -> anyhow::Result<()> {
    let client = connect(broker, client_id, &[], |_| {}).await?;
    client.disconnect().await.context("MQTT disconnect")?;
    Ok(())
}

/// A subscriber that does nothing but count (rumqttc acks each QoS 1 message
/// as it arrives). It runs on a thread of its own, as a separate service
/// would, so the publishers of the same process do not slow it down.
pub struct CountingSubscriber {
    client: AsyncClient,
    received: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl CountingSubscriber {
    /// Subscribes to `filter` at QoS 1.
    pub async fn connect(broker: &str, client_id: &str, filter: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("counting-subscriber")
            .enable_all()
            .build()
            .context("starting the subscriber's runtime")?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let (broker, client_id, filter) =
            (broker.to_owned(), client_id.to_owned(), filter.to_owned());
        let client = runtime
            .spawn(async move {
                connect(&broker, &client_id, &[filter], move |packet| {
                    if matches!(packet, Packet::Publish(_)) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await
            })
            .await
            .context("subscriber task")??;
        Ok(Self {
            client,
            received,
            runtime: Some(runtime),
        })
    }

    /// Messages received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Disconnects.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        self.client.disconnect().await.context("MQTT disconnect")
    }
}

impl Drop for CountingSubscriber {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Several publishing connections, each owning a share of the devices.
pub struct PublisherPool {
    clients: Vec<AsyncClient>,
    shards: Vec<Vec<SimDevice>>,
    acked: Arc<AtomicU64>,
}

impl PublisherPool {
    /// Opens `connections` connections and deals `devices` out among them.
    pub async fn connect(
        broker: &str,
        client_id: &str,
        connections: usize,
        devices: Vec<SimDevice>,
    ) -> anyhow::Result<Self> {
        let connections = connections.max(1);
        let acked = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::with_capacity(connections);
        for n in 0..connections {
            let counter = acked.clone();
            let client = connect(broker, &format!("{client_id}-{n}"), &[], move |packet| {
                if matches!(packet, Packet::PubAck(_)) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
            .await?;
            clients.push(client);
        }
        let mut shards: Vec<Vec<SimDevice>> = (0..connections).map(|_| Vec::new()).collect();
        for (n, device) in devices.into_iter().enumerate() {
            shards[n % connections].push(device);
        }
        Ok(Self {
            clients,
            shards,
            acked,
        })
    }

    /// Publishes fixes (QoS 1) at `rate` per second in total for `duration`,
    /// each connection cycling through its devices; returns how many it published.
    pub async fn offer(&mut self, rate: f64, duration: Duration) -> anyhow::Result<u64> {
        let share = rate / self.clients.len() as f64;
        let mut tasks = Vec::with_capacity(self.clients.len());
        for (client, devices) in self.clients.iter().zip(std::mem::take(&mut self.shards)) {
            let client = client.clone();
            tasks.push(tokio::spawn(publish_paced(
                client, devices, share, duration,
            )));
        }
        let mut published = 0;
        for task in tasks {
            let (devices, outcome) = task.await.context("publisher task")?;
            self.shards.push(devices);
            published += outcome?;
        }
        Ok(published)
    }

    /// Publishes the broker has acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Disconnects every connection.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        for client in &self.clients {
            client.disconnect().await.context("MQTT disconnect")?;
        }
        Ok(())
    }
}

/// One connection's share of an offer: publishes as many fixes as `rate`
/// calls for by each tick, catching up after a slow tick.
async fn publish_paced(
    client: AsyncClient,
    mut devices: Vec<SimDevice>,
    rate: f64,
    duration: Duration,
) -> (Vec<SimDevice>, anyhow::Result<u64>) {
    let mut published = 0u64;
    if devices.is_empty() {
        return (devices, Ok(0));
    }
    let count = devices.len();
    let mut next = 0;
    let started = Instant::now();
    let mut ticks = tokio::time::interval(PACING_TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= duration {
            return (devices, Ok(published));
        }
        let due = (rate * elapsed.as_secs_f64()) as u64;
        while published < due {
            let device = &mut devices[next];
            next = (next + 1) % count;
            let payload = device.next_fix();
            let topic = device.topic().to_owned();
            if let Err(err) = client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
            {
                return (devices, Err(err).context("MQTT publish"));
            }
            published += 1;
            if published.is_multiple_of(256) && started.elapsed() >= duration {
                break;
            }
        }
    }
}

/// Waits until `count()` reaches `target`; fails after `timeout`.
pub async fn wait_for_count(
    what: &str,
    target: u64,
    timeout: Duration,
    count: impl Fn() -> u64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while count() < target {
        if Instant::now() > deadline {
            bail!("{what}: {} of {target} after {timeout:?}", count());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
