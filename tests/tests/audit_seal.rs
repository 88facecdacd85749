//! The sealed audit trail: with `VANGNET_AUDIT_KEY_FILE` set, every entry
//! carries an HMAC seal, and `vangnet audit verify` with the key finds a
//! chain that someone with write access to Redis rewrote and rehashed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use redis::TypedCommands;
use serde_json::json;
use vangnet_e2e::{AppOptions, TestApp, redis_url, workspace_binary};
use vangnet_proto::token::Role;
use vangnet_server::audit_chain::Entry;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

/// Writes a key with `vangnet audit key generate` into `dir`.
fn generate_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let output = Command::new(workspace_binary("vangnet"))
        .args(["audit", "key", "generate", "--out"])
        .arg(&path)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    path
}

/// An app sealing its chain with the key at `key`, with `orders` created through the API.
async fn sealed_app(key: &Path, orders: &[&str]) -> TestApp {
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_AUDIT_KEY_FILE", key.to_str().unwrap()),
    )
    .await;
    app.wait_until_ready().await;
    let admin = vangnet_e2e::token_for(SECRET, Role::Admin, &["*"]);
    for id in orders {
        let order = json!({
            "id": id, "region": "rotterdam", "exercise": false,
            "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
            "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
        });
        let (status, body) = app
            .call(
                reqwest::Method::POST,
                "/api/v1/orders",
                Some(&admin),
                Some(&order),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    app
}

/// Runs `vangnet audit verify ARGS` on the app's chain, with the key at `key` if given.
fn verify(app: &TestApp, key: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(workspace_binary("vangnet"));
    command
        .args(["audit", "verify"])
        .args(args)
        .env_clear()
        .env("VANGNET_STORE", redis_url())
        .env("VANGNET_STORE_PREFIX", &app.store_prefix)
        .stdin(Stdio::null());
    if let Some(key) = key {
        command.env("VANGNET_AUDIT_KEY_FILE", key);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn redis() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The app's chain as stored in Redis.
fn stored_chain(app: &TestApp) -> Vec<Entry> {
    let key = format!("{}:{{audit}}:entries", app.store_prefix);
    redis()
        .lrange(&key, 0, -1)
        .unwrap()
        .iter()
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

/// Replaces the app's chain in Redis with `entries` and points the head at the last.
fn store_chain(app: &TestApp, entries: &[Entry]) {
    let key = format!("{}:{{audit}}:entries", app.store_prefix);
    let head = format!("{}:{{audit}}:head", app.store_prefix);
    let mut redis = redis();
    redis.del(&key).unwrap();
    for entry in entries {
        redis
            .rpush(&key, serde_json::to_string(entry).unwrap())
            .unwrap();
    }
    let last = entries.last().unwrap();
    redis.hset(&head, "seq", last.seq).unwrap();
    redis.hset(&head, "hash", &last.hash).unwrap();
}

fn assert_fails_at(output: &Output, seq: u64, fault: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("seq {seq}: {fault}")), "{stderr}");
}

#[tokio::test]
async fn an_intact_sealed_chain_verifies_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "audit.key");
    let app = sealed_app(&key, &["i-1", "i-2", "i-3"]).await;

    assert!(stored_chain(&app).iter().all(|entry| entry.seal.is_some()));
    let output = verify(&app, Some(&key), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        "3 entries verified; every entry sealed"
    );
}

#[tokio::test]
async fn a_chain_rewritten_and_rehashed_in_redis_fails_with_the_key_at_the_first_rewritten_seq() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "audit.key");
    let app = sealed_app(&key, &["r-1", "r-2", "r-3", "r-4"]).await;
    let mut entries = stored_chain(&app);
    entries[1].detail = json!({"region": "elsewhere", "exercise": true});
    let mut prev_hash = entries[0].hash.clone();
    for entry in &mut entries[1..] {
        entry.prev_hash = prev_hash;
        entry.hash = entry.digest();
        prev_hash = entry.hash.clone();
    }
    store_chain(&app, &entries);

    let unkeyed = verify(&app, None, &[]);
    assert_eq!(unkeyed.status.code(), Some(0), "{}", text(&unkeyed.stderr));
    assert!(text(&unkeyed.stdout).contains("no audit key is configured"));
    assert_fails_at(&verify(&app, Some(&key), &[]), 2, "bad seal");
}

#[tokio::test]
async fn a_chain_sealed_with_one_key_fails_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "audit.key");
    let other = generate_key(dir.path(), "other.key");
    let app = sealed_app(&key, &["k-1", "k-2"]).await;

    assert_fails_at(&verify(&app, Some(&other), &[]), 1, "bad seal");
}

#[tokio::test]
async fn entries_removed_from_the_end_fail_against_the_length_seen_before() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "audit.key");
    let app = sealed_app(&key, &["t-1", "t-2", "t-3"]).await;
    let before = verify(&app, Some(&key), &["--expect-at-least", "3"]);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    let entries = stored_chain(&app);
    store_chain(&app, &entries[..2]);

    let unchecked = verify(&app, Some(&key), &[]);
    assert_eq!(
        unchecked.status.code(),
        Some(0),
        "{}",
        text(&unchecked.stderr)
    );
    assert_fails_at(
        &verify(&app, Some(&key), &["--expect-at-least", "3"]),
        3,
        "missing",
    );
}

#[tokio::test]
async fn a_chain_begun_without_a_key_says_from_which_seq_it_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "audit.key");
    let app = sealed_app(&key, &["p-1", "p-2", "p-3"]).await;
    let mut entries = stored_chain(&app);
    entries[0].seal = None;
    store_chain(&app, &entries);

    let output = verify(&app, Some(&key), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        "3 entries verified; sealed from seq 2: the 1 entries before it are unsealed (written without a key)"
    );
}

#[tokio::test]
async fn serve_without_a_key_warns_once_at_start_up_that_the_trail_is_unsealed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("vangnet.log");
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .log_to(&log),
    )
    .await;
    app.wait_until_ready().await;

    let written = std::fs::read_to_string(&log).unwrap();
    let warnings: Vec<&str> = written
        .lines()
        .filter(|line| line.contains("the audit chain is not sealed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{written}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}
