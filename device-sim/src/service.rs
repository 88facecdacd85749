//! The `vangnet serve` child process under test: starting it next to this
//! binary, waiting until it is ready, reading its counters, stopping it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

use crate::fleet::SimOrder;
use crate::order_api::{OrderApi, admin_token};

/// Where and how the child runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `VANGNET_MQTT_URL`.
    pub mqtt_url: String,
    /// `VANGNET_STORE` (a `redis://` URL).
    pub store_url: String,
    /// `VANGNET_MQTT_PREFIX`.
    pub mqtt_prefix: String,
    /// `VANGNET_STORE_PREFIX`.
    pub store_prefix: String,
    /// `VANGNET_DISPATCH_URL`.
    pub dispatch_url: String,
    /// Further `VANGNET_*` settings.
    pub env: Vec<(String, String)>,
    /// Where its stderr is appended; inherited when `None`.
    pub log: Option<PathBuf>,
}

/// Where a run that starts its own Vangnet finds the broker and Redis, and
/// how many connections publish its fleet's fixes.
#[derive(Debug, clap::Args)]
pub struct Endpoints {
    /// Publishing MQTT connections
    #[arg(long, default_value_t = 8)]
    pub publishers: usize,
    /// The MQTT broker
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt_url: String,
    /// The Redis server of Vangnet's store
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,
}

/// The counters of `/metrics` the benchmark judges by.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// `vangnet_messages_total{kind="loc"}`: location messages taken in.
    pub loc: u64,
    /// Every `vangnet_rejected_messages_total` and `vangnet_rate_limited_messages_total` sample, summed.
    pub refused: u64,
    /// `vangnet_orders`: orders loaded.
    pub orders: u64,
    /// The median and 99th percentile (ms) of `vangnet_processing_seconds`
    /// for alarms, over the exporter's recent window: a panic's time inside
    /// Vangnet, from decoding it to its effects stored and its receipt queued.
    pub alarm_processing_ms: Option<(f64, f64)>,
}

impl Counters {
    /// Reads the counters of the Vangnet at `base_url` now.
    pub async fn read(http: &reqwest::Client, base_url: &str) -> anyhow::Result<Self> {
        let text = http
            .get(format!("{base_url}/metrics"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("GET /metrics")?
            .text()
            .await
            .context("reading /metrics")?;
        Ok(Self::parse(&text))
    }

    /// Reads the counters from Prometheus text.
    fn parse(text: &str) -> Self {
        let mut counters = Self::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((sample, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let name = sample.split('{').next().unwrap_or_default();
            if name == "vangnet_processing_seconds" && sample.contains(r#"kind="alarm""#) {
                let (p50, p99) = counters.alarm_processing_ms.get_or_insert((0.0, 0.0));
                if sample.contains(r#"quantile="0.5""#) {
                    *p50 = value * 1000.0;
                } else if sample.contains(r#"quantile="0.99""#) {
                    *p99 = value * 1000.0;
                }
            }
            let value = value as u64;
            match name {
                "vangnet_messages_total" if sample.contains(r#"kind="loc""#) => {
                    counters.loc += value
                }
                "vangnet_rejected_messages_total" | "vangnet_rate_limited_messages_total" => {
                    counters.refused += value
                }
                "vangnet_orders" => counters.orders = value,
                _ => {}
            }
        }
        counters
    }
}

/// A running `vangnet serve`, killed when dropped.
pub struct Vangnet {
    child: Child,
    pid: u32,
    base_url: String,
    http: reqwest::Client,
}

impl Vangnet {
    /// The `vangnet` binary beside this one.
    fn binary() -> anyhow::Result<PathBuf> {
        let me = std::env::current_exe().context("locating vangnet-sim")?;
        let path = me.with_file_name("vangnet");
        if !path.exists() {
            bail!(
                "{} is missing; build it: cargo build --release --workspace",
                path.display()
            );
        }
        Ok(path)
    }

    /// Starts `vangnet serve` on a free HTTP port with `config`; returns once
    /// it answers `/healthz`. A port found free can be taken before the child
    /// binds it, so a child that exits before answering is started again on
    /// another port.
    pub async fn start(config: &ServiceConfig) -> anyhow::Result<Self> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            let mut service = Self::spawn(config)?;
            match service
                .wait_until("/healthz answering", Duration::from_secs(20), |_| true)
                .await
            {
                Ok(()) => return Ok(service),
                Err(err) if attempt < ATTEMPTS && service.check_alive().is_err() => {
                    eprintln!("{err:#}; starting vangnet again on another port");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn spawn(config: &ServiceConfig) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free port")?
            .port();
        let binary = Self::binary()?;
        let stderr = match &config.log {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?
                .into(),
            None => Stdio::inherit(),
        };
        let child = Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .env("VANGNET_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("VANGNET_MQTT_URL", &config.mqtt_url)
            .env("VANGNET_MQTT_PREFIX", &config.mqtt_prefix)
            .env("VANGNET_STORE", &config.store_url)
            .env("VANGNET_STORE_PREFIX", &config.store_prefix)
            .env("VANGNET_DISPATCH_URL", &config.dispatch_url)
            .env("VANGNET_JWT_SECRET", DEVELOPMENT_JWT_SECRET)
            .envs(config.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("vangnet exited at once")?;
        Ok(Self {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        })
    }

    /// Starts `vangnet serve` with `config`, creates `orders` through its
    /// API with an admin token valid for `lifetime`, and returns once it has
    /// loaded them all.
    pub async fn start_with_orders(
        config: &ServiceConfig,
        orders: &[SimOrder],
        lifetime: Duration,
    ) -> anyhow::Result<Self> {
        let mut service = Self::start(config).await?;
        let importing = Instant::now();
        let token = admin_token(DEVELOPMENT_JWT_SECRET, lifetime.as_secs())?;
        OrderApi::new(service.http.clone(), service.base_url(), token)
            .import_all(orders)
            .await?;
        println!(
            "imported {} orders through the API in {:.1} s",
            orders.len(),
            importing.elapsed().as_secs_f64()
        );
        service
            .wait_until_ready(orders.len() as u64, Duration::from_secs(120))
            .await?;
        Ok(service)
    }

    /// Where its HTTP API answers.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until `/readyz` answers 200 and `vangnet_orders` reaches `orders`.
    pub async fn wait_until_ready(&mut self, orders: u64, timeout: Duration) -> anyhow::Result<()> {
        let readyz = format!("{}/readyz", self.base_url);
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if let Ok(response) = self.http.get(&readyz).send().await
                && response.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("vangnet was not ready (/readyz 200) within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        self.wait_until(
            &format!("vangnet_orders reaching {orders}"),
            remaining,
            |counters| counters.orders >= orders,
        )
        .await
    }

    async fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Counters) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if let Ok(counters) = self.counters().await
                && done(&counters)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("vangnet: no {what} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait().context("checking on vangnet")? {
            Some(status) => bail!("vangnet exited with {status}"),
            None => Ok(()),
        }
    }

    /// The counters of `/metrics` now.
    pub async fn counters(&self) -> anyhow::Result<Counters> {
        Counters::read(&self.http, &self.base_url).await
    }

    /// Kills it with SIGKILL, as a crash would, and reaps it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing vangnet")
    }

    /// Stops it with SIGTERM, or SIGKILL when it has not exited within 10 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        let exited = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if exited.is_err() {
            self.child.kill().await.context("killing vangnet")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_every_refusal_and_take_only_location_messages() {
        let text = "# TYPE vangnet_messages_total counter\n\
            vangnet_messages_total{kind=\"loc\"} 120\n\
            vangnet_messages_total{kind=\"alarm\"} 3\n\
            vangnet_rejected_messages_total{reason=\"not_json\"} 2\n\
            vangnet_rejected_messages_total{reason=\"bad_topic\"} 1\n\
            vangnet_rate_limited_messages_total{kind=\"loc\"} 4\n\
            vangnet_orders 10\n";
        assert_eq!(
            Counters::parse(text),
            Counters {
                loc: 120,
                refused: 7,
                orders: 10,
                alarm_processing_ms: None,
            }
        );
    }

    #[test]
    fn counters_take_the_median_and_99th_percentile_of_alarm_processing_in_ms() {
        let text = "vangnet_processing_seconds{kind=\"loc\",quantile=\"0.99\"} 0.5\n\
            vangnet_processing_seconds{kind=\"alarm\",quantile=\"0.5\"} 0.0012\n\
            vangnet_processing_seconds{kind=\"alarm\",quantile=\"0.9\"} 0.002\n\
            vangnet_processing_seconds{kind=\"alarm\",quantile=\"0.99\"} 0.0031\n";
        let (p50, p99) = Counters::parse(text).alarm_processing_ms.unwrap();
        assert!((p50 - 1.2).abs() < 1e-9 && (p99 - 3.1).abs() < 1e-9);
    }
}
