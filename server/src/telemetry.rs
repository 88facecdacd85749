//! Logging with `tracing`: the filter from `RUST_LOG` (default `info`, with the
//! embedded broker's chatter at `warn`), text or JSON lines.
//!
//! Nothing sensitive is logged at info or above: no coordinates, tokens or
//! payloads. Those may appear at debug only as field names and reasons.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, first thing in `serve`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rumqttd=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(err) = installed {
        eprintln!("logging was already set up: {err}");
    }
}
