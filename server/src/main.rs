//! `vangnet`: the service binary.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vangnet_proto::token::{Audience, Claims, Role, sign_hs256};
use vangnet_server::audit::command::{self as audit, AuditError};
use vangnet_server::audit_chain::Verified;
use vangnet_server::audit_seal::{SealKey, SealKeyError};
use vangnet_server::cli::{
    AuditArgs, AuditCommand, AuditKeyCommand, ChainCommand, Cli, DeviceArgs, DeviceCommand,
    SetAsideArgs, Subcommands, TokenArgs, VapidArgs, VapidCommand,
};
use vangnet_server::config::{BrokerSetting, Config, ConfigError};
use vangnet_server::devices::{DeviceError, PasswordFile};
use vangnet_server::push::{VapidError, VapidKey};
use vangnet_server::serve::Application;
use vangnet_server::telemetry;

/// Exit status for bad configuration (docs/protocol.md#exit-status-and-readiness).
const BAD_CONFIGURATION: u8 = 2;
/// Exit status of `vangnet audit` when the chain could not be read at all.
const UNREADABLE: u8 = 3;

/// glibc's allocator spent a fifth of the ingest path's CPU, much of it on arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().command {
        Subcommands::Token(args) => token(&args),
        Subcommands::Audit(args) => audit_tool(&args),
        Subcommands::Device(args) => device_tool(&args),
        Subcommands::SetAside(args) => set_aside_tool(&args),
        Subcommands::Vapid(args) => vapid_tool(&args),
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
                .and_then(|runtime| {
                    runtime.block_on(serve_until_stopped(config, broker, args.demo))
                });
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

/// Installs the process's metrics recorder and listens for SIGTERM and
/// Ctrl-C from the start (a stop asked for while starting is not lost), then
/// serves until one comes.
async fn serve_until_stopped(config: Config, broker: url::Url, demo: bool) -> anyhow::Result<()> {
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    Application::build(config, broker, demo, metrics)?
        .run_until(stopped(terminate))
        .await
}

/// Completes at SIGTERM or Ctrl-C.
async fn stopped(mut terminate: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// `vangnet set-aside`: lists the set-aside messages; exit 3 when the store cannot be read.
fn set_aside_tool(args: &SetAsideArgs) -> ExitCode {
    let config = match args.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(BAD_CONFIGURATION);
        }
    };
    let listed = tokio::runtime::Runtime::new()
        .map_err(vangnet_server::set_aside::SetAsideError::from)
        .and_then(|runtime| {
            runtime.block_on(vangnet_server::set_aside::print_configured(
                &config,
                args.limit,
                std::io::stdout().lock(),
            ))
        });
    match listed {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(UNREADABLE)
        }
    }
}

/// `vangnet device`: changes the password file and prints what the device
/// needs; exit 1 when the change is refused, 3 when the file is unreadable.
fn device_tool(args: &DeviceArgs) -> ExitCode {
    let result = PasswordFile::open(&args.password_file).and_then(|mut file| {
        let printed = match &args.command {
            DeviceCommand::Add { id } => Some((id, file.add(id)?)),
            DeviceCommand::Rotate { id } => Some((id, file.rotate(id)?)),
            DeviceCommand::Remove { id } => {
                file.remove(id)?;
                None
            }
            DeviceCommand::List => {
                file.devices().for_each(|device| println!("{device}"));
                return Ok(());
            }
        };
        file.save()?;
        if let Some((id, password)) = printed {
            println!("user: {id}\npassword: {password}");
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ DeviceError::Io { .. }) => {
            eprintln!("{err}");
            ExitCode::from(UNREADABLE)
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// `vangnet vapid generate`: writes a new key and prints its public key;
/// exit 1 when the file exists (without `--force`), 3 when it cannot be written.
fn vapid_tool(args: &VapidArgs) -> ExitCode {
    let VapidCommand::Generate { out, force } = &args.command;
    match VapidKey::generate_into(out, *force) {
        Ok(key) => {
            println!("{}", key.public_key());
            ExitCode::SUCCESS
        }
        Err(VapidError::Io { source, .. }) => key_file_failed(out, &source),
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(UNREADABLE)
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
    let (config, ttl) = match args
        .load()
        .and_then(|config| Ok((config, args.checked_ttl()?)))
    {
        Ok(checked) => checked,
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
    let exp = vangnet_proto::TimestampMs::now().millis() / 1000 + ttl.as_secs();
    let claims = Claims {
        sub: args.sub.clone(),
        role,
        regions: args.regions.clone(),
        exp,
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone().map(Audience::One),
    };
    match sign_hs256(secret.expose(), &claims) {
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

/// `vangnet audit verify|export`: exit 0 when done, 1 for a broken chain,
/// 2 for bad configuration, 3 when the store or a file could not be read.
fn audit_tool(args: &AuditArgs) -> ExitCode {
    let command = match &args.command {
        AuditCommand::Chain(command) => command,
        AuditCommand::Key {
            command: AuditKeyCommand::Generate { out, force },
        } => return audit_key_tool(out, *force),
    };
    let config = match args.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(BAD_CONFIGURATION);
        }
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(AuditError::from)
        .and_then(|runtime| runtime.block_on(run_audit(command, &config)));
    match result {
        Ok(Done::Verified(verified)) => {
            println!("{verified}");
            ExitCode::SUCCESS
        }
        Ok(Done::Exported(count)) => {
            eprintln!("{count} entries exported");
            ExitCode::SUCCESS
        }
        Err(AuditError::Broken(broken)) => {
            eprintln!("{broken}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(UNREADABLE)
        }
    }
}

/// `vangnet audit key generate`: writes a new key; exit 1 when the file
/// exists (without `--force`), 3 when it cannot be written.
fn audit_key_tool(out: &std::path::Path, force: bool) -> ExitCode {
    match SealKey::generate_into(out, force) {
        Ok(_) => {
            eprintln!("audit key written to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(SealKeyError::Io { source, .. }) => key_file_failed(out, &source),
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(UNREADABLE)
        }
    }
}

/// A key file could not be written: exit 1 when it exists (without
/// `--force`), 3 when it cannot be written.
fn key_file_failed(out: &std::path::Path, err: &std::io::Error) -> ExitCode {
    if err.kind() == std::io::ErrorKind::AlreadyExists {
        eprintln!("{} exists; --force replaces it", out.display());
        ExitCode::FAILURE
    } else {
        eprintln!("{}: {err}", out.display());
        ExitCode::from(UNREADABLE)
    }
}

/// What an audit tool did.
enum Done {
    Verified(Verified),
    Exported(u64),
}

async fn run_audit(command: &ChainCommand, config: &Config) -> Result<Done, AuditError> {
    match command {
        ChainCommand::Verify {
            file,
            expect_at_least,
        } => {
            let verified = match file {
                Some(path) => {
                    let file = std::io::BufReader::new(std::fs::File::open(path)?);
                    audit::verify_lines(file, config.audit_key.clone())?
                }
                None => audit::verify_configured(config).await?,
            };
            let verified = match expect_at_least {
                Some(seq) => audit::at_least(verified, *seq)?,
                None => verified,
            };
            Ok(Done::Verified(verified))
        }
        ChainCommand::Export { output: Some(path) } => {
            let file = std::io::BufWriter::new(std::fs::File::create(path)?);
            Ok(Done::Exported(
                audit::export_configured(config, file).await?,
            ))
        }
        ChainCommand::Export { output: None } => {
            let out = std::io::stdout().lock();
            Ok(Done::Exported(audit::export_configured(config, out).await?))
        }
    }
}
