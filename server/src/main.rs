//! `vangnet`: the service binary.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use vangnet_server::auth::{self, Claims, Role};
use vangnet_server::cli::{Cli, Subcommands, TokenArgs};
use vangnet_server::config::{BrokerSetting, Config, ConfigError};
use vangnet_server::{serve, telemetry};

/// Exit status for bad configuration (SPEC section 2).
const BAD_CONFIGURATION: u8 = 2;

fn main() -> ExitCode {
    match Cli::parse().command {
        Subcommands::Token(args) => token(&args),
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

/// `vangnet token`: prints a token signed with the HS256 secret.
fn token(args: &TokenArgs) -> ExitCode {
    let config = match args.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(BAD_CONFIGURATION);
        }
    };
    let Some(secret) = &config.jwt_secret else {
        eprintln!("invalid configuration: VANGNET_JWT_SECRET: must be set to sign tokens");
        return ExitCode::from(BAD_CONFIGURATION);
    };
    let role = match args.role.as_str() {
        "admin" => Role::Admin,
        "dispatcher" => Role::Dispatcher,
        "pilot" => Role::Pilot,
        _ => Role::Auditor,
    };
    let exp = vangnet_proto::TimestampMs::now().millis() / 1000 + args.ttl.as_secs();
    let claims = Claims {
        sub: args.sub.clone(),
        role,
        regions: args.regions.clone(),
        exp,
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone(),
    };
    match auth::sign_hs256(secret.expose(), &claims) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("cannot sign the token: {err}");
            ExitCode::FAILURE
        }
    }
}
