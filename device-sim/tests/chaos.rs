//! `vangnet-sim chaos` in its short form, with its own Mosquitto and Redis,
//! when the `vangnet` binary has been built beside it.

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

#[test]
fn a_short_chaos_run_loses_no_receipted_alarm_and_raises_no_duplicate() {
    let Some(sim) = common::sim_beside_vangnet() else {
        return;
    };
    let started = Instant::now();
    let output = Command::new(sim)
        .args(["chaos", "--quick", "--seed", "7"])
        .output()
        .unwrap();
    let (figures, stdout) = common::figures(&output, started, Duration::from_secs(90));
    assert_eq!(figures["kills"], 5, "{stdout}");
    assert_eq!(figures["broker_restarts"], 1, "{stdout}");
    assert_eq!(figures["redis_restarts"], 1, "{stdout}");
    assert!(figures["outage_s"].as_f64().unwrap() >= 10.0, "{stdout}");
    assert!(
        figures["alarms_receipted"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    assert_eq!(
        figures["alarms_receipted"], figures["alarms_sent"],
        "{stdout}"
    );
    assert_eq!(figures["receipted_not_dispatched"], 0, "{stdout}");
    assert_eq!(figures["revisions_undelivered"], 0, "{stdout}");
    assert_eq!(figures["revisions_not_streamed"], 0, "{stdout}");
    assert_eq!(figures["duplicate_episodes"], 0, "{stdout}");
}
