//! History retention (`VANGNET_HISTORY_RETENTION_DAYS`): past it, no
//! position of either party is left in resolved alerts, the event log or an
//! ended order's device states; open alerts keep theirs. The data is made
//! old the way it would have aged: commits and revisions carry their time.

use std::time::Duration;

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, Device, TestApp, eventually};
use vangnet_proto::token::Role;
use vangnet_proto::{
    AlertId, AlertKind, AlertStatus, Channel, Confidence, DeviceId, DispatchBody, IncidentId,
    Latitude, Longitude, Meters, OrderId, Party, Priority, TimestampMs, UtcTime,
};
use vangnet_server::store::{
    Act, AuditLog, Commit, EventLog, PartitionKey, PartitionStore, StateParts, TimelineEntry,
};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const DAY_MS: u64 = 24 * 3600 * 1000;
const VICTIM_AT: (f64, f64) = (51.9225, 4.4792);
const PERPETRATOR_AT: (f64, f64) = (51.9251, 4.4830);
const FAR_AWAY: (f64, f64) = (52.0907, 5.1214);

fn now_ms() -> u64 {
    TimestampMs::now().millis()
}

/// Forty days ago: past the thirty days of retention the app runs with.
fn long_ago() -> TimestampMs {
    TimestampMs(now_ms() - 40 * DAY_MS)
}

fn ended_order() -> PartitionKey {
    PartitionKey::Order(OrderId::new("o-ended"))
}

fn party(device: &str, (lat, lon): (f64, f64)) -> Party {
    Party {
        device: DeviceId::parse(device, "device").unwrap(),
        lat: Latitude::new(lat).unwrap(),
        lon: Longitude::new(lon).unwrap(),
        acc: Meters::new(5.0).unwrap(),
        ts: long_ago(),
    }
}

/// A proximity alarm of the ended order, raised forty days ago with both
/// parties' positions.
fn raised(alert: &str) -> TimelineEntry {
    let at = UtcTime(long_ago());
    TimelineEntry {
        revision: DispatchBody {
            alert_id: AlertId::new(alert),
            incident_id: IncidentId::new(alert),
            revision: 1,
            order_id: Some(OrderId::new("o-ended")),
            region: Some("rotterdam".into()),
            priority: Priority::P1,
            kind: AlertKind::ProximityAlarm,
            confidence: Some(Confidence::Certain),
            status: AlertStatus::Open,
            exercise: false,
            late: false,
            count: 1,
            created_at: at,
            updated_at: at,
            cleared_at: None,
            victim: Some(party("v-1", VICTIM_AT)),
            perpetrator: Some(party("p-1", PERPETRATOR_AT)),
            zone: None,
            distance_m: Some(380.0),
            summary: "Perpetrator within the alarm distance of the victim, distance 380 m".into(),
        },
        act: None,
    }
}

/// The next revision of `alert`, resolved by a dispatcher forty days ago.
fn resolved(alert: &TimelineEntry) -> TimelineEntry {
    TimelineEntry {
        revision: DispatchBody {
            revision: alert.revision.revision + 1,
            status: AlertStatus::Resolved,
            updated_at: UtcTime(long_ago()),
            ..alert.revision.clone()
        },
        act: Some(Act {
            actor: "dispatcher-7".into(),
            note: "unit on scene".into(),
        }),
    }
}

/// An app keeping thirty days, holding an order that ended forty days ago
/// (its devices' states as the engine wrote them, a resolved alert
/// `a-resolved` and an open alert `a-open`) and a panic of today, all
/// audited; restarted so that retention has run over it.
async fn app_past_retention() -> TestApp {
    let options = AppOptions::default()
        .env("VANGNET_JWT_SECRET", SECRET)
        .env("VANGNET_HISTORY_RETENTION_DAYS", "30");
    let mut app = TestApp::spawn_with(options).await;
    app.wait_until_ready().await;
    app.put_order(json!({
        "id": "o-1", "region": "rotterdam", "exercise": false,
        "victim_devices": ["v-1"], "perpetrator_devices": ["p-1"],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    }))
    .await;
    let (victim, devices) = device_states_written_by_the_engine(&app).await;

    let store = app.store();
    assert_eq!(store.last_event_id().await.unwrap(), None);
    let first = raised("a-resolved");
    let commit = Commit {
        parts: devices,
        revisions: vec![first.clone(), raised("a-open")],
        history: Vec::new(),
        at: long_ago(),
    };
    store.commit(&ended_order(), 0, commit).await.unwrap();
    let commit = Commit {
        revisions: vec![resolved(&first)],
        at: long_ago(),
        ..Commit::default()
    };
    store.commit(&ended_order(), 1, commit).await.unwrap();
    let panic = json!({"seq": 2, "ts": now_ms(), "kind": "panic"});
    victim.send(Channel::Alarm, panic.to_string()).await;
    eventually(Duration::from_secs(10), "the panic audited", || async {
        let audited = store.audit_head().await.unwrap().event;
        let events = store.events_after(None, 100).await.unwrap();
        events.len() > 3 && audited.as_ref() == events.last().map(|(id, _)| id)
    })
    .await
    .unwrap();

    app.terminate();
    app.restart().await;
    app
}

/// Both devices of `o-1` report a fix, far apart; the victim's device and
/// both devices' state parts once committed.
async fn device_states_written_by_the_engine(app: &TestApp) -> (Device, StateParts) {
    let victim = app.device("v-1").await;
    let perpetrator = app.device("p-1").await;
    for (device, (lat, lon)) in [(&victim, VICTIM_AT), (&perpetrator, FAR_AWAY)] {
        let fix = json!({"seq": 1, "ts": now_ms(), "lat": lat, "lon": lon, "acc": 5.0});
        device.send(Channel::Loc, fix.to_string()).await;
    }
    let partition = PartitionKey::Order(OrderId::new("o-1"));
    let store = app.store();
    let devices = || async {
        let state = store.load(&partition).await.unwrap();
        let parts = state.map(|state| state.value).unwrap_or_default();
        parts
            .into_iter()
            .filter(|(name, _)| name.starts_with("device:"))
            .collect::<StateParts>()
    };
    eventually(Duration::from_secs(10), "both devices' states", || async {
        devices().await.len() == 2
    })
    .await
    .unwrap();
    (victim, devices().await)
}

async fn read_alert(app: &TestApp, id: &str) -> Value {
    let token = vangnet_e2e::token_for(SECRET, Role::Dispatcher, &["rotterdam"]);
    let path = format!("/api/v1/alerts/{id}");
    let (status, alert) = app
        .call(reqwest::Method::GET, &path, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{alert}");
    alert
}

/// Whether a revision as the API serves it names a position.
fn locates(revision: &Value) -> bool {
    ["victim", "perpetrator", "distance_m"]
        .iter()
        .any(|field| !revision[field].is_null())
}

#[tokio::test]
async fn a_resolved_alert_older_than_the_retention_is_served_without_coordinates() {
    let app = app_past_retention().await;

    eventually(Duration::from_secs(10), "the positions removed", || async {
        !locates(&read_alert(&app, "a-resolved").await)
    })
    .await
    .unwrap();

    let alert = read_alert(&app, "a-resolved").await;
    let timeline = alert["timeline"].as_array().unwrap();
    assert_eq!(
        (alert["status"].as_str(), timeline.len()),
        (Some("resolved"), 2)
    );
    assert!(!timeline.iter().any(locates), "{alert}");
    assert_eq!(timeline[1]["act"]["note"], "unit on scene");
    assert_eq!(
        alert["summary"],
        "Perpetrator within the alarm distance of the victim (certain)"
    );
}

#[tokio::test]
async fn an_open_alert_older_than_the_retention_keeps_its_coordinates() {
    let app = app_past_retention().await;
    eventually(
        Duration::from_secs(10),
        "the resolved alert's removed",
        || async { !locates(&read_alert(&app, "a-resolved").await) },
    )
    .await
    .unwrap();

    let alert = read_alert(&app, "a-open").await;

    assert_eq!(alert["victim"]["lat"], VICTIM_AT.0);
    assert_eq!(alert["perpetrator"]["lon"], PERPETRATOR_AT.1);
    assert!(locates(&alert["timeline"][0]));
}

#[tokio::test]
async fn events_older_than_the_retention_are_no_longer_served() {
    let app = app_past_retention().await;
    let store = app.store();
    let served = || async {
        let events = store.events_after(None, 100).await.unwrap();
        events
            .into_iter()
            .map(|(_, entry)| entry.revision)
            .collect::<Vec<_>>()
    };

    eventually(
        Duration::from_secs(10),
        "the old events dropped",
        || async {
            let served = served().await;
            !served.is_empty()
                && served
                    .iter()
                    .all(|revision| revision.updated_at.0 > long_ago())
        },
    )
    .await
    .unwrap();

    let audited = store.audit_head().await.unwrap().event;
    assert_eq!(store.log_gap_after(audited.as_ref()).await.unwrap(), None);
}

#[tokio::test]
async fn an_ended_orders_device_states_older_than_the_retention_are_removed() {
    let app = app_past_retention().await;
    let store = app.store();

    eventually(
        Duration::from_secs(10),
        "the device states removed",
        || async {
            let state = store.load(&ended_order()).await.unwrap().unwrap();
            state.value.is_empty()
        },
    )
    .await
    .unwrap();

    let state = store.load(&ended_order()).await.unwrap().unwrap();
    assert_eq!(state.version, 3);
}
