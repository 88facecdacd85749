//! Every accepted alert revision reaches police dispatch, signed,
//! most urgent first, whatever fails in between.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, RedisServer, Sink, SinkRequest, TestApp, cap_schema, eventually, unique_name,
};
use vangnet_proto::token::Role;
use vangnet_proto::{Channel, DispatchBody, OrderId, Priority, TimestampMs};
use vangnet_server::store::{
    AuditLog, Commit, Outbox, PartitionKey, PartitionStore, TimelineEntry,
};

const SECRET: &str = "dispatch-test-secret";

fn order(id: &str, exercise: bool) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": exercise,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

fn alarm(seq: u64, kind: &str) -> String {
    json!({"seq": seq, "ts": TimestampMs::now(), "kind": kind}).to_string()
}

async fn app_with(sink: &Sink, extra: AppOptions) -> TestApp {
    let options = extra
        .env("VANGNET_DISPATCH_URL", sink.url())
        .env("VANGNET_DISPATCH_SECRET", SECRET);
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app
}

async fn wait_for_deliveries(sink: &Sink, count: usize, wait: Duration) -> Vec<SinkRequest> {
    let deadline = Instant::now() + wait;
    loop {
        let delivered = sink.delivered();
        if delivered.len() >= count {
            return delivered;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} deliveries within {wait:?}",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn idempotency_keys(delivered: &[SinkRequest]) -> std::collections::BTreeSet<String> {
    delivered
        .iter()
        .filter_map(|r| r.headers.get("idempotency-key").cloned())
        .collect()
}

#[tokio::test]
async fn a_panic_reaches_dispatch_signed_with_its_idempotency_key() {
    let sink = Sink::start().await;
    let app = app_with(&sink, AppOptions::default()).await;
    app.put_order(order("d-1", false)).await;
    let victim = app.device("d-1-v").await;

    victim.send(Channel::Alarm, alarm(1, "panic")).await;

    let request = &wait_for_deliveries(&sink, 1, Duration::from_secs(5)).await[0];
    let body = request.json();
    assert_eq!(
        (body["kind"].as_str(), body["priority"].as_str()),
        (Some("panic"), Some("P1"))
    );
    let key = format!("{}/1", body["alert_id"].as_str().unwrap());
    assert_eq!(request.headers.get("idempotency-key"), Some(&key));
    let expected = vangnet_proto::dispatch_signature(SECRET.as_bytes(), &request.body);
    assert_eq!(request.headers.get("x-vangnet-signature"), Some(&expected));
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
}

/// Waits until the default route has failed at least `count` attempts.
async fn failed_attempts(app: &TestApp, count: f64, wait: Duration) {
    let failed = "vangnet_dispatch_attempts_total{route=\"default\",outcome=\"failed\"}";
    eventually(wait, "failed dispatch attempts", || async {
        app.metric(failed).await >= count
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_route_down_through_many_retries_then_up_gets_every_revision_p1_first() {
    let sink = Sink::start().await;
    sink.set_failing(true);
    let app = app_with(
        &sink,
        AppOptions::default().env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1"),
    )
    .await;
    app.put_order(order("d-2", false)).await;
    let (victim, perpetrator) = (app.device("d-2-v").await, app.device("d-2-p").await);
    perpetrator.send(Channel::Alarm, alarm(1, "tamper")).await;
    perpetrator
        .send(Channel::Alarm, alarm(2, "strap_open"))
        .await;
    victim.send(Channel::Alarm, alarm(1, "fall")).await;
    failed_attempts(&app, 1.0, Duration::from_secs(10)).await;
    victim.send(Channel::Alarm, alarm(2, "panic")).await;

    failed_attempts(&app, 8.0, Duration::from_secs(30)).await;
    assert!(sink.delivered().is_empty());
    sink.set_failing(false);

    let delivered = wait_for_deliveries(&sink, 4, Duration::from_secs(20)).await;
    assert_eq!(
        delivered[0].json()["priority"],
        "P1",
        "the panic goes first"
    );
    assert_eq!(idempotency_keys(&delivered).len(), 4);
}

#[tokio::test]
async fn kill_9_while_the_route_is_down_then_restart_delivers_everything() {
    let mut sink = Sink::start().await;
    sink.stop().await;
    let mut app = app_with(&sink, AppOptions::default()).await;
    app.put_order(order("d-3", false)).await;
    let victim = app.device("d-3-v").await;
    victim.send(Channel::Alarm, alarm(1, "panic")).await;
    victim.send(Channel::Alarm, alarm(2, "fall")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    app.kill9();
    sink.restart().await;
    app.restart().await;

    let delivered = wait_for_deliveries(&sink, 2, Duration::from_secs(20)).await;
    let kinds: std::collections::BTreeSet<_> = delivered
        .iter()
        .map(|r| r.json()["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        kinds.contains("panic") && kinds.contains("fall"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_redis_restart_while_running_loses_nothing() {
    let mut redis = RedisServer::start();
    let sink = Sink::start().await;
    let app = app_with(
        &sink,
        AppOptions::default().env("VANGNET_STORE", redis.url()),
    )
    .await;
    app.put_order(order("d-4", false)).await;
    let victim = app.device("d-4-v").await;
    victim.send(Channel::Alarm, alarm(1, "panic")).await;
    wait_for_deliveries(&sink, 1, Duration::from_secs(5)).await;

    redis.restart(Duration::from_secs(2));
    victim.send(Channel::Alarm, alarm(2, "fall")).await;

    let delivered = wait_for_deliveries(&sink, 2, Duration::from_secs(30)).await;
    assert!(delivered.iter().any(|r| r.json()["kind"] == "fall"));
}

#[tokio::test]
async fn exercise_alerts_reach_only_the_exercise_route() {
    let real = Sink::start().await;
    let drill = Sink::start().await;
    let config = std::env::temp_dir().join(format!("{}.toml", unique_name("routes")));
    std::fs::write(
        &config,
        format!(
            "[[routes]]\nname = \"drill\"\nurl = \"{}\"\nexercise = true\nmin_priority = \"P3\"\n",
            drill.url()
        ),
    )
    .unwrap();
    let app = app_with(
        &real,
        AppOptions::default().env("VANGNET_CONFIG", config.to_str().unwrap()),
    )
    .await;
    app.put_order(order("real", false)).await;
    app.put_order(order("exercise", true)).await;

    app.device("exercise-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;
    app.device("real-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;

    let to_real = wait_for_deliveries(&real, 1, Duration::from_secs(5)).await;
    let to_drill = wait_for_deliveries(&drill, 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        real.delivered()
            .iter()
            .all(|r| r.json()["exercise"] == false),
        "{:?}",
        to_real[0].json()
    );
    assert!(
        drill
            .delivered()
            .iter()
            .all(|r| r.json()["exercise"] == true),
        "{:?}",
        to_drill[0].json()
    );
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn a_cap_route_receives_cap_1_2_valid_against_the_schema() {
    let real = Sink::start().await;
    let cap = Sink::start().await;
    let config = std::env::temp_dir().join(format!("{}.toml", unique_name("routes")));
    std::fs::write(
        &config,
        format!(
            "[[routes]]\nname = \"cap\"\nurl = \"{}\"\nformat = \"cap\"\n",
            cap.url()
        ),
    )
    .unwrap();
    let app = app_with(
        &real,
        AppOptions::default().env("VANGNET_CONFIG", config.to_str().unwrap()),
    )
    .await;
    app.put_order(order("d-6", false)).await;
    app.device("d-6-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;

    let request = &wait_for_deliveries(&cap, 1, Duration::from_secs(5)).await[0];
    let document = std::env::temp_dir().join(format!("{}.xml", unique_name("cap")));
    std::fs::write(&document, &request.body).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(cap_schema())
        .arg(&document)
        .output()
        .expect("xmllint (apt-get install libxml2-utils)");
    let _ = std::fs::remove_file(&document);
    let _ = std::fs::remove_file(config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_route_with_a_p1_undelivered_past_the_allowance_is_degraded_in_healthz_and_metrics() {
    let sink = Sink::start().await;
    sink.set_failing(true);
    let app = app_with(
        &sink,
        AppOptions::default()
            .env("VANGNET_DISPATCH_DEGRADED_AFTER_S", "3")
            .env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1"),
    )
    .await;
    app.put_order(order("d-7", false)).await;
    let pressed = std::time::Instant::now();
    app.device("d-7-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;
    let healthz = || async { app.get("/healthz").await.json::<Value>().await.unwrap() };
    failed_attempts(&app, 1.0, Duration::from_secs(10)).await;
    let early = healthz().await;
    if pressed.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            early["status"], "ok",
            "degraded before the allowance: {early}"
        );
    }

    eventually(Duration::from_secs(10), "the route degraded", || async {
        healthz().await["status"] == "degraded"
    })
    .await
    .unwrap();

    let health = healthz().await;
    assert_eq!(health["degraded_routes"], json!(["default"]));
    let gauge = "vangnet_dispatch_route_degraded{route=\"default\"}";
    assert_eq!(app.metric(gauge).await, 1.0);
    sink.set_failing(false);
    wait_for_deliveries(&sink, 1, Duration::from_secs(10)).await;
}

/// A config file holding `routes` (TOML `[[routes]]` tables); removed by the caller.
fn routes_file(routes: &str) -> std::path::PathBuf {
    let config = std::env::temp_dir().join(format!("{}.toml", unique_name("routes")));
    std::fs::write(&config, routes).unwrap();
    config
}

fn drill_route(sink: &Sink) -> String {
    format!(
        "[[routes]]\nname = \"drill\"\nurl = \"{}\"\nexercise = true\nmin_priority = \"P3\"\n",
        sink.url()
    )
}

/// Commits `count` open P1 panic alerts of an exercise order straight into
/// the store, as a long exercise would have left them queued.
async fn seed_exercise_backlog(app: &TestApp, count: usize) {
    let store = app.store();
    let partition = PartitionKey::Order(OrderId::new("seeded-drill"));
    let now = TimestampMs::now();
    for (version, chunk) in (0..count).collect::<Vec<_>>().chunks(100).enumerate() {
        let revisions = chunk
            .iter()
            .map(|n| {
                let revision: DispatchBody = serde_json::from_value(json!({
                    "alert_id": format!("seeded-{n}"), "revision": 1, "order_id": "seeded-drill",
                    "region": "rotterdam", "priority": "P1", "kind": "panic", "confidence": null,
                    "status": "open", "exercise": true, "late": false, "count": 1,
                    "created_at": "2026-11-28T12:00:01.120Z", "updated_at": "2026-11-28T12:00:01.120Z",
                    "cleared_at": null, "victim": null, "perpetrator": null, "zone": null,
                    "distance_m": null, "summary": "seeded"
                }))
                .unwrap();
                TimelineEntry {
                    revision,
                    act: None,
                }
            })
            .collect();
        let commit = Commit {
            revisions,
            at: now,
            ..Commit::default()
        };
        store
            .commit(&partition, version as u64, commit)
            .await
            .unwrap();
    }
    let depth = store.outbox_depth().await.unwrap();
    assert!(depth.contains(&(Priority::P1, count as u64)), "{depth:?}");
}

/// A drill route broken by `break_it` with 1,500 exercise revisions queued
/// for it; a real panic must still reach the police route within `within`.
async fn a_real_panic_passes_a_broken_drill_route(
    break_it: impl FnOnce(&Sink),
    order_id: &str,
    within: Duration,
) {
    let real = Sink::start().await;
    let drill = Sink::start().await;
    break_it(&drill);
    let config = routes_file(&drill_route(&drill));
    let app = app_with(
        &real,
        AppOptions::default().env("VANGNET_CONFIG", config.to_str().unwrap()),
    )
    .await;
    app.put_order(order(order_id, false)).await;
    seed_exercise_backlog(&app, 1500).await;
    let failed = "vangnet_dispatch_attempts_total{route=\"drill\",outcome=\"failed\"}";
    eventually(
        Duration::from_secs(15),
        "a drill attempt failing",
        || async { app.metric(failed).await >= 1.0 },
    )
    .await
    .unwrap();

    app.device(&format!("{order_id}-v"))
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;

    let delivered = wait_for_deliveries(&real, 1, within).await;
    assert_eq!(delivered[0].json()["kind"], "panic");
    assert_eq!(delivered[0].json()["exercise"], false);
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn a_failing_exercise_route_with_1500_queued_never_delays_a_real_panic() {
    a_real_panic_passes_a_broken_drill_route(
        |drill| drill.set_failing(true),
        "d-8",
        Duration::from_secs(15),
    )
    .await;
}

#[tokio::test]
async fn a_hanging_exercise_route_with_1500_queued_never_delays_a_real_panic() {
    a_real_panic_passes_a_broken_drill_route(
        |drill| drill.set_hanging(true),
        "d-13",
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_never_followed_and_the_revision_is_posted_again() {
    let sink = Sink::start().await;
    sink.set_redirecting(true);
    let app = app_with(&sink, AppOptions::default()).await;
    app.put_order(order("d-9", false)).await;
    app.device("d-9-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;
    let failed = "vangnet_dispatch_attempts_total{route=\"default\",outcome=\"failed\"}";
    eventually(
        Duration::from_secs(10),
        "the redirect counted as a failed attempt",
        || async { app.metric(failed).await >= 1.0 },
    )
    .await
    .unwrap();
    assert!(sink.delivered().is_empty(), "the redirect was followed");

    sink.set_redirecting(false);

    let delivered = wait_for_deliveries(&sink, 1, Duration::from_secs(35)).await;
    assert_eq!(delivered[0].method, "POST");
    assert_eq!(delivered[0].json()["kind"], "panic");
}

const JWT_SECRET: &str = "dispatch-test-jwt-secret-of-32-bytes-or-more";

async fn healthz(app: &TestApp) -> Value {
    app.get("/healthz").await.json::<Value>().await.unwrap()
}

#[tokio::test]
async fn a_p1_that_no_route_takes_degrades_healthz_until_a_dispatcher_acknowledges_it() {
    let drill = Sink::start().await;
    let config = routes_file(&drill_route(&drill));
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_CONFIG", config.to_str().unwrap())
            .env("VANGNET_JWT_SECRET", JWT_SECRET),
    )
    .await;
    app.wait_until_ready().await;
    app.put_order(order("d-10", false)).await;

    let alert = app.press_panic("d-10-v").await;

    eventually(Duration::from_secs(5), "healthz degraded", || async {
        healthz(&app).await["status"] == "degraded"
    })
    .await
    .unwrap();
    let health = healthz(&app).await;
    assert_eq!(health["unrouted_alerts"], 1, "{health}");
    let unrouted = "vangnet_dispatch_unrouted_total{priority=\"P1\"}";
    assert_eq!(app.metric(unrouted).await, 1.0);

    let token = vangnet_e2e::token_for(JWT_SECRET, Role::Dispatcher, &["*"]);
    let (status, acked) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/alerts/{alert}/ack"),
            Some(&token),
            Some(&json!({"note": "phoned the local station"})),
        )
        .await;
    assert_eq!(status, 200, "{acked}");

    eventually(Duration::from_secs(5), "healthz ok again", || async {
        healthz(&app).await["status"] == "ok"
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn an_unrouted_p1_still_degrades_healthz_after_a_restart() {
    let drill = Sink::start().await;
    let config = routes_file(&drill_route(&drill));
    let mut app =
        TestApp::spawn_with(AppOptions::default().env("VANGNET_CONFIG", config.to_str().unwrap()))
            .await;
    app.wait_until_ready().await;
    app.put_order(order("d-14", false)).await;
    app.press_panic("d-14-v").await;
    eventually(Duration::from_secs(5), "healthz degraded", || async {
        healthz(&app).await["status"] == "degraded"
    })
    .await
    .unwrap();

    app.kill9();
    app.restart().await;

    eventually(
        Duration::from_secs(10),
        "healthz degraded again",
        || async { healthz(&app).await["unrouted_alerts"] == 1 },
    )
    .await
    .unwrap();
    assert_eq!(healthz(&app).await["status"], "degraded");
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn with_no_route_configured_a_panic_is_kept_and_healthz_stays_ok() {
    let app = TestApp::spawn().await;
    app.wait_until_ready().await;
    app.put_order(order("d-11", false)).await;

    app.press_panic("d-11-v").await;

    let store = app.store();
    eventually(Duration::from_secs(5), "the outbox emptied", || async {
        store
            .outbox_depth()
            .await
            .is_ok_and(|depth| depth.iter().all(|(_, n)| *n == 0))
    })
    .await
    .unwrap();
    assert_eq!(healthz(&app).await["status"], "ok");
    let unrouted = "vangnet_dispatch_unrouted_total{priority=\"P1\"}";
    assert_eq!(app.metric(unrouted).await, 0.0);
}

#[tokio::test]
async fn three_hundred_presses_reach_dispatch_as_a_handful_of_revisions_the_last_with_count_300() {
    let sink = Sink::start().await;
    let every_2_s = AppOptions::default().env("VANGNET_DISPATCH_COUNT_EVERY_S", "2");
    let app = app_with(&sink, every_2_s).await;
    app.put_order(order("d-12", false)).await;
    let victim = app.device("d-12-v").await;

    let first_press = Instant::now();
    for seq in 1..=300 {
        victim.send(Channel::Alarm, alarm(seq, "panic")).await;
    }

    let first = &wait_for_deliveries(&sink, 1, Duration::from_secs(2)).await[0];
    assert!(
        first.at.duration_since(first_press) < Duration::from_millis(1500),
        "the first press took {:?}",
        first.at.duration_since(first_press)
    );
    assert_eq!(first.json()["count"], 1);
    eventually(
        Duration::from_secs(30),
        "a revision with count 300",
        || async { sink.delivered().iter().any(|r| r.json()["count"] == 300) },
    )
    .await
    .unwrap();
    let delivered = sink.delivered();
    assert!(delivered.len() <= 5, "{} revisions sent", delivered.len());
    let store = app.store();
    eventually(Duration::from_secs(10), "the outbox emptied", || async {
        store
            .outbox_depth()
            .await
            .is_ok_and(|depth| depth.iter().all(|(_, n)| *n == 0))
    })
    .await
    .unwrap();
    let settled: std::collections::BTreeSet<u64> = store
        .audit_after(0, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e.action.as_str(),
                "dispatch.delivered" | "dispatch.superseded"
            )
        })
        .filter_map(|e| e.detail["revision"].as_u64())
        .collect();
    assert_eq!(
        settled,
        (1..=300).collect(),
        "every revision delivered or superseded in the audit trail"
    );
}
