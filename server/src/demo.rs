//! `vangnet serve --demo`: seeds an exercise order and plays a short scenario
//! through the broker, printing what Vangnet decides, so a newcomer sees an
//! alert flow end to end with nothing installed.
//!
//! The perpetrator rides towards the victim's home at about 48 km/h, one fix
//! every 45 s of device time (replayed at one a second), while the victim's
//! device reports from home; then the victim presses the panic button. Every
//! device message and every alert revision is printed as it happens.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use backon::BackoffBuilder;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tokio::sync::mpsc;
use url::Url;
use vangnet_engine::geometry::{GeoPoint, LocalFrame, distance_m};
use vangnet_proto::order::OrderBody;
use vangnet_proto::{AlertKind, Channel, DeviceId, OrderId, TimestampMs, Topics};

use crate::audit_chain::Draft;
use crate::orders::OrderIndex;
use crate::store::{OrderChange, OrderWrite, PartitionKey, Store, StoredOrder};

/// Checks of the demo's order write again while other writers move the orders' epoch.
const SEED_RETRIES: usize = 7;

/// The victim's home in the demo (Rotterdam).
const HOME: GeoPoint = GeoPoint {
    lat: 51.9225,
    lon: 4.4792,
};
/// How far away the perpetrator starts, in metres.
const START_M: f64 = 5_400.0;
/// How far the perpetrator moves between fixes, in metres.
const STEP_M: f64 = 600.0;
/// Device time between two fixes, in milliseconds.
const STEP_MS: u64 = 45_000;
/// How long the demo waits for the panic's alert before it ends.
const PANIC_PATIENCE: Duration = Duration::from_secs(10);

/// The demo's cast: one exercise order, one victim, one perpetrator.
struct Cast {
    order: OrderId,
    victim: DeviceId,
    perpetrator: DeviceId,
}

impl Cast {
    fn new() -> anyhow::Result<Self> {
        let run = TimestampMs::now().millis() % 100_000;
        Ok(Self {
            order: OrderId::new(format!("demo-{run}")),
            victim: DeviceId::parse(&format!("demo-victim-{run}"), "device")?,
            perpetrator: DeviceId::parse(&format!("demo-perpetrator-{run}"), "device")?,
        })
    }

    fn order_body(&self) -> anyhow::Result<OrderBody> {
        let body = json!({
            "id": self.order, "region": "demo", "exercise": true,
            "victim_devices": [self.victim], "perpetrator_devices": [self.perpetrator],
            "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
            "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [HOME.lon, HOME.lat]},
                       "radius_m": 250, "prealarm_m": 750}]
        });
        Ok(serde_json::from_value(body)?)
    }
}

/// Stores the demo's order as the actor `demo`, with its audit entry, at
/// whatever epoch the orders have reached, checked again as the API does
/// while other writers move it.
async fn seed<S: Store>(store: &S, id: &OrderId, body: &OrderBody) -> anyhow::Result<()> {
    let order = StoredOrder {
        id: id.clone(),
        body: serde_json::to_vec(body)?,
    };
    let detail = json!({ "region": body.region, "exercise": body.exercise });
    let audit = Draft::new("demo", "order.create", id.as_str(), detail);
    let mut retries = crate::backoff::order_write(SEED_RETRIES).build();
    loop {
        let epoch = store.orders_epoch().await?;
        match store
            .write_order(&order, OrderChange::Replace, epoch, &audit)
            .await?
        {
            OrderWrite::Written | OrderWrite::Exists => return Ok(()),
            OrderWrite::Moved => match retries.next() {
                Some(wait) => tokio::time::sleep(wait).await,
                None => anyhow::bail!(
                    "other writers kept changing the orders; the demo's order was not stored"
                ),
            },
        }
    }
}

/// Seeds the demo order and plays the scenario against the broker at `broker`.
pub async fn play<S: Store>(
    store: &S,
    orders: &OrderIndex,
    topics: &Topics,
    broker: &Url,
) -> anyhow::Result<()> {
    let cast = Cast::new()?;
    let body = cast.order_body()?;
    seed(store, &cast.order, &body).await?;
    orders.refresh(store).await?;
    println!(
        "\ndemo: exercise order {} — victim {} at home, perpetrator {} {:.1} km away",
        cast.order,
        cast.victim,
        cast.perpetrator,
        START_M / 1000.0
    );

    let (client, mut received) = connect(broker, topics, &cast).await?;
    let partition = PartitionKey::Order(cast.order.clone());
    let mut shown = HashSet::new();
    let frame = LocalFrame::new(HOME);
    let steps = (START_M / STEP_M) as u64;
    let first_ts = TimestampMs::now().millis().saturating_sub(steps * STEP_MS);
    for step in 0..=steps {
        let ts = TimestampMs(first_ts + step * STEP_MS);
        let metres = (START_M - STEP_M * step as f64).max(0.0);
        let position = frame.unproject([metres * 0.8, metres * 0.6]);
        publish(
            &client,
            topics,
            &cast.victim,
            Channel::Loc,
            fix(step + 1, ts, HOME, 5.0),
        )
        .await?;
        let payload = fix(step + 1, ts, position, 8.0);
        publish(&client, topics, &cast.perpetrator, Channel::Loc, payload).await?;
        println!(
            "  perpetrator fix: {:>5.0} m from the victim",
            distance_m(position, HOME)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        show_news(store, &partition, &mut shown, &mut received).await?;
    }

    println!("  victim presses the panic button");
    let panic = json!({"seq": steps + 2, "ts": TimestampMs::now(), "kind": "panic"});
    publish(&client, topics, &cast.victim, Channel::Alarm, panic).await?;
    let patience = tokio::time::Instant::now() + PANIC_PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        show_news(store, &partition, &mut shown, &mut received).await?;
        let alerts = store.alerts(&partition).await?;
        let raised = alerts.iter().any(|alert| alert.kind == AlertKind::Panic);
        if raised || tokio::time::Instant::now() > patience {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    show_news(store, &partition, &mut shown, &mut received).await?;
    println!("demo done: alerts are kept in the store; vangnet keeps running (Ctrl-C stops it)\n");
    let _ = client.disconnect().await;
    Ok(())
}

fn fix(seq: u64, ts: TimestampMs, at: GeoPoint, acc: f64) -> serde_json::Value {
    json!({"seq": seq, "ts": ts, "lat": at.lat, "lon": at.lon, "acc": acc})
}

async fn publish(
    client: &AsyncClient,
    topics: &Topics,
    device: &DeviceId,
    channel: Channel,
    payload: serde_json::Value,
) -> anyhow::Result<()> {
    client
        .publish(
            topics.uplink(device, channel),
            QoS::AtLeastOnce,
            false,
            payload.to_string(),
        )
        .await
        .context("publishing a demo message")
}

/// Connects the demo's devices and collects what Vangnet sends them.
async fn connect(
    broker: &Url,
    topics: &Topics,
    cast: &Cast,
) -> anyhow::Result<(AsyncClient, mpsc::UnboundedReceiver<(String, String)>)> {
    let mut url = broker.clone();
    url.query_pairs_mut()
        .append_pair("client_id", &format!("{}-devices", cast.order));
    let options = MqttOptions::parse_url(url.as_str()).context("demo broker URL")?;
    let (client, mut event_loop) = AsyncClient::new(options, 64);
    let (tx, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let payload = String::from_utf8_lossy(&publish.payload).into_owned();
                    if tx.send((publish.topic, payload)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) if tx.is_closed() => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    for device in [&cast.victim, &cast.perpetrator] {
        client
            .subscribe(topics.ack(device), QoS::AtLeastOnce)
            .await?;
        client
            .subscribe(topics.cmd(device), QoS::AtLeastOnce)
            .await?;
    }
    Ok((client, received))
}

/// Prints device messages received and alert revisions stored since the last call.
async fn show_news<S: Store>(
    store: &S,
    partition: &PartitionKey,
    shown: &mut HashSet<(String, u32)>,
    received: &mut mpsc::UnboundedReceiver<(String, String)>,
) -> anyhow::Result<()> {
    while let Ok((topic, payload)) = received.try_recv() {
        let device = topic.rsplit('/').nth(1).unwrap_or_default();
        let channel = topic.rsplit('/').next().unwrap_or_default();
        println!("    device {device} gets {channel}: {payload}");
    }
    for alert in store.alerts(partition).await? {
        if shown.insert((alert.alert_id.to_string(), alert.revision)) {
            let text = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
            let alert = serde_json::to_value(&alert)?;
            println!(
                "    ALERT {} {} {} (revision {}, {}): {}",
                text(alert["priority"].clone()),
                text(alert["kind"].clone()),
                text(alert["confidence"].clone()),
                alert["revision"],
                text(alert["status"].clone()),
                text(alert["summary"].clone()),
            );
        }
    }
    Ok(())
}
