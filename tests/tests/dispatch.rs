//! Issue 5: every accepted alert revision reaches police dispatch, signed,
//! most urgent first, whatever fails in between.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, RedisServer, Sink, SinkRequest, TestApp, eventually, unique_name};
use vangnet_proto::{Channel, TimestampMs};

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
    let expected = vangnet_server::dispatch::signature(SECRET.as_bytes(), &request.body);
    assert_eq!(request.headers.get("x-vangnet-signature"), Some(&expected));
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
}

#[tokio::test]
async fn a_route_down_for_60_s_then_up_gets_every_revision_p1_first() {
    let sink = Sink::start().await;
    sink.set_failing(true);
    let app = app_with(&sink, AppOptions::default()).await;
    app.put_order(order("d-2", false)).await;
    let (victim, perpetrator) = (app.device("d-2-v").await, app.device("d-2-p").await);
    perpetrator.send(Channel::Alarm, alarm(1, "tamper")).await;
    perpetrator
        .send(Channel::Alarm, alarm(2, "strap_open"))
        .await;
    victim.send(Channel::Alarm, alarm(1, "fall")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    victim.send(Channel::Alarm, alarm(2, "panic")).await;

    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(sink.delivered().is_empty());
    sink.set_failing(false);

    let delivered = wait_for_deliveries(&sink, 4, Duration::from_secs(40)).await;
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
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/standards/cap/CAP-v1.2.xsd"
    );
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", schema])
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
async fn a_route_with_a_p1_undelivered_for_30_s_is_degraded_in_healthz_and_metrics() {
    let sink = Sink::start().await;
    sink.set_failing(true);
    let app = app_with(&sink, AppOptions::default()).await;
    app.put_order(order("d-7", false)).await;
    app.device("d-7-v")
        .await
        .send(Channel::Alarm, alarm(1, "panic"))
        .await;
    let healthz = || async { app.get("/healthz").await.json::<Value>().await.unwrap() };
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(healthz().await["status"], "ok", "not degraded before 30 s");

    tokio::time::sleep(Duration::from_secs(13)).await;

    let health = healthz().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["degraded_routes"], json!(["default"]));
    let gauge = "vangnet_dispatch_route_degraded{route=\"default\"}";
    assert_eq!(app.metric(gauge).await, 1.0);
    sink.set_failing(false);
    wait_for_deliveries(&sink, 1, Duration::from_secs(35)).await;
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
