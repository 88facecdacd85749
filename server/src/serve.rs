//! `vangnet serve`: wires the adapters together and runs until SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusBuilder;
use vangnet_proto::RejectReason;

use crate::config::Config;
use crate::health::Health;
use crate::http::{self, AppState};

/// Runs the service until it is asked to stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    describe_metrics();
    let health = Arc::new(Health::default());
    health.set_broker(false);
    health.set_store(false);

    let server = http::start(
        config.http_addr,
        AppState {
            health: health.clone(),
            metrics,
        },
    )
    .with_context(|| format!("binding the HTTP address {}", config.http_addr))?;
    let handle = server.handle();
    tracing::info!(addr = %config.http_addr, "vangnet is listening for HTTP");

    let server = tokio::spawn(server);
    shutdown_signal().await;
    tracing::info!("shutting down");
    handle.stop(true).await;
    server.await.context("HTTP server task")??;
    Ok(())
}

fn describe_metrics() {
    metrics::describe_counter!(
        "vangnet_rejected_messages_total",
        "Device messages rejected, by reason"
    );
    for reason in RejectReason::ALL {
        metrics::counter!("vangnet_rejected_messages_total", "reason" => reason.label())
            .increment(0);
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
