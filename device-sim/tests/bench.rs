//! `vangnet-sim bench --quick` end to end, against the local Mosquitto and
//! Redis, when the `vangnet` binary has been built beside it.

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

#[test]
fn a_quick_bench_reports_its_figures_without_loss() {
    let Some(sim) = common::sim_beside_vangnet() else {
        return;
    };
    let mqtt_url =
        std::env::var("VANGNET_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let redis_url = std::env::var("VANGNET_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let started = Instant::now();
    let output = Command::new(sim)
        .args([
            "bench",
            "--quick",
            "--orders",
            "200",
            "--device-max-hz",
            "4",
            "--max-rate",
            "1500",
            "--step-seconds",
            "1",
        ])
        .args(["--mqtt-url", &mqtt_url, "--redis-url", &redis_url])
        .output()
        .unwrap();
    let (figures, stdout) = common::figures(&output, started, Duration::from_secs(60));
    assert_eq!(figures["loss"], 0, "{stdout}");
    assert_eq!(figures["orders"], 200);
    assert!(
        figures["broker_fixes_per_s"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(
        figures["vangnet_fixes_per_s"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(figures["ratio"].as_f64().is_some(), "{stdout}");
    assert!(
        figures["vangnet_rss_mib"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(
        figures["vangnet_rss_start_mib"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(
        figures["vangnet_cpu_us_per_fix"]["vangnet"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{stdout}"
    );
    assert!(
        figures["panic_ack_idle_ms"]["count"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    assert!(
        figures["panic_dispatch_idle_ms"]["count"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    assert_eq!(figures["panic_dispatch_idle_ms"]["missed"], 0, "{stdout}");
}
