//! The command line: `vangnet serve`, whose settings `settings` declares,
//! and the tools `vangnet token`, `audit`, `set-aside`, `device` and `vapid`.

use std::path::PathBuf;

use clap::{ArgMatches, Args, Command, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::settings::{Given, Settings};

/// Vangnet: alerts for victims of domestic violence and stalking.
#[derive(Debug, Parser)]
#[command(name = "vangnet", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Subcommands,
}

/// The subcommands of `vangnet`.
#[derive(Debug, Subcommand)]
pub enum Subcommands {
    /// Run the service. Every setting is also read from the --config file,
    /// and an environment variable overrides the file.
    Serve(ServeArgs),
    /// Print a signed API token, using the configured HS256 key
    /// (VANGNET_JWT_SECRET), for development and demos.
    Token(TokenArgs),
    /// Check or export the tamper-evident audit trail of the configured store
    /// (VANGNET_STORE, VANGNET_STORE_PREFIX or the --config file).
    Audit(AuditArgs),
    /// List the device messages set aside because they failed every time they
    /// were handled, newest first, as JSON lines (VANGNET_STORE, VANGNET_STORE_PREFIX).
    SetAside(SetAsideArgs),
    /// Provision devices on the production broker: their credentials in
    /// Mosquitto's password file (reload Mosquitto with SIGHUP after a change).
    Device(DeviceArgs),
    /// Make the VAPID key that signs Web Push to dispatchers (VANGNET_VAPID_KEY_FILE).
    Vapid(VapidArgs),
}

/// `vangnet vapid`: what to do with a VAPID key.
#[derive(Debug, clap::Args)]
pub struct VapidArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: VapidCommand,
}

/// The VAPID key tools.
#[derive(Debug, Subcommand)]
pub enum VapidCommand {
    /// Write a new P-256 key (PKCS#8 PEM, mode 0600) and print its public key.
    Generate {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// `vangnet set-aside`: how many messages, and where the settings come from.
#[derive(Debug, clap::Args)]
pub struct SetAsideArgs {
    /// The most messages to list.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// TOML file with the settings (store, store_prefix).
    #[arg(long, env = "VANGNET_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl SetAsideArgs {
    /// The configuration in force: the file, overridden by the environment.
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::from_env_and_file(self.config.as_deref())
    }
}

/// `vangnet device`: which change, to which password file.
#[derive(Debug, clap::Args)]
pub struct DeviceArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DeviceCommand,
    /// Mosquitto's password file.
    #[arg(
        long,
        env = "VANGNET_DEVICE_PASSWORD_FILE",
        default_value = "/etc/mosquitto/vangnet.passwd",
        global = true
    )]
    pub password_file: PathBuf,
}

/// The changes `vangnet device` makes.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Give a new device credentials; prints its password, once.
    Add {
        /// The device id, which is also its MQTT user name.
        id: String,
    },
    /// Take a device's credentials away.
    Remove {
        /// The device id.
        id: String,
    },
    /// Give a device a new password; prints it, once.
    Rotate {
        /// The device id.
        id: String,
    },
    /// List the provisioned devices.
    List,
}

/// `vangnet audit`: which audit tool, and where the settings come from.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// What to do with the audit trail.
    #[command(subcommand)]
    pub command: AuditCommand,
    /// TOML file with the settings (store, store_prefix).
    #[arg(long, env = "VANGNET_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

impl AuditArgs {
    /// The configuration in force: the file, overridden by the environment.
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::from_env_and_file(self.config.as_deref())
    }
}

/// The audit tools.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The tools that read the chain in the store.
    #[command(flatten)]
    Chain(ChainCommand),
    /// Make the key that seals the chain (VANGNET_AUDIT_KEY_FILE).
    Key {
        /// What to do with the key.
        #[command(subcommand)]
        command: AuditKeyCommand,
    },
}

/// The audit tools that read the chain, with the configured store and key.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Check the chain, and its seals with the key of VANGNET_AUDIT_KEY_FILE:
    /// exit 0 when intact, 1 naming the first broken seq.
    Verify {
        /// Check an exported file instead of the store.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Fail when the chain has fewer entries than this: the length seen at
        /// an earlier check, so that entries removed from the end show.
        #[arg(long, value_name = "SEQ")]
        expect_at_least: Option<u64>,
    },
    /// Write the chain as JSON lines that `audit verify --file` checks on their own.
    Export {
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// The audit key tools.
#[derive(Debug, Subcommand)]
pub enum AuditKeyCommand {
    /// Write a new random HMAC-SHA256 key (64 hex digits, mode 0600).
    Generate {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// What `vangnet token` puts in the token.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// admin, dispatcher, pilot or auditor.
    #[arg(long, value_parser = ["admin", "dispatcher", "pilot", "auditor"])]
    pub role: String,
    /// A region the holder sees; repeat it for several, `*` for all.
    #[arg(long = "region", required = true)]
    pub regions: Vec<String>,
    /// How long the token is valid, e.g. 8h or 30m; at most --max-ttl.
    #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
    /// The longest --ttl allowed, so that no forgotten token stays valid for days.
    #[arg(long, env = "VANGNET_TOKEN_MAX_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub max_ttl: std::time::Duration,
    /// The holder's name, recorded with every act.
    #[arg(long, default_value = "developer")]
    pub sub: String,
    /// TOML file with the settings (jwt_secret, jwt_issuer, jwt_audience).
    #[arg(long, env = "VANGNET_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl TokenArgs {
    /// The configuration in force: the file, overridden by the environment.
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::from_env_and_file(self.config.as_deref())
    }

    /// The validity asked for, if it is within the cap.
    pub fn checked_ttl(&self) -> Result<std::time::Duration, ConfigError> {
        if self.ttl > self.max_ttl {
            return Err(ConfigError::new(
                "--ttl",
                format!(
                    "{} is longer than the cap of {} (--max-ttl, VANGNET_TOKEN_MAX_TTL)",
                    humantime::format_duration(self.ttl),
                    humantime::format_duration(self.max_ttl)
                ),
            ));
        }
        Ok(self.ttl)
    }
}

/// `vangnet serve`: where the settings come from, and whether to play the demo.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below, by their snake_case names
    #[arg(long, env = "VANGNET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seed an exercise order and play a short scenario once ready, printing what happens
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    given: GivenSettings,
}

impl ServeArgs {
    /// Reads the file, applies the flags and variables, and checks every value.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let given = Given::of(&self.given.0);
        Config::from_settings(Settings::resolve(&given, self.config.as_deref())?)
    }
}

/// The settings' flags and variables as clap matched them, so that a value
/// clap took from a default can still give way to the file's.
#[derive(Debug)]
struct GivenSettings(ArgMatches);

impl Args for GivenSettings {
    fn augment_args(command: Command) -> Command {
        Settings::augment_args(command)
    }

    fn augment_args_for_update(command: Command) -> Command {
        Settings::augment_args_for_update(command)
    }
}

impl FromArgMatches for GivenSettings {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(matches.clone()))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0 = matches.clone();
        Ok(())
    }
}
