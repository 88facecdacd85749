//! A phone is a device over HTTP: `POST /device/v1/{alarm,loc,status}` with
//! the credentials `vangnet device` issued, through the same ingest as MQTT.
//! The device is the one the credentials prove; guessing is throttled
//! without locking the victim out, and revoked credentials stop at once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, Sink, TestApp, eventually, run_vangnet, token_for, unique_name};
use vangnet_proto::TimestampMs;
use vangnet_proto::token::Role;
use vangnet_server::devices::PasswordFile;

const JWT_SECRET: &str = "device-http-test-secret-of-32-bytes!";

/// A running Vangnet with two orders (victim `v-1`/`v-2`, perpetrator
/// `p-1`/`p-2`), a dispatch sink, and a password file giving each device one.
struct Setup {
    app: TestApp,
    sink: Sink,
    passwords: PathBuf,
    _dir: TempDir,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn order(id: &str, victim: &str, perpetrator: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [victim], "perpetrator_devices": [perpetrator],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

impl Setup {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(unique_name("device-http"));
        std::fs::create_dir_all(&dir).unwrap();
        let passwords = dir.join("vangnet.passwd");
        let sink = Sink::start().await;
        let app = TestApp::spawn_with(
            AppOptions::default()
                .env("VANGNET_DISPATCH_URL", sink.url())
                .env("VANGNET_JWT_SECRET", JWT_SECRET)
                .env("VANGNET_DEVICE_PASSWORD_FILE", {
                    std::fs::write(&passwords, "").unwrap();
                    passwords.display().to_string()
                }),
        )
        .await;
        app.wait_until_ready().await;
        app.put_order(order("o-1", "v-1", "p-1")).await;
        app.put_order(order("o-2", "v-2", "p-2")).await;
        Self {
            app,
            sink,
            passwords,
            _dir: TempDir(dir),
        }
    }

    /// Issues credentials to `device`, as `vangnet device add` does; returns its password.
    fn issue(&self, device: &str) -> String {
        let mut file = PasswordFile::open(&self.passwords).unwrap();
        let password = file.add(device).unwrap();
        file.save().unwrap();
        password
    }

    /// GETs an API path as an admin.
    async fn get_api(&self, path: &str) -> (u16, Value) {
        let token = token_for(JWT_SECRET, Role::Admin, &["*"]);
        self.app
            .call(reqwest::Method::GET, path, Some(&token), None)
            .await
    }

    /// POSTs `body` to `/device/v1/{channel}` as `user:password`.
    async fn post(
        &self,
        channel: &str,
        auth: Option<(&str, &str)>,
        body: impl Into<String>,
    ) -> Reply {
        self.post_from(IpAddr::from([127, 0, 0, 1]), channel, auth, body)
            .await
    }

    /// As [`Setup::post`], from the client address `from` (any 127.0.0.0/8 address).
    async fn post_from(
        &self,
        from: IpAddr,
        channel: &str,
        auth: Option<(&str, &str)>,
        body: impl Into<String>,
    ) -> Reply {
        let client = reqwest::Client::builder()
            .local_address(from)
            .build()
            .unwrap();
        let mut request = client
            .post(self.app.url(&format!("/device/v1/{channel}")))
            .header("content-type", "application/json")
            .body(body.into());
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status(),
            challenge: header(&response, "www-authenticate"),
            retry_after: header(&response, "retry-after"),
            body: response.json().await.unwrap_or(Value::Null),
        }
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// What the endpoint answered.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

fn panic_alarm(seq: u64, ts: u64) -> String {
    json!({"seq": seq, "ts": ts, "kind": "panic"}).to_string()
}

fn now() -> u64 {
    TimestampMs::now().millis()
}

async fn deliveries(sink: &Sink, count: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(10),
        "deliveries to dispatch",
        || async { sink.delivered().len() >= count },
    )
    .await
    .unwrap();
    sink.delivered().iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn a_victims_panic_over_http_raises_a_p1_at_dispatch_and_answers_with_its_receipt() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");

    let reply = setup
        .post("alarm", Some(("v-1", &password)), panic_alarm(1, now()))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["seq"], 1);
    let alert_id = reply.body["alert_ids"][0].as_str().unwrap().to_owned();
    assert!(reply.body["ts"].as_u64().is_some());
    let delivered = &deliveries(&setup.sink, 1).await[0];
    assert_eq!(delivered["priority"], "P1");
    assert_eq!(delivered["kind"], "panic");
    assert_eq!(delivered["alert_id"], alert_id.as_str());
}

#[tokio::test]
async fn a_repeated_alarm_gets_its_receipt_again_and_raises_nothing_new() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let alarm = panic_alarm(7, now());
    let first = setup
        .post("alarm", Some(("v-1", &password)), alarm.clone())
        .await;
    deliveries(&setup.sink, 1).await;

    let again = setup.post("alarm", Some(("v-1", &password)), alarm).await;

    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.body["alert_ids"], first.body["alert_ids"]);
    let id = again.body["alert_ids"][0].as_str().unwrap();
    let (_, alert) = setup.get_api(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        (alert["count"].as_u64(), alert["revision"].as_u64()),
        (Some(1), Some(1)),
        "{alert}"
    );
}

#[tokio::test]
async fn the_receipt_of_an_alarm_over_http_also_goes_out_on_the_devices_ack_topic() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let mut listener = setup.app.device("v-1").await;

    let reply = setup
        .post("alarm", Some(("v-1", &password)), panic_alarm(3, now()))
        .await;

    let ack = listener
        .next_downlink(Duration::from_secs(5))
        .await
        .expect("a receipt on the ack topic");
    assert!(ack.topic.ends_with("/v-1/ack"), "{}", ack.topic);
    assert_eq!(ack.json(), reply.body);
}

#[tokio::test]
async fn a_panic_naming_another_device_lands_as_the_credentials_device() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    setup.issue("v-2");
    let as_other = json!({"seq": 1, "ts": now(), "kind": "panic", "device": "v-2"});

    let reply = setup
        .post("alarm", Some(("v-1", &password)), as_other.to_string())
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let delivered = &deliveries(&setup.sink, 1).await[0];
    assert_eq!(delivered["order_id"], "o-1");
    assert_eq!(delivered["alert_id"], reply.body["alert_ids"][0]);
    let (_, other) = setup.get_api("/api/v1/orders/o-2/state").await;
    assert_eq!(other["open_alerts"], json!([]), "{other}");
}

#[tokio::test]
async fn a_fix_naming_another_device_is_400_naming_the_field() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let fix = json!({"seq": 1, "ts": now(), "lat": 51.9, "lon": 4.4, "acc": 5.0, "device": "v-2"});

    let reply = setup
        .post("loc", Some(("v-1", &password)), fix.to_string())
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["error"].as_str().unwrap().contains("`device`"),
        "{reply:?}"
    );
    let counted = "vangnet_rejected_messages_total{reason=\"device_mismatch\"}";
    assert_eq!(setup.app.metric(counted).await, 1.0);
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_401_with_a_basic_challenge_and_counted() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");

    let wrong = setup
        .post(
            "alarm",
            Some(("v-1", "not-the-password")),
            panic_alarm(1, now()),
        )
        .await;
    let other_device = setup
        .post("alarm", Some(("v-2", &password)), panic_alarm(1, now()))
        .await;
    let missing = setup.post("alarm", None, panic_alarm(1, now())).await;

    for reply in [&wrong, &other_device, &missing] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
        assert_eq!(
            reply.challenge.as_deref(),
            Some("Basic realm=\"vangnet-device\"")
        );
    }
    let app = &setup.app;
    let wrong_count = app
        .metric("vangnet_device_auth_failures_total{reason=\"wrong\"}")
        .await;
    let missing_count = app
        .metric("vangnet_device_auth_failures_total{reason=\"missing\"}")
        .await;
    assert_eq!((wrong_count, missing_count), (2.0, 1.0));
    assert!(setup.sink.delivered().is_empty());
}

#[tokio::test]
async fn guessing_a_password_is_answered_429_with_retry_after() {
    let setup = Setup::start().await;
    setup.issue("v-1");
    let guesser = IpAddr::from([127, 0, 0, 2]);

    let mut statuses = Vec::new();
    for guess in 0..12 {
        let reply = setup
            .post_from(
                guesser,
                "loc",
                Some(("v-1", &format!("guess-{guess}"))),
                "{}",
            )
            .await;
        statuses.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = reply.retry_after.as_deref().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
    }

    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429; 2]);
}

#[tokio::test]
async fn guessing_at_a_victims_id_from_many_addresses_does_not_lock_her_phone_out() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    for guesser in 2..=4u8 {
        for guess in 0..10 {
            setup
                .post_from(
                    IpAddr::from([127, 0, 0, guesser]),
                    "loc",
                    Some(("v-1", &format!("guess-{guess}"))),
                    "{}",
                )
                .await;
        }
    }

    let phone = setup
        .post("alarm", Some(("v-1", &password)), panic_alarm(1, now()))
        .await;
    let next_guesser = IpAddr::from([127, 0, 0, 5]);
    let first_guess = setup
        .post_from(next_guesser, "loc", Some(("v-1", "guess")), "{}")
        .await;
    let second_guess = setup
        .post_from(next_guesser, "loc", Some(("v-1", "guess")), "{}")
        .await;

    assert_eq!(phone.status, StatusCode::OK, "{phone:?}");
    assert_eq!(first_guess.status, StatusCode::UNAUTHORIZED);
    assert_eq!(second_guess.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_removed_devices_credentials_stop_working_without_a_restart() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let heartbeat = || json!({"seq": 1, "ts": now(), "kind": "heartbeat"}).to_string();
    let before = setup
        .post("status", Some(("v-1", &password)), heartbeat())
        .await;

    remove_device(&setup.passwords, "v-1");
    let after = setup
        .post("status", Some(("v-1", &password)), heartbeat())
        .await;

    assert_eq!(before.status, StatusCode::ACCEPTED, "{before:?}");
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{after:?}");
}

fn remove_device(passwords: &Path, device: &str) {
    let file = passwords.display().to_string();
    let (status, stderr) =
        run_vangnet(&["device", "remove", device, "--password-file", &file], &[]);
    assert!(status.success(), "{stderr}");
}

#[tokio::test]
async fn a_fix_over_http_is_the_devices_latest_position() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let fix = json!({"seq": 1, "ts": now(), "lat": 51.9225, "lon": 4.4792, "acc": 8.0});

    let reply = setup
        .post("loc", Some(("v-1", &password)), fix.to_string())
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let (status, state) = setup.get_api("/api/v1/orders/o-1/state").await;
    assert_eq!(status, 200, "{state}");
    let victim = state["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "v-1")
        .unwrap();
    assert_eq!(victim["position"]["lat"], 51.9225, "{state}");
}

#[tokio::test]
async fn a_fix_from_a_device_in_no_order_is_403() {
    let setup = Setup::start().await;
    let password = setup.issue("stray-1");
    let fix = json!({"seq": 1, "ts": now(), "lat": 51.9, "lon": 4.4, "acc": 8.0});

    let reply = setup
        .post("loc", Some(("stray-1", &password)), fix.to_string())
        .await;

    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_problem_and_counted() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");

    let reply = setup
        .post("loc", Some(("v-1", &password)), "{\"seq\": 1,")
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["error"].as_str().unwrap().contains("JSON"),
        "{reply:?}"
    );
    let counted = "vangnet_rejected_messages_total{reason=\"not_json\"}";
    assert_eq!(setup.app.metric(counted).await, 1.0);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_and_counted() {
    let setup = Setup::start().await;
    let password = setup.issue("v-1");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(65 * 1024));

    let reply = setup.post("alarm", Some(("v-1", &password)), big).await;

    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let counted = "vangnet_rejected_messages_total{reason=\"too_large\"}";
    assert_eq!(setup.app.metric(counted).await, 1.0);
}

#[tokio::test]
async fn without_a_password_file_the_device_endpoint_answers_404_naming_the_setting() {
    let app = TestApp::spawn().await;

    let response = reqwest::Client::new()
        .post(app.url("/device/v1/alarm"))
        .basic_auth("v-1", Some("anything"))
        .body(panic_alarm(1, now()))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("VANGNET_DEVICE_PASSWORD_FILE"),
        "{body}"
    );
    let anonymous = reqwest::Client::new()
        .post(app.url("/device/v1/alarm"))
        .body(panic_alarm(2, now()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "credentials come first"
    );
}

#[test]
fn an_unreadable_password_file_stops_serve_with_exit_2_naming_it() {
    let (status, stderr) = run_vangnet(
        &["serve"],
        &[(
            "VANGNET_DEVICE_PASSWORD_FILE",
            "/nonexistent/vangnet.passwd",
        )],
    );

    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_DEVICE_PASSWORD_FILE"), "{stderr}");
}
