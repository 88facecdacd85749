//! Issue 4: devices talk to the running service over the real broker, and
//! what it decides lands in the real Redis.

use std::time::{Duration, Instant};

use serde_json::json;
use vangnet_e2e::TestApp;
use vangnet_proto::{AlertId, Channel, TimestampMs};
use vangnet_server::store::Store;

fn order(id: &str, victim: &str, perpetrator: &str) -> serde_json::Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [victim], "perpetrator_devices": [perpetrator],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [{"id": "home", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]},
                   "radius_m": 250, "prealarm_m": 750}]
    })
}

fn now_ms() -> u64 {
    TimestampMs::now().millis()
}

#[tokio::test]
async fn a_panic_is_stored_and_acknowledged_on_the_device_within_one_second() {
    let app = TestApp::spawn().await;
    app.wait_until_ready().await;
    app.put_order(order("o-1", "v-1", "p-1")).await;
    let mut victim = app.device("v-1").await;

    let sent = Instant::now();
    victim
        .send(
            Channel::Alarm,
            json!({"seq": 1, "ts": now_ms(), "kind": "panic"}).to_string(),
        )
        .await;
    let ack = victim
        .next_downlink(Duration::from_secs(5))
        .await
        .expect("an ack");
    let elapsed = sent.elapsed();

    assert!(ack.topic.ends_with("/devices/v-1/ack"), "{}", ack.topic);
    assert!(elapsed < Duration::from_secs(1), "ack after {elapsed:?}");
    let ack = ack.json();
    assert_eq!(ack["seq"], 1);
    let ids = ack["alert_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 1);
    let alert = app
        .store()
        .alert(&AlertId::new(ids[0].as_str().unwrap()))
        .await
        .unwrap()
        .expect("the alert is stored before the ack");
    assert_eq!(serde_json::to_value(alert.current.kind).unwrap(), "panic");
    assert_eq!(serde_json::to_value(alert.current.priority).unwrap(), "P1");
}
