//! The audit trail: API changes, alert revisions and acts
//! appear in `GET /api/v1/audit` with actor and hash chain, a change is
//! never made without its entry, and `vangnet audit verify` finds an entry
//! edited, deleted or swapped in Redis.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use redis::TypedCommands;
use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, Sink, TestApp, eventually, redis_url, unique_name, workspace_binary,
};
use vangnet_proto::token::Role;
use vangnet_proto::{Channel, TimestampMs};
use vangnet_server::audit_chain::{self as chain, Entry};
use vangnet_server::store::EventLog;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token_for(role: Role) -> String {
    vangnet_e2e::token_for(SECRET, role, &["*"])
}

async fn app() -> TestApp {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    app
}

fn order(id: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

/// Posts order `id` as an admin; the answer's status and body.
async fn post_order(app: &TestApp, id: &str) -> (u16, Value) {
    let admin = token_for(Role::Admin);
    let order = order(id);
    app.call(
        reqwest::Method::POST,
        "/api/v1/orders",
        Some(&admin),
        Some(&order),
    )
    .await
}

/// Creates orders through the API, each of which appends one entry.
async fn create_orders(app: &TestApp, ids: &[&str]) {
    for id in ids {
        let (status, body) = post_order(app, id).await;
        assert_eq!(status, 201, "{body}");
    }
}

/// Presses the panic button of order `id`'s victim, once the app has loaded
/// the order; returns the alert from the receipt.
async fn raise_panic(app: &TestApp, id: &str) -> String {
    eventually(
        Duration::from_secs(10),
        "the app loading the order",
        || async { app.metric("vangnet_orders").await >= 1.0 },
    )
    .await
    .unwrap();
    let mut victim = app.device(&format!("{id}-v")).await;
    let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string();
    victim.send(Channel::Alarm, alarm).await;
    let receipt = victim
        .next_downlink(Duration::from_secs(5))
        .await
        .unwrap()
        .json();
    receipt["alert_ids"][0].as_str().unwrap().to_owned()
}

/// Acknowledges `alert` as `dispatcher-1` with `note`.
async fn acknowledge(app: &TestApp, alert: &str, note: &str) {
    let dispatcher = token_for(Role::Dispatcher);
    let path = format!("/api/v1/alerts/{alert}/ack");
    let note = json!({ "note": note });
    let (status, body) = app
        .call(reqwest::Method::POST, &path, Some(&dispatcher), Some(&note))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The whole trail, read page by page through the API.
async fn trail(app: &TestApp) -> Vec<Entry> {
    let auditor = token_for(Role::Auditor);
    let mut entries = Vec::new();
    let mut path = "/api/v1/audit?limit=2".to_owned();
    loop {
        let (status, page) = app
            .call(reqwest::Method::GET, &path, Some(&auditor), None)
            .await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            entries.push(serde_json::from_value(item.clone()).unwrap());
        }
        match page["next"].as_u64() {
            Some(next) => path = format!("/api/v1/audit?limit=2&after={next}"),
            None => return entries,
        }
    }
}

/// Runs `vangnet audit ARGS` against the app's Redis key prefix.
fn vangnet_audit(app: &TestApp, args: &[&str]) -> Output {
    Command::new(workspace_binary("vangnet"))
        .arg("audit")
        .args(args)
        .env_clear()
        .env("VANGNET_STORE", redis_url())
        .env("VANGNET_STORE_PREFIX", &app.store_prefix)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The Redis list holding the app's audit entries.
fn entries_key(app: &TestApp) -> String {
    format!("{}:{{audit}}:entries", app.store_prefix)
}

fn redis() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// How many of `entries` record `action`.
fn count(entries: &[Entry], action: &str) -> usize {
    entries.iter().filter(|e| e.action == action).count()
}

/// The audit chain made unwritable (its list turned into a string) until `unblock`.
struct BlockedChain {
    redis: redis::Connection,
    key: String,
    aside: String,
}

impl BlockedChain {
    fn block(app: &TestApp) -> Self {
        let mut redis = redis();
        let key = entries_key(app);
        let aside = format!("{key}:aside");
        redis.rename(&key, &aside).unwrap();
        redis
            .set(&key, "not a list: the chain cannot grow")
            .unwrap();
        Self { redis, key, aside }
    }

    fn unblock(mut self) {
        self.redis.del(&self.key).unwrap();
        self.redis.rename(&self.aside, &self.key).unwrap();
    }
}

/// Asserts `vangnet audit verify` fails naming `seq` and the fault.
fn assert_verify_fails(app: &TestApp, seq: u64, fault: &str) {
    let output = vangnet_audit(app, &["verify"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("seq {seq}:")), "{stderr}");
    assert!(stderr.contains(fault), "{stderr}");
}

#[tokio::test]
async fn an_order_change_a_panic_and_its_ack_appear_in_the_trail_with_actor_and_chain() {
    let app = app().await;
    create_orders(&app, &["a-1"]).await;
    let alert = raise_panic(&app, "a-1").await;
    acknowledge(&app, &alert, "on it").await;

    eventually(
        Duration::from_secs(10),
        "both revisions audited",
        || async {
            let entries = trail(&app).await;
            entries
                .iter()
                .filter(|e| e.action == "alert.revision")
                .count()
                == 2
        },
    )
    .await
    .unwrap();
    let entries = trail(&app).await;

    let find = |action: &str| entries.iter().find(|e| e.action == action).unwrap();
    let created = find("order.create");
    assert_eq!(
        (created.actor.as_str(), created.subject.as_str()),
        ("admin-1", "a-1")
    );
    let raised = find("alert.revision");
    assert_eq!(
        (raised.actor.as_str(), raised.subject.as_str()),
        ("system", alert.as_str())
    );
    assert_eq!(raised.detail["revision"], 1);
    assert_eq!(raised.detail["kind"], "panic");
    let acked = find("alert.acknowledge");
    assert_eq!(
        (acked.actor.as_str(), acked.subject.as_str()),
        ("dispatcher-1", alert.as_str())
    );
    assert_eq!(acked.detail["note"], "on it");
    assert_eq!(entries[0].prev_hash, chain::GENESIS);
    assert!(
        entries
            .windows(2)
            .all(|pair| pair[1].prev_hash == pair[0].hash)
    );
    assert_eq!(chain::verify(&entries), Ok(entries.len() as u64));
}

#[tokio::test]
async fn an_order_change_the_trail_cannot_record_is_not_made() {
    let app = app().await;
    create_orders(&app, &["u-0"]).await;
    let blocked = BlockedChain::block(&app);
    let (status, body) = post_order(&app, "u-1").await;
    assert_eq!(status, 503, "{body}");
    blocked.unblock();

    let admin = token_for(Role::Admin);
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orders/u-1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(count(&trail(&app).await, "order.create"), 1);
}

#[tokio::test]
async fn an_ack_taken_by_an_instance_killed_before_it_audited_is_still_in_the_trail() {
    let mut app = app().await;
    create_orders(&app, &["k-1"]).await;
    let alert = raise_panic(&app, "k-1").await;
    let blocked = BlockedChain::block(&app);
    acknowledge(&app, &alert, "on my way").await;
    app.kill9();
    blocked.unblock();
    app.restart().await;

    eventually(Duration::from_secs(30), "the ack audited", || async {
        count(&trail(&app).await, "alert.acknowledge") == 1
    })
    .await
    .unwrap();
    let entries = trail(&app).await;
    let acked = entries
        .iter()
        .find(|e| e.action == "alert.acknowledge")
        .unwrap();
    assert_eq!(
        (acked.actor.as_str(), acked.subject.as_str()),
        ("dispatcher-1", alert.as_str())
    );
    assert_eq!(acked.detail["note"], "on my way");
    assert_eq!(chain::verify(&entries), Ok(entries.len() as u64));
}

#[tokio::test]
async fn verify_reports_an_intact_chain_with_its_length() {
    let app = app().await;
    create_orders(&app, &["v-1", "v-2", "v-3"]).await;

    let output = vangnet_audit(&app, &["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        "3 entries verified for consistency only: no audit key is configured \
         (VANGNET_AUDIT_KEY_FILE), so seals were not checked"
    );
}

#[tokio::test]
async fn verify_finds_an_entry_edited_in_redis() {
    let app = app().await;
    create_orders(&app, &["e-1", "e-2", "e-3", "e-4"]).await;
    let mut redis = redis();
    let key = entries_key(&app);
    let second = redis.lindex(&key, 1).unwrap().unwrap();
    let forged = second.replace("\"admin-1\"", "\"admin-2\"");
    assert_ne!(forged, second);
    redis.lset(&key, 1, &forged).unwrap();

    assert_verify_fails(&app, 2, "edited");
}

#[tokio::test]
async fn verify_finds_an_entry_deleted_from_redis() {
    let app = app().await;
    create_orders(&app, &["d-1", "d-2", "d-3", "d-4"]).await;
    let mut redis = redis();
    let key = entries_key(&app);
    let second = redis.lindex(&key, 1).unwrap().unwrap();
    assert_eq!(redis.lrem(&key, 1, &second).unwrap(), 1);

    assert_verify_fails(&app, 2, "missing");
}

#[tokio::test]
async fn verify_finds_two_entries_swapped_in_redis() {
    let app = app().await;
    create_orders(&app, &["s-1", "s-2", "s-3", "s-4"]).await;
    let mut redis = redis();
    let key = entries_key(&app);
    let second = redis.lindex(&key, 1).unwrap().unwrap();
    let fourth = redis.lindex(&key, 3).unwrap().unwrap();
    redis.lset(&key, 1, &fourth).unwrap();
    redis.lset(&key, 3, &second).unwrap();

    assert_verify_fails(&app, 2, "out of order");
}

#[tokio::test]
async fn an_export_verifies_on_its_own_and_an_edit_to_it_is_found() {
    let app = app().await;
    create_orders(&app, &["x-1", "x-2", "x-3"]).await;
    let file = std::env::temp_dir().join(format!("{}.jsonl", unique_name("audit-export")));
    let path = file.to_str().unwrap();

    let export = vangnet_audit(&app, &["export", "--output", path]);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(exported.lines().count(), 3);
    drop(app);

    let offline = Command::new(workspace_binary("vangnet"))
        .args(["audit", "verify", "--file", path])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert!(text(&offline.stdout).starts_with("3 entries verified for consistency only"));

    std::fs::write(&file, exported.replacen("x-2", "x-9", 1)).unwrap();
    let edited = Command::new(workspace_binary("vangnet"))
        .args(["audit", "verify", "--file", path])
        .env_clear()
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(edited.status.code(), Some(1));
    assert!(
        text(&edited.stderr).contains("seq 2: edited"),
        "{}",
        text(&edited.stderr)
    );
}

#[tokio::test]
async fn only_auditors_read_the_trail_401_without_a_token_403_for_other_roles() {
    let app = app().await;
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/audit", None, None)
        .await;
    assert_eq!(status, 401);
    for role in [Role::Admin, Role::Dispatcher, Role::Pilot] {
        let token = token_for(role);
        let (status, _) = app
            .call(reqwest::Method::GET, "/api/v1/audit", Some(&token), None)
            .await;
        assert_eq!(status, 403, "{role:?}");
    }
    let auditor = token_for(Role::Auditor);
    let (status, page) = app
        .call(reqwest::Method::GET, "/api/v1/audit", Some(&auditor), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page, json!({"items": [], "next": null}));
}

#[tokio::test]
async fn a_failing_route_is_audited_once_per_revision_then_its_delivery() {
    let sink = Sink::start().await;
    sink.set_failing(true);
    let options = AppOptions::default()
        .env("VANGNET_JWT_SECRET", SECRET)
        .env("VANGNET_DISPATCH_URL", sink.url())
        .env("VANGNET_DISPATCH_MAX_BACKOFF_S", "1");
    let app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app.put_order(order("f-1")).await;
    let victim = app.device("f-1-v").await;
    let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string();
    victim.send(Channel::Alarm, alarm).await;

    eventually(Duration::from_secs(10), "a failure audited", || async {
        count(&trail(&app).await, "dispatch.failed") == 1
    })
    .await
    .unwrap();
    let failed = "vangnet_dispatch_attempts_total{route=\"default\",outcome=\"failed\"}";
    eventually(Duration::from_secs(20), "three failed attempts", || async {
        app.metric(failed).await >= 3.0
    })
    .await
    .unwrap();
    sink.set_failing(false);
    eventually(Duration::from_secs(10), "the delivery audited", || async {
        count(&trail(&app).await, "dispatch.delivered") == 1
    })
    .await
    .unwrap();

    let entries = trail(&app).await;
    assert_eq!(count(&entries, "dispatch.failed"), 1);
    let delivered = entries
        .iter()
        .find(|e| e.action == "dispatch.delivered")
        .unwrap();
    assert_eq!(delivered.actor, "dispatch:default");
    assert_eq!(delivered.detail["revision"], 1);
}

#[tokio::test]
async fn a_delivery_the_audit_trail_missed_at_a_kill_9_is_delivered_again_and_audited() {
    let sink = Sink::start().await;
    let options = AppOptions::default()
        .env("VANGNET_JWT_SECRET", SECRET)
        .env("VANGNET_DISPATCH_URL", sink.url());
    let mut app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    create_orders(&app, &["d-1"]).await;
    let blocked = BlockedChain::block(&app);

    let victim = app.device("d-1-v").await;
    let alarm = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string();
    victim.send(Channel::Alarm, alarm).await;
    eventually(Duration::from_secs(10), "the panic delivered", || async {
        !sink.delivered().is_empty()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.kill9();
    blocked.unblock();
    app.restart().await;

    eventually(Duration::from_secs(30), "the delivery audited", || async {
        trail(&app)
            .await
            .iter()
            .any(|e| e.action == "dispatch.delivered")
    })
    .await
    .unwrap();
    let keys: Vec<String> = sink
        .delivered()
        .iter()
        .map(|request| request.headers["idempotency-key"].clone())
        .collect();
    assert_eq!(keys.len(), 2, "delivered again after the restart: {keys:?}");
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn revisions_the_event_log_dropped_before_they_were_audited_leave_a_gap_entry() {
    let app = app().await;
    create_orders(&app, &["g-1"]).await;
    let blocked = BlockedChain::block(&app);

    let victim = app.device("g-1-v").await;
    for seq in 1..=3 {
        let alarm = json!({"seq": seq, "ts": TimestampMs::now(), "kind": "panic"});
        victim.send(Channel::Alarm, alarm.to_string()).await;
    }
    let store = app.store();
    eventually(
        Duration::from_secs(10),
        "three revisions logged",
        || async { store.events_after(None, 10).await.unwrap().len() == 3 },
    )
    .await
    .unwrap();
    let _: u64 = redis::cmd("XTRIM")
        .arg(format!("{}:events", app.store_prefix))
        .arg("MAXLEN")
        .arg(1)
        .query(&mut redis())
        .unwrap();
    blocked.unblock();

    eventually(Duration::from_secs(10), "the gap recorded", || async {
        count(&trail(&app).await, "alert.revision") == 1
    })
    .await
    .unwrap();
    let entries = trail(&app).await;
    let gap: Vec<&Entry> = entries.iter().filter(|e| e.action == "audit.gap").collect();
    assert_eq!(gap.len(), 1, "{entries:?}");
    assert_eq!(gap[0].detail["after"], Value::Null);
    assert_eq!(gap[0].actor, "system");
    assert_eq!(
        chain::verify(&entries).map(|n| n as usize),
        Ok(entries.len())
    );
}

#[tokio::test]
async fn every_revision_is_audited_exactly_once_across_a_kill_9_with_two_instances() {
    let mut first = app().await;
    let second = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .same_deployment_as(&first),
    )
    .await;
    second.wait_until_ready().await;
    let ids = ["k-1", "k-2", "k-3"];
    for id in ids {
        first.put_order(order(id)).await;
    }
    for id in ids {
        let victim = first.device(&format!("{id}-v")).await;
        for seq in 1..=3 {
            let alarm = json!({"seq": seq, "ts": TimestampMs::now(), "kind": "panic"});
            victim.send(Channel::Alarm, alarm.to_string()).await;
        }
    }
    first.kill9();
    first.restart().await;

    let store = first.store();
    let audited = || async {
        let events = store.events_after(None, 1000).await.unwrap();
        let entries = trail(&second).await;
        let mut revisions: Vec<(String, u64)> = entries
            .iter()
            .filter(|e| e.action == "alert.revision")
            .map(|e| (e.subject.clone(), e.detail["revision"].as_u64().unwrap()))
            .collect();
        revisions.sort();
        let mut committed: Vec<(String, u64)> = events
            .iter()
            .map(|(_, entry)| {
                (
                    entry.revision.alert_id.to_string(),
                    u64::from(entry.revision.revision),
                )
            })
            .collect();
        committed.sort();
        (committed, revisions)
    };
    eventually(
        Duration::from_secs(15),
        "every revision audited",
        || async {
            let (committed, revisions) = audited().await;
            committed.len() >= 3 && committed == revisions
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (committed, revisions) = audited().await;
    assert_eq!(committed, revisions);
    assert_eq!(
        chain::verify(&trail(&second).await).map(|n| n > 0),
        Ok(true)
    );
}
