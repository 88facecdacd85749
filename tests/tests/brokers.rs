//! The brokers Vangnet is run against (docs/brokers.md): on each, a panic is
//! acknowledged to its device and reaches dispatch, an alarm sent while
//! Vangnet is down is handled once it is back, and several instances share
//! the work without handling an alert twice — through a shared subscription
//! where the broker has them, by each instance taking every message where it
//! has not. What each does with a device id holding a dot is shown too.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, Device, MqttClient, Sink, SinkRequest, TestApp, unique_name};
use vangnet_proto::{Channel, OrderId, TimestampMs, Topics};
use vangnet_server::store::{PartitionKey, PartitionStore};

/// Orders, and so victims pressing panic, in the tests of several instances.
const VICTIMS: usize = 6;

fn order(id: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

fn panic_alarm() -> String {
    json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string()
}

/// Starts Vangnet against `broker`, dispatching to `sink`, and waits until it is ready.
async fn vangnet_on(broker: &str, sink: &Sink, options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(
        options
            .env("VANGNET_MQTT_URL", broker)
            .env("VANGNET_DISPATCH_URL", sink.url()),
    )
    .await;
    app.wait_until_ready().await;
    app
}

/// The alert id of the next receipt `device` gets within `wait`.
async fn receipt(device: &mut Device, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = device
            .next_downlink(left)
            .await
            .unwrap_or_else(|| panic!("no receipt for {} within {wait:?}", device.id));
        if message.topic.ends_with("/ack") {
            let ack = message.json();
            return ack["alert_ids"][0]
                .as_str()
                .unwrap_or_else(|| panic!("a receipt without alert id: {ack}"))
                .to_owned();
        }
    }
}

/// Everything the sink was sent, once it holds requests for all of `alert_ids`.
async fn dispatched(sink: &Sink, alert_ids: &BTreeSet<String>) -> Vec<SinkRequest> {
    let wait = Duration::from_secs(10);
    let deadline = Instant::now() + wait;
    loop {
        let delivered = sink.delivered();
        let seen: BTreeSet<String> = delivered
            .iter()
            .filter_map(|r| r.json()["alert_id"].as_str().map(str::to_owned))
            .collect();
        if alert_ids.is_subset(&seen) {
            return delivered;
        }
        assert!(
            Instant::now() < deadline,
            "dispatch got {seen:?}, not all of {alert_ids:?}, within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client outside Vangnet that sees every alarm of `app`'s devices, to
/// show that the broker took and routed one.
async fn alarm_watcher(broker: &str, app: &TestApp) -> MqttClient {
    let mut watcher = MqttClient::connect_to(broker, &unique_name("watcher")).await;
    watcher
        .subscribe(&app.topics.uplink_filter(Channel::Alarm))
        .await;
    watcher
}

async fn sees_an_alarm(watcher: &mut MqttClient) {
    watcher
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("the broker routed no alarm within 5 s"));
}

async fn panic_alerts(app: &TestApp, order: &str) -> Vec<Value> {
    let partition = PartitionKey::Order(OrderId::new(order));
    let alerts = app.store().alerts(&partition).await.unwrap();
    alerts
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .filter(|a| a["kind"] == "panic")
        .collect()
}

const ALARMS: &str = "vangnet_messages_total{kind=\"alarm\"}";

/// A panic gets its receipt on the device's `ack` topic, and its alert reaches dispatch.
async fn panic_is_acknowledged_and_dispatched(broker: &str) {
    let sink = Sink::start().await;
    let app = vangnet_on(broker, &sink, AppOptions::default()).await;
    app.put_order(order("b-1")).await;
    let mut victim = app.device("b-1-v").await;

    victim.send(Channel::Alarm, panic_alarm()).await;

    let alert_id = receipt(&mut victim, Duration::from_secs(5)).await;
    let delivered = dispatched(&sink, &BTreeSet::from([alert_id])).await;
    assert_eq!(delivered[0].json()["kind"], "panic");
}

/// The broker keeps Vangnet's persistent session while it is down: an alarm
/// sent meanwhile is handled once it is back.
async fn alarm_sent_while_down_is_handled_after_a_restart(broker: &str) {
    let sink = Sink::start().await;
    let mut app = vangnet_on(broker, &sink, AppOptions::default()).await;
    app.put_order(order("b-2")).await;
    let mut victim = app.device("b-2-v").await;
    let mut watcher = alarm_watcher(broker, &app).await;
    let status = app.terminate();
    assert!(status.success(), "{status:?}");

    victim.send(Channel::Alarm, panic_alarm()).await;
    sees_an_alarm(&mut watcher).await;
    app.restart().await;

    let alert_id = receipt(&mut victim, Duration::from_secs(15)).await;
    dispatched(&sink, &BTreeSet::from([alert_id])).await;
}

/// Two instances of one deployment, `first` and `second`, each with `options`.
async fn two_instances(
    broker: &str,
    sink: &Sink,
    options: impl Fn(&str) -> AppOptions,
) -> (TestApp, TestApp) {
    let first = vangnet_on(broker, sink, options("first")).await;
    let second = vangnet_on(broker, sink, options("second").same_deployment_as(&first)).await;
    let orders: Vec<Value> = (0..VICTIMS).map(|i| order(&format!("s-{i}"))).collect();
    first.put_orders(orders).await;
    vangnet_e2e::eventually(
        Duration::from_secs(10),
        "the second instance loading the orders",
        || async { second.metric("vangnet_orders").await >= VICTIMS as f64 },
    )
    .await
    .unwrap();
    (first, second)
}

/// Every victim presses panic once; each victim, with the alert id of its receipt.
async fn every_victim_presses_panic(app: &TestApp) -> Vec<(Device, String)> {
    let mut victims = Vec::new();
    for i in 0..VICTIMS {
        victims.push(app.device(&format!("s-{i}-v")).await);
    }
    for victim in &victims {
        victim.send(Channel::Alarm, panic_alarm()).await;
    }
    let mut receipts = Vec::new();
    for mut victim in victims {
        let alert_id = receipt(&mut victim, Duration::from_secs(10)).await;
        receipts.push((victim, alert_id));
    }
    receipts
}

fn alert_ids(receipts: &[(Device, String)]) -> BTreeSet<String> {
    receipts.iter().map(|(_, id)| id.clone()).collect()
}

/// Each victim's panic is one alert, dispatched once per revision.
async fn one_alert_per_panic(app: &TestApp, sink: &Sink, alert_ids: &BTreeSet<String>) {
    assert_eq!(alert_ids.len(), VICTIMS, "one alert per victim");
    for i in 0..VICTIMS {
        let alerts = panic_alerts(app, &format!("s-{i}")).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["count"], 1, "the one press counted once");
    }
    let delivered = dispatched(sink, alert_ids).await;
    let keys: BTreeSet<_> = delivered
        .iter()
        .filter_map(|r| r.headers.get("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), VICTIMS, "one revision per alert: {keys:?}");
}

/// Two instances in one `$share` group: each alarm goes to one of them, both
/// take a share, and no alert is opened twice.
async fn a_shared_group_splits_the_alarms(broker: &str) {
    let sink = Sink::start().await;
    let group = unique_name("group");
    let (first, second) = two_instances(broker, &sink, |instance| {
        AppOptions::default()
            .env("VANGNET_MQTT_SHARED_GROUP", group.clone())
            .env("VANGNET_INSTANCE_ID", instance)
    })
    .await;

    let receipts = every_victim_presses_panic(&first).await;

    one_alert_per_panic(&first, &sink, &alert_ids(&receipts)).await;
    let (a, b) = (first.metric(ALARMS).await, second.metric(ALARMS).await);
    assert!(a > 0.0 && b > 0.0, "both take a share: {a} and {b}");
    assert_eq!(a + b, VICTIMS as f64, "each alarm went to one instance");
}

/// On a broker without shared subscriptions, `$share/...` is granted as an
/// ordinary filter that no device topic matches: the instance reports ready
/// and hears nothing.
async fn a_shared_group_hears_nothing(broker: &str) {
    let sink = Sink::start().await;
    let app = vangnet_on(
        broker,
        &sink,
        AppOptions::default().env("VANGNET_MQTT_SHARED_GROUP", unique_name("group")),
    )
    .await;
    app.put_order(order("b-3")).await;
    let mut victim = app.device("b-3-v").await;
    let mut watcher = alarm_watcher(broker, &app).await;

    victim.send(Channel::Alarm, panic_alarm()).await;
    sees_an_alarm(&mut watcher).await;

    let answer = victim.next_downlink(Duration::from_secs(3)).await;
    assert!(answer.is_none(), "a receipt: {answer:?}");
    assert_eq!(app.metric(ALARMS).await, 0.0);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// Two instances without a group, each with a subscription of its own: both
/// take every alarm, and the store's versioned commits still open one alert
/// per panic and dispatch it once; each device gets a receipt from each.
async fn instances_without_a_group_each_take_every_alarm(broker: &str) {
    let sink = Sink::start().await;
    let (first, second) = two_instances(broker, &sink, |instance| {
        AppOptions::default().env("VANGNET_INSTANCE_ID", instance)
    })
    .await;

    let mut receipts = every_victim_presses_panic(&first).await;

    one_alert_per_panic(&first, &sink, &alert_ids(&receipts)).await;
    for (victim, alert_id) in &mut receipts {
        let again = receipt(victim, Duration::from_secs(10)).await;
        assert_eq!(&again, alert_id, "the second receipt names the same alert");
    }
    for app in [&first, &second] {
        vangnet_e2e::eventually(
            Duration::from_secs(10),
            "each instance taking every alarm",
            || async { app.metric(ALARMS).await == VICTIMS as f64 },
        )
        .await
        .unwrap();
    }
}

/// A topic tree of a test's own, for devices without a Vangnet.
fn own_topics() -> Topics {
    Topics::new(&format!("test/{}", unique_name("dots"))).unwrap()
}

/// Where a device id with a dot is heard: device `d.v` sends an alarm, and a
/// client subscribed to every device topic gets it on the topic returned.
async fn a_dotted_device_alarm_is_heard_on(broker: &str, topics: &Topics) -> String {
    let mut watcher = MqttClient::connect_to(broker, &unique_name("watcher")).await;
    watcher
        .subscribe(&format!("{}/devices/#", topics.prefix()))
        .await;
    let device = Device::connect_to(broker, topics.clone(), "d.v").await;
    device.send(Channel::Alarm, panic_alarm()).await;
    watcher
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("the broker routed no alarm within 5 s"))
        .topic
}

mod mosquitto {
    use vangnet_e2e::MosquittoServer;

    #[tokio::test]
    async fn a_panic_is_acknowledged_and_dispatched() {
        let broker = MosquittoServer::unlimited();
        super::panic_is_acknowledged_and_dispatched(&broker.url()).await;
    }

    #[tokio::test]
    async fn an_alarm_sent_while_vangnet_is_down_is_handled_after_a_restart() {
        let broker = MosquittoServer::unlimited();
        super::alarm_sent_while_down_is_handled_after_a_restart(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_shared_group_splits_the_alarms_between_two_instances() {
        let broker = MosquittoServer::unlimited();
        super::a_shared_group_splits_the_alarms(&broker.url()).await;
    }

    #[tokio::test]
    async fn instances_without_a_group_each_take_every_alarm_and_open_one_alert() {
        let broker = MosquittoServer::unlimited();
        super::instances_without_a_group_each_take_every_alarm(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_dot_in_a_device_id_stays_part_of_its_topic_level() {
        let broker = MosquittoServer::unlimited();
        let topics = super::own_topics();

        let topic = super::a_dotted_device_alarm_is_heard_on(&broker.url(), &topics).await;

        let prefix = topics.prefix();
        assert_eq!(topic, format!("{prefix}/devices/d.v/alarm"));
    }
}

mod nats {
    use vangnet_e2e::{MqttClient, MqttQos, NatsServer, unique_name};

    #[tokio::test]
    async fn a_panic_is_acknowledged_and_dispatched() {
        let broker = NatsServer::start();
        super::panic_is_acknowledged_and_dispatched(&broker.url()).await;
    }

    #[tokio::test]
    async fn an_alarm_sent_while_vangnet_is_down_is_handled_after_a_restart() {
        let broker = NatsServer::start();
        super::alarm_sent_while_down_is_handled_after_a_restart(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_shared_group_is_granted_but_hears_nothing() {
        let broker = NatsServer::start();
        super::a_shared_group_hears_nothing(&broker.url()).await;
    }

    #[tokio::test]
    async fn instances_without_a_group_each_take_every_alarm_and_open_one_alert() {
        let broker = NatsServer::start();
        super::instances_without_a_group_each_take_every_alarm(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_dot_in_a_device_id_is_refused_by_the_broker() {
        let broker = NatsServer::start();
        let device = MqttClient::connect_to(&broker.url(), &unique_name("d.v")).await;
        let topic = format!("{}/devices/d.v/alarm", super::own_topics().prefix());

        device
            .publish(&topic, MqttQos::AtLeastOnce, super::panic_alarm())
            .await;

        let refusal = "characters ' ' and '.' not supported for MQTT topics";
        vangnet_e2e::eventually(
            std::time::Duration::from_secs(5),
            "the broker refusing the topic",
            || async { broker.log().contains(refusal) },
        )
        .await
        .unwrap();
    }
}

mod rabbitmq {
    use vangnet_e2e::RabbitMqServer;

    #[tokio::test]
    async fn a_panic_is_acknowledged_and_dispatched() {
        let broker = RabbitMqServer::shared();
        super::panic_is_acknowledged_and_dispatched(&broker.url()).await;
    }

    #[tokio::test]
    async fn an_alarm_sent_while_vangnet_is_down_is_handled_after_a_restart() {
        let broker = RabbitMqServer::shared();
        super::alarm_sent_while_down_is_handled_after_a_restart(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_shared_group_is_granted_but_hears_nothing() {
        let broker = RabbitMqServer::shared();
        super::a_shared_group_hears_nothing(&broker.url()).await;
    }

    #[tokio::test]
    async fn instances_without_a_group_each_take_every_alarm_and_open_one_alert() {
        let broker = RabbitMqServer::shared();
        super::instances_without_a_group_each_take_every_alarm(&broker.url()).await;
    }

    #[tokio::test]
    async fn a_dot_in_a_device_id_becomes_a_level_separator() {
        let broker = RabbitMqServer::shared();
        let topics = super::own_topics();

        let topic = super::a_dotted_device_alarm_is_heard_on(&broker.url(), &topics).await;

        let prefix = topics.prefix();
        assert_eq!(topic, format!("{prefix}/devices/d/v/alarm"));
    }
}
