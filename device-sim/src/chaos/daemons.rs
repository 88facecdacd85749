//! The broker and the Redis server of a chaos run: started by this process
//! on free ports in its temporary directory, killed with SIGKILL and started
//! again on the same port.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a daemon may take to answer after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `mosquitto` or `redis-server` of this run, killed when dropped.
pub struct Daemon {
    name: &'static str,
    program: &'static str,
    args: Vec<String>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Daemon {
    /// Mosquitto on a free port with a configuration written into `dir`:
    /// the development settings, no persistence (a restart loses every
    /// session and queued message, so devices and Vangnet must recover).
    pub async fn mosquitto(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n\
                 max_queued_messages 100000\nmax_inflight_messages 1000\npersistence false\n\
                 message_size_limit 65536\n"
            ),
        )
        .with_context(|| format!("writing {}", conf.display()))?;
        let args = vec!["-c".to_owned(), conf.display().to_string()];
        Self::start("mosquitto", "mosquitto", args, dir, port).await
    }

    /// `redis-server` on a free port writing its append-only file, fsynced
    /// at every write, into `dir`, as `deploy/redis/redis.conf` has it.
    pub async fn redis(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let args = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            &dir.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        Self::start("redis", "redis-server", args, dir, port).await
    }

    async fn start(
        name: &'static str,
        program: &'static str,
        args: Vec<String>,
        dir: &Path,
        port: u16,
    ) -> anyhow::Result<Self> {
        let mut daemon = Self {
            name,
            program,
            args,
            log: dir.join(format!("{name}.log")),
            port,
            child: None,
        };
        daemon.launch().await?;
        Ok(daemon)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it with SIGKILL and starts it again on the same port; returns
    /// once it answers.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .await
                .with_context(|| format!("killing {}", self.name))?;
        }
        self.launch().await
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut child = Command::new(self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating a log file")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}: is it installed?", self.program))?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.answers().await {
            if let Some(status) = child.try_wait().context("checking on a daemon")? {
                bail!(
                    "{} exited with {status}; see {}",
                    self.name,
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("{} did not answer within {START_TIMEOUT:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// Whether it takes connections; Redis only once it has loaded its file.
    async fn answers(&self) -> bool {
        if self.program != "redis-server" {
            return tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok();
        }
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{}/0", self.port)) else {
            return false;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .is_ok()
    }
}

/// A port free on 127.0.0.1 now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("finding a free port")?
        .port())
}
