//! The dispatcher console in a real headless Chromium (docs/console.md):
//! sign-in, live alerts from the stream, acknowledge and resolve, resuming
//! after a restart, push notifications through the service worker, errors
//! in words, and a layout that works on a desktop and a tablet. Screenshots
//! go to the screenshots folder (see `vangnet_e2e::browser`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::browser::{Browser, PushTarget, WAIT};
use vangnet_e2e::{AppOptions, Sink, TestApp, token_for};
use vangnet_proto::token::Role;
use vangnet_proto::{Channel, TimestampMs};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const REGION: &str = "rotterdam";

async fn app() -> TestApp {
    app_with(AppOptions::default()).await
}

async fn app_with(options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(options.env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    app
}

fn dispatcher() -> String {
    token_for(SECRET, Role::Dispatcher, &[REGION])
}

/// An order in `region` with a circular zone and a polygon around Rotterdam.
async fn order(app: &TestApp, id: &str, region: &str) {
    app.put_order(json!({
        "id": id, "region": region, "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [
            {"id": "home", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]}, "radius_m": 250, "prealarm_m": 750},
            {"id": "work", "geometry": {"type": "Polygon", "coordinates": [[[4.46, 51.91], [4.47, 51.91], [4.47, 51.915], [4.46, 51.915], [4.46, 51.91]]]}, "prealarm_m": 500}
        ]
    }))
    .await;
}

/// `device` reports a fix at `lat`, `lon`.
async fn fix(app: &TestApp, device: &str, lat: f64, lon: f64) {
    let device = app.device(device).await;
    let fix = json!({"seq": 1, "ts": TimestampMs::now(), "lat": lat, "lon": lon, "acc": 15.0});
    device.send(Channel::Loc, fix.to_string()).await;
}

/// Opens the console and signs in with `token`.
async fn sign_in(browser: &Browser, app: &TestApp, token: &str) {
    browser.goto(&app.url("/console/")).await;
    browser.fill("#token", token).await;
    browser.click("#signin-button").await;
}

/// Signs in as a dispatcher of Rotterdam and waits until the stream is live
/// and the (empty) list is loaded, so what comes next comes over the stream.
async fn signed_in(app: &TestApp) -> Browser {
    let browser = Browser::start().await;
    sign_in(&browser, app, &dispatcher()).await;
    browser.wait_for("#connection[data-state='live']").await;
    browser.wait_for("#empty").await;
    browser
}

fn row(alert_or_incident: &str) -> String {
    format!(".incident[data-incident-id='{alert_or_incident}']")
}

async fn timeline_len(browser: &Browser) -> usize {
    let count = browser
        .js(
            "return document.querySelectorAll('#timeline li').length;",
            vec![],
        )
        .await;
    count.as_u64().unwrap_or_default() as usize
}

#[tokio::test]
async fn a_panic_appears_within_two_seconds_and_is_acknowledged_and_resolved_with_its_timeline() {
    let app = app().await;
    order(&app, "c-1", REGION).await;
    fix(&app, "c-1-v", 51.9230, 4.4800).await;
    let browser = signed_in(&app).await;

    let pressed = Instant::now();
    let alert = app.press_panic("c-1-v").await;
    browser
        .wait_for_within(
            Duration::from_secs(2).saturating_sub(pressed.elapsed()),
            &row(&alert),
        )
        .await;
    assert_eq!(
        browser.text(&format!("{} .priority", row(&alert))).await,
        "P1"
    );
    browser.screenshot("console-list-p1").await;

    browser.click(&row(&alert)).await;
    browser.wait_for("#ack:enabled").await;
    browser.wait_for("#map svg .zone").await;
    browser.fill("#note", "called the victim back").await;
    browser.click("#ack").await;
    browser
        .wait_until(
            WAIT,
            "the acknowledgement in the timeline",
            "return document.querySelectorAll('#timeline li').length === 2;",
        )
        .await;
    browser.fill("#note", "police on scene, all safe").await;
    browser.click("#resolve").await;
    browser
        .wait_until(
            WAIT,
            "the resolution in the timeline",
            "return document.querySelectorAll('#timeline li').length === 3;",
        )
        .await;
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("acknowledged") && timeline.contains("called the victim back"),
        "{timeline}"
    );
    assert!(
        timeline.contains("resolved") && timeline.contains("police on scene, all safe"),
        "{timeline}"
    );
    browser
        .wait_for(&format!("{}[data-status='resolved']", row(&alert)))
        .await;
    browser.screenshot("console-detail").await;
}

#[tokio::test]
async fn resolving_without_a_note_asks_for_one_and_changes_nothing() {
    let app = app().await;
    order(&app, "c-2", REGION).await;
    let browser = signed_in(&app).await;
    let alert = app.press_panic("c-2-v").await;
    browser.click(&row(&alert)).await;
    browser.wait_for("#resolve:enabled").await;
    browser.click("#resolve").await;
    browser.wait_for("#message").await;
    assert!(browser.text("#message").await.contains("Write a note"));
    let (_, stored) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/alerts/{alert}"),
            Some(&dispatcher()),
            None,
        )
        .await;
    assert_eq!(stored["status"], "open");
    assert_eq!(timeline_len(&browser).await, 1);
}

#[tokio::test]
async fn the_stream_resumes_after_the_server_restarts_with_what_it_missed() {
    let mut app = app().await;
    order(&app, "c-3", REGION).await;
    let browser = signed_in(&app).await;
    let first = app.press_panic("c-3-v").await;
    browser.wait_for(&row(&first)).await;

    app.kill9();
    browser
        .wait_for("#connection[data-state='reconnecting']")
        .await;
    assert_eq!(browser.text("#connection").await, "Reconnecting…");
    // Hold the console's next reconnection until an alert was raised without it.
    let mut devtools = browser.devtools(&app.url("/console/")).await;
    let stream =
        json!({"patterns": [{"urlPattern": "*/api/v1/alerts/stream*", "requestStage": "Request"}]});
    devtools.call("Fetch.enable", stream).await;
    app.restart().await;
    app.wait_until_ready().await;
    let missed = app.press_panic("c-3-p").await;
    let held = devtools
        .event(
            Duration::from_secs(20),
            "the console reconnecting",
            |event| event["method"] == "Fetch.requestPaused",
        )
        .await;
    let headers = held["params"]["request"]["headers"].as_object().unwrap();
    assert!(
        headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("last-event-id")),
        "the reconnection names no Last-Event-ID: {headers:?}"
    );
    devtools
        .call(
            "Fetch.continueRequest",
            json!({"requestId": held["params"]["requestId"]}),
        )
        .await;
    devtools.call("Fetch.disable", json!({})).await;
    browser.wait_for(&row(&missed)).await;
    browser.wait_for("#connection[data-state='live']").await;
    browser.wait_for(&row(&first)).await;
}

/// A signed-in console whose service worker is active and may show notifications.
struct PushReady {
    browser: Browser,
    target: PushTarget,
}

impl PushReady {
    async fn start(app: &TestApp) -> Self {
        let browser = Browser::start().await;
        browser
            .cdp(
                "Browser.grantPermissions",
                json!({"origin": app.base_url, "permissions": ["notifications"]}),
            )
            .await;
        sign_in(&browser, app, &dispatcher()).await;
        browser.wait_for("#connection[data-state='live']").await;
        let target = browser
            .push_target(&app.base_url, &app.url("/console/"))
            .await;
        Self { browser, target }
    }

    async fn deliver(&mut self, data: &str) -> Value {
        self.target.deliver(&self.browser, data).await
    }
}

#[tokio::test]
async fn a_p1_push_reaches_the_service_worker_and_shows_a_notification() {
    let app = app().await;
    let mut console = PushReady::start(&app).await;
    let payload = json!({
        "alert_id": "01JD8Q6Z3K4W8M2N5P7R9T1V3X", "priority": "P1", "kind": "panic",
        "region": REGION, "status": "open", "exercise": false, "revision": 1,
        "title": "P1 panic in rotterdam", "body": "The panic button was pressed"
    });
    let shown = console.deliver(&payload.to_string()).await;
    assert_eq!(
        shown,
        json!([["P1 panic in rotterdam", "01JD8Q6Z3K4W8M2N5P7R9T1V3X", true]])
    );
}

#[tokio::test]
async fn a_push_that_is_not_an_alert_shows_only_a_plain_notice() {
    let app = app().await;
    let mut console = PushReady::start(&app).await;
    let shown = console
        .deliver(r#"{"alert_id": "../../logout", "title": "<b>Call 0900</b>"}"#)
        .await;
    assert_eq!(shown, json!([["Vangnet: new alert", "vangnet", false]]));
}

#[tokio::test]
async fn the_console_is_usable_at_1280x800_and_on_a_tablet() {
    let app = app().await;
    order(&app, "c-5", REGION).await;
    fix(&app, "c-5-v", 51.9230, 4.4800).await;
    let browser = signed_in(&app).await;
    let alert = app.press_panic("c-5-v").await;
    for (width, height, name) in [
        (1280, 800, "console-1280x800"),
        (820, 1180, "console-tablet"),
    ] {
        browser.set_viewport(width, height).await;
        browser.wait_for(&row(&alert)).await;
        for control in [
            "#signout",
            "#mute",
            "#region-filter",
            "#connection",
            &row(&alert),
        ] {
            assert!(
                browser.in_viewport(control).await,
                "{control} at {width}×{height}"
            );
        }
        browser.screenshot(&format!("{name}-list")).await;
        browser.click(&row(&alert)).await;
        browser.wait_for("#ack:enabled").await;
        for control in ["#ack", "#resolve", "#note", "#close-detail"] {
            assert!(
                browser.in_viewport(control).await,
                "{control} at {width}×{height}"
            );
        }
        browser.screenshot(&format!("{name}-detail")).await;
        browser.click("#close-detail").await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_at_sign_in_in_words() {
    let app = app().await;
    let browser = Browser::start().await;
    let expired = vangnet_e2e::hs256_token(
        SECRET,
        &json!({"sub": "d", "role": "dispatcher", "regions": [REGION], "exp": vangnet_e2e::epoch_seconds() - 3600}),
    );
    sign_in(&browser, &app, &expired).await;
    browser.wait_for("#signin-message").await;
    assert!(browser.text("#signin-message").await.contains("expired"));
    assert!(!browser.in_viewport("#signout").await);
}

#[tokio::test]
async fn a_token_the_server_refuses_returns_to_sign_in_and_is_forgotten() {
    let app = app().await;
    let browser = Browser::start().await;
    let forged = token_for(
        "a-secret-that-vangnet-does-not-know-at-all",
        Role::Dispatcher,
        &[REGION],
    );
    sign_in(&browser, &app, &forged).await;
    browser.wait_for("#signin-message").await;
    assert!(
        browser
            .text("#signin-message")
            .await
            .contains("no longer valid")
    );
    let kept = browser.js("return sessionStorage.length;", vec![]).await;
    assert_eq!(kept, json!(0));
}

#[tokio::test]
async fn a_token_of_another_role_is_told_the_console_is_for_dispatchers() {
    let app = app().await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &token_for(SECRET, Role::Pilot, &[REGION])).await;
    browser.wait_for("#connection[data-state='stopped']").await;
    assert!(browser.text("#message").await.contains("for dispatchers"));
}

#[tokio::test]
async fn too_many_actions_are_explained_not_shown_as_a_status_code() {
    let app = app_with(AppOptions::default().env("VANGNET_API_CHANGES_PER_MINUTE", "1")).await;
    order(&app, "c-9", REGION).await;
    let browser = signed_in(&app).await;
    let alert = app.press_panic("c-9-v").await;
    browser.click(&row(&alert)).await;
    browser.wait_for("#ack:enabled").await;
    browser.click("#ack").await;
    browser.wait_for("#resolve:enabled").await;
    browser.fill("#note", "done").await;
    browser.click("#resolve").await;
    browser.wait_for("#message").await;
    let message = browser.text("#message").await;
    assert!(message.contains("Too many actions"), "{message}");
    assert!(!message.contains("429"), "{message}");
}

#[tokio::test]
async fn markup_in_an_order_region_is_shown_as_text() {
    let app = app().await;
    let region = "<img src=x id=injected>";
    order(&app, "c-10", region).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &token_for(SECRET, Role::Dispatcher, &["*"])).await;
    browser.wait_for("#connection[data-state='live']").await;
    let alert = app.press_panic("c-10-v").await;
    browser.wait_for(&row(&alert)).await;
    assert!(
        browser
            .text(&format!("{} .where", row(&alert)))
            .await
            .contains(region)
    );
    let injected = browser
        .js(
            "return document.getElementById('injected') !== null;",
            vec![],
        )
        .await;
    assert_eq!(injected, Value::Bool(false));
}

#[tokio::test]
async fn a_dispatcher_sees_only_the_chosen_region_but_always_unassigned_panics() {
    let app = app().await;
    order(&app, "c-11a", "rotterdam").await;
    order(&app, "c-11b", "utrecht").await;
    let browser = Browser::start().await;
    sign_in(
        &browser,
        &app,
        &token_for(SECRET, Role::Dispatcher, &["rotterdam", "utrecht"]),
    )
    .await;
    browser.wait_for("#connection[data-state='live']").await;
    let rotterdam = app.press_panic("c-11a-v").await;
    let utrecht = app.press_panic("c-11b-v").await;
    let unassigned = app.press_panic("nobody-1").await;
    browser.wait_for(&row(&utrecht)).await;
    browser.wait_for(&row(&unassigned)).await;
    browser
        .js("const s = document.getElementById('region-filter'); s.value = 'rotterdam'; s.dispatchEvent(new Event('change'));", vec![])
        .await;
    browser.wait_for(&row(&rotterdam)).await;
    browser.wait_for(&row(&unassigned)).await;
    assert!(!browser.in_viewport(&row(&utrecht)).await);
}

#[tokio::test]
async fn a_banner_says_when_police_dispatch_is_degraded() {
    let police = Sink::start().await;
    police.set_failing(true);
    let app = app_with(
        AppOptions::default()
            .env("VANGNET_DISPATCH_URL", police.url())
            .env("VANGNET_DISPATCH_DEGRADED_AFTER_S", "1")
            .env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1"),
    )
    .await;
    order(&app, "c-12", REGION).await;
    let browser = signed_in(&app).await;
    assert!(!browser.in_viewport("#degraded").await);
    app.press_panic("c-12-v").await;
    browser
        .wait_for_within(Duration::from_secs(15), "#degraded")
        .await;
    assert!(
        browser
            .text("#degraded")
            .await
            .contains("Police dispatch is degraded")
    );
    police.set_failing(false);
    browser
        .wait_until(
            Duration::from_secs(15),
            "the banner going when dispatch recovers",
            "return document.getElementById('degraded').hidden;",
        )
        .await;
}

#[tokio::test]
async fn a_link_to_an_alert_opens_its_detail() {
    let app = app().await;
    order(&app, "c-13", REGION).await;
    let browser = signed_in(&app).await;
    let alert = app.press_panic("c-13-v").await;
    browser.wait_for(&row(&alert)).await;
    browser
        .goto(&app.url(&format!("/console/#alert={alert}")))
        .await;
    browser
        .wait_until(
            WAIT,
            "the alert's detail",
            "return document.getElementById('detail-title').textContent === 'P1 panic';",
        )
        .await;
    assert!(browser.in_viewport("#ack:enabled").await);
}

#[tokio::test]
async fn the_map_lays_the_configured_tiles_under_the_zones() {
    let tiles = "https://tiles.example.org/{z}/{x}/{y}.png";
    let app = app_with(AppOptions::default().env("VANGNET_CONSOLE_TILE_URL", tiles)).await;
    order(&app, "c-14", REGION).await;
    let browser = signed_in(&app).await;
    let alert = app.press_panic("c-14-v").await;
    browser.click(&row(&alert)).await;
    browser.wait_for("#map svg .zone").await;
    let hrefs = browser
        .js(
            "return [...document.querySelectorAll('#map svg .tiles image')].map((i) => i.getAttribute('href'));",
            vec![],
        )
        .await;
    let hrefs = hrefs.as_array().unwrap();
    assert!(!hrefs.is_empty() && hrefs.len() <= 64, "{hrefs:?}");
    for href in hrefs {
        let href = href.as_str().unwrap();
        let path = href.strip_prefix("https://tiles.example.org/").unwrap();
        let numbers: Vec<&str> = path.trim_end_matches(".png").split('/').collect();
        assert_eq!(numbers.len(), 3, "{href}");
        assert!(numbers.iter().all(|n| n.parse::<u32>().is_ok()), "{href}");
    }
    let zones_above_tiles = "const svg = document.querySelector('#map svg'); \
        return svg.querySelector('.tiles').compareDocumentPosition(svg.querySelector('.zone')) \
        === Node.DOCUMENT_POSITION_FOLLOWING;";
    assert_eq!(
        browser.js(zones_above_tiles, vec![]).await,
        Value::Bool(true)
    );
}

#[tokio::test]
async fn without_web_push_on_the_server_the_notify_button_stays_hidden() {
    let app = app().await;
    let browser = signed_in(&app).await;
    browser
        .wait_until(
            WAIT,
            "the service worker registered",
            "return navigator.serviceWorker.getRegistration().then((r) => !!r && !!r.active);",
        )
        .await;
    let hidden = browser
        .js("return document.getElementById('notify').hidden;", vec![])
        .await;
    assert_eq!(hidden, Value::Bool(true));
}
