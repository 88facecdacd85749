//! A Redis Cluster of six `redis-server` processes (three primaries, each
//! with a replica) on free loopback ports, for tests that need a real one.
//!
//! Each node runs under a small shell that kills it when this process's end
//! of its stdin closes, so no node outlives the test process, even when the
//! cluster is kept in a `static`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// How long a primary may be unreachable before its replica takes over.
pub const NODE_TIMEOUT: Duration = Duration::from_millis(2000);

/// A running cluster; its nodes are killed when it is dropped.
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// One `redis-server` and the handle that keeps it alive.
struct Node {
    port: u16,
    pid: u32,
    keeper: Option<(Child, ChildStdin)>,
}

impl RedisCluster {
    /// Starts six nodes and joins them into a cluster with one replica per
    /// primary; returns once every slot is served and every replica in sync.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let nodes: Vec<Node> = (0..6).map(|_| Node::start(dir.path())).collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("redis-cli --cluster create: {e}"));
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let cluster = Self { nodes, _dir: dir };
        cluster.wait_until_healthy(Duration::from_secs(30));
        cluster
    }

    /// The store address of the cluster: `redis+cluster://` and every node.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The port of the primary that serves `key`'s slot now.
    pub fn primary_of(&self, key: &str) -> u16 {
        let slot: u16 = self
            .query_any(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT: {e}"));
        let shards: Vec<redis::Value> = self
            .query_any(redis::cmd("CLUSTER").arg("SLOTS"))
            .unwrap_or_else(|e| panic!("CLUSTER SLOTS: {e}"));
        for shard in shards {
            let redis::Value::Array(fields) = shard else {
                continue;
            };
            let number = |index: usize| -> Option<i64> {
                match fields.get(index)? {
                    redis::Value::Int(n) => Some(*n),
                    _ => None,
                }
            };
            let (Some(first), Some(last)) = (number(0), number(1)) else {
                continue;
            };
            if !(first..=last).contains(&i64::from(slot)) {
                continue;
            }
            if let Some(redis::Value::Array(primary)) = fields.get(2)
                && let Some(redis::Value::Int(port)) = primary.get(1)
            {
                return u16::try_from(*port).unwrap_or_else(|e| panic!("port {port}: {e}"));
            }
        }
        panic!("no primary serves slot {slot}");
    }

    /// Kills the node on `port` with SIGKILL, as a crash would.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .unwrap_or_else(|| panic!("no node on port {port}"));
        let _ = Command::new("kill")
            .args(["-KILL", &node.pid.to_string()])
            .status();
        node.stop();
    }

    /// Waits until every slot is served by a reachable primary again, as
    /// after a replica took over for a killed primary.
    pub fn wait_until_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self.is_healthy() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether every live node says the cluster is ok and every live replica is in sync.
    fn is_healthy(&self) -> bool {
        self.nodes
            .iter()
            .filter(|node| node.is_alive())
            .all(|node| {
                let Ok(mut conn) = node.connection() else {
                    return false;
                };
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut conn)
                    .unwrap_or_default();
                let replication: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut conn)
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
                    && (!replication.contains("role:slave")
                        || replication.contains("master_link_status:up"))
            })
    }

    /// Runs `cmd` on the first live node that answers.
    fn query_any<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let mut last = None;
        for node in self.nodes.iter().filter(|node| node.is_alive()) {
            match node.connection().and_then(|mut conn| cmd.query(&mut conn)) {
                Ok(value) => return Ok(value),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| redis::RedisError::from((redis::ErrorKind::Io, "no live node"))))
    }
}

impl Node {
    /// Starts a cluster-enabled `redis-server` with an append-only file.
    fn start(dir: &Path) -> Self {
        let port = cluster_port();
        let node_dir = dir.join(port.to_string());
        std::fs::create_dir_all(&node_dir).unwrap_or_else(|e| panic!("{e}"));
        let timeout = NODE_TIMEOUT.as_millis().to_string();
        let mut keeper = Command::new("sh")
            .args([
                "-c",
                "redis-server \"$@\" >/dev/null 2>&1 & echo $!; read _; kill -KILL $! 2>/dev/null",
                "sh",
            ])
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-node-timeout", &timeout])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(&node_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting redis-server: {e}"));
        let stdin = keeper.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        let stdout = keeper.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading redis-server's pid: {e}"));
        let pid = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("redis-server's pid `{line}`: {e}"));
        let node = Self {
            port,
            pid,
            keeper: Some((keeper, stdin)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn is_alive(&self) -> bool {
        self.keeper.is_some()
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?
            .get_connection_with_timeout(Duration::from_secs(1))
    }

    /// Closes the keeper's stdin, which kills the server, and reaps the keeper.
    fn stop(&mut self) {
        if let Some((mut keeper, mut stdin)) = self.keeper.take() {
            let _ = stdin.write_all(b"\n");
            drop(stdin);
            let _ = keeper.wait();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }
}

/// A port that is free with its cluster bus port (port + 10000) too, both
/// below the kernel's ephemeral range; never handed out twice by this process.
fn cluster_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const LOW: u16 = 12_000;
    const SPAN: u16 = 10_000;
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let port = LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no free port pair in {LOW}..{}", LOW + SPAN);
}
