//! The victim's app (docs/app.md) in a real headless Chromium at a phone's
//! size: signing in with a device's credentials, the press-and-hold panic
//! button raising a P1 at dispatch with the phone's position, a short press
//! sending nothing, an alarm kept in the service worker's outbox while
//! Vangnet is down, and location sharing. Screenshots go to the screenshots
//! folder (see `vangnet_e2e::browser`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::browser::{Browser, PushTarget, WAIT};
use vangnet_e2e::{AppOptions, Sink, SinkRequest, TestApp, eventually, token_for};
use vangnet_proto::token::Role;
use vangnet_server::devices::PasswordFile;

const SECRET: &str = "app-browser-test-secret-of-32-bytes!";
const ORDER: &str = "o-app";
const VICTIM: &str = "v-app";
/// Where the phone says it is: near the order's home zone in Rotterdam.
const HERE: (f64, f64) = (51.9231, 4.4801);
/// How long the button must be held (`HOLD_MS` in server/app/app.js).
const HOLD: Duration = Duration::from_millis(1500);
const STATUS: &str = "#alarm-status";

/// A running Vangnet with a dispatch sink and an order whose victim device has credentials.
struct Setup {
    app: TestApp,
    sink: Sink,
    password: String,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let passwords: PathBuf = dir.path().join("vangnet.passwd");
        std::fs::write(&passwords, "").unwrap();
        let mut file = PasswordFile::open(&passwords).unwrap();
        let password = file.add(VICTIM).unwrap();
        file.save().unwrap();
        let sink = Sink::start().await;
        let app = TestApp::spawn_with(
            AppOptions::default()
                .env("VANGNET_DISPATCH_URL", sink.url())
                .env("VANGNET_JWT_SECRET", SECRET)
                .env(
                    "VANGNET_DEVICE_PASSWORD_FILE",
                    passwords.display().to_string(),
                ),
        )
        .await;
        app.wait_until_ready().await;
        app.put_order(json!({
            "id": ORDER, "region": "rotterdam", "exercise": false,
            "victim_devices": [VICTIM], "perpetrator_devices": ["p-app"],
            "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
            "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]}, "radius_m": 250, "prealarm_m": 750}]
        }))
        .await;
        Self {
            app,
            sink,
            password,
            _dir: dir,
        }
    }

    /// A phone of 390×844 that shares its location at [`HERE`], with the app open and signed in.
    /// A signed-in phone that may show notifications, and its service worker to push to.
    async fn phone_taking_pushes(&self) -> (Browser, PushTarget) {
        let phone = self.signed_in_phone().await;
        phone
            .cdp(
                "Browser.grantPermissions",
                json!({"origin": self.app.base_url, "permissions": ["geolocation", "notifications"]}),
            )
            .await;
        let warnings = phone
            .push_target(&self.app.base_url, &self.app.url("/app/"))
            .await;
        (phone, warnings)
    }

    async fn signed_in_phone(&self) -> Browser {
        let phone = Browser::start().await;
        phone.set_viewport(390, 844).await;
        phone
            .cdp(
                "Browser.grantPermissions",
                json!({"origin": self.app.base_url, "permissions": ["geolocation"]}),
            )
            .await;
        phone
            .cdp(
                "Emulation.setGeolocationOverride",
                json!({"latitude": HERE.0, "longitude": HERE.1, "accuracy": 12}),
            )
            .await;
        phone.goto(&self.app.url("/app/")).await;
        phone.fill("#device-id", VICTIM).await;
        phone.fill("#password", &self.password).await;
        phone.click("#sign-in-form button[type='submit']").await;
        phone.wait_for("#panic-button").await;
        phone
            .wait_until(
                WAIT,
                "the service worker active",
                "return navigator.serviceWorker.ready.then((r) => !!r.active);",
            )
            .await;
        phone
    }

    /// The order's state as an admin sees it.
    async fn order_state(&self) -> Value {
        let admin = token_for(SECRET, Role::Admin, &["*"]);
        let path = format!("/api/v1/orders/{ORDER}/state");
        let (status, state) = self
            .app
            .call(reqwest::Method::GET, &path, Some(&admin), None)
            .await;
        assert_eq!(status, 200, "{state}");
        state
    }

    /// The P1 panics dispatch has received.
    fn panics(&self) -> Vec<Value> {
        self.sink
            .delivered()
            .iter()
            .map(SinkRequest::json)
            .filter(|alert| alert["priority"] == "P1" && alert["kind"] == "panic")
            .collect()
    }

    /// Waits until dispatch has received a P1 panic; the first.
    async fn first_panic(&self, wait: Duration) -> Value {
        eventually(wait, "a P1 panic at dispatch", || async {
            !self.panics().is_empty()
        })
        .await
        .unwrap();
        self.panics().remove(0)
    }
}

/// Holds the panic button until the app has fired (its status says so), then lets go.
async fn hold_the_panic_button(phone: &Browser) {
    phone.press("#panic-button").await;
    phone
        .wait_until(
            HOLD + WAIT,
            "the alarm firing while the button is held",
            &format!("return document.querySelector('{STATUS}').textContent !== '';"),
        )
        .await;
    phone.release().await;
}

async fn wait_for_receipt(phone: &Browser, wait: Duration) {
    phone
        .wait_until(
            wait,
            "the receipt shown",
            &format!(
                "const s = document.querySelector('{STATUS}'); \
                 return s.className === 'received' && s.textContent.startsWith('Help is on its way');"
            ),
        )
        .await;
}

/// The alert ids of the receipt the app keeps.
async fn stored_receipt(phone: &Browser) -> Value {
    phone
        .js("return vangnetStore.get('receipt');", vec![])
        .await
}

#[tokio::test]
async fn holding_the_panic_button_raises_a_p1_at_dispatch_and_shows_help_is_on_its_way() {
    let setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    phone.wait_for("#location-status.on").await;
    phone.screenshot("app-390x844-signed-in").await;

    hold_the_panic_button(&phone).await;

    let panic = setup.first_panic(WAIT).await;
    assert_eq!(panic["order_id"], ORDER, "{panic}");
    wait_for_receipt(&phone, WAIT).await;
    assert_eq!(
        stored_receipt(&phone).await["alert_ids"][0],
        panic["alert_id"]
    );
    phone.screenshot("app-390x844-receipt").await;
}

#[tokio::test]
async fn a_short_press_sends_nothing() {
    let setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    phone
        .js(
            "window.pressed = 0; document.getElementById('panic-button')\
             .addEventListener('pointerdown', () => { window.pressed += 1; });",
            vec![],
        )
        .await;
    let pressed = Instant::now();

    phone
        .press_for("#panic-button", Duration::from_millis(300))
        .await;

    assert_eq!(phone.js("return window.pressed;", vec![]).await, json!(1));
    phone
        .wait_until(
            WAIT,
            "the ring emptied on release",
            "return !document.getElementById('panic-button').classList.contains('holding');",
        )
        .await;
    let past_the_hold = (HOLD + Duration::from_millis(500)).saturating_sub(pressed.elapsed());
    let fired = eventually(past_the_hold, "an alarm", || async {
        !setup.sink.delivered().is_empty()
    })
    .await;
    let delivered: Vec<Value> = setup
        .sink
        .delivered()
        .iter()
        .map(SinkRequest::json)
        .collect();
    assert!(fired.is_err(), "{delivered:?}");
    assert_eq!(phone.text(STATUS).await, "");
    let queued = phone
        .js(
            "return vangnetStore.queued().then((q) => q.length);",
            vec![],
        )
        .await;
    assert_eq!(queued, json!(0));
}

#[tokio::test]
async fn a_p1_from_the_app_tells_dispatch_where_the_phone_is() {
    let setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    phone.wait_for("#location-status.on").await;

    hold_the_panic_button(&phone).await;

    let panic = setup.first_panic(WAIT).await;
    let victim = &panic["victim"];
    assert_eq!(
        (&victim["device"], &victim["lat"], &victim["lon"]),
        (&json!(VICTIM), &json!(HERE.0), &json!(HERE.1)),
        "{panic}"
    );
}

#[tokio::test]
async fn an_alarm_pressed_while_the_server_is_down_is_sent_once_it_is_back() {
    let mut setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    setup.app.kill9();

    hold_the_panic_button(&phone).await;
    assert_eq!(phone.text(STATUS).await, "Sending… (will keep trying)");
    phone.screenshot("app-390x844-sending").await;
    setup.app.restart().await;

    wait_for_receipt(&phone, Duration::from_secs(20)).await;
    let panic = setup.first_panic(WAIT).await;
    assert_eq!(
        stored_receipt(&phone).await["alert_ids"][0],
        panic["alert_id"]
    );
    assert_eq!(setup.panics().len(), 1, "{:?}", setup.panics());
}

#[tokio::test]
async fn signing_out_waits_while_an_alarm_is_still_being_sent() {
    let mut setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    setup.app.kill9();
    hold_the_panic_button(&phone).await;

    phone.click("#sign-out").await;
    phone
        .wait_until(
            WAIT,
            "the app saying it signs out once help is confirmed",
            &format!(
                "return document.querySelector('{STATUS}').textContent.includes('Sign out once help is confirmed');"
            ),
        )
        .await;
    setup.app.restart().await;

    wait_for_receipt(&phone, Duration::from_secs(20)).await;
    setup.first_panic(WAIT).await;
    assert_eq!(setup.panics().len(), 1, "{:?}", setup.panics());
}

#[tokio::test]
async fn a_warning_pushed_to_the_phone_shows_as_an_alarm_notification() {
    let setup = Setup::start().await;
    let (phone, mut warnings) = setup.phone_taking_pushes().await;

    let warning = json!({
        "kind": "warning", "level": "alarm", "alert_id": "a-1", "ts": 1_765_000_000_000_u64,
        "title": "Alarm: go to a safe place", "body": "Go to a safe place if you can."
    });
    let shown = warnings.deliver(&phone, &warning.to_string()).await;

    assert_eq!(
        shown,
        json!([["Alarm: go to a safe place", "warning-a-1", true]])
    );
}

#[tokio::test]
async fn a_push_that_is_no_warning_shows_only_a_plain_notice() {
    let setup = Setup::start().await;
    let (phone, mut warnings) = setup.phone_taking_pushes().await;

    let forged = r#"{"kind": "warning", "level": "he is 80 m away", "alert_id": "a-1", "ts": 1}"#;
    let shown = warnings.deliver(&phone, forged).await;

    assert_eq!(shown, json!([["Vangnet", "vangnet", false]]));
}

#[tokio::test]
async fn location_sharing_posts_the_phones_fixes() {
    let setup = Setup::start().await;
    let phone = setup.signed_in_phone().await;
    phone.wait_for("#location-status.on").await;

    let here = |state: &Value| {
        victim_position(state).is_some_and(|p| p["lat"] == HERE.0 && p["lon"] == HERE.1)
    };
    let shared = eventually(WAIT, "the phone's fix in the order state", || async {
        here(&setup.order_state().await)
    })
    .await;
    if let Err(e) = shared {
        panic!("{e}: {}", setup.order_state().await);
    }
}

fn victim_position(state: &Value) -> Option<&Value> {
    state["devices"]
        .as_array()?
        .iter()
        .find(|d| d["device"] == VICTIM)
        .map(|d| &d["position"])
}
