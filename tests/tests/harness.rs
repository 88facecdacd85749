//! The foundation the other end-to-end tests stand on: the real binary starts
//! on a random port, reports its readiness, and the test broker carries messages.

use std::time::Duration;

use vangnet_e2e::{MqttClient, MqttQos, TestApp, run_vangnet, unique_name};

#[tokio::test]
async fn the_service_answers_healthz_on_its_own_port() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn metrics_list_every_rejection_reason_from_the_start() {
    let app = TestApp::spawn().await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for reason in vangnet_proto::RejectReason::ALL {
        let sample = format!(
            "vangnet_rejected_messages_total{{reason=\"{}\"}}",
            reason.label()
        );
        assert!(text.contains(&sample), "missing {sample}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() {
    let mut app = TestApp::spawn().await;
    let status = app.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_unknown_store_scheme_exits_2_with_one_line_naming_vangnet_store() {
    let (status, stderr) = run_vangnet(&["serve"], &[("VANGNET_STORE", "bogus://x")]);
    assert_eq!(status.code(), Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VANGNET_STORE"), "{stderr}");
}

#[test]
fn a_malformed_value_in_the_config_file_exits_2_naming_the_setting() {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name("config")));
    std::fs::write(&path, "http_addr = \"not an address\"\n").unwrap();
    let (status, stderr) = run_vangnet(&["serve", "--config", path.to_str().unwrap()], &[]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("VANGNET_HTTP_ADDR"), "{stderr}");
}

#[test]
fn the_environment_overrides_the_config_file() {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name("config")));
    std::fs::write(&path, "store = \"file:./x\"\n").unwrap();
    let (status, stderr) = run_vangnet(
        &["serve", "--config", path.to_str().unwrap()],
        &[("VANGNET_STORE", "bogus://x")],
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("VANGNET_STORE"), "{stderr}");
}

#[test]
fn an_unknown_key_in_the_config_file_exits_2() {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name("config")));
    std::fs::write(&path, "stroe = \"file:./x\"\n").unwrap();
    let (status, stderr) = run_vangnet(&["serve", "--config", path.to_str().unwrap()], &[]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("stroe"), "{stderr}");
}

#[test]
fn serve_help_documents_every_setting() {
    let output = std::process::Command::new(vangnet_e2e::workspace_binary("vangnet"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "VANGNET_HTTP_ADDR",
        "VANGNET_MQTT_URL",
        "VANGNET_MQTT_PREFIX",
        "VANGNET_STORE",
        "VANGNET_DISPATCH_URL",
        "VANGNET_DISPATCH_SECRET",
        "VANGNET_JWT_SECRET",
        "VANGNET_JWT_PUBLIC_KEY",
    ] {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}"
        );
    }
}

#[tokio::test]
async fn the_test_broker_carries_a_message_between_two_clients() {
    let topic = format!("test/{}/ping", unique_name("harness"));
    let mut watcher = MqttClient::connect(&unique_name("watcher")).await;
    watcher.subscribe(&topic).await;
    let sender = MqttClient::connect(&unique_name("sender")).await;
    sender.publish(&topic, MqttQos::AtLeastOnce, "hello").await;
    let received = watcher.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(received.payload, b"hello");
}
