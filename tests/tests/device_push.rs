//! Warnings pushed to a device's phone (docs/app.md): a phone subscribes
//! with its device credentials and gets that device's warnings, encrypted
//! for it (RFC 8291), as the `cmd` says them: level and alert, never the
//! other party's position or distance; a perpetrator's phone gets nothing
//! of the victim's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, Browser, Push, PushService, TestApp, eventually};
use vangnet_proto::{Channel, TimestampMs};
use vangnet_server::devices::PasswordFile;
use vangnet_server::push::VapidKey;
use vangnet_server::store::{PushSubscription, PushSubscriptions};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const WAIT: Duration = Duration::from_secs(10);
const HOME: (f64, f64) = (51.9225, 4.4792);
/// About 500 m north of home: inside the zone's pre-alarm ring, outside the zone.
const NEAR_HOME: (f64, f64) = (51.9270, 4.4792);

/// A running Vangnet with Web Push and the device endpoint on, order `o-1`
/// (victim `v-1` with a home zone, perpetrator `p-1`), and a test push service.
struct Setup {
    app: TestApp,
    service: PushService,
    key: Option<VapidKey>,
    passwords: PathBuf,
    _dir: tempfile::TempDir,
}

fn order() -> Value {
    json!({
        "id": "o-1", "region": "rotterdam", "exercise": false,
        "victim_devices": ["v-1"], "perpetrator_devices": ["p-1"],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [HOME.1, HOME.0]},
                   "radius_m": 250, "prealarm_m": 750}]
    })
}

impl Setup {
    /// The push subscriptions in the store.
    async fn stored_subscriptions(&self) -> Vec<PushSubscription> {
        self.app.store().push_subscriptions().await.unwrap()
    }

    async fn start() -> Self {
        Self::start_with(true).await
    }

    /// With Web Push on when `push`.
    async fn start_with(push: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let passwords = dir.path().join("vangnet.passwd");
        std::fs::write(&passwords, "").unwrap();
        let mut options = AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env(
                "VANGNET_DEVICE_PASSWORD_FILE",
                passwords.display().to_string(),
            )
            .env("VANGNET_PUSH_INSECURE_HOSTS", "127.0.0.1");
        let mut key = None;
        if push {
            let path = dir.path().join("vapid.pem");
            key = Some(VapidKey::generate_into(&path, false).unwrap());
            options = options
                .env("VANGNET_VAPID_KEY_FILE", path.display().to_string())
                .env("VANGNET_VAPID_SUBJECT", "mailto:operator@vangnet.test");
        }
        let app = TestApp::spawn_with(options).await;
        app.wait_until_ready().await;
        app.put_order(order()).await;
        Self {
            app,
            service: PushService::start(),
            key,
            passwords,
            _dir: dir,
        }
    }

    /// Issues credentials to `device`, as `vangnet device add` does; returns its password.
    fn issue(&self, device: &str) -> String {
        let mut file = PasswordFile::open(&self.passwords).unwrap();
        let password = file.add(device).unwrap();
        file.save().unwrap();
        password
    }

    /// Gives `device` a new password, as `vangnet device rotate` does.
    fn rotate(&self, device: &str) {
        let mut file = PasswordFile::open(&self.passwords).unwrap();
        file.rotate(device).unwrap();
        file.save().unwrap();
    }

    /// `method` on a device path as `user:password`; the status and JSON answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        (user, password): (&str, &str),
        body: Option<String>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, self.app.url(path))
            .basic_auth(user, Some(password));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Subscribes a new phone of `device` at the endpoint `name`.
    async fn subscribed(&self, device: &str, password: &str, name: &str) -> (Browser, String) {
        let browser = Browser::new();
        let endpoint = self.service.endpoint(name);
        let body = browser.subscription(&endpoint).to_string();
        let (status, answer) = self.subscribe_as((device, password), body).await;
        assert_eq!(status, 204, "{answer}");
        (browser, endpoint)
    }

    async fn subscribe_as(&self, auth: (&str, &str), body: String) -> (u16, Value) {
        self.call(
            Method::POST,
            "/device/v1/push-subscription",
            auth,
            Some(body),
        )
        .await
    }

    /// `p-1` sends a fix at `(lat, lon)` taken `ago_s` seconds ago.
    async fn perpetrator_at(&self, seq: u64, (lat, lon): (f64, f64), ago_s: u64) {
        let ts = TimestampMs::now().millis() - ago_s * 1000;
        let fix = json!({"seq": seq, "ts": ts, "lat": lat, "lon": lon, "acc": 5.0});
        let perpetrator = self.app.device("p-1").await;
        perpetrator.send(Channel::Loc, fix.to_string()).await;
    }

    /// The id of the order's alert of `kind`, once there is one.
    async fn alert_of(&self, kind: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, page) = self
                .app
                .call(Method::GET, "/api/v1/alerts", Some(&admin()), None)
                .await;
            let found = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["kind"] == kind);
            if let Some(alert) = found {
                return alert["alert_id"].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "no {kind} within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn admin() -> String {
    vangnet_e2e::token_for(SECRET, vangnet_proto::token::Role::Admin, &["*"])
}

async fn pushes(service: &PushService, endpoint: &str, count: usize) -> Vec<Push> {
    service.pushes_at_least(endpoint, count, WAIT).await
}

/// The decrypted notice of `push`, checked to carry no position or distance.
fn notice(browser: &Browser, push: &Push) -> Value {
    let text = String::from_utf8(browser.decrypt(&push.body)).unwrap();
    for leak in [
        "lat", "lon", "distance", "zone", "geometry", "p-1", "v-1", "o-1",
    ] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    let bytes = text.as_bytes();
    let decimal = bytes
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit());
    assert!(!decimal, "a decimal number in {text}");
    let notice: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<_> = notice.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["alert_id", "body", "kind", "level", "title", "ts"]);
    notice
}

#[tokio::test]
async fn a_victims_phone_is_warned_when_the_perpetrator_enters_her_home_zone_without_where_he_is() {
    let setup = Setup::start().await;
    let victim = setup.issue("v-1");
    let (status, key) = setup
        .call(Method::GET, "/device/v1/push-key", ("v-1", &victim), None)
        .await;
    assert_eq!(status, 200, "{key}");
    let expected = setup.key.as_ref().unwrap().public_key();
    assert_eq!(key["public_key"], expected.as_str());
    let (phone, endpoint) = setup.subscribed("v-1", &victim, "victim").await;

    setup.perpetrator_at(1, HOME, 0).await;

    let alert_id = setup.alert_of("zone_alarm").await;
    let received = &pushes(&setup.service, &endpoint, 1).await[0];
    let warning = notice(&phone, received);
    assert_eq!(warning["kind"], "warning");
    assert_eq!(warning["level"], "alarm");
    assert_eq!(warning["alert_id"], alert_id.as_str());
    assert_eq!(warning["title"], "Alarm: go to a safe place");
    assert_eq!(received.headers["urgency"], "high");
    assert_eq!(received.headers["ttl"], "300");
    assert_eq!(received.headers["topic"].len(), 32);
}

#[tokio::test]
async fn a_perpetrators_phone_gets_his_own_warning_and_nothing_of_the_victims() {
    let setup = Setup::start().await;
    let (victim, perpetrator) = (setup.issue("v-1"), setup.issue("p-1"));
    let (_, victims) = setup.subscribed("v-1", &victim, "victim").await;
    let (phone, endpoint) = setup.subscribed("p-1", &perpetrator, "perpetrator").await;

    setup.perpetrator_at(1, NEAR_HOME, 120).await;
    let prealarm = setup.alert_of("zone_prealarm").await;
    let first = &pushes(&setup.service, &endpoint, 1).await[0];
    setup.perpetrator_at(2, HOME, 30).await;
    setup.perpetrator_at(3, HOME, 0).await;
    let alarm = setup.alert_of("zone_alarm").await;
    pushes(&setup.service, &victims, 1).await;

    let warning = notice(&phone, first);
    assert_eq!(warning["level"], "prealarm");
    assert_eq!(warning["alert_id"], prealarm.as_str());
    for push in setup.service.pushes_to(&endpoint) {
        let warning = notice(&phone, &push);
        assert_ne!(warning["level"], "alarm");
        assert_ne!(warning["alert_id"], alarm.as_str());
    }
}

#[tokio::test]
async fn a_push_service_answering_410_removes_the_phones_subscription() {
    let setup = Setup::start().await;
    let victim = setup.issue("v-1");
    let (_, endpoint) = setup.subscribed("v-1", &victim, "gone").await;
    setup.service.answer(410);

    setup.perpetrator_at(1, HOME, 0).await;

    pushes(&setup.service, &endpoint, 1).await;
    eventually(WAIT, "the subscription being removed", || async {
        setup.stored_subscriptions().await.is_empty()
    })
    .await
    .unwrap();
    let gone = setup
        .app
        .metric("vangnet_device_push_total{outcome=\"gone\"}")
        .await;
    assert_eq!(gone, 1.0);
}

#[tokio::test]
async fn a_phone_whose_credentials_were_replaced_is_not_pushed_to() {
    let setup = Setup::start().await;
    let old = setup.issue("v-1");
    let (_, endpoint) = setup.subscribed("v-1", &old, "stolen").await;
    setup.rotate("v-1");

    setup.perpetrator_at(1, HOME, 0).await;

    setup.alert_of("zone_alarm").await;
    eventually(WAIT, "the subscription being removed", || async {
        setup.stored_subscriptions().await.is_empty()
    })
    .await
    .unwrap();
    assert!(setup.service.pushes_to(&endpoint).is_empty());
}

#[tokio::test]
async fn a_new_subscription_replaces_the_devices_old_one_and_delete_removes_it() {
    let setup = Setup::start().await;
    let victim = setup.issue("v-1");
    setup.subscribed("v-1", &victim, "old").await;
    let (_, new) = setup.subscribed("v-1", &victim, "new").await;

    let stored = setup.stored_subscriptions().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].endpoint, new);

    let (status, _) = setup
        .call(
            Method::DELETE,
            "/device/v1/push-subscription",
            ("v-1", &victim),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(setup.stored_subscriptions().await.is_empty());
}

#[tokio::test]
async fn bad_subscriptions_wrong_credentials_and_other_methods_are_refused() {
    let setup = Setup::start().await;
    let victim = setup.issue("v-1");
    let good = Browser::new().subscription(&setup.service.endpoint("x"));
    let mut no_auth = good.clone();
    no_auth["keys"].as_object_mut().unwrap().remove("auth");

    for (body, field) in [
        (no_auth.to_string(), "keys"),
        (json!({"endpoint": 7}).to_string(), "endpoint"),
        (
            Browser::new()
                .subscription("http://push.example/a")
                .to_string(),
            "endpoint",
        ),
        ("not json".to_owned(), "body"),
    ] {
        let (status, answer) = setup.subscribe_as(("v-1", &victim), body).await;
        assert_eq!(status, 400, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with(field), "{error}");
    }
    let (status, _) = setup.subscribe_as(("v-1", "wrong"), good.to_string()).await;
    assert_eq!(status, 401);
    let (status, _) = setup
        .call(Method::GET, "/device/v1/push-key", ("v-1", "wrong"), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = setup
        .call(
            Method::GET,
            "/device/v1/push-subscription",
            ("v-1", &victim),
            None,
        )
        .await;
    assert_eq!(status, 405);
    assert!(setup.stored_subscriptions().await.is_empty());
}

#[tokio::test]
async fn device_push_answers_404_when_web_push_is_off() {
    let setup = Setup::start_with(false).await;
    let victim = setup.issue("v-1");
    let body = Browser::new().subscription(&setup.service.endpoint("x"));

    let (status, answer) = setup.subscribe_as(("v-1", &victim), body.to_string()).await;
    assert_eq!(status, 404);
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("Web Push is not configured"), "{error}");
    let (status, _) = setup
        .call(Method::GET, "/device/v1/push-key", ("v-1", &victim), None)
        .await;
    assert_eq!(status, 404);
}
