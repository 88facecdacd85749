//! `vangnet-sim soak --quick` end to end, against the local Mosquitto and
//! Redis, when the `vangnet` binary has been built beside it.

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

#[test]
fn a_quick_soak_resolves_alerts_loses_no_fix_and_judges_its_memory() {
    let Some(sim) = common::sim_beside_vangnet() else {
        return;
    };
    let mqtt_url =
        std::env::var("VANGNET_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let redis_url = std::env::var("VANGNET_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let started = Instant::now();
    let output = Command::new(sim)
        .args(["soak", "--quick"])
        .args(["--mqtt-url", &mqtt_url, "--redis-url", &redis_url])
        .output()
        .unwrap();
    let (figures, stdout) = common::printed_figures(&output, started, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(figures["orders"], 200, "{stdout}");
    assert!(figures["offered_fixes"].as_u64().unwrap() > 0, "{stdout}");
    assert_eq!(figures["lost_fixes"], 0, "{stdout}");
    assert_eq!(figures["refused"], 0, "{stdout}");
    assert!(figures["panics_pressed"].as_u64().unwrap() > 0, "{stdout}");
    assert!(figures["alerts_cleared"].as_u64().unwrap() > 0, "{stdout}");
    assert!(figures["alerts_resolved"].as_u64().unwrap() > 0, "{stdout}");
    assert_eq!(figures["dispatcher_acts_failed"], 0, "{stdout}");
    assert!(figures["samples"].as_u64().unwrap() >= 15, "{stdout}");
    assert!(
        figures["last_third_rss_mib"]["mean"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    if figures["flat"] == true {
        common::figures(&output, started, Duration::from_secs(60));
    } else {
        assert!(!output.status.success(), "{stdout}\n{stderr}");
    }
}
