//! Web Push to dispatchers (docs/push.md): a browser subscribed through the
//! API gets every P1 and P2 revision of its holder's regions from a real
//! (test) push service, encrypted for it alone (RFC 8291) and signed with
//! Vangnet's VAPID key (RFC 8292), saying what and where without a
//! coordinate; subscriptions end with their token and survive a restart.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, Browser, Push, PushService, TestApp, epoch_seconds, eventually, hs256_token,
};
use vangnet_proto::{Channel, TimestampMs};
use vangnet_server::push::VapidKey;
use vangnet_server::store::PushSubscriptions;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const SUBJECT: &str = "mailto:operator@vangnet.test";
const WAIT: Duration = Duration::from_secs(10);

/// A service with Web Push on, allowed to push to the local test push service.
struct PushApp {
    app: TestApp,
    service: PushService,
    key: VapidKey,
    _key_dir: tempfile::TempDir,
}

async fn push_app() -> PushApp {
    push_app_with(AppOptions::default().env("VANGNET_PUSH_INSECURE_HOSTS", "127.0.0.1")).await
}

async fn push_app_with(options: AppOptions) -> PushApp {
    let key_dir = tempfile::tempdir().unwrap();
    let path = key_dir.path().join("vapid.pem");
    let key = VapidKey::generate_into(&path, false).unwrap();
    let options = options
        .env("VANGNET_JWT_SECRET", SECRET)
        .env("VANGNET_VAPID_KEY_FILE", path.to_str().unwrap())
        .env("VANGNET_VAPID_SUBJECT", SUBJECT);
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    PushApp {
        app,
        service: PushService::start(),
        key,
        _key_dir: key_dir,
    }
}

fn token(sub: &str, role: &str, regions: &[&str], expires_in_s: i64) -> String {
    hs256_token(
        SECRET,
        &json!({"sub": sub, "role": role, "regions": regions, "exp": epoch_seconds() + expires_in_s}),
    )
}

fn dispatcher(sub: &str, regions: &[&str]) -> String {
    token(sub, "dispatcher", regions, 3600)
}

fn order(id: &str, region: &str) -> Value {
    json!({
        "id": id, "region": region, "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

async fn subscribe(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    app.call(
        Method::POST,
        "/api/v1/push/subscriptions",
        Some(token),
        Some(body),
    )
    .await
}

/// Subscribes a new browser at `name` for the holder of `token`; its keys and endpoint.
async fn subscribed(push: &PushApp, token: &str, name: &str) -> (Browser, String) {
    let browser = Browser::new();
    let endpoint = push.service.endpoint(name);
    let (status, body) = subscribe(&push.app, token, &browser.subscription(&endpoint)).await;
    assert_eq!(status, 201, "{body}");
    (browser, endpoint)
}

async fn pushes(service: &PushService, endpoint: &str, count: usize) -> Vec<Push> {
    service.pushes_at_least(endpoint, count, WAIT).await
}

fn payload(browser: &Browser, push: &Push) -> Value {
    serde_json::from_slice(&browser.decrypt(&push.body)).unwrap()
}

/// The claims of the VAPID `Authorization` header, verified with `public_key`.
fn vapid_claims(push: &Push, public_key: &str, audience: &str) -> Value {
    let header = &push.headers["authorization"];
    let (token, k) = header
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .unwrap_or_else(|| panic!("not a VAPID header: {header}"));
    assert_eq!(k, public_key);
    let point = URL_SAFE_NO_PAD.decode(k).unwrap();
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    let key = DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("the VAPID token does not verify: {e}"))
        .claims
}

async fn public_key(app: &TestApp, token: &str) -> String {
    let (status, body) = app
        .call(Method::GET, "/api/v1/push/key", Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["public_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_panic_is_pushed_encrypted_for_the_browser_signed_with_vapid_and_without_coordinates() {
    let push = push_app().await;
    push.app.put_order(order("push-1", "rotterdam")).await;
    let token = dispatcher("dispatcher-1", &["rotterdam"]);
    let (browser, endpoint) = subscribed(&push, &token, "dispatcher-1").await;
    let public_key = public_key(&push.app, &token).await;

    let alert = push.app.press_panic("push-1-v").await;

    let received = &pushes(&push.service, &endpoint, 1).await[0];
    let notice = payload(&browser, received);
    assert_eq!(notice["alert_id"], alert.as_str());
    assert_eq!(
        (&notice["priority"], &notice["kind"], &notice["region"]),
        (&json!("P1"), &json!("panic"), &json!("rotterdam"))
    );
    assert_eq!(
        (&notice["exercise"], &notice["revision"]),
        (&json!(false), &json!(1))
    );
    assert_eq!(notice["title"], "P1 panic — region rotterdam");
    let fields: BTreeSet<&str> = notice
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let allowed = [
        "alert_id",
        "incident_id",
        "revision",
        "priority",
        "kind",
        "region",
        "status",
        "exercise",
        "title",
        "body",
    ];
    assert_eq!(fields, allowed.into_iter().collect(), "{notice}");
    assert_eq!(received.headers["ttl"], "3600");
    assert_eq!(received.headers["urgency"], "high");
    assert_eq!(received.headers["content-encoding"], "aes128gcm");
    assert_eq!(received.headers["topic"].len(), 32);
    assert_eq!(public_key, push.key.public_key());
    let origin = endpoint.split("/push/").next().unwrap();
    let claims = vapid_claims(received, &public_key, origin);
    assert_eq!(claims["sub"], SUBJECT);
    assert!(claims["exp"].as_i64().unwrap() <= epoch_seconds() + 24 * 3600);
}

#[tokio::test]
async fn an_exercise_alert_is_pushed_marked_as_an_exercise() {
    let push = push_app().await;
    let mut exercise = order("push-9", "rotterdam");
    exercise["exercise"] = json!(true);
    push.app.put_order(exercise).await;
    let (browser, endpoint) = subscribed(&push, &dispatcher("d", &["rotterdam"]), "drill").await;

    push.app.press_panic("push-9-v").await;

    let notice = payload(&browser, &pushes(&push.service, &endpoint, 1).await[0]);
    assert_eq!(notice["exercise"], true);
    assert_eq!(notice["title"], "EXERCISE P1 panic — region rotterdam");
}

#[tokio::test]
async fn a_push_service_answering_410_removes_the_subscription() {
    let push = push_app().await;
    push.app.put_order(order("push-2", "rotterdam")).await;
    let (_, endpoint) = subscribed(&push, &dispatcher("d", &["*"]), "gone").await;
    push.service.answer(410);

    push.app.press_panic("push-2-v").await;

    pushes(&push.service, &endpoint, 1).await;
    let store = push.app.store();
    eventually(WAIT, "the subscription being removed", || async {
        store.push_subscriptions().await.unwrap().is_empty()
    })
    .await
    .unwrap();
    let gone = push
        .app
        .metric("vangnet_push_total{outcome=\"gone\"}")
        .await;
    assert_eq!(gone, 1.0);
}

#[tokio::test]
async fn a_push_service_answering_503_is_tried_again_then_counted_failed_keeping_the_subscription()
{
    let push = push_app().await;
    push.app.put_order(order("push-7", "rotterdam")).await;
    let (_, endpoint) = subscribed(&push, &dispatcher("d", &["*"]), "busy").await;
    push.service.answer(503);

    push.app.press_panic("push-7-v").await;

    pushes(&push.service, &endpoint, 4).await;
    eventually(
        Duration::from_secs(20),
        "the push being counted failed",
        || async {
            push.app
                .metric("vangnet_push_total{outcome=\"failed\"}")
                .await
                == 1.0
        },
    )
    .await
    .unwrap();
    assert_eq!(push.service.pushes_to(&endpoint).len(), 4);
    assert_eq!(
        push.app.store().push_subscriptions().await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_push_service_answering_413_is_counted_rejected_and_not_tried_again() {
    let push = push_app().await;
    push.app.put_order(order("push-8", "rotterdam")).await;
    let (_, endpoint) = subscribed(&push, &dispatcher("d", &["*"]), "small").await;
    push.service.answer(413);

    push.app.press_panic("push-8-v").await;

    pushes(&push.service, &endpoint, 1).await;
    eventually(WAIT, "the push being counted rejected", || async {
        push.app
            .metric("vangnet_push_total{outcome=\"rejected\"}")
            .await
            == 1.0
    })
    .await
    .unwrap();
    assert_eq!(push.service.pushes_to(&endpoint).len(), 1);
}

#[tokio::test]
async fn a_dispatcher_of_another_region_gets_no_push() {
    let push = push_app().await;
    push.app
        .put_orders(vec![
            order("push-3r", "rotterdam"),
            order("push-3u", "utrecht"),
        ])
        .await;
    let (_, rotterdam) = subscribed(&push, &dispatcher("r", &["rotterdam"]), "r").await;
    let (browser, utrecht) = subscribed(&push, &dispatcher("u", &["utrecht"]), "u").await;

    push.app.press_panic("push-3r-v").await;
    pushes(&push.service, &rotterdam, 1).await;
    push.app.press_panic("push-3u-v").await;

    pushes(&push.service, &utrecht, 1).await;
    eventually(WAIT, "both pushes being counted", || async {
        push.app
            .metric("vangnet_push_total{outcome=\"sent\"}")
            .await
            >= 2.0
    })
    .await
    .unwrap();
    let received = push.service.pushes_to(&utrecht);
    assert_eq!(received.len(), 1);
    assert_eq!(payload(&browser, &received[0])["region"], "utrecht");
    assert_eq!(push.service.pushes_to(&rotterdam).len(), 1);
}

#[tokio::test]
async fn a_p3_revision_is_not_pushed() {
    let push = push_app().await;
    push.app.put_order(order("push-4", "rotterdam")).await;
    let (browser, endpoint) = subscribed(&push, &dispatcher("d", &["rotterdam"]), "p3").await;
    let victim = push.app.device("push-4-v").await;
    let battery = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "battery", "batt": 5});
    victim.send(Channel::Status, battery.to_string()).await;
    let admin = token("admin", "admin", &["*"], 3600);
    eventually(WAIT, "battery_low being raised", || async {
        let (_, page) = push
            .app
            .call(Method::GET, "/api/v1/alerts", Some(&admin), None)
            .await;
        page["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|a| a["kind"] == "battery_low" && a["priority"] == "P3")
        })
    })
    .await
    .unwrap();

    push.app.press_panic("push-4-v").await;

    let received = pushes(&push.service, &endpoint, 1).await;
    let kinds: Vec<Value> = received
        .iter()
        .map(|p| payload(&browser, p)["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("panic")]);
}

#[tokio::test]
async fn a_subscription_is_not_pushed_to_once_its_token_has_expired() {
    let push = push_app().await;
    push.app.put_order(order("push-5", "rotterdam")).await;
    let short = token("short", "dispatcher", &["rotterdam"], 2);
    let browser = Browser::new();
    let stale = push.service.endpoint("stale");
    let (status, created) = subscribe(&push.app, &short, &browser.subscription(&stale)).await;
    assert_eq!(status, 201, "{created}");
    let (_, witness) = subscribed(&push, &dispatcher("long", &["rotterdam"]), "witness").await;
    let expires_at = epoch_seconds() + 2;
    eventually(WAIT, "the short token expiring", || async {
        epoch_seconds() > expires_at
    })
    .await
    .unwrap();

    push.app.press_panic("push-5-v").await;

    pushes(&push.service, &witness, 1).await;
    let store = push.app.store();
    eventually(
        Duration::from_secs(20),
        "the expired subscription being removed",
        || async { store.push_subscriptions().await.unwrap().len() == 1 },
    )
    .await
    .unwrap();
    assert!(push.service.pushes_to(&stale).is_empty());
}

#[tokio::test]
async fn subscriptions_survive_a_restart() {
    let mut push = push_app().await;
    push.app.put_order(order("push-6", "rotterdam")).await;
    let (browser, endpoint) = subscribed(&push, &dispatcher("d", &["rotterdam"]), "kept").await;

    push.app.kill9();
    push.app.restart().await;
    push.app.wait_until_ready().await;
    push.app.press_panic("push-6-v").await;

    let received = &pushes(&push.service, &endpoint, 1).await[0];
    assert_eq!(payload(&browser, received)["kind"], "panic");
}

#[tokio::test]
async fn a_plain_http_endpoint_is_refused_with_400_naming_the_endpoint() {
    let push = push_app_with(AppOptions::default()).await;
    let browser = Browser::new();
    let token = dispatcher("d", &["rotterdam"]);

    for endpoint in [
        push.service.endpoint("plain"),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://localhost/push".to_owned(),
    ] {
        let (status, body) = subscribe(&push.app, &token, &browser.subscription(&endpoint)).await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with("endpoint: "),
            "{body}"
        );
    }
    let refused = "vangnet_push_subscriptions_refused_total";
    assert_eq!(push.app.metric(refused).await, 3.0);
}

#[tokio::test]
async fn a_bad_subscription_body_is_refused_with_400_naming_the_field() {
    let push = push_app().await;
    let token = dispatcher("d", &["rotterdam"]);
    let mut body = Browser::new().subscription(&push.service.endpoint("bad"));
    body["keys"]["p256dh"] = json!("BAAA");
    let missing_auth = json!({"endpoint": push.service.endpoint("bad"), "keys": {"p256dh": "x"}});
    let huge = json!({"endpoint": "https://push.example/a", "pad": "x".repeat(10_000)});

    for (body, field) in [
        (body, "keys.p256dh"),
        (missing_auth, "keys"),
        (huge, "body"),
    ] {
        let (status, answer) = subscribe(&push.app, &token, &body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn subscribing_the_same_endpoint_again_replaces_the_subscription() {
    let push = push_app().await;
    let browser = Browser::new();
    let body = browser.subscription(&push.service.endpoint("again"));

    let (_, first) = subscribe(&push.app, &dispatcher("a", &["rotterdam"]), &body).await;
    let (status, again) = subscribe(&push.app, &dispatcher("b", &["utrecht"]), &body).await;

    assert_eq!(status, 201);
    assert_eq!(first["id"], again["id"]);
    let stored = push.app.store().push_subscriptions().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].owner.as_str(), stored[0].regions.clone()),
        ("b", vec!["utrecht".to_owned()])
    );
}

#[tokio::test]
async fn only_dispatchers_and_admins_may_use_web_push() {
    let push = push_app().await;
    let body = Browser::new().subscription(&push.service.endpoint("roles"));
    for role in ["pilot", "auditor"] {
        let token = token("x", role, &["*"], 3600);
        assert_eq!(subscribe(&push.app, &token, &body).await.0, 403, "{role}");
        let (status, _) = push
            .app
            .call(Method::GET, "/api/v1/push/key", Some(&token), None)
            .await;
        assert_eq!(status, 403, "{role}");
    }
    let anonymous = push
        .app
        .call(
            Method::POST,
            "/api/v1/push/subscriptions",
            None,
            Some(&body),
        )
        .await;
    assert_eq!(anonymous.0, 401);
    let expired = token("x", "dispatcher", &["*"], -3600);
    assert_eq!(subscribe(&push.app, &expired, &body).await.0, 401);
}

#[tokio::test]
async fn a_dispatcher_cannot_remove_another_dispatchers_subscription() {
    let push = push_app().await;
    let (owner, other) = (
        dispatcher("owner", &["rotterdam"]),
        dispatcher("other", &["rotterdam"]),
    );
    let body = Browser::new().subscription(&push.service.endpoint("mine"));
    let (_, created) = subscribe(&push.app, &owner, &body).await;
    let path = format!(
        "/api/v1/push/subscriptions/{}",
        created["id"].as_str().unwrap()
    );

    assert_eq!(
        push.app
            .call(Method::DELETE, &path, Some(&other), None)
            .await
            .0,
        404
    );
    assert_eq!(
        push.app
            .call(Method::DELETE, &path, Some(&owner), None)
            .await
            .0,
        204
    );
    assert_eq!(
        push.app
            .call(Method::DELETE, &path, Some(&owner), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_dispatcher_may_hold_at_most_ten_subscriptions() {
    let push = push_app().await;
    let token = dispatcher("busy", &["rotterdam"]);
    for n in 0..10 {
        subscribed(&push, &token, &format!("busy-{n}")).await;
    }

    let eleventh = Browser::new().subscription(&push.service.endpoint("busy-10"));
    let (status, body) = subscribe(&push.app, &token, &eleventh).await;

    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn web_push_answers_404_when_it_is_not_configured() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    let token = dispatcher("d", &["rotterdam"]);
    let body = Browser::new().subscription("https://push.example/a");

    let (status, key) = app
        .call(Method::GET, "/api/v1/push/key", Some(&token), None)
        .await;
    assert_eq!(status, 404);
    assert!(
        key["error"]
            .as_str()
            .unwrap()
            .contains("Web Push is not configured"),
        "{key}"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/push/subscriptions",
            Some(&token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 404);
}
