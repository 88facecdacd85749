//! Devices talk to the running service over the real broker, and
//! what it decides lands in the real Redis.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, Device, MosquittoServer, MqttClient, MqttQos, TestApp, eventually, unique_name,
};
use vangnet_proto::{AlertId, Channel, DeviceId, OrderId, TimestampMs};
use vangnet_server::store::{History, PartitionKey, PartitionStore};

const HOME: (f64, f64) = (51.9225, 4.4792);
const FAR_AWAY: (f64, f64) = (52.0907, 5.1214);

fn order(id: &str, victim: &str, perpetrator: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [victim], "perpetrator_devices": [perpetrator],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [HOME.1, HOME.0]},
                   "radius_m": 250, "prealarm_m": 750}]
    })
}

fn now_ms() -> u64 {
    TimestampMs::now().millis()
}

fn fix(seq: u64, (lat, lon): (f64, f64)) -> String {
    json!({"seq": seq, "ts": now_ms(), "lat": lat, "lon": lon, "acc": 5.0}).to_string()
}

fn panic_alarm(seq: u64) -> String {
    json!({"seq": seq, "ts": now_ms(), "kind": "panic"}).to_string()
}

async fn ready_app_with_order(options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app.put_order(order("o-1", "v-1", "p-1")).await;
    app
}

async fn alerts_of(app: &TestApp, order: &str) -> Vec<Value> {
    let partition = PartitionKey::Order(OrderId::new(order));
    let alerts = app.store().alerts(&partition).await.unwrap();
    alerts
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect()
}

async fn wait_for_alert(app: &TestApp, order: &str, kind: &str, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(alert) = alerts_of(app, order)
            .await
            .into_iter()
            .find(|a| a["kind"] == kind)
        {
            return alert;
        }
        assert!(Instant::now() < deadline, "no {kind} alert within {wait:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn next_on(device: &mut Device, suffix: &str) -> Value {
    loop {
        let message = device
            .next_downlink(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("nothing on {suffix} within 5 s"));
        if message.topic.ends_with(suffix) {
            return message.json();
        }
    }
}

#[tokio::test]
async fn a_panic_is_stored_and_acknowledged_on_the_device_within_one_second() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let mut victim = app.device("v-1").await;

    let sent = Instant::now();
    victim.send(Channel::Alarm, panic_alarm(1)).await;
    let ack = next_on(&mut victim, "/ack").await;
    let elapsed = sent.elapsed();

    assert!(elapsed < Duration::from_secs(1), "ack after {elapsed:?}");
    assert_eq!(ack["seq"], 1);
    let ids = ack["alert_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 1);
    let alert = app
        .store()
        .alert(&AlertId::new(ids[0].as_str().unwrap()))
        .await
        .unwrap()
        .expect("the alert is stored before the ack");
    let current = serde_json::to_value(&alert.current).unwrap();
    assert_eq!(
        (current["kind"].as_str(), current["priority"].as_str()),
        (Some("panic"), Some("P1"))
    );
}

#[tokio::test]
async fn a_repeated_alarm_is_processed_once_and_acknowledged_again() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let mut victim = app.device("v-1").await;
    let alarm = panic_alarm(7);

    victim.send(Channel::Alarm, alarm.clone()).await;
    let first = next_on(&mut victim, "/ack").await;
    victim.send(Channel::Alarm, alarm).await;
    let second = next_on(&mut victim, "/ack").await;

    assert_eq!(first["alert_ids"], second["alert_ids"]);
    let panic = wait_for_alert(&app, "o-1", "panic", Duration::from_secs(2)).await;
    assert_eq!(
        (panic["count"].as_u64(), panic["revision"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_perpetrator_within_the_alarm_distance_raises_a_p1_and_warns_the_victim() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let mut victim = app.device("v-1").await;
    let perpetrator = app.device("p-1").await;

    victim.send(Channel::Loc, fix(1, FAR_AWAY)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    perpetrator
        .send(Channel::Loc, fix(1, (FAR_AWAY.0 + 0.004, FAR_AWAY.1)))
        .await;

    let warning = next_on(&mut victim, "/cmd").await;
    assert_eq!(
        (warning["kind"].as_str(), warning["level"].as_str()),
        (Some("warning"), Some("alarm"))
    );
    assert!(warning.get("lat").is_none() && warning.get("distance_m").is_none());
    let alert = wait_for_alert(&app, "o-1", "proximity_alarm", Duration::from_secs(2)).await;
    assert_eq!(alert["priority"], "P1");
    assert_eq!(alert["confidence"], "certain");
}

#[tokio::test]
async fn a_fix_dated_ahead_of_the_server_clock_cannot_hide_the_zone_entry_after_it() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let perpetrator = app.device("p-1").await;
    let (lat, lon) = FAR_AWAY;
    let ahead = json!({"seq": 1, "ts": now_ms() + 240_000, "lat": lat, "lon": lon, "acc": 5.0});
    perpetrator.send(Channel::Loc, ahead.to_string()).await;
    let (partition, device) = (
        PartitionKey::Order(OrderId::new("o-1")),
        DeviceId::parse("p-1", "device").unwrap(),
    );
    let store = app.store();
    let (from, to) = (TimestampMs(0), TimestampMs(u64::MAX));
    let stored = || async {
        let fixes = store.history(&partition, &device, from, to).await;
        fixes.is_ok_and(|fixes| !fixes.is_empty())
    };
    eventually(Duration::from_secs(3), "the forged fix is stored", stored)
        .await
        .unwrap();

    perpetrator.send(Channel::Loc, fix(2, HOME)).await;

    let alert = wait_for_alert(&app, "o-1", "zone_alarm", Duration::from_secs(3)).await;
    assert_eq!(alert["zone"], "home");
}

#[tokio::test]
async fn a_perpetrator_inside_a_zone_raises_a_zone_alarm() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let perpetrator = app.device("p-1").await;

    perpetrator.send(Channel::Loc, fix(1, HOME)).await;

    let alert = wait_for_alert(&app, "o-1", "zone_alarm", Duration::from_secs(3)).await;
    assert_eq!(alert["zone"], "home");
    assert_eq!(alert["priority"], "P1");
}

#[tokio::test]
async fn a_panic_from_a_device_in_no_order_raises_panic_unassigned() {
    let app = TestApp::spawn().await;
    app.wait_until_ready().await;
    let mut stranger = app.device("stranger-1").await;

    stranger.send(Channel::Alarm, panic_alarm(1)).await;
    let ack = next_on(&mut stranger, "/ack").await;

    let id = ack["alert_ids"][0].as_str().expect("an alert id");
    let alert = app.store().alert(&AlertId::new(id)).await.unwrap().unwrap();
    let current = serde_json::to_value(&alert.current).unwrap();
    assert_eq!(current["kind"], "panic_unassigned");
    assert_eq!(current["priority"], "P2");
    assert_eq!(current["order_id"], Value::Null);
}

#[tokio::test]
async fn every_rejection_reason_is_counted() {
    // A broker of its own with no size limit, so the oversized payload reaches Vangnet.
    let broker = MosquittoServer::unlimited();
    let app =
        ready_app_with_order(AppOptions::default().env("VANGNET_MQTT_URL", broker.url())).await;
    let perpetrator = app.device("p-1").await;
    let future = now_ms() + 10 * 60 * 1000;
    let batch: Vec<Value> = (0..501)
        .map(|i| json!({"seq": i, "ts": now_ms(), "lat": 51.9, "lon": 4.4, "acc": 5}))
        .collect();
    let cases: Vec<(&str, Channel, String)> = vec![
        ("not_json", Channel::Loc, "{oops".into()),
        (
            "wrong_type",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":"north","lon":4.4,"acc":5}"#.into(),
        ),
        (
            "missing_field",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":51.9,"lon":4.4}"#.into(),
        ),
        (
            "unknown_kind",
            Channel::Status,
            json!({"seq": 1, "ts": now_ms(), "kind": "dancing"}).to_string(),
        ),
        (
            "lat_out_of_range",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":91,"lon":4.4,"acc":5}"#.into(),
        ),
        (
            "lon_out_of_range",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":51.9,"lon":181,"acc":5}"#.into(),
        ),
        (
            "non_finite",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":NaN,"lon":4.4,"acc":5}"#.into(),
        ),
        (
            "negative_acc",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":51.9,"lon":4.4,"acc":-1}"#.into(),
        ),
        (
            "too_large",
            Channel::Loc,
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024)),
        ),
        (
            "future_ts",
            Channel::Loc,
            json!({"seq": 1, "ts": future, "lat": 51.9, "lon": 4.4, "acc": 5}).to_string(),
        ),
        (
            "device_mismatch",
            Channel::Loc,
            r#"{"seq":1,"ts":1,"lat":51.9,"lon":4.4,"acc":5,"device":"p-2"}"#.into(),
        ),
        (
            "batch_too_large",
            Channel::Loc,
            json!({"fixes": batch}).to_string(),
        ),
    ];
    for (_, channel, payload) in &cases {
        perpetrator.send(*channel, payload.clone()).await;
    }
    let watcher = MqttClient::connect_to(&app.broker(), &unique_name("bad")).await;
    let bad_device_topic = format!("{}/devices/bad id!/loc", app.topics.prefix());
    watcher
        .publish(&bad_device_topic, MqttQos::AtLeastOnce, fix(1, HOME))
        .await;
    let unknown_topic = format!("{}/devices/nobody/loc", app.topics.prefix());
    watcher
        .publish(&unknown_topic, MqttQos::AtLeastOnce, fix(1, HOME))
        .await;

    let mut reasons: Vec<&str> = cases.iter().map(|(reason, _, _)| *reason).collect();
    reasons.extend(["bad_device_id", "unknown_device"]);
    for reason in reasons {
        let sample = format!("vangnet_rejected_messages_total{{reason=\"{reason}\"}}");
        eventually(Duration::from_secs(5), &sample, || async {
            app.metric(&sample).await == 1.0
        })
        .await
        .unwrap();
    }
    assert!(
        alerts_of(&app, "o-1").await.is_empty(),
        "a rejected message raised an alert"
    );
}

#[tokio::test]
async fn a_flooding_device_is_limited_without_slowing_a_panic() {
    let app = ready_app_with_order(AppOptions::default()).await;
    let perpetrator = app.device("p-1").await;
    let mut victim = app.device("v-1").await;
    for seq in 0..2000 {
        perpetrator.send(Channel::Loc, fix(seq, FAR_AWAY)).await;
    }
    let sent = Instant::now();
    victim.send(Channel::Alarm, panic_alarm(1)).await;
    next_on(&mut victim, "/ack").await;

    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "panic ack after {:?}",
        sent.elapsed()
    );
    let limited = "vangnet_rate_limited_messages_total{kind=\"loc\"}";
    eventually(Duration::from_secs(10), limited, || async {
        app.metric(limited).await > 0.0
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn signal_lost_fires_within_five_seconds_of_the_configured_silence() {
    let app = ready_app_with_order(AppOptions::default().env("VANGNET_PERP_SILENCE_S", "2")).await;
    let perpetrator = app.device("p-1").await;
    perpetrator.send(Channel::Loc, fix(1, FAR_AWAY)).await;
    let heard = Instant::now();

    let alert = wait_for_alert(&app, "o-1", "signal_lost", Duration::from_secs(7)).await;

    assert!(
        heard.elapsed() >= Duration::from_secs(2),
        "signal_lost after only {:?}",
        heard.elapsed()
    );
    assert_eq!(alert["priority"], "P2");
}

#[tokio::test]
async fn signal_lost_fires_across_a_restart() {
    let mut app =
        ready_app_with_order(AppOptions::default().env("VANGNET_PERP_SILENCE_S", "3")).await;
    let perpetrator = app.device("p-1").await;
    perpetrator.send(Channel::Loc, fix(1, FAR_AWAY)).await;
    eventually(Duration::from_secs(5), "the fix being stored", || async {
        app.metric("vangnet_messages_total{kind=\"loc\"}").await >= 1.0
    })
    .await
    .unwrap();
    app.kill9();
    app.restart().await;

    wait_for_alert(&app, "o-1", "signal_lost", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn kill_9_in_a_burst_of_panics_loses_no_panic_the_broker_accepted() {
    const VICTIMS: usize = 30;
    let mut app = TestApp::spawn().await;
    app.wait_until_ready().await;
    app.put_orders(
        (0..VICTIMS)
            .map(|i| order(&format!("o-{i}"), &format!("v-{i}"), &format!("p-{i}")))
            .collect(),
    )
    .await;
    let sender = MqttClient::connect(&unique_name("burst")).await;
    for i in 0..VICTIMS {
        let topic = format!("{}/devices/v-{i}/alarm", app.topics.prefix());
        sender
            .publish(&topic, MqttQos::AtLeastOnce, panic_alarm(1))
            .await;
        if i == VICTIMS / 3 {
            app.kill9();
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.restart().await;

    for i in 0..VICTIMS {
        wait_for_alert(&app, &format!("o-{i}"), "panic", Duration::from_secs(15)).await;
    }
}

#[tokio::test]
async fn two_instances_in_a_shared_group_split_the_load_without_duplicate_alerts() {
    let group = unique_name("group");
    let first = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_MQTT_SHARED_GROUP", group.clone())
            .env("VANGNET_INSTANCE_ID", "first"),
    )
    .await;
    let second = TestApp::spawn_with(
        AppOptions::default()
            .same_deployment_as(&first)
            .env("VANGNET_MQTT_SHARED_GROUP", group)
            .env("VANGNET_INSTANCE_ID", "second"),
    )
    .await;
    first.wait_until_ready().await;
    second.wait_until_ready().await;
    first.put_order(order("o-1", "v-1", "p-1")).await;
    eventually(
        Duration::from_secs(5),
        "the second instance loading the order",
        || async { second.metric("vangnet_orders").await >= 1.0 },
    )
    .await
    .unwrap();

    let mut victim = first.device("v-1").await;
    const PRESSES: u64 = 40;
    for seq in 1..=PRESSES {
        victim.send(Channel::Alarm, panic_alarm(seq)).await;
    }
    let mut alert_ids = std::collections::BTreeSet::new();
    for _ in 0..PRESSES {
        let ack = next_on(&mut victim, "/ack").await;
        alert_ids.insert(ack["alert_ids"][0].as_str().unwrap().to_owned());
    }

    assert_eq!(
        alert_ids.len(),
        1,
        "one panic episode, one alert: {alert_ids:?}"
    );
    let panic = wait_for_alert(&first, "o-1", "panic", Duration::from_secs(2)).await;
    assert_eq!(panic["count"].as_u64(), Some(PRESSES));
    let alarms = "vangnet_messages_total{kind=\"alarm\"}";
    let (a, b) = (first.metric(alarms).await, second.metric(alarms).await);
    assert!(
        a > 0.0 && b > 0.0,
        "both instances take a share: {a} and {b}"
    );
    assert_eq!(a + b, PRESSES as f64);
}

#[tokio::test]
async fn the_embedded_broker_and_store_need_nothing_installed() {
    let dir = std::env::temp_dir().join(unique_name("embedded"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = vangnet_e2e::free_port();
    let app = TestApp::spawn_with(
        AppOptions::default()
            .unset("VANGNET_MQTT_URL")
            .env("VANGNET_EMBEDDED_BROKER_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "VANGNET_STORE",
                format!("file:{}", dir.join("state.redb").display()),
            ),
    )
    .await;
    app.wait_until_ready().await;
    let client_id = unique_name("embedded-client");
    let mut device = MqttClient::connect_to(&format!("mqtt://127.0.0.1:{port}"), &client_id).await;
    device
        .subscribe(&format!("{}/devices/lost-1/ack", app.topics.prefix()))
        .await;

    let topic = format!("{}/devices/lost-1/alarm", app.topics.prefix());
    device
        .publish(&topic, MqttQos::AtLeastOnce, panic_alarm(1))
        .await;

    let ack = device
        .next(Duration::from_secs(5))
        .await
        .expect("an ack from the embedded setup");
    assert_eq!(ack.json()["alert_ids"].as_array().map(Vec::len), Some(1));
    drop(app);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_taken_embedded_broker_port_exits_2_saying_how_to_use_that_broker() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stderr) = vangnet_e2e::run_vangnet(
        &["serve"],
        &[
            ("VANGNET_EMBEDDED_BROKER_ADDR", &addr),
            ("VANGNET_STORE", "file:/tmp/unused"),
        ],
    );
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("VANGNET_MQTT_URL") && stderr.contains(&addr),
        "{stderr}"
    );
}

#[tokio::test]
async fn history_older_than_the_retention_is_trimmed_at_start_up() {
    let mut app =
        ready_app_with_order(AppOptions::default().env("VANGNET_HISTORY_RETENTION_DAYS", "30"))
            .await;
    let perpetrator = app.device("p-1").await;
    let day_ms = 24 * 3600 * 1000;
    let old = json!({"seq": 1, "ts": now_ms() - 31 * day_ms, "lat": FAR_AWAY.0, "lon": FAR_AWAY.1, "acc": 5.0});
    let recent = json!({"seq": 2, "ts": now_ms() - day_ms, "lat": FAR_AWAY.0, "lon": FAR_AWAY.1, "acc": 5.0});
    perpetrator.send(Channel::Loc, old.to_string()).await;
    perpetrator.send(Channel::Loc, recent.to_string()).await;
    let partition = PartitionKey::Order(OrderId::new("o-1"));
    let device = vangnet_proto::DeviceId::parse("p-1", "device").unwrap();
    let store = app.store();
    let everything = || async {
        let all = store.history(&partition, &device, TimestampMs(0), TimestampMs(u64::MAX));
        all.await.unwrap().len()
    };
    eventually(Duration::from_secs(5), "both fixes in history", || async {
        everything().await == 2
    })
    .await
    .unwrap();

    app.terminate();
    app.restart().await;

    eventually(Duration::from_secs(5), "the old fix trimmed", || async {
        everything().await == 1
    })
    .await
    .unwrap();
}
