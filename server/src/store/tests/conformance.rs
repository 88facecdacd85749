//! One specification for every [`Store`]: each test body is generic and runs
//! against the Redis store (a real Redis at `VANGNET_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`, under a fresh key prefix), the Redis store on a
//! local Redis Cluster of six nodes, and the embedded store (a temporary file).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use url::Url;
use vangnet_proto::{
    AlertId, AlertKind, AlertStatus, DeviceId, DispatchBody, Fix, IncidentId, Latitude, Longitude,
    Meters, OrderId, Party, Priority, TimestampMs, UtcTime,
};

use crate::audit_chain::{self as chain, Draft, GENESIS, Link, Run};
use crate::audit_seal::SealKey;

use super::{
    Act, Commit, CommitOutcome, DeviceSubscriber, EmbeddedStore, EventId, EventLog, History,
    HistoryEntry, OrderChange, OrderStore, OrderWrite, Outbox, PartitionKey, PartitionStore,
    PushSubscription, PushSubscriptions, RedisAddress, RedisStore, SetAside, SetAsideReason,
    StateParts, Store, StoreError, StoredOrder, TimelineEntry,
};

const T0: u64 = 1_764_331_200_000;

/// A store under test, which a test can close and open again on the same data.
trait Fixture {
    type Store: Store + Clone;
    fn store(&self) -> &Self::Store;
    fn reopen(&mut self);
}

struct RedisFixture {
    address: RedisAddress,
    ca_pem: Option<Vec<u8>>,
    prefix: String,
    store: RedisStore,
    _server: Option<TlsRedis>,
}

impl RedisFixture {
    /// The test Redis (`VANGNET_TEST_REDIS_URL`), under a fresh key prefix.
    fn new() -> Self {
        let url = std::env::var("VANGNET_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
        Self::on(RedisAddress::Server(Url::parse(&url).unwrap()), None, None)
    }

    /// A Redis Cluster of this test process's own, three primaries with a
    /// replica each, shared by its tests under their own key prefixes.
    fn cluster() -> Self {
        static CLUSTER: std::sync::OnceLock<vangnet_redis_cluster::RedisCluster> =
            std::sync::OnceLock::new();
        let cluster = CLUSTER.get_or_init(vangnet_redis_cluster::RedisCluster::start);
        Self::on(RedisAddress::parse(&cluster.url()).unwrap(), None, None)
    }

    /// A Redis of its own that speaks only TLS and wants a password.
    fn over_tls() -> Self {
        let server = TlsRedis::start();
        let url = Url::parse(&format!(
            "rediss://:{}@localhost:{}/0",
            TlsRedis::PASSWORD,
            server.port
        ))
        .unwrap();
        Self::on(
            RedisAddress::Server(url),
            Some(server.ca_pem()),
            Some(server),
        )
    }

    fn on(address: RedisAddress, ca_pem: Option<Vec<u8>>, server: Option<TlsRedis>) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!(
            "vangnet-conformance-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let store = RedisStore::connect(&address, &prefix, ca_pem.as_deref()).unwrap();
        Self {
            address,
            ca_pem,
            prefix,
            store,
            _server: server,
        }
    }

    /// A plain connection to the one server (not for a cluster fixture).
    fn raw(&self) -> redis::Connection {
        let RedisAddress::Server(url) = &self.address else {
            panic!("a raw connection is for one server");
        };
        let client = match &self.ca_pem {
            Some(ca) => redis::Client::build_with_tls(
                url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.clone()),
                },
            ),
            None => redis::Client::open(url.as_str()),
        };
        client.unwrap().get_connection().unwrap()
    }
}

/// A `redis-server` on a free port that takes only TLS connections with a
/// password, its certificate signed by a CA made for it; killed when dropped.
struct TlsRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl TlsRedis {
    const PASSWORD: &str = "conformance-over-tls";

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let status = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "openssl {args:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-days",
                    "1",
                    "-subj",
                    "/CN=test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "redis.key",
                    "-out",
                    "redis.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "redis.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "redis.pem",
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .args([
                "--tls-cert-file",
                &path("redis.pem"),
                "--tls-key-file",
                &path("redis.key"),
            ])
            .args([
                "--tls-ca-cert-file",
                &path("ca.pem"),
                "--requirepass",
                Self::PASSWORD,
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server over TLS did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { dir, port, child }
    }

    fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("ca.pem")).unwrap()
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixture for RedisFixture {
    type Store = RedisStore;

    fn store(&self) -> &RedisStore {
        &self.store
    }

    fn reopen(&mut self) {
        self.store =
            RedisStore::connect(&self.address, &self.prefix, self.ca_pem.as_deref()).unwrap();
    }
}

impl Drop for RedisFixture {
    fn drop(&mut self) {
        if !matches!(self.address, RedisAddress::Server(_)) {
            return;
        }
        let mut conn = self.raw();
        let mut cursor = 0_u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
                .unwrap();
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).exec(&mut conn).unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

struct EmbeddedFixture {
    dir: tempfile::TempDir,
    store: Option<EmbeddedStore>,
}

impl EmbeddedFixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        Self {
            dir,
            store: Some(store),
        }
    }
}

impl Fixture for EmbeddedFixture {
    type Store = EmbeddedStore;

    fn store(&self) -> &EmbeddedStore {
        self.store.as_ref().unwrap()
    }

    fn reopen(&mut self) {
        self.store = None;
        self.store = Some(EmbeddedStore::open(&self.dir.path().join("vangnet.redb")).unwrap());
    }
}

/// State parts from names and bytes.
fn parts(named: &[(&str, &[u8])]) -> StateParts {
    named
        .iter()
        .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
        .collect()
}

fn order(id: &str) -> PartitionKey {
    PartitionKey::Order(OrderId::new(id))
}

/// A revision of `alert` in order-17, as the engine makes them.
pub(in crate::store) fn body(alert: &str, revision: u32, priority: Priority) -> DispatchBody {
    DispatchBody {
        alert_id: AlertId::new(alert),
        incident_id: IncidentId::new(alert),
        revision,
        order_id: Some(OrderId::new("order-17")),
        region: Some("utrecht".into()),
        priority,
        kind: AlertKind::Panic,
        confidence: None,
        status: AlertStatus::Open,
        exercise: false,
        late: false,
        count: 1,
        created_at: UtcTime(TimestampMs(T0)),
        updated_at: UtcTime(TimestampMs(T0 + u64::from(revision))),
        cleared_at: None,
        victim: None,
        perpetrator: None,
        zone: None,
        distance_m: Some(-12.5),
        summary: format!("{alert} revision {revision}"),
    }
}

fn revision(alert: &str, revision: u32, priority: Priority) -> TimelineEntry {
    TimelineEntry {
        revision: body(alert, revision, priority),
        act: None,
    }
}

fn fix(seq: u64, ts: u64) -> Fix {
    Fix::new(
        seq,
        TimestampMs(ts),
        Latitude::new(52.0907).unwrap(),
        Longitude::new(5.1214).unwrap(),
        Meters::new(8.0).unwrap(),
    )
}

fn located(device: &str, fix: Fix) -> HistoryEntry {
    HistoryEntry {
        device: DeviceId::parse(device, "device").unwrap(),
        fix,
    }
}

fn with_revisions(revisions: Vec<TimelineEntry>, at: u64) -> Commit {
    Commit {
        parts: parts(&[("step", b"revisions")]),
        revisions,
        history: Vec::new(),
        at: TimestampMs(at),
    }
}

fn with_history(history: Vec<HistoryEntry>) -> Commit {
    Commit {
        parts: parts(&[("step", b"history")]),
        revisions: Vec::new(),
        history,
        at: TimestampMs(T0),
    }
}

/// Commits on top of whatever version the partition is at, and expects it to win.
async fn commit_next<S: Store>(store: &S, partition: &PartitionKey, commit: Commit) -> u64 {
    let expected = store
        .load(partition)
        .await
        .unwrap()
        .map_or(0, |v| v.version);
    let outcome = store.commit(partition, expected, commit).await.unwrap();
    assert_eq!(outcome, CommitOutcome::Committed(expected + 1));
    expected + 1
}

async fn outbox_keys<S: Store>(store: &S, limit: usize) -> Vec<String> {
    let entries = store.outbox(limit).await.unwrap();
    entries.iter().map(|entry| entry.key()).collect()
}

async fn a_first_commit_needs_version_0_and_makes_version_1<S: Store>(store: &S) {
    let partition = order("order-17");
    store.ping().await.unwrap();
    assert_eq!(store.load(&partition).await.unwrap(), None);
    let early = store.commit(&partition, 1, with_history(Vec::new())).await;
    assert_eq!(early.unwrap(), CommitOutcome::Conflict);

    let first = store.commit(&partition, 0, with_history(Vec::new())).await;
    assert_eq!(first.unwrap(), CommitOutcome::Committed(1));
    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.value, parts(&[("step", b"history")]));
}

async fn a_commit_at_a_stale_version_conflicts_and_changes_nothing<S: Store>(store: &S) {
    let partition = order("order-17");
    commit_next(store, &partition, with_revisions(Vec::new(), T0)).await;

    let stale = Commit {
        parts: parts(&[("step", b"stale")]),
        revisions: vec![revision("alert-1", 1, Priority::P1)],
        history: vec![located("victim-1", fix(1, T0))],
        at: TimestampMs(T0),
    };
    let outcome = store.commit(&partition, 0, stale).await.unwrap();
    assert_eq!(outcome, CommitOutcome::Conflict);

    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.value),
        (1, parts(&[("step", b"revisions")]))
    );
    assert_eq!(store.alert(&AlertId::new("alert-1")).await.unwrap(), None);
    assert!(store.alerts(&partition).await.unwrap().is_empty());
    assert!(store.outbox(10).await.unwrap().is_empty());
    let device = DeviceId::parse("victim-1", "device").unwrap();
    let history = store.history(
        &partition,
        &device,
        TimestampMs(0),
        TimestampMs(u64::MAX / 2),
    );
    assert!(history.await.unwrap().is_empty());
}

async fn a_revision_lands_in_the_alert_timeline_and_the_outbox_together<S: Store>(store: &S) {
    let partition = order("order-17");
    let raised = revision("alert-1", 1, Priority::P1);
    commit_next(store, &partition, with_revisions(vec![raised.clone()], T0)).await;
    let acknowledged = TimelineEntry {
        revision: DispatchBody {
            status: AlertStatus::Acknowledged,
            ..body("alert-1", 2, Priority::P1)
        },
        act: Some(Act {
            actor: "dispatcher-7".into(),
            note: "unit on its way".into(),
        }),
    };
    commit_next(
        store,
        &partition,
        with_revisions(vec![acknowledged.clone()], T0 + 5),
    )
    .await;

    let alert = store
        .alert(&AlertId::new("alert-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.partition, partition);
    assert_eq!(alert.current, acknowledged.revision);
    assert_eq!(alert.timeline, vec![raised.clone(), acknowledged.clone()]);

    let outbox = store.outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].key(), "alert-1/1");
    assert_eq!(outbox[0].partition, partition);
    assert_eq!(outbox[0].body, raised.revision);
    assert_eq!(outbox[0].enqueued_at, TimestampMs(T0));
    assert_eq!(outbox[1].key(), "alert-1/2");
    assert_eq!(outbox[1].enqueued_at, TimestampMs(T0 + 5));
}

async fn the_outbox_gives_p1_before_p2_before_p3_then_oldest_first<S: Store>(store: &S) {
    let queued = [
        ("p3-old", Priority::P3, "order-1"),
        ("p1-old", Priority::P1, "order-2"),
        ("p2", Priority::P2, "order-1"),
        ("p3-new", Priority::P3, "order-2"),
        ("p1-new", Priority::P1, "order-1"),
    ];
    for (at, (alert, priority, partition)) in (T0..).zip(queued) {
        let commit = with_revisions(vec![revision(alert, 1, priority)], at);
        commit_next(store, &order(partition), commit).await;
    }

    let expected = ["p1-old/1", "p1-new/1", "p2/1", "p3-old/1", "p3-new/1"];
    assert_eq!(outbox_keys(store, 10).await, expected);
    assert_eq!(outbox_keys(store, 2).await, expected[..2]);
    assert!(store.outbox(0).await.unwrap().is_empty());
}

async fn a_delivered_revision_leaves_the_outbox<S: Store>(store: &S) {
    let partition = order("order-17");
    let revisions = vec![
        revision("alert-1", 1, Priority::P1),
        revision("alert-2", 1, Priority::P2),
    ];
    commit_next(store, &partition, with_revisions(revisions, T0)).await;

    assert!(store.delivered(&partition, "alert-1/1").await.unwrap());
    assert_eq!(outbox_keys(store, 10).await, ["alert-2/1"]);
    assert!(!store.delivered(&partition, "alert-1/1").await.unwrap());
    let alert = store
        .alert(&AlertId::new("alert-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.timeline.len(), 1);
}

async fn delivered_is_false_for_an_unknown_key<S: Store>(store: &S) {
    let partition = order("order-17");
    assert!(!store.delivered(&partition, "alert-9/1").await.unwrap());
    commit_next(
        store,
        &partition,
        with_revisions(vec![revision("alert-1", 1, Priority::P1)], T0),
    )
    .await;
    assert!(!store.delivered(&partition, "alert-1/2").await.unwrap());
    assert!(
        !store
            .delivered(&order("order-18"), "alert-1/1")
            .await
            .unwrap()
    );
    assert_eq!(outbox_keys(store, 10).await, ["alert-1/1"]);
}

async fn outbox_depth_counts_per_priority<S: Store>(store: &S) {
    let revisions = vec![
        revision("alert-1", 1, Priority::P1),
        revision("alert-2", 1, Priority::P3),
        revision("alert-3", 1, Priority::P1),
    ];
    commit_next(store, &order("order-17"), with_revisions(revisions, T0)).await;

    let depth = store.outbox_depth().await.unwrap();
    assert_eq!(
        depth,
        [(Priority::P1, 2), (Priority::P2, 0), (Priority::P3, 1)]
    );
}

async fn history_returns_a_devices_fixes_in_a_time_range_oldest_first<S: Store>(store: &S) {
    let partition = order("order-17");
    let fixes = vec![
        located("victim-1", fix(3, T0 + 300)),
        located("victim-1", fix(1, T0 + 100)),
        located("perpetrator-1", fix(1, T0 + 150)),
    ];
    commit_next(store, &partition, with_history(fixes)).await;
    let later = vec![
        located("victim-1", fix(2, T0 + 200)),
        located("victim-1", fix(0, T0 + 50)),
    ];
    commit_next(store, &partition, with_history(later)).await;
    commit_next(
        store,
        &order("order-18"),
        with_history(vec![located("victim-1", fix(9, T0 + 120))]),
    )
    .await;

    let victim = DeviceId::parse("victim-1", "device").unwrap();
    let range = store.history(
        &partition,
        &victim,
        TimestampMs(T0 + 100),
        TimestampMs(T0 + 300),
    );
    assert_eq!(range.await.unwrap(), [fix(1, T0 + 100), fix(2, T0 + 200)]);
    let everything = store.history(&partition, &victim, TimestampMs(0), TimestampMs(T0 * 2));
    let seqs: Vec<u64> = everything.await.unwrap().iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

async fn a_device_whose_history_a_trim_emptied_is_trimmed_again_after_its_next_fix<S: Store>(
    store: &S,
) {
    let partition = order("order-17");
    let now = TimestampMs::now().millis();
    let first = with_history(vec![located("victim-1", fix(1, now))]);
    commit_next(store, &partition, first).await;
    assert_eq!(store.trim_history(TimestampMs(now + 1)).await.unwrap(), 1);

    let next = with_history(vec![located("victim-1", fix(2, now + 1_000))]);
    commit_next(store, &partition, next).await;
    assert_eq!(
        store.trim_history(TimestampMs(now + 2_000)).await.unwrap(),
        1
    );
}

async fn a_fix_committed_twice_is_in_history_once<S: Store>(store: &S) {
    let partition = order("order-17");
    for _ in 0..2 {
        let fixes = vec![located("victim-1", fix(1, T0 + 100))];
        commit_next(store, &partition, with_history(fixes)).await;
    }

    let victim = DeviceId::parse("victim-1", "device").unwrap();
    let history = store.history(&partition, &victim, TimestampMs(0), TimestampMs(T0 * 2));
    assert_eq!(history.await.unwrap(), [fix(1, T0 + 100)]);
}

async fn a_trim_removes_every_older_fix_of_a_long_history<S: Store>(store: &S) {
    let partition = order("order-17");
    let fixes = (0..250)
        .map(|seq| located("victim-1", fix(seq, T0 + seq)))
        .collect();
    commit_next(store, &partition, with_history(fixes)).await;

    assert_eq!(
        store.trim_history(TimestampMs(T0 + 230)).await.unwrap(),
        230
    );

    let victim = DeviceId::parse("victim-1", "device").unwrap();
    let kept = store.history(&partition, &victim, TimestampMs(0), TimestampMs(T0 * 2));
    let seqs: Vec<u64> = kept.await.unwrap().iter().map(|f| f.seq).collect();
    assert_eq!(seqs, (230..250).collect::<Vec<_>>());
}

async fn trim_history_removes_only_older_fixes<S: Store>(store: &S) {
    let fixes = vec![
        located("victim-1", fix(1, T0 + 100)),
        located("victim-1", fix(2, T0 + 200)),
        located("victim-1", fix(3, T0 + 300)),
    ];
    commit_next(store, &order("order-17"), with_history(fixes)).await;
    let other = vec![
        located("unit-4", fix(1, T0 + 150)),
        located("unit-4", fix(2, T0 + 250)),
    ];
    commit_next(store, &PartitionKey::Unassigned, with_history(other)).await;

    assert_eq!(store.trim_history(TimestampMs(T0 + 200)).await.unwrap(), 2);

    let (partition, victim) = (
        order("order-17"),
        DeviceId::parse("victim-1", "device").unwrap(),
    );
    let kept = store.history(&partition, &victim, TimestampMs(0), TimestampMs(T0 * 2));
    assert_eq!(kept.await.unwrap(), [fix(2, T0 + 200), fix(3, T0 + 300)]);
    let unit = DeviceId::parse("unit-4", "device").unwrap();
    let kept = store.history(
        &PartitionKey::Unassigned,
        &unit,
        TimestampMs(0),
        TimestampMs(T0 * 2),
    );
    assert_eq!(kept.await.unwrap(), [fix(2, T0 + 250)]);
    assert_eq!(store.trim_history(TimestampMs(T0 + 200)).await.unwrap(), 0);
}

/// Creates `order` at the current epoch.
async fn create_order<S: Store>(store: &S, order: &StoredOrder) -> OrderWrite {
    let epoch = store.orders_epoch().await.unwrap();
    let audit = audit_draft(order.id.as_str());
    store
        .write_order(order, OrderChange::Create, epoch, &audit)
        .await
        .unwrap()
}

async fn creating_an_existing_order_is_refused_and_changes_nothing<S: Store>(store: &S) {
    let original = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17","region":"utrecht"}"#.to_vec(),
    };
    assert_eq!(create_order(store, &original).await, OrderWrite::Written);
    let epoch = store.orders_epoch().await.unwrap();

    let again = StoredOrder {
        body: br#"{"id":"order-17","region":"amsterdam"}"#.to_vec(),
        ..original.clone()
    };
    assert_eq!(create_order(store, &again).await, OrderWrite::Exists);
    assert_eq!(store.order(&original.id).await.unwrap(), Some(original));
    assert_eq!(store.orders_epoch().await.unwrap(), epoch);
}

async fn an_order_write_at_an_epoch_that_moved_changes_nothing<S: Store>(store: &S) {
    let first = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17"}"#.to_vec(),
    };
    let seen = store.orders_epoch().await.unwrap();
    assert_eq!(create_order(store, &first).await, OrderWrite::Written);
    let epoch = store.orders_epoch().await.unwrap();

    let second = StoredOrder {
        id: OrderId::new("order-18"),
        body: br#"{"id":"order-18"}"#.to_vec(),
    };
    let replaced = StoredOrder {
        body: br#"{"id":"order-17","v":2}"#.to_vec(),
        ..first.clone()
    };
    for (order, change) in [
        (&second, OrderChange::Create),
        (&replaced, OrderChange::Replace),
    ] {
        let audit = audit_draft(order.id.as_str());
        let written = store.write_order(order, change, seen, &audit).await;
        let written = written.unwrap();
        assert_eq!(written, OrderWrite::Moved, "{change:?}");
    }
    assert_eq!(store.orders().await.unwrap(), [first]);
    assert_eq!(store.orders_epoch().await.unwrap(), epoch);
    let audit = audit_draft("order-17");
    let written = store.write_order(&replaced, OrderChange::Replace, epoch, &audit);
    assert_eq!(written.await.unwrap(), OrderWrite::Written);
    assert_eq!(store.orders().await.unwrap(), [replaced]);
}

async fn put_delete_and_list_orders_change_the_epoch<S: Store>(store: &S) {
    let first = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17"}"#.to_vec(),
    };
    let second = StoredOrder {
        id: OrderId::new("order-18"),
        body: br#"{"id":"order-18"}"#.to_vec(),
    };
    let mut seen = vec![store.orders_epoch().await.unwrap()];
    assert_eq!(create_order(store, &first).await, OrderWrite::Written);
    seen.push(store.orders_epoch().await.unwrap());
    store.put_order(&second).await.unwrap();
    seen.push(store.orders_epoch().await.unwrap());
    let replaced = StoredOrder {
        body: br#"{"id":"order-17","v":2}"#.to_vec(),
        ..first.clone()
    };
    store.put_order(&replaced).await.unwrap();
    seen.push(store.orders_epoch().await.unwrap());
    assert_eq!(
        store.orders().await.unwrap(),
        [replaced.clone(), second.clone()]
    );

    let end = audit_draft("order-17");
    assert!(store.delete_order(&first.id, &end).await.unwrap());
    seen.push(store.orders_epoch().await.unwrap());
    assert!(!store.delete_order(&first.id, &end).await.unwrap());
    assert_eq!(store.orders_epoch().await.unwrap(), *seen.last().unwrap());
    assert_eq!(store.order(&first.id).await.unwrap(), None);
    assert_eq!(store.orders().await.unwrap(), [second]);

    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), seen.len(), "epochs {seen:?}");
}

async fn two_concurrent_commits_at_the_same_version_let_exactly_one_win<S: Store + Clone>(
    store: &S,
) {
    let partition = order("order-17");
    for round in 0..10_u64 {
        let contenders = ["a", "b"].map(|name| {
            let (store, partition) = (store.clone(), partition.clone());
            let alert = format!("alert-{name}-{round}");
            let commit = with_revisions(vec![revision(&alert, 1, Priority::P1)], T0 + round);
            tokio::spawn(async move { store.commit(&partition, round, commit).await })
        });
        let mut outcomes = Vec::new();
        for contender in contenders {
            outcomes.push(contender.await.unwrap().unwrap());
        }
        let won = outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Committed(round + 1))
            .count();
        let lost = outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Conflict)
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {outcomes:?}");
    }
    assert_eq!(store.load(&partition).await.unwrap().unwrap().version, 10);
    assert_eq!(store.alerts(&partition).await.unwrap().len(), 10);
    assert_eq!(store.outbox(100).await.unwrap().len(), 10);
}

async fn state_survives_reopening_the_store<F: Fixture>(fixture: &mut F) {
    let partition = order("order-17");
    let commit = Commit {
        parts: parts(&[("engine", b"state")]),
        revisions: vec![revision("alert-1", 1, Priority::P1)],
        history: vec![located("victim-1", fix(1, T0))],
        at: TimestampMs(T0),
    };
    commit_next(fixture.store(), &partition, commit).await;
    let order_17 = StoredOrder {
        id: OrderId::new("order-17"),
        body: b"{}".to_vec(),
    };
    create_order(fixture.store(), &order_17).await;
    let browser = push_subscription("browser-1", "dispatcher-1");
    fixture
        .store()
        .put_push_subscription(&browser)
        .await
        .unwrap();

    fixture.reopen();

    let store = fixture.store();
    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.value),
        (1, parts(&[("engine", b"state")]))
    );
    assert_eq!(store.orders().await.unwrap(), [order_17]);
    assert_eq!(store.partitions().await.unwrap(), [order("order-17")]);
    assert!(
        store
            .alert(&AlertId::new("alert-1"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(outbox_keys(store, 10).await, ["alert-1/1"]);
    let victim = DeviceId::parse("victim-1", "device").unwrap();
    let history = store.history(&partition, &victim, TimestampMs(T0), TimestampMs(T0 + 1));
    assert_eq!(history.await.unwrap(), [fix(1, T0)]);
    assert_eq!(store.push_subscriptions().await.unwrap(), [browser]);
}

async fn alerts_lists_the_latest_revision_per_alert_of_a_partition<S: Store>(store: &S) {
    let partition = order("order-17");
    let first = vec![
        revision("alert-1", 1, Priority::P1),
        revision("alert-2", 1, Priority::P2),
    ];
    commit_next(store, &partition, with_revisions(first, T0)).await;
    commit_next(
        store,
        &partition,
        with_revisions(vec![revision("alert-1", 2, Priority::P1)], T0 + 1),
    )
    .await;
    let elsewhere = vec![revision("alert-3", 1, Priority::P1)];
    commit_next(
        store,
        &PartitionKey::Unassigned,
        with_revisions(elsewhere, T0),
    )
    .await;

    let alerts = store.alerts(&partition).await.unwrap();
    assert_eq!(
        alerts,
        [
            body("alert-1", 2, Priority::P1),
            body("alert-2", 1, Priority::P2)
        ]
    );
    assert!(store.alerts(&order("order-18")).await.unwrap().is_empty());
}

/// `alert` at `revision`, made at `T0 + at` ms.
fn revised_at(alert: &str, revision: u32, at: u64) -> TimelineEntry {
    let mut body = body(alert, revision, Priority::P2);
    body.updated_at = UtcTime(TimestampMs(T0 + at));
    TimelineEntry {
        revision: body,
        act: None,
    }
}

/// The ids and `updated_at` offsets of `alerts`.
fn times(alerts: &[DispatchBody]) -> Vec<(String, u64)> {
    alerts
        .iter()
        .map(|alert| (alert.alert_id.to_string(), alert.updated_at.0.millis() - T0))
        .collect()
}

/// Every alert, read a page of `limit` at a time after the last one's key.
async fn alerts_in_pages<S: Store>(store: &S, limit: usize) -> Vec<DispatchBody> {
    let mut all: Vec<DispatchBody> = Vec::new();
    loop {
        let before = all
            .last()
            .map(|alert| (alert.updated_at.0.millis(), alert.alert_id.to_string()));
        let page = store.alerts_before(before.as_ref(), limit).await.unwrap();
        assert!(page.len() <= limit);
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

async fn alerts_before_pages_the_latest_revisions_of_every_partition_newest_first<S: Store>(
    store: &S,
) {
    assert!(store.alerts_before(None, 10).await.unwrap().is_empty());
    let seventeen = order("order-17");
    let first = vec![
        revised_at("alert-a", 1, 10),
        revised_at("alert-b", 1, 20),
        revised_at("alert-c", 1, 20),
    ];
    commit_next(store, &seventeen, with_revisions(first, T0)).await;
    let elsewhere = vec![revised_at("alert-d", 1, 20), revised_at("alert-e", 1, 5)];
    commit_next(
        store,
        &PartitionKey::Unassigned,
        with_revisions(elsewhere, T0),
    )
    .await;
    commit_next(
        store,
        &seventeen,
        with_revisions(vec![revised_at("alert-a", 2, 30)], T0),
    )
    .await;

    let newest_first = [
        ("alert-a", 30),
        ("alert-d", 20),
        ("alert-c", 20),
        ("alert-b", 20),
        ("alert-e", 5),
    ]
    .map(|(id, at)| (id.to_owned(), at));
    let all = store.alerts_before(None, 10).await.unwrap();
    assert_eq!(times(&all), newest_first);
    assert_eq!(all[0].revision, 2);
    for limit in [1, 2, 3] {
        assert_eq!(times(&alerts_in_pages(store, limit).await), newest_first);
    }
    let between = (T0 + 20, "alert-c".to_owned());
    let older = store.alerts_before(Some(&between), 10).await.unwrap();
    assert_eq!(times(&older), newest_first[3..]);
}

async fn partitions_lists_every_committed_partition<S: Store>(store: &S) {
    for partition in [
        order("order-18"),
        PartitionKey::Unassigned,
        order("order-17"),
    ] {
        commit_next(store, &partition, with_history(Vec::new())).await;
    }
    let refused = store
        .commit(&order("order-19"), 4, with_history(Vec::new()))
        .await;
    assert_eq!(refused.unwrap(), CommitOutcome::Conflict);

    let mut partitions = store.partitions().await.unwrap();
    partitions.sort();
    let mut expected = vec![
        order("order-17"),
        order("order-18"),
        PartitionKey::Unassigned,
    ];
    expected.sort();
    assert_eq!(partitions, expected);
}

async fn events_follow_commits_in_order_and_resume_after_an_id<S: Store>(store: &S) {
    assert!(store.events_after(None, 10).await.unwrap().is_empty());
    assert_eq!(store.last_event_id().await.unwrap(), None);
    commit_next(
        store,
        &order("order-17"),
        with_revisions(
            vec![
                revision("alert-1", 1, Priority::P1),
                revision("alert-2", 1, Priority::P2),
            ],
            T0,
        ),
    )
    .await;
    commit_next(store, &order("order-18"), with_history(Vec::new())).await;
    let stale = store
        .commit(
            &order("order-18"),
            0,
            with_revisions(vec![revision("alert-9", 1, Priority::P1)], T0),
        )
        .await;
    assert_eq!(stale.unwrap(), CommitOutcome::Conflict);
    the_clock_moves_on().await;
    commit_next(
        store,
        &order("order-18"),
        with_revisions(vec![revision("alert-3", 1, Priority::P1)], T0 + 1),
    )
    .await;
    the_clock_moves_on().await;
    commit_next(
        store,
        &order("order-17"),
        with_revisions(vec![revision("alert-1", 2, Priority::P1)], T0 + 2),
    )
    .await;

    let all = store.events_after(None, 100).await.unwrap();
    let keys: Vec<String> = all
        .iter()
        .map(|(_, entry)| format!("{}/{}", entry.revision.alert_id, entry.revision.revision))
        .collect();
    assert_eq!(keys, ["alert-1/1", "alert-2/1", "alert-3/1", "alert-1/2"]);
    assert_eq!(all[3].1, revision("alert-1", 2, Priority::P1));
    let ids: Vec<EventId> = all.iter().map(|(id, _)| id.clone()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(store.last_event_id().await.unwrap().as_ref(), ids.last());

    let rest = store.events_after(Some(&ids[0]), 100).await.unwrap();
    assert_eq!(rest, all[1..]);
    let page = store.events_after(Some(&ids[0]), 2).await.unwrap();
    assert_eq!(page, all[1..3]);
    let resent = EventId::parse(ids[1].as_str()).unwrap();
    assert_eq!(
        store.events_after(Some(&resent), 100).await.unwrap(),
        all[2..]
    );
    assert!(
        store
            .events_after(Some(&ids[3]), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Returns once the wall clock is past the next millisecond: on a Redis
/// Cluster, events of partitions in different shards are ordered by the
/// millisecond their primary committed them in.
async fn the_clock_moves_on() {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let start = now();
    while now() < start + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Commits to many partitions, which a cluster spreads over its shards, are
/// each read once by a reader that pages through the log.
async fn a_reader_paging_through_many_partitions_reads_every_event_once<S: Store>(store: &S) {
    let mut committed = Vec::new();
    for n in 0..40 {
        let alert = format!("alert-{n}");
        let commit = with_revisions(vec![revision(&alert, 1, Priority::P2)], T0 + n);
        commit_next(store, &order(&format!("order-{n}")), commit).await;
        committed.push(format!("{alert}/1"));
    }

    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.events_after(cursor.as_ref(), 7).await.unwrap();
        let Some((last, _)) = page.last() else {
            break;
        };
        cursor = Some(EventId::parse(last.as_str()).unwrap());
        read.extend(
            page.iter().map(|(_, entry)| {
                format!("{}/{}", entry.revision.alert_id, entry.revision.revision)
            }),
        );
    }

    read.sort();
    committed.sort();
    assert_eq!(read, committed);
    assert_eq!(store.last_event_id().await.unwrap(), cursor);
}

fn audit_draft(subject: &str) -> Draft {
    Draft::new("admin-1", "order.create", subject, serde_json::json!({}))
}

/// A run of one entry on `subject`, built on `after`.
fn audit_run(after: &Link, subject: &str) -> Run {
    Run::after(after, [audit_draft(subject)], TimestampMs(T0))
}

async fn audit_entries_append_from_genesis_and_page_after_a_seq<S: Store>(store: &S) {
    let head = store.audit_head().await.unwrap();
    assert_eq!(
        (head.link.seq, head.link.hash.as_str(), head.event),
        (0, GENESIS, None)
    );
    let mut link = Link::default();
    let mut appended = Vec::new();
    for n in 1..=5 {
        let run = audit_run(&link, &format!("order-{n}"));
        assert!(store.append_audit(&run, None).await.unwrap());
        link = run.end();
        appended.extend_from_slice(run.entries());
    }

    assert_eq!(store.audit_head().await.unwrap().link, link);
    assert_eq!(store.audit_after(0, 100).await.unwrap(), appended);
    assert_eq!(store.audit_after(2, 2).await.unwrap(), appended[2..4]);
    assert!(store.audit_after(5, 10).await.unwrap().is_empty());
    assert!(store.audit_after(0, 0).await.unwrap().is_empty());
}

async fn a_run_of_audit_entries_appends_in_one_step<S: Store>(store: &S) {
    let first = audit_run(&Link::default(), "order-1");
    assert!(store.append_audit(&first, None).await.unwrap());
    let drafts = ["order-2", "order-3", "order-4"].map(audit_draft);
    let run = Run::after(&first.end(), drafts, TimestampMs(T0));
    assert!(store.append_audit(&run, None).await.unwrap());

    let stored = store.audit_after(0, 100).await.unwrap();
    assert_eq!(stored[..1], *first.entries());
    assert_eq!(stored[1..], *run.entries());
    assert_eq!(store.audit_head().await.unwrap().link, run.end());
    assert_eq!(chain::verify(&stored), Ok(4));
}

async fn an_audit_append_on_a_stale_head_is_refused_and_changes_nothing<S: Store>(store: &S) {
    let first = audit_run(&Link::default(), "order-1");
    assert!(store.append_audit(&first, None).await.unwrap());

    let on_genesis = Run::after(
        &Link::default(),
        ["order-2", "order-3"].map(audit_draft),
        TimestampMs(T0),
    );
    assert!(!store.append_audit(&on_genesis, None).await.unwrap());
    let forged = audit_run(
        &Link {
            seq: 1,
            hash: "ab".repeat(32),
        },
        "order-2",
    );
    assert!(!store.append_audit(&forged, None).await.unwrap());

    assert_eq!(store.audit_after(0, 10).await.unwrap(), first.entries());
    assert_eq!(store.audit_head().await.unwrap().link, first.end());
}

async fn two_concurrent_audit_appends_on_one_head_let_exactly_one_win<S: Store + Clone>(store: &S) {
    let mut link = Link::default();
    for round in 0..10 {
        let contenders = ["a", "b"].map(|name| {
            let store = store.clone();
            let run = audit_run(&link, &format!("order-{name}-{round}"));
            tokio::spawn(async move { store.append_audit(&run, None).await })
        });
        let mut won = 0;
        for contender in contenders {
            won += usize::from(contender.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "round {round}");
        link = store.audit_head().await.unwrap().link;
    }
    assert_eq!(store.audit_after(0, 100).await.unwrap().len(), 10);
}

async fn the_audit_head_keeps_the_last_event_recorded<S: Store>(store: &S) {
    commit_next(
        store,
        &order("order-17"),
        with_revisions(vec![revision("alert-1", 1, Priority::P1)], T0),
    )
    .await;
    let (event, _) = store.events_after(None, 1).await.unwrap().remove(0);
    let first = audit_run(&Link::default(), "alert-1");
    assert!(store.append_audit(&first, Some(&event)).await.unwrap());
    let second = audit_run(&first.end(), "order-1");
    assert!(store.append_audit(&second, None).await.unwrap());

    let head = store.audit_head().await.unwrap();
    assert_eq!(head.link, second.end());
    assert_eq!(head.event, Some(event));
}

async fn a_store_with_an_audit_key_seals_every_entry_it_appends<S: Store + Clone>(store: &S) {
    let key = SealKey::generate();
    let sealing = store.clone().with_audit_key(Some(key.clone()));
    let drafts = ["order-1", "order-2", "order-3"].map(audit_draft);
    let run = Run::after(&Link::default(), drafts, TimestampMs(T0));
    assert!(sealing.append_audit(&run, None).await.unwrap());

    let stored = store.audit_after(0, 10).await.unwrap();
    assert_eq!(stored, run.sealed(&key).entries());
    assert!(stored.iter().all(|entry| {
        let seal = entry.seal.as_deref().unwrap_or_default();
        key.verifies(entry.seq, &entry.hash, seal)
    }));
    assert_eq!(store.audit_head().await.unwrap().link, run.end());
}

async fn entries_appended_without_a_key_stay_unsealed_before_sealed_ones<S: Store + Clone>(
    store: &S,
) {
    let key = SealKey::generate();
    let first = audit_run(&Link::default(), "order-1");
    assert!(store.append_audit(&first, None).await.unwrap());
    let sealing = store.clone().with_audit_key(Some(key.clone()));
    let second = audit_run(&first.end(), "order-2");
    assert!(sealing.append_audit(&second, None).await.unwrap());

    let stored = store.audit_after(0, 10).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.seal.is_some()).collect::<Vec<_>>(),
        [false, true]
    );
    let verified = chain::verify_sealed(&stored, Some(&key)).unwrap();
    assert_eq!((verified.entries, verified.sealed_from), (2, Some(2)));
}

/// Commits three revisions; returns their event ids, oldest first.
async fn three_events<S: Store>(store: &S) -> Vec<EventId> {
    let partition = order("order-17");
    for n in 1..=3 {
        let commit = with_revisions(vec![revision("alert-1", n, Priority::P1)], T0);
        commit_next(store, &partition, commit).await;
    }
    let events = store.events_after(None, 10).await.unwrap();
    events.into_iter().map(|(id, _)| id).collect()
}

async fn a_log_that_dropped_nothing_reports_no_gap<S: Store>(store: &S) {
    assert_eq!(store.log_gap_after(None).await.unwrap(), None);
    let events = three_events(store).await;
    assert_eq!(store.log_gap_after(None).await.unwrap(), None);
    assert_eq!(store.log_gap_after(Some(&events[0])).await.unwrap(), None);
    let older_than_any = EventId::parse("0-1").unwrap();
    assert_eq!(
        store.log_gap_after(Some(&older_than_any)).await.unwrap(),
        None
    );
}

async fn a_commit_writes_its_parts_and_keeps_the_others<S: Store>(store: &S) {
    let partition = order("order-17");
    let first = Commit {
        parts: parts(&[("order", b"o1"), ("device:victim-1", b"v1")]),
        ..Commit::default()
    };
    commit_next(store, &partition, first).await;
    let second = Commit {
        parts: parts(&[("device:victim-1", b"v2"), ("device:perp-1", b"p1")]),
        ..Commit::default()
    };
    commit_next(store, &partition, second).await;

    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.value),
        (
            2,
            parts(&[
                ("device:perp-1", b"p1"),
                ("device:victim-1", b"v2"),
                ("order", b"o1")
            ])
        )
    );
}

/// A party's fix as an alert revision carries it.
fn party(device: &str) -> Party {
    Party {
        device: DeviceId::parse(device, "device").unwrap(),
        lat: Latitude::new(51.9225).unwrap(),
        lon: Longitude::new(4.4792).unwrap(),
        acc: Meters::new(5.0).unwrap(),
        ts: TimestampMs(T0),
    }
}

/// Revision `revision` of `alert`, with both parties' positions, in `status`.
fn located_revision(alert: &str, revision: u32, status: AlertStatus) -> TimelineEntry {
    TimelineEntry {
        revision: DispatchBody {
            kind: AlertKind::ProximityAlarm,
            status,
            victim: Some(party("victim-1")),
            perpetrator: Some(party("perp-1")),
            distance_m: Some(420.0),
            summary: "Perpetrator within the alarm distance of the victim, distance 420 m".into(),
            ..body(alert, revision, Priority::P1)
        },
        act: (status == AlertStatus::Resolved).then(|| Act {
            actor: "dispatcher-7".into(),
            note: "false alarm".into(),
        }),
    }
}

/// Commits an alert raised with positions (revision 1, `updated_at` T0 + 1)
/// and resolved (revision 2, T0 + 2), and one raised and left open (T0 + 1).
async fn a_resolved_and_an_open_alert<S: Store>(store: &S) {
    let partition = order("order-17");
    let raised = vec![
        located_revision("alert-resolved", 1, AlertStatus::Open),
        located_revision("alert-open", 1, AlertStatus::Open),
    ];
    commit_next(store, &partition, with_revisions(raised, T0 + 1)).await;
    let resolved = vec![located_revision("alert-resolved", 2, AlertStatus::Resolved)];
    commit_next(store, &partition, with_revisions(resolved, T0 + 2)).await;
}

fn holds_a_position(revision: &DispatchBody) -> bool {
    revision.victim.is_some() || revision.perpetrator.is_some() || revision.distance_m.is_some()
}

async fn a_resolved_alert_revised_before_the_cutoff_loses_its_positions<S: Store>(store: &S) {
    a_resolved_and_an_open_alert(store).await;

    let forgotten = store.forget_positions(TimestampMs(0), TimestampMs(T0 + 3));

    assert_eq!(forgotten.await.unwrap(), 1);
    let alert = store.alert(&AlertId::new("alert-resolved")).await.unwrap();
    let alert = alert.unwrap();
    assert!(!holds_a_position(&alert.current));
    assert_eq!(
        alert.current.summary,
        "Perpetrator within the alarm distance of the victim"
    );
    assert_eq!(
        (
            alert.current.status,
            alert.current.revision,
            alert.timeline.len()
        ),
        (AlertStatus::Resolved, 2, 2)
    );
    assert!(
        alert
            .timeline
            .iter()
            .all(|entry| !holds_a_position(&entry.revision))
    );
    assert_eq!(alert.timeline[1].act.as_ref().unwrap().note, "false alarm");
    let partition_alerts = store.alerts(&order("order-17")).await.unwrap();
    assert!(!holds_a_position(&partition_alerts[1]));
}

async fn an_open_alert_keeps_its_positions_past_the_cutoff<S: Store>(store: &S) {
    a_resolved_and_an_open_alert(store).await;

    store
        .forget_positions(TimestampMs(0), TimestampMs(T0 + 3))
        .await
        .unwrap();

    let alert = store.alert(&AlertId::new("alert-open")).await.unwrap();
    let alert = alert.unwrap();
    assert_eq!(
        alert.current,
        located_revision("alert-open", 1, AlertStatus::Open).revision
    );
    assert!(holds_a_position(&alert.timeline[0].revision));
}

async fn a_resolved_alert_revised_since_the_cutoff_keeps_its_positions<S: Store>(store: &S) {
    a_resolved_and_an_open_alert(store).await;

    let before_resolution = store.forget_positions(TimestampMs(0), TimestampMs(T0 + 2));
    assert_eq!(before_resolution.await.unwrap(), 0);
    let outside_the_window = store.forget_positions(TimestampMs(T0 + 3), TimestampMs(T0 + 9));
    assert_eq!(outside_the_window.await.unwrap(), 0);

    let alert = store.alert(&AlertId::new("alert-resolved")).await.unwrap();
    assert!(holds_a_position(&alert.unwrap().current));
}

async fn events_made_before_the_cutoff_are_dropped_up_to_the_audited_one<S: Store>(store: &S) {
    let events = three_events(store).await;

    let removed = store.trim_events(TimestampMs(T0 + 10), Some(&events[2]));

    assert_eq!(removed.await.unwrap(), 2);
    let left = store.events_after(None, 10).await.unwrap();
    let left: Vec<EventId> = left.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [events[2].clone()]);
    assert_eq!(store.log_gap_after(Some(&events[2])).await.unwrap(), None);
}

async fn events_made_since_the_cutoff_stay_in_the_log<S: Store>(store: &S) {
    let events = three_events(store).await;

    let removed = store.trim_events(TimestampMs(T0 + 2), Some(&events[2]));

    assert_eq!(removed.await.unwrap(), 1);
    let left = store.events_after(None, 10).await.unwrap();
    let left: Vec<EventId> = left.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, events[1..]);
}

async fn no_event_is_dropped_before_the_audit_trail_recorded_one<S: Store>(store: &S) {
    let events = three_events(store).await;

    let removed = store.trim_events(TimestampMs(T0 + 10), None);

    assert_eq!(removed.await.unwrap(), 0);
    assert_eq!(
        store.events_after(None, 10).await.unwrap().len(),
        events.len()
    );
}

async fn a_trim_of_every_shards_events_leaves_the_audit_reader_no_gap<S: Store>(store: &S) {
    for n in 0..20 {
        let partition = order(&format!("order-{n}"));
        let alert = format!("alert-{n}");
        let commit = with_revisions(vec![revision(&alert, 1, Priority::P1)], T0);
        commit_next(store, &partition, commit).await;
    }
    let audited = store.last_event_id().await.unwrap().unwrap();

    let removed = store.trim_events(TimestampMs(T0 + 10), Some(&audited));

    let removed = removed.await.unwrap();
    let left = store.events_after(None, 100).await.unwrap().len();
    assert!(removed > 0);
    assert_eq!(removed + left as u64, 20);
    assert_eq!(store.log_gap_after(Some(&audited)).await.unwrap(), None);
    assert!(
        store
            .events_after(Some(&audited), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Commits the parts of an ended order's partition once, at T0.
async fn an_ended_orders_state<S: Store>(store: &S) -> PartitionKey {
    let partition = order("order-17");
    let commit = Commit {
        parts: parts(&[
            ("order", b"o1"),
            ("order_state", b"s1"),
            ("device:victim-1", b"v1"),
            ("device:perp-1", b"p1"),
        ]),
        at: TimestampMs(T0),
        ..Commit::default()
    };
    commit_next(store, &partition, commit).await;
    partition
}

fn device_parts() -> Vec<String> {
    vec!["device:perp-1".to_owned(), "device:victim-1".to_owned()]
}

async fn parts_of_a_partition_committed_before_the_cutoff_are_removed_and_its_version_moves_on<
    S: Store,
>(
    store: &S,
) {
    let partition = an_ended_orders_state(store).await;

    let devices = device_parts();

    let removed = store.remove_parts(&partition, 1, &devices, TimestampMs(T0 + 1));

    assert!(removed.await.unwrap());
    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.value),
        (2, parts(&[("order", b"o1"), ("order_state", b"s1")]))
    );
    let stale = Commit::default();
    let outcome = store.commit(&partition, 1, stale).await.unwrap();
    assert_eq!(outcome, CommitOutcome::Conflict);
}

async fn parts_of_a_partition_committed_since_the_cutoff_or_at_another_version_stay<S: Store>(
    store: &S,
) {
    let partition = an_ended_orders_state(store).await;

    let devices = device_parts();

    let since = store.remove_parts(&partition, 1, &devices, TimestampMs(T0));
    assert!(!since.await.unwrap());
    let moved_on = store.remove_parts(&partition, 2, &devices, TimestampMs(T0 + 1));
    assert!(!moved_on.await.unwrap());

    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.value.len()), (1, 4));
}

fn set_aside(topic: &str, reason: SetAsideReason) -> SetAside {
    SetAside {
        topic: topic.to_owned(),
        payload_hex: hex::encode(b"{}"),
        reason,
        at: TimestampMs(T0),
    }
}

async fn set_aside_messages_are_kept_newest_first<S: Store>(store: &S) {
    let first = set_aside("vangnet/v1/devices/p-1/loc", SetAsideReason::CorruptState);
    let second = set_aside("vangnet/v1/devices/p-2/alarm", SetAsideReason::Panicked);
    store.set_aside(&first).await.unwrap();
    store.set_aside(&second).await.unwrap();

    assert_eq!(
        store.set_aside_messages(10).await.unwrap(),
        [second.clone(), first]
    );
    assert_eq!(store.set_aside_messages(1).await.unwrap(), [second]);
}

fn push_subscription(id: &str, owner: &str) -> PushSubscription {
    PushSubscription {
        id: id.into(),
        owner: owner.into(),
        regions: vec!["rotterdam".into()],
        endpoint: format!("https://push.example/{id}"),
        p256dh: "BPublicKey".into(),
        auth: "secret".into(),
        expires_at: UtcTime(TimestampMs(T0)),
        device: None,
    }
}

async fn a_push_subscription_is_replaced_by_its_id_and_removed_once<S: Store>(store: &S) {
    let first = push_subscription("browser-1", "dispatcher-1");
    let other = push_subscription("browser-2", "dispatcher-2");
    let again = PushSubscription {
        owner: "dispatcher-3".into(),
        regions: vec!["*".into()],
        ..first.clone()
    };
    for subscription in [&first, &other, &again] {
        store.put_push_subscription(subscription).await.unwrap();
    }

    let mut stored = store.push_subscriptions().await.unwrap();
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, [again, other.clone()]);
    assert!(store.remove_push_subscription("browser-1").await.unwrap());
    assert!(!store.remove_push_subscription("browser-1").await.unwrap());
    assert_eq!(store.push_subscriptions().await.unwrap(), [other]);
}

async fn a_devices_push_subscription_keeps_its_device_and_credential<S: Store>(store: &S) {
    let phone = PushSubscription {
        device: Some(DeviceSubscriber {
            id: DeviceId::parse("victim-1", "device").unwrap(),
            credential: "fingerprint-1".into(),
        }),
        regions: vec![],
        ..push_subscription("device:victim-1", "victim-1")
    };
    let browser = push_subscription("browser-1", "dispatcher-1");
    store.put_push_subscription(&phone).await.unwrap();
    store.put_push_subscription(&browser).await.unwrap();

    let mut stored = store.push_subscriptions().await.unwrap();
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, [browser, phone.clone()]);
    assert!(store.remove_push_subscription(&phone.id).await.unwrap());
}

/// One `#[tokio::test]` per generic test body, each on a fresh fixture.
/// Every audit entry, verified as one intact chain.
async fn intact_trail<S: Store>(store: &S) -> Vec<chain::Entry> {
    let entries = store.audit_after(0, 1000).await.unwrap();
    assert_eq!(chain::verify(&entries), Ok(entries.len() as u64));
    entries
}

async fn an_order_change_is_written_with_its_audit_entry<S: Store>(store: &S) {
    let order = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17"}"#.to_vec(),
    };
    assert_eq!(create_order(store, &order).await, OrderWrite::Written);
    let end = Draft::new("admin-1", "order.end", "order-17", serde_json::json!({}));
    assert!(store.delete_order(&order.id, &end).await.unwrap());

    let trail = intact_trail(store).await;
    let recorded: Vec<(&str, &str)> = trail
        .iter()
        .map(|entry| (entry.action.as_str(), entry.subject.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [("order.create", "order-17"), ("order.end", "order-17")]
    );
}

async fn an_order_change_that_is_refused_leaves_no_audit_entry<S: Store>(store: &S) {
    let order = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17"}"#.to_vec(),
    };
    assert_eq!(create_order(store, &order).await, OrderWrite::Written);
    let epoch = store.orders_epoch().await.unwrap();

    assert_eq!(create_order(store, &order).await, OrderWrite::Exists);
    let replace = audit_draft("order-17");
    let stale = store.write_order(&order, OrderChange::Replace, epoch - 1, &replace);
    assert_eq!(stale.await.unwrap(), OrderWrite::Moved);
    let (unknown, end) = (OrderId::new("order-18"), audit_draft("order-18"));
    assert!(!store.delete_order(&unknown, &end).await.unwrap());

    assert_eq!(intact_trail(store).await.len(), 1);
}

async fn order_changes_racing_other_audit_writers_keep_one_intact_chain<S: Store + Clone>(
    store: &S,
) {
    let appender = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                crate::audit::append_all(&store, &[audit_draft(&format!("other-{n}"))])
                    .await
                    .unwrap();
            }
        })
    };
    for n in 0..20 {
        let order = StoredOrder {
            id: OrderId::new(format!("order-{n}")),
            body: br#"{}"#.to_vec(),
        };
        assert_eq!(create_order(store, &order).await, OrderWrite::Written);
    }
    appender.await.unwrap();

    let trail = intact_trail(store).await;
    assert_eq!(trail.len(), 40);
    let orders = trail.iter().filter(|e| e.subject.starts_with("order-"));
    assert_eq!(orders.count(), 20);
}

async fn an_order_change_on_a_store_with_an_audit_key_is_sealed<S: Store + Clone>(store: &S) {
    let key = SealKey::generate();
    let sealing = store.clone().with_audit_key(Some(key.clone()));
    let order = StoredOrder {
        id: OrderId::new("order-17"),
        body: br#"{"id":"order-17"}"#.to_vec(),
    };
    assert_eq!(create_order(&sealing, &order).await, OrderWrite::Written);

    let trail = intact_trail(store).await;
    let verified = chain::verify_sealed(&trail, Some(&key)).unwrap();
    assert_eq!((verified.entries, verified.sealed_from), (1, Some(1)));
}

async fn the_event_log_carries_the_act_behind_a_revision<S: Store>(store: &S) {
    let acted = TimelineEntry {
        act: Some(Act {
            actor: "dispatcher-1".into(),
            note: "on it".into(),
        }),
        ..revision("alert-1", 2, Priority::P1)
    };
    let revisions = vec![revision("alert-1", 1, Priority::P1), acted.clone()];
    commit_next(store, &order("order-17"), with_revisions(revisions, T0)).await;

    let events = store.events_after(None, 10).await.unwrap();
    let entries: Vec<TimelineEntry> = events.into_iter().map(|(_, entry)| entry).collect();
    assert_eq!(entries, [revision("alert-1", 1, Priority::P1), acted]);
}

macro_rules! conformance_suite {
    ($fixture:expr; $($test:ident),+ $(,)?) => {
        use super::Fixture as _;

        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let fixture = $fixture;
                super::$test(fixture.store()).await;
            }
        )+

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn state_survives_reopening_the_store() {
            let mut fixture = $fixture;
            super::state_survives_reopening_the_store(&mut fixture).await;
        }
    };
}

macro_rules! both_stores {
    ($($test:ident),+ $(,)?) => {
        mod redis_store {
            conformance_suite!(super::RedisFixture::new(); $($test),+);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_redis_log_reports_a_gap_to_a_reader_behind_what_it_dropped() {
                super::the_redis_log_reports_a_gap_to_a_reader_behind_what_it_dropped().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_redis_partition_without_a_commit_time_gives_up_its_parts_to_any_cutoff() {
                super::a_redis_partition_without_a_commit_time_gives_up_its_parts_to_any_cutoff()
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_commit_after_redis_forgot_its_scripts_loads_them_again() {
                super::a_commit_after_redis_forgot_its_scripts_loads_them_again().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn lost_cross_partition_indexes_are_rebuilt_by_a_new_connection() {
                super::lost_cross_partition_indexes_are_rebuilt_by_a_new_connection().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn alerts_stored_before_the_redis_time_index_are_found_by_a_new_connection() {
                super::alerts_stored_before_the_redis_time_index_are_found_by_a_new_connection()
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_store_is_created_while_redis_is_down_and_reports_it_unavailable() {
                super::a_store_is_created_while_redis_is_down_and_reports_it_unavailable().await;
            }
        }

        mod redis_cluster_store {
            conformance_suite!(super::RedisFixture::cluster(); $($test),+);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_cluster_store_is_created_while_the_cluster_is_down_and_reports_it_unavailable() {
                super::a_cluster_store_is_created_while_the_cluster_is_down_and_reports_it_unavailable().await;
            }
        }

        mod redis_store_over_tls_with_a_password {
            conformance_suite!(super::RedisFixture::over_tls(); $($test),+);
        }

        mod embedded_store {
            conformance_suite!(super::EmbeddedFixture::new(); $($test),+);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_embedded_log_keeps_the_newest_events_and_reports_a_gap_behind_them() {
                super::the_embedded_log_keeps_the_newest_events_and_reports_a_gap_behind_them()
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn alerts_stored_before_the_embedded_time_index_are_found_after_reopening() {
                super::alerts_stored_before_the_embedded_time_index_are_found_after_reopening()
                    .await;
            }
        }
    };
}

both_stores!(
    a_first_commit_needs_version_0_and_makes_version_1,
    a_log_that_dropped_nothing_reports_no_gap,
    a_commit_at_a_stale_version_conflicts_and_changes_nothing,
    a_commit_writes_its_parts_and_keeps_the_others,
    a_revision_lands_in_the_alert_timeline_and_the_outbox_together,
    the_outbox_gives_p1_before_p2_before_p3_then_oldest_first,
    a_delivered_revision_leaves_the_outbox,
    delivered_is_false_for_an_unknown_key,
    outbox_depth_counts_per_priority,
    history_returns_a_devices_fixes_in_a_time_range_oldest_first,
    trim_history_removes_only_older_fixes,
    a_trim_removes_every_older_fix_of_a_long_history,
    a_fix_committed_twice_is_in_history_once,
    a_device_whose_history_a_trim_emptied_is_trimmed_again_after_its_next_fix,
    creating_an_existing_order_is_refused_and_changes_nothing,
    an_order_write_at_an_epoch_that_moved_changes_nothing,
    put_delete_and_list_orders_change_the_epoch,
    an_order_change_is_written_with_its_audit_entry,
    an_order_change_that_is_refused_leaves_no_audit_entry,
    order_changes_racing_other_audit_writers_keep_one_intact_chain,
    an_order_change_on_a_store_with_an_audit_key_is_sealed,
    the_event_log_carries_the_act_behind_a_revision,
    two_concurrent_commits_at_the_same_version_let_exactly_one_win,
    alerts_lists_the_latest_revision_per_alert_of_a_partition,
    alerts_before_pages_the_latest_revisions_of_every_partition_newest_first,
    partitions_lists_every_committed_partition,
    events_follow_commits_in_order_and_resume_after_an_id,
    a_reader_paging_through_many_partitions_reads_every_event_once,
    audit_entries_append_from_genesis_and_page_after_a_seq,
    a_run_of_audit_entries_appends_in_one_step,
    an_audit_append_on_a_stale_head_is_refused_and_changes_nothing,
    two_concurrent_audit_appends_on_one_head_let_exactly_one_win,
    the_audit_head_keeps_the_last_event_recorded,
    a_store_with_an_audit_key_seals_every_entry_it_appends,
    entries_appended_without_a_key_stay_unsealed_before_sealed_ones,
    set_aside_messages_are_kept_newest_first,
    a_push_subscription_is_replaced_by_its_id_and_removed_once,
    a_devices_push_subscription_keeps_its_device_and_credential,
    a_resolved_alert_revised_before_the_cutoff_loses_its_positions,
    an_open_alert_keeps_its_positions_past_the_cutoff,
    a_resolved_alert_revised_since_the_cutoff_keeps_its_positions,
    events_made_before_the_cutoff_are_dropped_up_to_the_audited_one,
    events_made_since_the_cutoff_stay_in_the_log,
    no_event_is_dropped_before_the_audit_trail_recorded_one,
    a_trim_of_every_shards_events_leaves_the_audit_reader_no_gap,
    parts_of_a_partition_committed_before_the_cutoff_are_removed_and_its_version_moves_on,
    parts_of_a_partition_committed_since_the_cutoff_or_at_another_version_stay,
);

/// Redis only: a reader behind what the capped event log trimmed is told so.
async fn the_redis_log_reports_a_gap_to_a_reader_behind_what_it_dropped() {
    let fixture = RedisFixture::new();
    let events = three_events(fixture.store()).await;
    let _: u64 = redis::cmd("XTRIM")
        .arg(format!("{}:events", fixture.prefix))
        .arg("MAXLEN")
        .arg(1)
        .query(&mut fixture.raw())
        .unwrap();

    let store = fixture.store();
    let gap = Some(events[2].clone());
    assert_eq!(store.log_gap_after(None).await.unwrap(), gap);
    assert_eq!(store.log_gap_after(Some(&events[0])).await.unwrap(), gap);
    assert_eq!(store.log_gap_after(Some(&events[2])).await.unwrap(), None);
}

/// Redis only: a partition last committed before commits recorded their
/// time counts as older than any cutoff.
async fn a_redis_partition_without_a_commit_time_gives_up_its_parts_to_any_cutoff() {
    let fixture = RedisFixture::new();
    let store = fixture.store();
    let partition = an_ended_orders_state(store).await;
    let _: u64 = redis::cmd("HDEL")
        .arg(format!("{}:{{p:{partition}}}:state", fixture.prefix))
        .arg("committed_at")
        .query(&mut fixture.raw())
        .unwrap();

    let devices = device_parts();

    let removed = store.remove_parts(&partition, 1, &devices, TimestampMs(0));

    assert!(removed.await.unwrap());
    let loaded = store.load(&partition).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.value.len()), (2, 2));
}

/// Embedded only: a log that keeps two events drops the oldest, and a
/// reader behind it is told so.
async fn the_embedded_log_keeps_the_newest_events_and_reports_a_gap_behind_them() {
    let fixture = EmbeddedFixture::new();
    let store = fixture.store().clone().keeping_events(2);

    let kept = three_events(&store).await;

    let first_dropped = EventId::parse("1").unwrap();
    assert_eq!(kept.len(), 2);
    assert!(first_dropped < kept[0]);
    let gap = Some(kept[0].clone());
    assert_eq!(store.log_gap_after(None).await.unwrap(), gap);
    assert_eq!(
        store.log_gap_after(Some(&first_dropped)).await.unwrap(),
        gap
    );
    assert_eq!(store.log_gap_after(Some(&kept[0])).await.unwrap(), None);
}

/// Redis only: scripts are gone after a restart without persistence or a
/// `SCRIPT FLUSH`; a commit loads its script again instead of failing.
async fn a_commit_after_redis_forgot_its_scripts_loads_them_again() {
    let fixture = RedisFixture::new();
    let partition = order("order-17");
    let first = commit_next(fixture.store(), &partition, with_history(Vec::new())).await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut fixture.raw())
        .unwrap();

    let commit = with_history(vec![located("victim-1", fix(1, T0))]);
    let second = fixture.store().commit(&partition, first, commit).await;
    assert_eq!(second.unwrap(), CommitOutcome::Committed(first + 1));
}

/// Redis only: the indexes outside the partitions are rebuilt from them, so a
/// crash between a commit's script and its index writes loses no alert.
async fn lost_cross_partition_indexes_are_rebuilt_by_a_new_connection() {
    let mut fixture = RedisFixture::new();
    let partition = order("order-17");
    let commit = with_revisions(vec![revision("alert-1", 1, Priority::P1)], T0);
    commit_next(fixture.store(), &partition, commit).await;

    let index_keys = [
        format!("{}:outbox", fixture.prefix),
        format!("{}:alert-partition", fixture.prefix),
    ];
    let deleted: u64 = redis::cmd("DEL")
        .arg(&index_keys)
        .query(&mut fixture.raw())
        .unwrap();
    assert_eq!(deleted, 2);

    fixture.reopen();

    let store = fixture.store();
    assert_eq!(outbox_keys(store, 10).await, ["alert-1/1"]);
    let alert = store
        .alert(&AlertId::new("alert-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.partition, partition);
    assert_eq!(store.outbox_depth().await.unwrap()[0], (Priority::P1, 1));
}

/// Commits two alerts, the second revised, for a time index to find.
async fn two_alerts_to_index<S: Store>(store: &S) {
    let partition = order("order-17");
    let first = vec![revised_at("alert-1", 1, 10), revised_at("alert-2", 1, 20)];
    commit_next(store, &partition, with_revisions(first, T0)).await;
    let second = vec![revised_at("alert-1", 2, 30)];
    commit_next(store, &partition, with_revisions(second, T0)).await;
}

/// Redis only: a new connection indexes by time the alerts stored without
/// the index, beside those committed since.
async fn alerts_stored_before_the_redis_time_index_are_found_by_a_new_connection() {
    let mut fixture = RedisFixture::new();
    two_alerts_to_index(fixture.store()).await;
    let deleted: u64 = redis::cmd("DEL")
        .arg(format!("{}:alert-times", fixture.prefix))
        .query(&mut fixture.raw())
        .unwrap();
    assert_eq!(deleted, 1);

    fixture.reopen();
    let store = fixture.store();
    let third = vec![revised_at("alert-2", 2, 40)];
    commit_next(store, &order("order-17"), with_revisions(third, T0)).await;

    let all = store.alerts_before(None, 10).await.unwrap();
    assert_eq!(
        times(&all),
        [("alert-2".to_owned(), 40), ("alert-1".to_owned(), 30)]
    );
}

/// Embedded only: a file written before the time index existed is indexed when opened.
async fn alerts_stored_before_the_embedded_time_index_are_found_after_reopening() {
    let mut fixture = EmbeddedFixture::new();
    two_alerts_to_index(fixture.store()).await;
    fixture.store = None;
    let db = redb::Database::create(fixture.dir.path().join("vangnet.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    let times_table: redb::TableDefinition<(u64, &str), &str> =
        redb::TableDefinition::new("alert_times");
    assert!(txn.delete_table(times_table).unwrap());
    txn.commit().unwrap();
    drop(db);

    fixture.reopen();
    let all = fixture.store().alerts_before(None, 10).await.unwrap();
    assert_eq!(
        times(&all),
        [("alert-1".to_owned(), 30), ("alert-2".to_owned(), 20)]
    );
}

/// Redis only: the service starts before Redis does, and sees it as unavailable.
async fn a_store_is_created_while_redis_is_down_and_reports_it_unavailable() {
    a_store_at_reports_it_unavailable("redis://127.0.0.1:1/0").await;
}

/// Cluster only: the service starts before the cluster does, and sees it as unavailable.
async fn a_cluster_store_is_created_while_the_cluster_is_down_and_reports_it_unavailable() {
    a_store_at_reports_it_unavailable("redis+cluster://127.0.0.1:1,127.0.0.1:2").await;
}

/// A store at `nowhere`, where nothing listens, is created and answers unavailable.
async fn a_store_at_reports_it_unavailable(nowhere: &str) {
    let nowhere = RedisAddress::parse(nowhere).unwrap();
    let store = RedisStore::connect(&nowhere, "vangnet-conformance-down", None).unwrap();
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let load = store.load(&order("order-17")).await;
    assert!(matches!(load, Err(StoreError::Unavailable(_))));
}
