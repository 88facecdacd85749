//! `GET /api/v1/alerts/stream` (docs/api.md#live-stream): every alert revision as a
//! Server-Sent Event with a resumable id, so a dispatcher who reconnects with
//! `Last-Event-ID` misses nothing and gets nothing twice; scoped by region.
//! Each alert event is followed by its incident's.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use vangnet_e2e::{AppOptions, TestApp, epoch_seconds, eventually, hs256_token};
use vangnet_proto::token::Role;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token_for(role: Role, regions: &[&str]) -> String {
    vangnet_e2e::token_for(SECRET, role, regions)
}

fn order(id: &str, region: &str) -> Value {
    json!({
        "id": id, "region": region, "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

/// One Server-Sent Event.
#[derive(Debug)]
struct Event {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

/// Reads events off a streaming response, skipping comments.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new()
            .get(app.url("/api/v1/alerts/stream"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event within `wait` other than `incident`, or `None`.
    async fn next(&mut self, wait: Duration) -> Option<Event> {
        let deadline = Instant::now() + wait;
        loop {
            let event = self
                .next_event(deadline.saturating_duration_since(Instant::now()))
                .await?;
            if event.event.as_deref() != Some("incident") {
                return Some(event);
            }
        }
    }

    /// The next event within `wait`, or `None`.
    async fn next_event(&mut self, wait: Duration) -> Option<Event> {
        let deadline = Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in frame.lines() {
                    match line.split_once(": ") {
                        Some(("id", value)) => id = Some(value.to_owned()),
                        Some(("event", value)) => event = Some(value.to_owned()),
                        Some(("data", value)) => data = Some(serde_json::from_str(value).unwrap()),
                        _ => assert!(line.is_empty() || line.starts_with(':'), "line {line:?}"),
                    }
                }
                if let Some(data) = data {
                    return Some(Event { id, event, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            let chunk = chunk.ok()?.unwrap().expect("the stream to stay open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

impl EventStream {
    /// Whether the server ends the stream within `wait`; events before the end are skipped.
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(None)) => return true,
                Ok(Ok(Some(_))) => {}
                Ok(Err(err)) => panic!("the stream broke instead of ending: {err}"),
            }
        }
    }
}

fn revision_of(event: &Event) -> (String, u64) {
    assert_eq!(event.event.as_deref(), Some("alert"));
    assert!(event.id.is_some(), "{event:?}");
    (
        event.data["alert_id"].as_str().unwrap().to_owned(),
        event.data["revision"].as_u64().unwrap(),
    )
}

/// The victim of `order_id` presses panic; returns the alert id of the receipt.
async fn panic(app: &TestApp, order_id: &str) -> String {
    app.press_panic(&format!("{order_id}-v")).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_dispatcher_who_reconnects_with_last_event_id_gets_exactly_the_missed_revisions() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let admin = token_for(Role::Admin, &["*"]);
    for body in [order("s-r", "rotterdam"), order("s-u", "utrecht")] {
        post(&app, "/api/v1/orders", &admin, body).await;
    }
    eventually(Duration::from_secs(10), "the orders loaded", || async {
        app.metric("vangnet_orders").await >= 2.0
    })
    .await
    .unwrap();
    let rotterdam = token_for(Role::Dispatcher, &["rotterdam"]);
    let utrecht = token_for(Role::Dispatcher, &["utrecht"]);
    let mut utrecht_stream = EventStream::open(&app, &utrecht, None).await;
    let mut stream = EventStream::open(&app, &rotterdam, None).await;

    let alert = panic(&app, "s-r").await;
    let raised = stream
        .next(Duration::from_secs(5))
        .await
        .expect("the panic");
    assert_eq!(revision_of(&raised), (alert.clone(), 1));
    assert_eq!(raised.data["region"], "rotterdam");
    let seen = raised.id.unwrap();
    drop(stream);

    let path = format!("/api/v1/alerts/{alert}");
    post(
        &app,
        &format!("{path}/ack"),
        &rotterdam,
        json!({"note": "on it"}),
    )
    .await;
    post(
        &app,
        &format!("{path}/resolve"),
        &rotterdam,
        json!({"note": "safe"}),
    )
    .await;
    let other = panic(&app, "s-u").await;

    let mut resumed = EventStream::open(&app, &rotterdam, Some(&seen)).await;
    let mut missed = Vec::new();
    while let Some(event) = resumed.next(Duration::from_secs(2)).await {
        missed.push(revision_of(&event));
    }
    assert_eq!(missed, [(alert.clone(), 2), (alert.clone(), 3)]);

    // Opened before all of it, so a leaked rotterdam revision would come first.
    let first = utrecht_stream
        .next(Duration::from_secs(5))
        .await
        .expect("the utrecht panic");
    assert_eq!(first.data["region"], "utrecht", "{first:?}");
    assert_eq!(revision_of(&first), (other, 1));
}

#[tokio::test]
async fn the_stream_refuses_a_bad_last_event_id_and_callers_without_the_role() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let status = |token: String, id: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = reqwest::Client::new()
                .get(app.url("/api/v1/alerts/stream"))
                .bearer_auth(token);
            if let Some(id) = id {
                request = request.header("Last-Event-ID", id);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let dispatcher = || token_for(Role::Dispatcher, &["rotterdam"]);
    assert_eq!(status(dispatcher(), Some("not-an-id")).await, 400);
    let too_large = Some("18446744073709551616-0");
    assert_eq!(status(dispatcher(), too_large).await, 400);
    assert_eq!(status(token_for(Role::Auditor, &["*"]), None).await, 403);
}

#[tokio::test]
async fn a_client_resuming_behind_what_the_log_dropped_is_told_of_the_gap() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let admin = token_for(Role::Admin, &["*"]);
    let ids = ["g-1", "g-2", "g-3"];
    for id in ids {
        post(&app, "/api/v1/orders", &admin, order(id, "rotterdam")).await;
    }
    eventually(Duration::from_secs(10), "the orders loaded", || async {
        app.metric("vangnet_orders").await >= 3.0
    })
    .await
    .unwrap();
    let mut stream = EventStream::open(&app, &admin, None).await;
    let mut seen = Vec::new();
    for id in ids {
        panic(&app, id).await;
        let event = stream
            .next(Duration::from_secs(5))
            .await
            .expect("the panic");
        seen.push(event.id.unwrap());
    }
    drop(stream);
    let mut redis = redis::Client::open(vangnet_e2e::redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: usize = redis::cmd("XTRIM")
        .arg(format!("{}:events", app.store_prefix))
        .arg("MAXLEN")
        .arg(1)
        .query(&mut redis)
        .unwrap();

    let mut resumed = EventStream::open(&app, &admin, Some(&seen[0])).await;
    let gap = resumed.next(Duration::from_secs(5)).await.expect("the gap");
    assert_eq!(gap.event.as_deref(), Some("gap"));
    assert_eq!(gap.id, None);
    assert_eq!(gap.data, json!({"after": seen[0], "resumed_at": seen[2]}));
    let kept = resumed
        .next(Duration::from_secs(5))
        .await
        .expect("the kept revision");
    assert_eq!(kept.id.as_ref(), Some(&seen[2]));
    assert!(resumed.next(Duration::from_secs(1)).await.is_none());
}

#[tokio::test]
async fn the_stream_ends_when_its_token_expires_and_a_fresh_token_opens_it_again() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let expires_in = 3;
    let short = hs256_token(
        SECRET,
        &json!({"sub": "d", "role": "dispatcher", "regions": ["*"], "exp": epoch_seconds() + expires_in}),
    );
    let mut stream = EventStream::open(&app, &short, None).await;
    let leeway = 30;
    let wait = Duration::from_secs((expires_in + leeway + 5) as u64);
    assert!(
        stream.ends_within(wait).await,
        "the stream outlived its token"
    );
    EventStream::open(&app, &token_for(Role::Dispatcher, &["*"]), None).await;
}

#[tokio::test]
async fn each_alert_event_is_followed_by_its_incident_with_the_same_id() {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    let admin = token_for(Role::Admin, &["*"]);
    for body in [order("i-r", "rotterdam"), order("i-u", "utrecht")] {
        post(&app, "/api/v1/orders", &admin, body).await;
    }
    eventually(Duration::from_secs(10), "the orders loaded", || async {
        app.metric("vangnet_orders").await >= 2.0
    })
    .await
    .unwrap();
    let rotterdam = token_for(Role::Dispatcher, &["rotterdam"]);
    let mut stream = EventStream::open(&app, &rotterdam, None).await;
    let theirs = panic(&app, "i-u").await;
    let alert = panic(&app, "i-r").await;

    let wait = Duration::from_secs(5);
    let raised = stream.next_event(wait).await.expect("the panic");
    assert_eq!(revision_of(&raised), (alert.clone(), 1));
    let incident = stream.next_event(wait).await.expect("its incident");
    assert_eq!(incident.event.as_deref(), Some("incident"));
    assert_eq!(incident.id, raised.id);
    assert_eq!(incident.data["incident_id"], alert.as_str());
    assert_eq!(incident.data["status"], "open");
    assert_eq!(incident.data["alerts"][0]["alert_id"], alert.as_str());
    assert_ne!(incident.data["incident_id"], theirs.as_str());
    let seen = incident.id.clone().unwrap();
    drop(stream);

    post(
        &app,
        &format!("/api/v1/alerts/{alert}/ack"),
        &rotterdam,
        json!({"note": "on it"}),
    )
    .await;
    let mut resumed = EventStream::open(&app, &rotterdam, Some(&seen)).await;
    let acked = resumed.next_event(wait).await.expect("the acknowledgement");
    assert_eq!(revision_of(&acked), (alert.clone(), 2));
    let incident = resumed.next_event(wait).await.expect("its incident");
    assert_eq!(incident.event.as_deref(), Some("incident"));
    assert_eq!(incident.data["status"], "acknowledged");
    assert!(resumed.next_event(Duration::from_secs(1)).await.is_none());
}
