//! `vangnet-sim sink` as a child process: signatures, the fault plan, the
//! record and the summary, seen from an HTTP client like Vangnet's.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vangnet_proto::dispatch_signature as signature;

const SECRET: &str = "pilot-secret";

/// A running sink with `--secret` and `--record` to a temporary file.
struct Sink {
    child: Child,
    url: String,
    record: PathBuf,
    stderr: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("record.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vangnet-sim"))
            .args(["sink", "--listen", "127.0.0.1:0", "--secret", SECRET])
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let first = stderr.recv_timeout(Duration::from_secs(10)).unwrap();
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Self {
            child,
            url,
            record,
            stderr,
            _dir: dir,
        }
    }

    /// The recorded requests so far.
    fn recorded(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// SIGTERM, then the stderr lines after the listening one.
    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exited = self.child.wait().unwrap();
        assert!(exited.success(), "{exited}");
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn revision(alert: &str, revision: u32, priority: &str) -> String {
    serde_json::json!({
        "alert_id": alert, "revision": revision, "order_id": "order-17",
        "region": "rotterdam", "priority": priority, "kind": "proximity_alarm",
        "confidence": "certain", "status": "open", "exercise": false,
        "late": false, "count": 1,
        "created_at": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "updated_at": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "cleared_at": null, "zone": null, "distance_m": 740.5, "summary": "test",
    })
    .to_string()
}

/// Posts `body` the way Vangnet does, signed with `key` unless `None`.
async fn post(
    sink: &Sink,
    body: &str,
    key: Option<&str>,
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    let value: Value = serde_json::from_str(body).unwrap();
    let mut request = reqwest::Client::new()
        .post(format!("{}/dispatch", sink.url))
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .header(
            "Idempotency-Key",
            format!(
                "{}/{}",
                value["alert_id"].as_str().unwrap(),
                value["revision"]
            ),
        )
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header(
            "X-Vangnet-Signature",
            signature(key.as_bytes(), body.as_bytes()),
        );
    }
    request.send().await
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_signed_revision_is_answered_200_and_recorded_valid() {
    let sink = Sink::start(&[]);
    let body = revision("01JDA", 1, "P1");
    let answer = post(&sink, &body, Some(SECRET), TIMEOUT).await.unwrap();
    assert_eq!(answer.status(), 200);

    let recorded = sink.recorded();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let line = &recorded[0];
    assert_eq!(line["signature"], "valid");
    assert_eq!(line["answer"], 200);
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/dispatch");
    assert_eq!(line["idempotency_key"], "01JDA/1");
    assert_eq!(line["duplicate"], false);
    assert_eq!(line["headers"]["idempotency-key"], "01JDA/1");
    assert_eq!(line["headers"]["content-type"], "application/json");
    assert!(
        line["headers"]["x-vangnet-signature"]
            .as_str()
            .unwrap()
            .starts_with("sha256=")
    );
    assert_eq!(line["body"], serde_json::from_str::<Value>(&body).unwrap());
    let received_at = line["received_at"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(received_at).is_ok(),
        "{received_at}"
    );
    assert_eq!(received_at.len(), "2026-11-28T12:00:01.120Z".len());
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_answered_401_and_recorded() {
    let sink = Sink::start(&[]);
    let wrong = post(
        &sink,
        &revision("01JDB", 1, "P2"),
        Some("not-the-secret"),
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    let unsigned = post(&sink, &revision("01JDB", 2, "P2"), None, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let recorded = sink.recorded();
    assert_eq!(recorded[0]["signature"], "invalid");
    assert_eq!(recorded[0]["answer"], 401);
    assert_eq!(recorded[1]["signature"], "unsigned");
    assert_eq!(recorded[1]["answer"], 401);
    let summary = sink.stop();
    let last = summary.last().unwrap();
    assert!(last.contains("invalid_signatures=1 unsigned=1"), "{last}");
}

#[tokio::test]
async fn fail_percent_100_answers_503() {
    let sink = Sink::start(&["--fail-percent", "100"]);
    for revision_no in 1..=3 {
        let answer = post(
            &sink,
            &revision("01JDC", revision_no, "P1"),
            Some(SECRET),
            TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 503);
    }
    assert!(sink.recorded().iter().all(|line| line["answer"] == 503));
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sink = Sink::start(&["--latency-ms", "300"]);
    let started = Instant::now();
    let answer = post(&sink, &revision("01JDD", 1, "P3"), Some(SECRET), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn hang_percent_100_never_answers() {
    let sink = Sink::start(&["--hang-percent", "100"]);
    let started = Instant::now();
    let error = post(
        &sink,
        &revision("01JDE", 1, "P1"),
        Some(SECRET),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    let recorded = sink.recorded();
    assert_eq!(recorded[0]["answer"], "hung");
    let summary = sink.stop();
    assert!(summary.last().unwrap().contains("hung=1"), "{summary:?}");
}

#[tokio::test]
async fn a_duplicate_idempotency_key_shows_in_the_record_and_the_final_summary() {
    let sink = Sink::start(&[]);
    let p1 = revision("01JDF", 1, "P1");
    for _ in 0..2 {
        let answer = post(&sink, &p1, Some(SECRET), TIMEOUT).await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    let answer = post(&sink, &revision("01JDG", 1, "P3"), Some(SECRET), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let duplicates: Vec<bool> = sink
        .recorded()
        .iter()
        .map(|line| line["duplicate"].as_bool().unwrap())
        .collect();
    assert_eq!(duplicates, [false, true, false]);

    let summary = sink.stop();
    let last = summary.last().unwrap();
    assert!(last.starts_with("sink: final "), "{summary:?}");
    for expected in [
        "received=3",
        "delivered=3",
        "duplicates=1",
        "priority_P1=2",
        "priority_P3=1",
    ] {
        assert!(last.contains(expected), "{expected} missing in {last}");
    }
    let gap = last.split("max_p1_gap_ms=").nth(1).unwrap();
    assert!(gap.parse::<u64>().unwrap() < 5000, "{last}");
}

#[tokio::test]
async fn the_down_window_answers_503_and_closes_then_serves_again() {
    let sink = Sink::start(&["--down-from", "+0s", "--down-until", "+1500ms"]);
    let answer = post(&sink, &revision("01JDH", 1, "P1"), Some(SECRET), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["connection"], "close");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let answer = post(&sink, &revision("01JDH", 1, "P1"), Some(SECRET), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answers: Vec<Value> = sink
        .recorded()
        .iter()
        .map(|l| l["answer"].clone())
        .collect();
    assert_eq!(answers, [Value::from("down"), Value::from(200)]);
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sink = Sink::start(&["--fail-percent", "50", "--seed", "42"]);
        let mut statuses = Vec::new();
        for revision_no in 1..=20 {
            let answer = post(
                &sink,
                &revision("01JDI", revision_no, "P2"),
                Some(SECRET),
                TIMEOUT,
            )
            .await
            .unwrap();
            statuses.push(answer.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&503),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn a_cap_xml_body_is_recorded_as_a_string() {
    let sink = Sink::start(&[]);
    let xml = "<?xml version=\"1.0\"?><alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>";
    let answer = reqwest::Client::new()
        .post(format!("{}/cap", sink.url))
        .header("Content-Type", "application/cap+xml")
        .header(
            "X-Vangnet-Signature",
            signature(SECRET.as_bytes(), xml.as_bytes()),
        )
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let recorded = sink.recorded();
    assert_eq!(recorded[0]["body"], xml);
    assert_eq!(recorded[0]["signature"], "valid");
}

#[test]
fn a_malformed_down_time_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_vangnet-sim"))
        .args(["sink", "--listen", "127.0.0.1:0", "--down-from", "soon"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--down-from soon"), "{stderr}");
}
