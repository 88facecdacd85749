//! Vangnet on a Redis Cluster of six real nodes: what a crash of a Redis
//! primary or of a Vangnet instance must not cost.
//!
//! Each test raises panics on many orders (spread over the cluster's shards)
//! while location traffic runs, kills something with SIGKILL half-way, and
//! then checks every panic whose receipt went out: it is in the store and
//! reached police dispatch, and no panic episode has two alerts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, Device, Sink, TestApp, eventually, unique_name};
use vangnet_proto::{AlertId, Channel, OrderId, TimestampMs};
use vangnet_redis_cluster::RedisCluster;
use vangnet_server::store::{PartitionKey, PartitionStore};

/// Orders in a test: enough that every primary holds some.
const ORDERS: usize = 24;
/// How long a device keeps re-sending its panic before the test gives up.
const RECEIPT_WITHIN: Duration = Duration::from_secs(30);

fn order(n: usize) -> Value {
    json!({
        "id": format!("order-{n}"), "region": "rotterdam", "exercise": false,
        "victim_devices": [format!("victim-{n}")], "perpetrator_devices": [format!("tag-{n}")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [4.47, 51.92]},
                   "radius_m": 250, "prealarm_m": 750}]
    })
}

/// The first instance of a deployment on `cluster`, reporting to `sink`.
async fn first_instance(cluster: &RedisCluster, sink: &Sink, options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(
        options
            .env("VANGNET_STORE", cluster.url())
            .env("VANGNET_DISPATCH_URL", sink.url())
            .env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1"),
    )
    .await;
    app.wait_until_ready().await;
    app.put_orders((0..ORDERS).map(order).collect()).await;
    app
}

/// Victim `n` presses panic and re-sends it (same `seq` and `ts`, as a
/// device does) until a receipt comes back; returns the receipt's alert id.
async fn panic_until_receipt(app: &TestApp, n: usize) -> String {
    let mut victim = app.device(&format!("victim-{n}")).await;
    let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string();
    let deadline = Instant::now() + RECEIPT_WITHIN;
    while Instant::now() < deadline {
        victim.send(Channel::Alarm, alarm.clone()).await;
        let wait_until = Instant::now() + Duration::from_secs(1);
        while let Some(left) = wait_until.checked_duration_since(Instant::now()) {
            let Some(message) = victim.next_downlink(left).await else {
                break;
            };
            let ack = message.json();
            if message.topic.ends_with("/ack")
                && let Some(alert) = ack["alert_ids"][0].as_str()
            {
                return alert.to_owned();
            }
        }
    }
    panic!("victim-{n} got no receipt within {RECEIPT_WITHIN:?}");
}

/// Location fixes from every perpetrator's tag, far from the zones, until `stop`.
fn location_load(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let broker = app.broker();
    let topics = app.topics.clone();
    tokio::spawn(async move {
        let mut tags = Vec::new();
        for n in 0..ORDERS {
            tags.push(Device::connect_to(&broker, topics.clone(), &format!("tag-{n}")).await);
        }
        let mut seq = 0_u64;
        while !stop.load(Ordering::Relaxed) {
            seq += 1;
            for tag in &tags {
                let fix = json!({"seq": seq, "ts": TimestampMs::now(), "lat": 52.37, "lon": 4.89, "acc": 5.0});
                tag.send(Channel::Loc, fix.to_string()).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Every receipted alert is stored, is the only alert of its order, and
/// reached the dispatch sink.
async fn assert_nothing_lost_and_one_alert_per_episode(
    app: &TestApp,
    sink: &Sink,
    receipts: &BTreeMap<usize, String>,
) {
    let store = app.store();
    for (n, alert) in receipts {
        let stored = store.alert(&AlertId::new(alert)).await.unwrap();
        assert!(
            stored.is_some(),
            "victim-{n}'s receipted alert {alert} is not stored"
        );
        let partition = PartitionKey::Order(OrderId::new(format!("order-{n}")));
        let alerts = store.alerts(&partition).await.unwrap();
        assert_eq!(
            alerts.len(),
            1,
            "order-{n} has {} alerts for one panic",
            alerts.len()
        );
    }
    let wanted: BTreeSet<String> = receipts
        .values()
        .map(|alert| format!("{alert}/1"))
        .collect();
    eventually(
        Duration::from_secs(30),
        "every receipted alert at police dispatch",
        || async {
            let delivered: BTreeSet<String> = sink
                .delivered()
                .iter()
                .filter_map(|request| request.headers.get("idempotency-key").cloned())
                .collect();
            wanted.is_subset(&delivered)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receipted_panic_survives_the_crash_of_a_redis_primary_and_reaches_dispatch() {
    let mut cluster = RedisCluster::start();
    let sink = Sink::start().await;
    let app = first_instance(
        &cluster,
        &sink,
        AppOptions::default().env("VANGNET_STORE_WAIT_REPLICAS", "1"),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = location_load(&app, stop.clone());

    let killed = cluster.primary_of(&app.store_prefix);
    let mut receipts = BTreeMap::new();
    for n in 0..ORDERS {
        if n == ORDERS / 3 {
            cluster.kill(killed);
        }
        receipts.insert(n, panic_until_receipt(&app, n).await);
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    cluster.wait_until_healthy(Duration::from_secs(30));
    assert_ne!(
        cluster.primary_of(&app.store_prefix),
        killed,
        "a replica took over the killed primary's slots"
    );

    assert_nothing_lost_and_one_alert_per_episode(&app, &sink, &receipts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_lose_nothing_and_raise_one_alert_per_episode_when_one_is_killed() {
    let cluster = RedisCluster::start();
    let sink = Sink::start().await;
    let group = unique_name("group");
    let shared = |options: AppOptions, id: &str| {
        options
            .env("VANGNET_MQTT_SHARED_GROUP", group.clone())
            .env("VANGNET_INSTANCE_ID", id)
    };
    let first = first_instance(&cluster, &sink, shared(AppOptions::default(), "first")).await;
    let mut others = Vec::new();
    for id in ["second", "third"] {
        let options = AppOptions::default()
            .same_deployment_as(&first)
            .env("VANGNET_STORE", cluster.url())
            .env("VANGNET_DISPATCH_URL", sink.url())
            .env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1");
        let app = TestApp::spawn_with(shared(options, id)).await;
        app.wait_until_ready().await;
        eventually(Duration::from_secs(10), "the orders loaded", || async {
            app.metric("vangnet_orders").await >= ORDERS as f64
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        others.push(app);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = location_load(&first, stop.clone());

    let mut receipts = BTreeMap::new();
    for n in 0..ORDERS {
        if n == ORDERS / 3 {
            others[0].kill9();
        }
        receipts.insert(n, panic_until_receipt(&first, n).await);
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    assert_nothing_lost_and_one_alert_per_episode(&first, &sink, &receipts).await;
}
