//! Load figure for `GET /api/v1/alerts`: starts the release `vangnet` against
//! the local Mosquitto and Redis, raises 10,000 alerts through the real path
//! (10,000 orders, one panic each, over MQTT), then runs `wrk` against the
//! first page for an admin (every region) and for a dispatcher of one region.
//!
//! `cargo build --release -p vangnet-server && cargo run --release -p vangnet-e2e --example alert_list_load`
//! (needs `wrk`: `apt-get install wrk`).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, MqttClient, MqttQos, TestApp, eventually, token_for, unique_name};
use vangnet_proto::token::Role;
use vangnet_proto::{Channel, DeviceId, OrderId, TimestampMs};
use vangnet_server::store::{EventLog, OrderStore, StoredOrder};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const ALERTS: usize = 10_000;
const REGIONS: usize = 10;
/// Panics published ahead of the app, below Mosquitto's default queue of 1,000 per client.
const IN_FLIGHT: usize = 500;

fn order(n: usize) -> Value {
    json!({
        "id": format!("load-{n}"), "region": format!("region-{}", n % REGIONS), "exercise": false,
        "victim_devices": [format!("load-{n}-v")], "perpetrator_devices": [format!("load-{n}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

/// Stores the orders, then has every victim press panic once.
async fn raise_alerts(app: &TestApp) -> anyhow::Result<()> {
    let store = app.store();
    for n in 0..ALERTS {
        let body = order(n);
        let order = StoredOrder {
            id: OrderId::new(format!("load-{n}")),
            body: serde_json::to_vec(&body)?,
        };
        store.put_order(&order).await?;
    }
    eventually(
        Duration::from_secs(60),
        "the app loading the orders",
        || async { app.metric("vangnet_orders").await >= ALERTS as f64 },
    )
    .await?;

    let mqtt = MqttClient::connect(&unique_name("alert-list-load")).await;
    let alarms = "vangnet_messages_total{kind=\"alarm\"}";
    for n in 0..ALERTS {
        if n % IN_FLIGHT == 0 {
            let taken = n.saturating_sub(IN_FLIGHT) as f64;
            eventually(
                Duration::from_secs(60),
                "the app taking the panics",
                || async { app.metric(alarms).await >= taken },
            )
            .await?;
        }
        let device = DeviceId::parse(&format!("load-{n}-v"), "device")?;
        let panic = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"});
        let topic = app.topics.uplink(&device, Channel::Alarm);
        mqtt.publish(&topic, MqttQos::AtLeastOnce, panic.to_string())
            .await;
    }
    eventually(
        Duration::from_secs(60),
        "10,000 alerts in the store",
        || async { app.metric(alarms).await >= ALERTS as f64 },
    )
    .await?;
    let stored = store.events_after(None, ALERTS + 1).await?.len();
    if stored < ALERTS {
        bail!("only {stored} alert revisions were stored");
    }
    Ok(())
}

/// Requests per second `wrk` reached on `path` with `token`.
fn wrk(app: &TestApp, path: &str, token: &str) -> anyhow::Result<f64> {
    let output = Command::new("wrk")
        .args(["-t2", "-c32", "-d10s", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(app.url(path))
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        bail!("wrk saw error answers:\n{text}");
    }
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
        .with_context(|| format!("no rate in wrk's output:\n{text}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let started = Instant::now();
    raise_alerts(&app).await?;
    println!(
        "raised {ALERTS} alerts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let admin = token_for(SECRET, Role::Admin, &["*"]);
    let dispatcher = token_for(SECRET, Role::Dispatcher, &["region-3"]);
    println!("| who | request | requests/s |");
    println!("|---|---|---|");
    for (who, token, path) in [
        ("admin", &admin, "/api/v1/alerts"),
        ("admin", &admin, "/api/v1/alerts?status=open&priority=P1"),
        ("admin", &admin, "/api/v1/alerts?limit=1"),
        ("dispatcher, 1 of 10 regions", &dispatcher, "/api/v1/alerts"),
    ] {
        let rate = wrk(&app, path, token)?;
        println!("| {who} | GET {path} | {rate:.0} |");
    }
    Ok(())
}
