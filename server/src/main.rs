//! `vangnet`: the service binary.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use vangnet_server::cli::{Cli, Subcommands};
use vangnet_server::config::{BrokerSetting, Config, ConfigError};
use vangnet_server::{serve, telemetry};

/// Exit status for bad configuration (SPEC section 2).
const BAD_CONFIGURATION: u8 = 2;

fn main() -> ExitCode {
    match Cli::parse().command {
        Subcommands::Serve(args) => {
            let config = match args.load() {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("{err}");
                    return ExitCode::from(BAD_CONFIGURATION);
                }
            };
            telemetry::init(config.log_format);
            let broker = match broker_url(&config) {
                Ok(url) => url,
                Err(err) => {
                    eprintln!("{err}");
                    return ExitCode::from(BAD_CONFIGURATION);
                }
            };
            let result = tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(serve::run(config, broker, args.demo)));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!("vangnet stopped: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The external broker, or the embedded one once it is started.
fn broker_url(config: &Config) -> Result<url::Url, ConfigError> {
    match &config.broker {
        BrokerSetting::External(url) => Ok(url.clone()),
        #[cfg(feature = "embedded-broker")]
        BrokerSetting::Embedded(addr) => vangnet_server::mqtt::embedded::start(*addr),
        #[cfg(not(feature = "embedded-broker"))]
        BrokerSetting::Embedded(_) => Err(ConfigError::new(
            "VANGNET_MQTT_URL",
            "must be set: this build has no embedded broker (feature embedded-broker)",
        )),
    }
}
