//! `vangnet-sim load` end to end: a small fleet against a real `vangnet`
//! (started by the e2e harness on the local Mosquitto and Redis, with its
//! dispatch URL on the load's sink), when that binary has been built.

use std::time::{Duration, Instant};

use vangnet_e2e::{AppOptions, TestApp, free_port, mqtt_url};

mod common;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

#[tokio::test]
async fn a_short_load_loses_no_fix_and_dispatches_every_panic() {
    let Some(sim) = common::sim_beside_vangnet() else {
        return;
    };
    let sink_addr = format!("127.0.0.1:{}", free_port());
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET).env(
        "VANGNET_DISPATCH_URL",
        format!("http://{sink_addr}/dispatch"),
    ))
    .await;
    app.wait_until_ready().await;
    let started = Instant::now();
    let output = tokio::process::Command::new(sim)
        .args([
            "load",
            "--orders",
            "50",
            "--interval",
            "1",
            "--duration",
            "8",
        ])
        .args(["--panic-every", "500ms", "--jwt-secret", SECRET])
        .args(["--api-url", &app.base_url, "--mqtt-url", &mqtt_url()])
        .args([
            "--mqtt-prefix",
            app.topics.prefix(),
            "--sink-addr",
            &sink_addr,
        ])
        .output()
        .await
        .unwrap();
    let (figures, stdout) = common::figures(&output, started, Duration::from_secs(30));
    assert_eq!(figures["orders"], 50, "{stdout}");
    assert!(figures["offered_fixes"].as_u64().unwrap() > 0, "{stdout}");
    assert_eq!(figures["lost_fixes"], 0, "{stdout}");
    assert_eq!(figures["refused"], 0, "{stdout}");
    assert!(figures["panics_sent"].as_u64().unwrap() > 0, "{stdout}");
    assert_eq!(
        figures["panics_dispatched"], figures["panics_sent"],
        "{stdout}"
    );
    assert_eq!(figures["panics_lost"], 0, "{stdout}");
}
