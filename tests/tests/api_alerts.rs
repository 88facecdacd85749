//! The alert endpoints (docs/api.md#alerts): list with filters and pages, read
//! with the timeline, acknowledge and resolve (committed, dispatched and
//! recorded with who and why), order state, and region scoping on each.

use std::time::Duration;

use rumqttc::QoS;
use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, MqttClient, Sink, SinkRequest, TestApp, eventually, redis_url, unique_name,
};
use vangnet_proto::token::Role;
use vangnet_proto::{Channel, DeviceId, OrderId, TimestampMs};
use vangnet_server::store::{OrderStore, StoredOrder};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token_for(role: Role, regions: &[&str]) -> String {
    vangnet_e2e::token_for(SECRET, role, regions)
}

fn admin() -> String {
    token_for(Role::Admin, &["*"])
}

fn dispatcher() -> String {
    token_for(Role::Dispatcher, &["rotterdam"])
}

fn order(id: &str, region: &str) -> Value {
    json!({
        "id": id, "region": region, "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

async fn app(sink: Option<&Sink>) -> TestApp {
    let mut options = AppOptions::default().env("VANGNET_JWT_SECRET", SECRET);
    if let Some(sink) = sink {
        options = options.env("VANGNET_DISPATCH_URL", sink.url());
    }
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.call(reqwest::Method::GET, path, Some(token), None)
        .await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    app.call(reqwest::Method::POST, path, Some(token), Some(&body))
        .await
}

/// Creates the orders through the API and waits until the app evaluates them.
async fn create_orders(app: &TestApp, orders: &[Value]) {
    for body in orders {
        let (status, error) = post(app, "/api/v1/orders", &admin(), body.clone()).await;
        assert_eq!(status, 201, "{error}");
    }
    let want = orders.len() as f64;
    eventually(
        Duration::from_secs(10),
        "the app loading the orders",
        || async { app.metric("vangnet_orders").await >= want },
    )
    .await
    .unwrap();
}

/// The victim of `order_id` presses panic; returns the alert id of the receipt.
async fn panic(app: &TestApp, order_id: &str) -> String {
    app.press_panic(&format!("{order_id}-v")).await
}

fn ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["alert_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_shows_panics_newest_first_filters_them_and_pages_with_a_cursor() {
    let app = app(None).await;
    create_orders(
        &app,
        &[order("l-1", "rotterdam"), order("l-2", "rotterdam")],
    )
    .await;
    let older = panic(&app, "l-1").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = panic(&app, "l-2").await;

    let (status, list) = get(&app, "/api/v1/alerts", &dispatcher()).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), [newer.as_str(), older.as_str()]);
    assert_eq!(list["next"], Value::Null);
    assert_eq!(list["items"][0]["kind"], "panic");
    assert_eq!(list["items"][0]["region"], "rotterdam");

    let count = |path: &'static str| {
        let app = &app;
        async move { ids(&get(app, path, &admin()).await.1).len() }
    };
    assert_eq!(count("/api/v1/alerts?priority=P1").await, 2);
    assert_eq!(count("/api/v1/alerts?priority=P3").await, 0);
    assert_eq!(count("/api/v1/alerts?status=open").await, 2);
    assert_eq!(count("/api/v1/alerts?status=resolved").await, 0);
    assert_eq!(count("/api/v1/alerts?exercise=true").await, 0);

    let (_, first) = get(&app, "/api/v1/alerts?limit=1", &admin()).await;
    assert_eq!(ids(&first), [newer.as_str()]);
    let cursor = first["next"].as_str().expect("a cursor to the next page");
    let (_, second) = get(
        &app,
        &format!("/api/v1/alerts?limit=1&cursor={cursor}"),
        &admin(),
    )
    .await;
    assert_eq!(ids(&second), [older.as_str()]);
    assert_eq!(second["next"], Value::Null);

    let (status, _) = get(&app, "/api/v1/alerts?priority=P9", &admin()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_rotterdam_dispatcher_never_sees_a_utrecht_alert_or_order() {
    let app = app(None).await;
    create_orders(&app, &[order("r-1", "rotterdam"), order("u-1", "utrecht")]).await;
    let ours = panic(&app, "r-1").await;
    let theirs = panic(&app, "u-1").await;
    let dispatcher = dispatcher();

    let (_, list) = get(&app, "/api/v1/alerts", &dispatcher).await;
    assert_eq!(ids(&list), [ours.as_str()]);
    let (_, all) = get(&app, "/api/v1/alerts", &admin()).await;
    assert_eq!(ids(&all).len(), 2);

    assert_eq!(
        get(&app, &format!("/api/v1/alerts/{theirs}"), &dispatcher)
            .await
            .0,
        404
    );
    assert_eq!(
        get(&app, "/api/v1/orders/u-1/state", &dispatcher).await.0,
        404
    );
    assert_eq!(
        get(&app, "/api/v1/alerts?region=utrecht", &dispatcher)
            .await
            .0,
        403
    );
    let (status, _) = post(
        &app,
        &format!("/api/v1/alerts/{theirs}/ack"),
        &dispatcher,
        json!({"note": "x"}),
    )
    .await;
    assert_eq!(status, 404);

    assert_eq!(
        get(&app, &format!("/api/v1/alerts/{ours}"), &dispatcher)
            .await
            .0,
        200
    );
    let (status, state) = get(&app, "/api/v1/orders/r-1/state", &dispatcher).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["order_id"], "r-1");
    assert_eq!(state["open_alerts"][0]["alert_id"], ours.as_str());
    let (_, filtered) = get(&app, "/api/v1/alerts?region=rotterdam", &dispatcher).await;
    assert_eq!(ids(&filtered), [ours.as_str()]);
}

async fn wait_for_deliveries(sink: &Sink, count: usize) -> Vec<SinkRequest> {
    eventually(
        Duration::from_secs(10),
        "deliveries to the dispatch sink",
        || async { sink.delivered().len() >= count },
    )
    .await
    .unwrap();
    sink.delivered()
}

#[tokio::test]
async fn acknowledging_then_resolving_records_who_and_why_and_reaches_dispatch_as_revisions_2_and_3()
 {
    let sink = Sink::start().await;
    let app = app(Some(&sink)).await;
    create_orders(&app, &[order("h-1", "rotterdam")]).await;
    let alert = panic(&app, "h-1").await;
    let dispatcher = dispatcher();

    let (status, acked) = post(
        &app,
        &format!("/api/v1/alerts/{alert}/ack"),
        &dispatcher,
        json!({"note": "on it"}),
    )
    .await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(
        (acked["status"].as_str(), acked["revision"].as_u64()),
        (Some("acknowledged"), Some(2))
    );
    let (status, resolved) = post(
        &app,
        &format!("/api/v1/alerts/{alert}/resolve"),
        &dispatcher,
        json!({"note": "unit on site, victim safe"}),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(
        (resolved["status"].as_str(), resolved["revision"].as_u64()),
        (Some("resolved"), Some(3))
    );

    let (status, read) = get(&app, &format!("/api/v1/alerts/{alert}"), &admin()).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["status"], "resolved");
    let timeline = read["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 3, "{read}");
    assert_eq!(timeline[0]["act"], Value::Null);
    assert_eq!(
        timeline[1]["act"],
        json!({"actor": "dispatcher-1", "note": "on it"})
    );
    assert_eq!(
        timeline[2]["act"],
        json!({"actor": "dispatcher-1", "note": "unit on site, victim safe"})
    );
    assert_eq!(timeline[2]["revision"], 3);

    let delivered = wait_for_deliveries(&sink, 3).await;
    let keys: std::collections::BTreeSet<String> = delivered
        .iter()
        .filter_map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    for revision in 1..=3 {
        assert!(keys.contains(&format!("{alert}/{revision}")), "{keys:?}");
    }
    let last = delivered
        .iter()
        .map(SinkRequest::json)
        .find(|body| body["revision"] == 3)
        .unwrap();
    assert_eq!(last["status"], "resolved");
}

#[tokio::test]
async fn resolving_without_a_note_is_refused_naming_note_and_acknowledging_a_resolved_alert_gets_409()
 {
    let app = app(None).await;
    create_orders(&app, &[order("n-1", "rotterdam")]).await;
    let alert = panic(&app, "n-1").await;
    let dispatcher = dispatcher();
    let resolve = format!("/api/v1/alerts/{alert}/resolve");

    let (status, error) = post(&app, &resolve, &dispatcher, json!({"note": "  "})).await;
    assert!(status == 400 || status == 422, "{status} {error}");
    assert!(error["error"].as_str().unwrap().contains("note"), "{error}");
    let (status, _) = post(&app, &resolve, &dispatcher, json!({})).await;
    assert!(status == 400 || status == 422);
    assert_eq!(
        get(&app, &format!("/api/v1/alerts/{alert}"), &dispatcher)
            .await
            .1["status"],
        "open"
    );

    assert_eq!(
        post(
            &app,
            &resolve,
            &dispatcher,
            json!({"note": "false alarm, called her"})
        )
        .await
        .0,
        200
    );
    let (status, error) = post(
        &app,
        &format!("/api/v1/alerts/{alert}/ack"),
        &dispatcher,
        json!({"note": "late"}),
    )
    .await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("Resolved"),
        "{error}"
    );
    assert_eq!(
        post(&app, &resolve, &dispatcher, json!({"note": "again"}))
            .await
            .0,
        409
    );
}

#[tokio::test]
async fn auditors_and_pilots_get_403_for_alerts_and_no_token_gets_401() {
    let app = app(None).await;
    for role in [Role::Auditor, Role::Pilot] {
        let token = token_for(role, &["*"]);
        assert_eq!(get(&app, "/api/v1/alerts", &token).await.0, 403, "{role:?}");
        assert_eq!(
            get(&app, "/api/v1/alerts/some-id", &token).await.0,
            403,
            "{role:?}"
        );
        assert_eq!(
            get(&app, "/api/v1/orders/some-id/state", &token).await.0,
            403,
            "{role:?}"
        );
    }
    let (status, _) = post(
        &app,
        "/api/v1/alerts/some-id/ack",
        &admin(),
        json!({"note": "x"}),
    )
    .await;
    assert_eq!(status, 403, "acknowledging is a dispatcher's act");
    for path in [
        "/api/v1/alerts",
        "/api/v1/alerts/some-id",
        "/api/v1/orders/some-id/state",
    ] {
        assert_eq!(
            app.call(reqwest::Method::GET, path, None, None).await.0,
            401,
            "{path}"
        );
    }
    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/alerts/some-id/resolve",
            None,
            Some(&json!({"note": "x"}))
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn a_panic_from_a_device_in_no_order_is_listed_for_every_dispatcher_and_can_be_acknowledged()
{
    let app = app(None).await;
    let alert = panic(&app, "nobody").await;
    let utrecht = token_for(Role::Dispatcher, &["utrecht"]);

    let (_, list) = get(&app, "/api/v1/alerts", &utrecht).await;
    assert_eq!(ids(&list), [alert.as_str()]);
    assert_eq!(list["items"][0]["kind"], "panic_unassigned");
    assert_eq!(list["items"][0]["region"], Value::Null);
    let (status, acked) = post(
        &app,
        &format!("/api/v1/alerts/{alert}/ack"),
        &utrecht,
        json!({"note": "calling the number"}),
    )
    .await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    let (_, read) = get(&app, &format!("/api/v1/alerts/{alert}"), &dispatcher()).await;
    assert_eq!(read["timeline"].as_array().map(Vec::len), Some(2), "{read}");
}

#[tokio::test]
async fn the_list_fills_again_when_the_event_log_dropped_revisions_it_had_not_read() {
    const PANICS: usize = 1_100;
    let app = app(None).await;
    assert_eq!(get(&app, "/api/v1/alerts", &admin()).await.0, 200);

    let store = app.store();
    for n in 0..PANICS {
        let id = format!("b-{n:04}");
        let body = serde_json::to_vec(&order(&id, "rotterdam")).unwrap();
        let order = StoredOrder {
            id: OrderId::new(id),
            body,
        };
        store.put_order(&order).await.unwrap();
    }
    eventually(
        Duration::from_secs(30),
        "the app loading the orders",
        || async { app.metric("vangnet_orders").await >= PANICS as f64 },
    )
    .await
    .unwrap();
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let log = format!("{}:events", app.store_prefix);
    let mqtt = MqttClient::connect(&unique_name("victims")).await;
    for chunk in (0..PANICS).collect::<Vec<_>>().chunks(250) {
        for n in chunk {
            let device = DeviceId::parse(&format!("b-{n:04}-v"), "device").unwrap();
            let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"});
            let topic = app.topics.uplink(&device, Channel::Alarm);
            mqtt.publish(&topic, QoS::AtLeastOnce, alarm.to_string())
                .await;
        }
        let published = chunk[chunk.len() - 1] + 1;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let logged: usize = redis::cmd("XLEN").arg(&log).query(&mut redis).unwrap();
            if logged >= published {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{logged} of {published} panics logged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _: usize = redis::cmd("XTRIM")
        .arg(&log)
        .arg("MAXLEN")
        .arg(1_000)
        .query(&mut redis)
        .unwrap();

    let mut listed = 0;
    let mut path = "/api/v1/alerts?limit=500".to_owned();
    loop {
        let (status, page) = get(&app, &path, &admin()).await;
        assert_eq!(status, 200, "{page}");
        listed += ids(&page).len();
        match page["next"].as_str() {
            Some(cursor) => path = format!("/api/v1/alerts?limit=500&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(listed, PANICS);
}

/// The perpetrator's tag of `order_id` reports tampering; returns the alert id of the receipt.
async fn tamper(app: &TestApp, order_id: &str) -> String {
    let mut device = app.device(&format!("{order_id}-p")).await;
    let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "tamper"});
    device.send(Channel::Alarm, alarm.to_string()).await;
    let ack = device
        .next_downlink(Duration::from_secs(5))
        .await
        .expect("a receipt for the tamper alarm")
        .json();
    ack["alert_ids"][0].as_str().unwrap().to_owned()
}

fn incident_ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["incident_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_orders_alerts_of_one_episode_are_listed_as_one_incident_at_their_highest_priority() {
    let app = app(None).await;
    create_orders(&app, &[order("i-1", "rotterdam")]).await;
    let panic_id = panic(&app, "i-1").await;
    let tamper_id = tamper(&app, "i-1").await;

    let (status, list) = get(&app, "/api/v1/incidents", &dispatcher()).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(incident_ids(&list), [panic_id.as_str()]);
    assert_eq!(list["next"], Value::Null);
    let incident = &list["items"][0];
    assert_eq!(incident["order_id"], "i-1");
    assert_eq!(incident["region"], "rotterdam");
    assert_eq!(incident["priority"], "P1");
    assert_eq!(incident["status"], "open");
    let alerts: Vec<&str> = incident["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(alerts, [panic_id.as_str(), tamper_id.as_str()]);
    assert_eq!(incident["alerts"][1]["incident_id"], panic_id.as_str());

    let (status, one) = get(
        &app,
        &format!("/api/v1/incidents/{panic_id}"),
        &dispatcher(),
    )
    .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(&one, incident);
    let (_, listed) = get(&app, &format!("/api/v1/alerts/{tamper_id}"), &admin()).await;
    assert_eq!(listed["incident_id"], panic_id.as_str());
}

#[tokio::test]
async fn the_incident_list_filters_and_pages_like_the_alert_list() {
    let app = app(None).await;
    create_orders(
        &app,
        &[order("f-1", "rotterdam"), order("f-2", "rotterdam")],
    )
    .await;
    let older = panic(&app, "f-1").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = tamper(&app, "f-2").await;

    let count = |path: &'static str| {
        let app = &app;
        async move { incident_ids(&get(app, path, &admin()).await.1).len() }
    };
    assert_eq!(count("/api/v1/incidents").await, 2);
    assert_eq!(count("/api/v1/incidents?priority=P1").await, 1);
    assert_eq!(count("/api/v1/incidents?status=open").await, 2);
    assert_eq!(count("/api/v1/incidents?status=resolved").await, 0);
    assert_eq!(count("/api/v1/incidents?exercise=true").await, 0);
    assert_eq!(count("/api/v1/incidents?region=rotterdam").await, 2);

    let (_, first) = get(&app, "/api/v1/incidents?limit=1", &admin()).await;
    assert_eq!(incident_ids(&first), [newer.as_str()]);
    let cursor = first["next"].as_str().expect("a cursor to the next page");
    let (_, second) = get(
        &app,
        &format!("/api/v1/incidents?limit=1&cursor={cursor}"),
        &admin(),
    )
    .await;
    assert_eq!(incident_ids(&second), [older.as_str()]);
    assert_eq!(second["next"], Value::Null);
    assert_eq!(
        get(&app, "/api/v1/incidents?priority=P9", &admin()).await.0,
        400
    );
}

#[tokio::test]
async fn a_rotterdam_dispatcher_never_sees_a_utrecht_incident() {
    let app = app(None).await;
    create_orders(
        &app,
        &[order("ri-1", "rotterdam"), order("ui-1", "utrecht")],
    )
    .await;
    let ours = panic(&app, "ri-1").await;
    let theirs = panic(&app, "ui-1").await;
    let dispatcher = dispatcher();

    let (_, list) = get(&app, "/api/v1/incidents", &dispatcher).await;
    assert_eq!(incident_ids(&list), [ours.as_str()]);
    let (_, all) = get(&app, "/api/v1/incidents", &admin()).await;
    assert_eq!(incident_ids(&all).len(), 2);
    let path = format!("/api/v1/incidents/{theirs}");
    assert_eq!(get(&app, &path, &dispatcher).await.0, 404);
    assert_eq!(get(&app, &path, &admin()).await.0, 200);
    let (status, _) = get(&app, "/api/v1/incidents?region=utrecht", &dispatcher).await;
    assert_eq!(status, 403);
    assert_eq!(
        get(&app, "/api/v1/incidents/no-such-incident", &admin())
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn auditors_and_pilots_get_403_for_incidents_and_no_token_gets_401() {
    let app = app(None).await;
    for role in [Role::Auditor, Role::Pilot] {
        let token = token_for(role, &["*"]);
        for path in ["/api/v1/incidents", "/api/v1/incidents/some-id"] {
            assert_eq!(get(&app, path, &token).await.0, 403, "{role:?} {path}");
        }
    }
    for path in ["/api/v1/incidents", "/api/v1/incidents/some-id"] {
        assert_eq!(
            app.call(reqwest::Method::GET, path, None, None).await.0,
            401,
            "{path}"
        );
    }
}

/// Every page of `path` (a list with `?`), `limit` items at a time.
async fn every_page(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = format!("{path}&limit={limit}");
    loop {
        let (status, page) = get(app, &next, &admin()).await;
        assert_eq!(status, 200, "{page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(cursor) => next = format!("{path}&limit={limit}&cursor={cursor}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn the_alert_and_incident_lists_answer_the_same_with_a_window_of_0_s_as_with_a_day() {
    let day = app(None).await;
    let narrow = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .same_deployment_as(&day)
            .env(
                "VANGNET_MQTT_PREFIX",
                format!("test/{}", unique_name("narrow")),
            )
            .env("VANGNET_ALERT_WINDOW_S", "0"),
    )
    .await;
    narrow.wait_until_ready().await;
    create_orders(
        &day,
        &[
            order("w-1", "rotterdam"),
            order("w-2", "rotterdam"),
            order("w-3", "utrecht"),
        ],
    )
    .await;
    let first = panic(&day, "w-1").await;
    let joined = tamper(&day, "w-1").await;
    let second = panic(&day, "w-2").await;
    let open = panic(&day, "w-3").await;
    for alert in [&first, &joined, &second] {
        let resolve = format!("/api/v1/alerts/{alert}/resolve");
        let (status, body) = post(&day, &resolve, &dispatcher(), json!({"note": "safe"})).await;
        assert_eq!(status, 200, "{body}");
    }

    for path in [
        "/api/v1/alerts?",
        "/api/v1/alerts?status=resolved",
        "/api/v1/alerts?status=open",
        "/api/v1/alerts?region=rotterdam",
        "/api/v1/incidents?",
        "/api/v1/incidents?status=resolved",
        "/api/v1/incidents?status=open",
    ] {
        let all = every_page(&day, path, 100).await;
        assert!(!all.is_empty(), "{path}");
        for limit in [1, 2] {
            assert_eq!(every_page(&narrow, path, limit).await, all, "{path}");
        }
    }
    assert_eq!(every_page(&day, "/api/v1/alerts?", 100).await.len(), 4);
    for incident in [&first, &second, &open, &joined] {
        let path = format!("/api/v1/incidents/{incident}");
        assert_eq!(
            get(&narrow, &path, &admin()).await,
            get(&day, &path, &admin()).await
        );
    }
    assert_eq!(
        get(&narrow, &format!("/api/v1/incidents/{first}"), &admin())
            .await
            .0,
        200
    );
    assert_eq!(day.metric("vangnet_alert_board_alerts").await, 4.0);
    assert_eq!(narrow.metric("vangnet_alert_board_alerts").await, 2.0);
}
