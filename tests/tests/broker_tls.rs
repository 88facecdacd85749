//! Vangnet and its devices on a broker set up as `deploy/mosquitto/production.conf`
//! sets it up: TLS only, a password for every client, and an ACL that lets a
//! device speak only for itself and only Vangnet speak to devices. Vangnet
//! takes the broker's CA from `VANGNET_MQTT_CA_FILE` and its password from
//! `VANGNET_MQTT_PASSWORD_FILE`, and shows no secret in an error line.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, MosquittoServer, MqttClient, MqttQos, Pki, TestApp, run_vangnet, unique_name,
    workspace_binary,
};
use vangnet_proto::{OrderId, TimestampMs};
use vangnet_server::store::{PartitionKey, PartitionStore};

const VANGNET_PASSWORD: &str = "correct horse battery staple";

/// Device ids and their passwords.
const DEVICES: [(&str, &str); 3] = [
    ("v-1", "victim-1-secret"),
    ("p-1", "perpetrator-1-secret"),
    ("v-2", "victim-2-secret"),
];

/// A production broker with Vangnet's account and the devices', and the topic root it guards.
struct Production {
    pki: Pki,
    broker: MosquittoServer,
    prefix: String,
}

impl Production {
    fn start() -> Self {
        let mut users = vec![("vangnet", VANGNET_PASSWORD)];
        users.extend(DEVICES);
        let pki = Pki::make(&users);
        pki.write("vangnet-password", &format!("{VANGNET_PASSWORD}\n"));
        pki.write("wrong-password", "not it\n");
        let prefix = format!("test/{}", unique_name("prod"));
        let broker = MosquittoServer::production(&pki, &prefix);
        Self {
            pki,
            broker,
            prefix,
        }
    }

    /// Vangnet's settings for this broker, its password read from `password_file`.
    fn vangnet(&self, password_file: &str) -> AppOptions {
        AppOptions {
            prefixes: Some((self.prefix.clone(), unique_name("vangnet-prod"))),
            ..AppOptions::default()
        }
        .env(
            "VANGNET_MQTT_URL",
            format!("mqtts://vangnet@localhost:{}", self.broker.port()),
        )
        .env("VANGNET_MQTT_CA_FILE", self.pki.path("ca.pem"))
        .env("VANGNET_MQTT_PASSWORD_FILE", self.pki.path(password_file))
    }

    /// `device` connected with its own credentials.
    async fn device(&self, device: &str) -> MqttClient {
        let password = DEVICES
            .iter()
            .find(|(id, _)| *id == device)
            .map(|(_, password)| *password)
            .unwrap_or_default();
        let url = format!(
            "mqtts://{device}:{password}@localhost:{}",
            self.broker.port()
        );
        MqttClient::try_connect(&url, &unique_name(device), Some(self.pki.ca_pem()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `client` publishes a panic (seq 1) on `device`'s alarm topic.
    async fn press_panic(&self, client: &MqttClient, device: &str) {
        client
            .publish(
                &self.topic(device, "alarm"),
                MqttQos::AtLeastOnce,
                panic_alarm(1),
            )
            .await;
    }

    fn topic(&self, device: &str, channel: &str) -> String {
        format!("{}/devices/{device}/{channel}", self.prefix)
    }
}

async fn ready_vangnet(production: &Production) -> TestApp {
    let app = TestApp::spawn_with(production.vangnet("vangnet-password")).await;
    app.wait_until_ready().await;
    for (order, victim, perpetrator) in [("o-1", "v-1", "p-1"), ("o-2", "v-2", "p-2")] {
        app.put_order(json!({
            "id": order, "region": "rotterdam", "exercise": false,
            "victim_devices": [victim], "perpetrator_devices": [perpetrator],
            "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
        }))
        .await;
    }
    app
}

fn panic_alarm(seq: u64) -> String {
    json!({"seq": seq, "ts": TimestampMs::now().millis(), "kind": "panic"}).to_string()
}

/// The next message `client` receives within 5 s, as JSON with its topic.
async fn next_message(client: &mut MqttClient) -> (String, Value) {
    let message = client
        .next(Duration::from_secs(5))
        .await
        .expect("a message within 5 s");
    let json = message.json();
    (message.topic, json)
}

#[tokio::test]
async fn vangnet_takes_a_panic_through_a_broker_it_reaches_over_tls_with_a_password() {
    let production = Production::start();
    let _app = ready_vangnet(&production).await;
    let mut victim = production.device("v-1").await;
    victim.subscribe(&production.topic("v-1", "ack")).await;

    production.press_panic(&victim, "v-1").await;

    let (topic, receipt) = next_message(&mut victim).await;
    assert!(topic.ends_with("/ack"), "{topic}");
    assert_eq!(receipt["seq"], 1);
}

#[tokio::test]
async fn vangnet_proves_itself_with_a_client_certificate_to_a_broker_that_wants_one() {
    let pki = Pki::make(&[("nobody", "unused")]);
    let (cert, key) = pki.client("vangnet");
    let tls_port = vangnet_e2e::free_port();
    let broker = MosquittoServer::start(&format!(
        "per_listener_settings true\nlistener {tls_port} 127.0.0.1\n\
         cafile {}\ncertfile {}\nkeyfile {}\n\
         require_certificate true\nuse_identity_as_username true\n",
        pki.path("ca.pem"),
        pki.path("server.pem"),
        pki.path("server.key"),
    ));
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_MQTT_URL", format!("mqtts://localhost:{tls_port}"))
            .env("VANGNET_MQTT_CA_FILE", pki.path("ca.pem"))
            .env("VANGNET_MQTT_CLIENT_CERT_FILE", cert)
            .env("VANGNET_MQTT_CLIENT_KEY_FILE", key),
    )
    .await;
    app.wait_until_ready().await;
    app.put_order(json!({
        "id": "o-1", "region": "rotterdam", "exercise": false,
        "victim_devices": ["v-1"], "perpetrator_devices": ["p-1"],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    }))
    .await;
    let mut victim = MqttClient::connect_to(&broker.url(), &unique_name("v-1")).await;
    let topic = |channel: &str| format!("{}/devices/v-1/{channel}", app.topics.prefix());
    victim.subscribe(&topic("ack")).await;

    victim
        .publish(&topic("alarm"), MqttQos::AtLeastOnce, panic_alarm(1))
        .await;

    let (_, receipt) = next_message(&mut victim).await;
    assert_eq!(receipt["seq"], 1);
}

#[tokio::test]
async fn a_wrong_password_keeps_vangnet_unready() {
    let production = Production::start();
    let app = TestApp::spawn_with(production.vangnet("wrong-password")).await;

    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        assert_eq!(app.get("/readyz").await.status(), 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_anonymous_client_is_refused() {
    let production = Production::start();
    let url = format!("mqtts://localhost:{}", production.broker.port());

    let refused = MqttClient::try_connect(&url, "anonymous", Some(production.pki.ca_pem())).await;

    assert!(refused.is_err());
}

#[tokio::test]
async fn a_device_cannot_raise_a_panic_for_another_device() {
    let production = Production::start();
    let app = ready_vangnet(&production).await;
    let perpetrator = production.device("p-1").await;
    let mut other_victim = production.device("v-2").await;
    other_victim
        .subscribe(&production.topic("v-2", "ack"))
        .await;

    production.press_panic(&perpetrator, "v-1").await;
    production.press_panic(&other_victim, "v-2").await;

    let (_, receipt) = next_message(&mut other_victim).await;
    assert_eq!(receipt["seq"], 1);
    assert_eq!(
        app.metric("vangnet_messages_total{kind=\"alarm\"}").await,
        1.0,
        "the forged panic reached Vangnet"
    );
    let partition = PartitionKey::Order(OrderId::new("o-1"));
    assert!(app.store().alerts(&partition).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_device_reads_no_other_devices_receipts_or_warnings() {
    let production = Production::start();
    let _app = ready_vangnet(&production).await;
    let mut eavesdropper = production.device("p-1").await;
    eavesdropper
        .subscribe(&production.topic("v-1", "ack"))
        .await;
    eavesdropper
        .subscribe(&production.topic("v-1", "cmd"))
        .await;
    let mut victim = production.device("v-1").await;
    victim.subscribe(&production.topic("v-1", "ack")).await;

    production.press_panic(&victim, "v-1").await;

    let (topic, _) = next_message(&mut victim).await;
    assert!(topic.ends_with("/ack"), "{topic}");
    assert!(
        eavesdropper
            .next(Duration::from_millis(500))
            .await
            .is_none(),
        "the perpetrator read the victim's receipt"
    );
}

#[tokio::test]
async fn a_device_cannot_forge_a_receipt_or_a_warning() {
    let production = Production::start();
    let _app = ready_vangnet(&production).await;
    let perpetrator = production.device("p-1").await;
    let mut victim = production.device("v-1").await;
    victim.subscribe(&production.topic("v-1", "ack")).await;
    victim.subscribe(&production.topic("v-1", "cmd")).await;
    let forged = json!({"seq": 1, "alert_ids": ["forged"], "ts": 1}).to_string();

    for channel in ["ack", "cmd"] {
        perpetrator
            .publish(
                &production.topic("v-1", channel),
                MqttQos::AtLeastOnce,
                forged.clone(),
            )
            .await;
    }
    production.press_panic(&victim, "v-1").await;

    let (topic, receipt) = next_message(&mut victim).await;
    assert!(topic.ends_with("/ack"), "{topic}");
    assert_ne!(
        receipt["alert_ids"],
        json!(["forged"]),
        "a forged receipt arrived"
    );
}

/// Runs `vangnet device ARGS` on the broker's password file; its standard output.
fn device_tool(production: &Production, args: &[&str]) -> String {
    let output = Command::new(workspace_binary("vangnet"))
        .arg("device")
        .args(args)
        .env(
            "VANGNET_DEVICE_PASSWORD_FILE",
            production.pki.path("passwords"),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vangnet device {args:?}: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn a_provisioned_device_gets_in_with_its_printed_password_and_a_removed_one_is_refused() {
    let production = Production::start();
    let printed = device_tool(&production, &["add", "v-9"]);
    let password = printed
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .expect("a password printed")
        .to_owned();
    assert!(
        device_tool(&production, &["list"])
            .lines()
            .any(|line| line == "v-9")
    );
    let url = format!(
        "mqtts://v-9:{password}@localhost:{}",
        production.broker.port()
    );
    production.broker.reload();
    assert!(
        settles_on(&production, &url, true).await,
        "the provisioned device was refused"
    );

    device_tool(&production, &["remove", "v-9"]);
    production.broker.reload();
    assert!(
        settles_on(&production, &url, false).await,
        "the removed device still got in"
    );
}

/// Whether connecting with `url` comes to succeed (or fail, as `getting_in`
/// says) within 5 s, while the broker reloads its password file.
async fn settles_on(production: &Production, url: &str, getting_in: bool) -> bool {
    for _ in 0..50 {
        let connected =
            MqttClient::try_connect(url, &unique_name("device"), Some(production.pki.ca_pem()))
                .await
                .is_ok();
        if connected == getting_in {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn an_unreadable_ca_file_is_bad_configuration_named_in_one_line() {
    let (status, stderr) = run_vangnet(
        &["serve"],
        &[
            ("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@localhost:8883"),
            ("VANGNET_MQTT_CA_FILE", "/nonexistent/ca.pem"),
        ],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_MQTT_CA_FILE"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_bad_broker_url_is_reported_without_its_password() {
    let (status, stderr) = run_vangnet(
        &["serve"],
        &[("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@/")],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_MQTT_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn help_shows_no_broker_password() {
    let output = Command::new(workspace_binary("vangnet"))
        .args(["serve", "--help"])
        .env("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@localhost:8883")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(help.contains("VANGNET_MQTT_URL"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}
