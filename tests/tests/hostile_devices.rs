//! The perpetrator carries one of the devices: whatever the broker lets his
//! device send (a message of any size, a retained message, a message that
//! fails on every try, a flood) is rejected, limited or set aside, and the
//! messages after it, a victim's panic above all, are processed as if it had
//! never come. Floods go through a broker set up as `deploy/mosquitto` is:
//! with Mosquitto's default queue of 1,000 messages per client, the broker
//! itself drops what a flood pushes past that, whatever Vangnet does.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, Device, MosquittoServer, MqttClient, MqttQos, TestApp, eventually, redis_url,
    unique_name, workspace_binary,
};
use vangnet_proto::{Channel, TimestampMs};
use vangnet_server::store::{PartitionKey, PartitionStore};

fn order(id: &str, victim: &str, perpetrator: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [victim], "perpetrator_devices": [perpetrator],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": []
    })
}

fn now_ms() -> u64 {
    TimestampMs::now().millis()
}

fn panic_alarm(seq: u64) -> String {
    json!({"seq": seq, "ts": now_ms(), "kind": "panic"}).to_string()
}

fn fix(seq: u64) -> String {
    json!({"seq": seq, "ts": now_ms(), "lat": 51.9225, "lon": 4.4792, "acc": 5.0}).to_string()
}

async fn app_with_two_orders() -> TestApp {
    app_with_two_orders_on(AppOptions::default()).await
}

async fn app_with_two_orders_on(options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app.put_order(order("o-1", "v-1", "p-1")).await;
    app.put_order(order("o-2", "v-2", "p-2")).await;
    app
}

/// The next `ack` the device receives within 5 s.
async fn receipt(device: &mut Device) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match device.next_downlink(left).await {
            Some(message) if message.topic.ends_with("/ack") => return message.json(),
            Some(_) => continue,
            None => break,
        }
    }
    panic!("no receipt within 5 s");
}

async fn assert_ready(app: &TestApp) {
    assert_eq!(app.get("/readyz").await.status(), 200, "/readyz");
}

/// Makes an order's stored state unreadable: its version is no number.
fn corrupt_state(app: &TestApp, order: &str) {
    tamper_with_state(app, order, |redis, key| {
        let _: () = redis::cmd("HSET")
            .arg(key)
            .arg("version")
            .arg("not a number")
            .query(redis)
            .unwrap();
    });
}

/// The perpetrator of order o-1, once the order's state is stored and then made unreadable.
async fn perpetrator_of_an_unreadable_order(app: &TestApp) -> Device {
    let mut perpetrator = app.device("p-1").await;
    perpetrator
        .send(Channel::Alarm, panic_alarm_kind(1, "tamper"))
        .await;
    assert_eq!(
        receipt(&mut perpetrator).await["seq"],
        1,
        "the order's state stored"
    );
    corrupt_state(app, "o-1");
    perpetrator
}

/// Waits for a message set aside for `reason`, then checks the service is still ready.
async fn assert_set_aside(app: &TestApp, reason: &str, wait: Duration) {
    let sample = format!("vangnet_set_aside_messages_total{{reason=\"{reason}\"}}");
    eventually(wait, &sample, || async { app.metric(&sample).await >= 1.0 })
        .await
        .unwrap();
    assert_ready(app).await;
}

/// The victim presses panic; the receipt must come within a second.
async fn assert_receipt_within_a_second(victim: &mut Device) {
    let sent = Instant::now();
    victim.send(Channel::Alarm, panic_alarm(1)).await;
    let ack = receipt(victim).await;
    assert_eq!(ack["seq"], 1);
    let waited = sent.elapsed();
    assert!(waited < Duration::from_secs(1), "receipt after {waited:?}");
}

/// Overwrites a partition's stored state in Redis with `f`.
fn tamper_with_state(app: &TestApp, order: &str, f: impl FnOnce(&mut redis::Connection, &str)) {
    let mut redis = redis::Client::open(redis_url())
        .and_then(|client| client.get_connection())
        .unwrap();
    let key = format!("{}:{{p:o.{order}}}:state", app.store_prefix);
    f(&mut redis, &key);
}

#[tokio::test]
async fn a_two_mebibyte_alarm_is_rejected_and_the_next_panic_is_acknowledged() {
    let broker = MosquittoServer::unlimited();
    let app =
        app_with_two_orders_on(AppOptions::default().env("VANGNET_MQTT_URL", broker.url())).await;
    let perpetrator = app.device("p-1").await;
    let mut victim = app.device("v-1").await;

    perpetrator
        .send(Channel::Alarm, vec![b' '; 2 * 1024 * 1024])
        .await;
    victim.send(Channel::Alarm, panic_alarm(1)).await;

    let ack = receipt(&mut victim).await;
    assert_eq!(ack["seq"], 1);
    eventually(
        Duration::from_secs(5),
        "the giant message counted",
        || async {
            app.metric("vangnet_rejected_messages_total{reason=\"too_large\"}")
                .await
                >= 1.0
        },
    )
    .await
    .unwrap();
    assert_ready(&app).await;
}

#[tokio::test]
async fn a_retained_alarm_is_ignored_and_counted() {
    let prefix = unique_name("vangnet-retained");
    let topic = format!("{prefix}/devices/v-9/alarm");
    let mut planter = MqttClient::connect(&unique_name("planter")).await;
    planter.publish_retained(&topic, panic_alarm(1)).await;
    planter.subscribe(&topic).await;
    assert!(
        planter.next(Duration::from_secs(5)).await.is_some(),
        "the broker holds the retained alarm"
    );

    let app = TestApp::spawn_with(AppOptions {
        prefixes: Some((prefix, unique_name("vangnet-retained-store"))),
        ..AppOptions::default()
    })
    .await;
    app.wait_until_ready().await;

    let counted = eventually(
        Duration::from_secs(5),
        "the retained alarm counted",
        || async {
            app.metric("vangnet_rejected_messages_total{reason=\"retained\"}")
                .await
                >= 1.0
        },
    )
    .await;
    planter.publish_retained(&topic, Vec::new()).await;
    counted.unwrap();
    let unassigned = app.store().alerts(&PartitionKey::Unassigned).await.unwrap();
    assert!(unassigned.is_empty(), "raised: {unassigned:?}");
}

#[tokio::test]
async fn a_message_whose_order_state_is_unreadable_is_set_aside_and_the_lane_goes_on() {
    let app = app_with_two_orders().await;
    let mut other_victim = app.device("v-2").await;
    let perpetrator = perpetrator_of_an_unreadable_order(&app).await;

    perpetrator
        .send(Channel::Alarm, panic_alarm_kind(2, "tamper"))
        .await;
    other_victim.send(Channel::Alarm, panic_alarm(1)).await;

    assert_eq!(receipt(&mut other_victim).await["seq"], 1);
    assert_set_aside(&app, "corrupt_state", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_operator_lists_the_set_aside_messages_newest_first() {
    let app = app_with_two_orders().await;
    let perpetrator = perpetrator_of_an_unreadable_order(&app).await;
    perpetrator
        .send(Channel::Alarm, panic_alarm_kind(2, "strap_open"))
        .await;
    perpetrator
        .send(Channel::Alarm, panic_alarm_kind(3, "separation"))
        .await;
    let sample = "vangnet_set_aside_messages_total{reason=\"corrupt_state\"}";
    eventually(Duration::from_secs(10), sample, || async {
        app.metric(sample).await >= 2.0
    })
    .await
    .unwrap();

    let output = std::process::Command::new(workspace_binary("vangnet"))
        .args(["set-aside", "--limit", "10"])
        .env("VANGNET_STORE", redis_url())
        .env("VANGNET_STORE_PREFIX", &app.store_prefix)
        .output()
        .unwrap();

    assert!(output.status.success(), "{output:?}");
    let listed: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<String> = listed
        .iter()
        .map(|message| {
            assert_eq!(message["reason"], "corrupt_state");
            let topic = message["topic"].as_str().unwrap();
            assert!(topic.ends_with("/devices/p-1/alarm"), "{topic}");
            let payload = hex::decode(message["payload_hex"].as_str().unwrap()).unwrap();
            let payload: Value = serde_json::from_slice(&payload).unwrap();
            payload["kind"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(kinds, ["separation", "strap_open"]);
}

fn panic_alarm_kind(seq: u64, kind: &str) -> String {
    json!({"seq": seq, "ts": now_ms(), "kind": kind}).to_string()
}

#[tokio::test]
async fn a_panic_whose_order_state_is_unreadable_is_raised_as_unassigned() {
    let app = app_with_two_orders().await;
    let mut victim = app.device("v-1").await;
    victim.send(Channel::Loc, fix(1)).await;
    eventually(
        Duration::from_secs(5),
        "the order's state stored",
        || async { app.metric("vangnet_messages_total{kind=\"loc\"}").await >= 1.0 },
    )
    .await
    .unwrap();
    corrupt_state(&app, "o-1");

    victim.send(Channel::Alarm, panic_alarm(2)).await;

    assert_eq!(receipt(&mut victim).await["seq"], 2);
    let unassigned = app.store().alerts(&PartitionKey::Unassigned).await.unwrap();
    let kinds: Vec<_> = unassigned
        .iter()
        .map(|alert| serde_json::to_value(alert).unwrap()["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("panic_unassigned")]);
}

#[tokio::test]
async fn a_commit_redis_refuses_every_time_is_set_aside_and_the_lane_goes_on() {
    let app = app_with_two_orders().await;
    let mut other_victim = app.device("v-2").await;
    let perpetrator = app.device("p-1").await;
    tamper_with_state(&app, "o-1", |redis, key| {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("a string where a hash belongs")
            .query(redis)
            .unwrap();
    });

    perpetrator
        .send(Channel::Alarm, panic_alarm_kind(1, "tamper"))
        .await;
    other_victim.send(Channel::Alarm, panic_alarm(1)).await;

    assert_eq!(receipt(&mut other_victim).await["seq"], 1);
    assert_set_aside(&app, "store_refused", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_flood_of_panics_from_unknown_devices_does_not_delay_a_real_panic() {
    let broker = MosquittoServer::deployed();
    let app =
        app_with_two_orders_on(AppOptions::default().env("VANGNET_MQTT_URL", broker.url())).await;
    let mut victim = app.device("v-1").await;
    let flooder = MqttClient::connect_to(&app.broker(), &unique_name("flooder")).await;
    for n in 0..5000 {
        let topic = format!("{}/devices/nobody-{n}/alarm", app.topics.prefix());
        flooder
            .publish(&topic, MqttQos::AtLeastOnce, panic_alarm(1))
            .await;
    }

    assert_receipt_within_a_second(&mut victim).await;
}

#[tokio::test]
async fn a_flood_of_alarms_from_the_perpetrator_does_not_delay_the_victims_panic() {
    let broker = MosquittoServer::deployed();
    let app =
        app_with_two_orders_on(AppOptions::default().env("VANGNET_MQTT_URL", broker.url())).await;
    let mut victim = app.device("v-1").await;
    let perpetrator = app.device("p-1").await;
    for seq in 1..=3000 {
        perpetrator
            .send(Channel::Alarm, panic_alarm_kind(seq, "tamper"))
            .await;
    }

    assert_receipt_within_a_second(&mut victim).await;
}

/// Which of Vangnet's four alarm-lane workers takes messages on `topic`
/// (the lane hands them out by the topic's hash, so one device's messages
/// stay in order).
fn alarm_worker(topic: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    topic.hash(&mut hasher);
    hasher.finish() % 4
}

#[tokio::test]
async fn a_tag_flooding_panics_does_not_delay_a_victim_whose_messages_share_its_worker() {
    let broker = MosquittoServer::deployed();
    let app =
        TestApp::spawn_with(AppOptions::default().env("VANGNET_MQTT_URL", broker.url())).await;
    app.wait_until_ready().await;
    let alarm_topic = |device: &str| format!("{}/devices/{device}/alarm", app.topics.prefix());
    let flooder_worker = alarm_worker(&alarm_topic("p-1"));
    let neighbour = (0..)
        .map(|n| format!("v-{n}"))
        .find(|device| alarm_worker(&alarm_topic(device)) == flooder_worker)
        .unwrap();
    app.put_order(order("o-1", "v-other", "p-1")).await;
    app.put_order(order("o-2", &neighbour, "p-2")).await;
    let mut victim = app.device(&neighbour).await;
    let perpetrator = app.device("p-1").await;
    for seq in 1..=3000 {
        perpetrator.send(Channel::Alarm, panic_alarm(seq)).await;
    }

    assert_receipt_within_a_second(&mut victim).await;
}
