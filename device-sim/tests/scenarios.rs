//! Every scenario of the library played by `vangnet-sim run` against the
//! real `vangnet` (Mosquitto and Redis of the e2e harness, prefixes of its
//! own), each at a speed that plays it in 10–20 real seconds, one test per
//! scenario named after it. The scenarios mostly wait for their clock, so
//! this harness plays [`CONCURRENT`] at once unless `--test-threads` says
//! otherwise. The
//! service's silence settings are divided by the speed, so silence behaves in
//! scenario time as it would at speed 1. The runner serves the police
//! dispatch endpoint of the default route (P1 and P2 of real orders) itself
//! and fails when a real alarm misses it or an exercise alert reaches it.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Trial};

use vangnet_e2e::{AppOptions, TestApp, free_port, mqtt_url, unique_name};

/// Scenarios played at once by default.
const CONCURRENT: usize = 6;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

/// Every scenario file (without `.toml`) and the speed it is played at here.
const LIBRARY: &[(&str, f64)] = &[
    ("approach-on-foot", 150.0),
    ("drive-by-100kmh", 42.0),
    ("same-motorway", 70.0),
    ("jitter-hour", 240.0),
    ("stale-victim", 150.0),
    ("silent-perpetrator", 75.0),
    ("tampering", 40.0),
    ("panic-without-gps", 40.0),
    ("exercise-beside-real", 60.0),
    ("panic-in-flood", 6.0),
    ("cycle-track-gpx", 60.0),
    ("outliers-and-jumps", 180.0),
    ("from-rest-across-narrow-zone", 60.0),
    ("train-past-zone", 40.0),
    ("urban-canyon", 100.0),
];

fn library_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Plays scenario `name` at its speed against a fresh `vangnet` dispatching
/// to the runner's sink; panics with the report unless it passes.
async fn plays(name: &str) {
    let speed = LIBRARY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, speed)| *speed)
        .unwrap_or_else(|| panic!("{name} is not in LIBRARY"));
    let silence = |seconds: f64| ((seconds / speed).ceil() as u64).max(1).to_string();
    let sink_addr = format!("127.0.0.1:{}", free_port());
    let log = std::env::temp_dir().join(unique_name("scenario-log"));
    let app = TestApp::spawn_with(
        AppOptions::default()
            .log_to(&log)
            .env(
                "VANGNET_DISPATCH_URL",
                format!("http://{sink_addr}/dispatch"),
            )
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_PERP_SILENCE_S", silence(300.0))
            .env("VANGNET_VICTIM_SILENCE_S", silence(900.0)),
    )
    .await;
    app.wait_until_ready().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_vangnet-sim"))
        .arg("run")
        .arg(library_dir().join(format!("{name}.toml")))
        .args(["--speed", &speed.to_string()])
        .args(["--api-url", &app.base_url])
        .args(["--mqtt-url", &mqtt_url()])
        .args(["--mqtt-prefix", app.topics.prefix()])
        .args(["--jwt-secret", SECRET])
        .args(["--sink-addr", &sink_addr])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    drop(app);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(logged.contains(" INFO "), "no log at info level:\n{logged}");
    for line in logged.lines() {
        assert!(
            !gives_away_a_secret(line),
            "the log gives away a secret: {line}"
        );
    }
}

/// A log line, past its timestamp, with a token, a payload's fields or a
/// number precise enough to be a coordinate (four decimals or more).
fn gives_away_a_secret(line: &str) -> bool {
    let message = line.split_once(' ').map_or(line, |(_, rest)| rest);
    let precise_number = message
        .split(|c: char| c.is_whitespace() || "=,:;\"'()[]{}".contains(c))
        .any(|word| {
            word.parse::<f64>().is_ok()
                && word
                    .split_once('.')
                    .is_some_and(|(_, decimals)| decimals.len() >= 4)
        });
    precise_number
        || message.contains("eyJ")
        || message.contains(SECRET)
        || ["\"lat\"", "\"lon\"", "\"seq\""]
            .iter()
            .any(|field| message.contains(field))
}

fn every_scenario_in_the_library_is_played_here() {
    let mut files: Vec<String> = std::fs::read_dir(library_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut played: Vec<String> = LIBRARY.iter().map(|(n, _)| (*n).to_owned()).collect();
    played.sort();
    assert_eq!(files, played);
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(CONCURRENT);
    let mut trials = vec![Trial::test(
        "every_scenario_in_the_library_is_played_here",
        || {
            every_scenario_in_the_library_is_played_here();
            Ok(())
        },
    )];
    trials.push(Trial::test(
        "the_log_check_catches_a_position_a_token_and_a_payload",
        || {
            let at = "2026-12-07T16:19:34.632781Z  INFO vangnet_server::ingest:";
            for leak in [
                "fix lat=51.9225",
                "token eyJhbGciOiJIUzI1NiJ9",
                r#"payload {"seq":1}"#,
            ] {
                assert!(gives_away_a_secret(&format!("{at} {leak}")), "{leak}");
            }
            assert!(!gives_away_a_secret(&format!(
                "{at} connected to the MQTT broker"
            )));
            for id in ["order=a20.88701f", "order=flood-0.2326f9"] {
                assert!(
                    !gives_away_a_secret(&format!("{at} order created {id}")),
                    "{id}"
                );
            }
            Ok(())
        },
    ));
    trials.extend(LIBRARY.iter().map(|&(name, _)| {
        Trial::test(name.replace('-', "_"), move || {
            tokio::runtime::Runtime::new()?.block_on(plays(name));
            Ok(())
        })
    }));
    libtest_mimic::run(&args, trials).exit();
}
