//! The README's run command: `vangnet serve --demo` on the embedded broker
//! and store shows alerts flowing, with nothing else running.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vangnet_e2e::{free_port, unique_name, workspace_binary};

/// What one demo run printed, its log, and the audit trail it left.
struct DemoRun {
    printed: String,
    log: String,
    trail: String,
}

/// Runs `vangnet serve --demo` in a folder of its own until the demo is done.
fn run_demo() -> DemoRun {
    let dir = std::env::temp_dir().join(unique_name("demo"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(workspace_binary("vangnet"))
        .args(["serve", "--demo"])
        .current_dir(&dir)
        .env_clear()
        .env(
            "VANGNET_EMBEDDED_BROKER_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("VANGNET_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut seen = Vec::new();
    for line in stdout.lines().map_while(Result::ok) {
        seen.push(line.clone());
        if line.starts_with("demo done") || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut log);
    let export = Command::new(workspace_binary("vangnet"))
        .args(["audit", "export"])
        .current_dir(&dir)
        .env_clear()
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    DemoRun {
        printed: seen.join("\n"),
        log,
        trail: String::from_utf8_lossy(&export.stdout).into_owned(),
    }
}

#[test]
fn the_demo_shows_a_proximity_alarm_and_an_acknowledged_panic_on_embedded_defaults() {
    let DemoRun { printed, log, .. } = run_demo();
    assert!(
        printed.contains("ALERT P1 proximity_alarm certain"),
        "{printed}"
    );
    assert!(
        printed.contains("gets cmd: {\"kind\":\"warning\",\"level\":\"alarm\""),
        "{printed}"
    );
    assert!(printed.contains("gets ack:"), "{printed}");
    assert!(printed.contains("ALERT P1 panic"), "{printed}");
    assert!(
        !log.contains("MQTT connection lost"),
        "the embedded broker dropped a lane (acks out of order?):\n{log}"
    );
}

#[test]
fn the_demos_order_is_in_the_audit_trail_as_made_by_the_demo() {
    let DemoRun { trail, .. } = run_demo();
    let created = trail
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["action"] == "order.create");
    let created = created.unwrap_or_else(|| panic!("no order.create in the trail:\n{trail}"));
    assert_eq!(created["actor"], "demo");
}
