//! The settings of `vangnet serve`, declared once: each is a `--flag`, a
//! `VANGNET_*` variable and a key of the `--config` file, and `--help` lists
//! them all with their defaults. Values stay text here; `config` checks them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command};
use serde::Deserialize;

use crate::config::ConfigError;
use crate::dispatch::RouteConfig;

/// Every setting, in the order `--help` lists them, as the text in force.
#[derive(Args, Deserialize)]
pub struct Settings {
    /// HTTP listen address
    #[arg(long, env = "VANGNET_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// External MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT [default: start the embedded
    /// broker on 127.0.0.1:1883]
    #[arg(long, env = "VANGNET_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<String>,
    /// PEM file of the CA that signed the broker's certificate, for mqtts:// [default: the
    /// system's roots]
    #[arg(long, env = "VANGNET_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<String>,
    /// File holding the MQTT password, instead of the URL's (the user comes from the URL)
    #[arg(long, env = "VANGNET_MQTT_PASSWORD_FILE")]
    pub mqtt_password_file: Option<String>,
    /// PEM client certificate for a broker that wants one (with VANGNET_MQTT_CA_FILE)
    #[arg(long, env = "VANGNET_MQTT_CLIENT_CERT_FILE")]
    pub mqtt_client_cert_file: Option<String>,
    /// PEM private key of VANGNET_MQTT_CLIENT_CERT_FILE
    #[arg(long, env = "VANGNET_MQTT_CLIENT_KEY_FILE")]
    pub mqtt_client_key_file: Option<String>,
    /// Where the embedded broker listens when VANGNET_MQTT_URL is unset (loopback only: it takes
    /// anonymous clients)
    #[arg(
        long,
        env = "VANGNET_EMBEDDED_BROKER_ADDR",
        default_value = "127.0.0.1:1883"
    )]
    pub embedded_broker_addr: String,
    /// Topic root
    #[arg(long, env = "VANGNET_MQTT_PREFIX", default_value = "vangnet/v1")]
    pub mqtt_prefix: String,
    /// Shared-subscription group ($share/GROUP/...), so several instances split the load; the
    /// broker must support $share (docs/brokers.md) [default: none]
    #[arg(long, env = "VANGNET_MQTT_SHARED_GROUP")]
    pub mqtt_shared_group: Option<String>,
    /// Name of this instance in its MQTT client ids; give each instance of a shared group its own
    #[arg(long, env = "VANGNET_INSTANCE_ID", default_value = "vangnet")]
    pub instance_id: String,
    /// Also take OwnTracks location messages (owntracks/{user}/{device}) as fixes
    #[arg(long, env = "VANGNET_OWNTRACKS", default_value = "false")]
    pub owntracks: String,
    /// State store: redis://HOST:PORT/DB, rediss:// for TLS, :PASSWORD@ for AUTH,
    /// redis+cluster://HOST:PORT,HOST:PORT for a Redis Cluster, or file:PATH (embedded)
    #[arg(
        long,
        env = "VANGNET_STORE",
        hide_env_values = true,
        default_value = "file:./vangnet-data"
    )]
    pub store: String,
    /// PEM file of the CA that signed Redis's certificate, for rediss:// [default: the system's
    /// roots]
    #[arg(long, env = "VANGNET_STORE_CA_FILE")]
    pub store_ca_file: Option<String>,
    /// Prefix of every Redis key, so several deployments or tests share one Redis
    #[arg(long, env = "VANGNET_STORE_PREFIX", default_value = "vangnet")]
    pub store_prefix: String,
    /// File of the key that seals the audit chain (`vangnet audit key generate` writes one);
    /// keep it off the store's machine [default: none: the chain is not sealed]
    #[arg(long, env = "VANGNET_AUDIT_KEY_FILE")]
    pub audit_key_file: Option<String>,
    /// Replicas of Redis that must hold a commit with an alert before its receipt goes out
    /// (WAIT; 0 = do not wait)
    #[arg(long, env = "VANGNET_STORE_WAIT_REPLICAS", default_value = "0")]
    pub store_wait_replicas: String,
    /// Days that where the parties were is kept: location history, resolved alerts' positions,
    /// the event log and ended orders' device states
    #[arg(long, env = "VANGNET_HISTORY_RETENTION_DAYS", default_value = "30")]
    pub history_retention_days: String,
    /// A lane holding messages without finishing one for this long (s) makes /readyz answer 503
    #[arg(long, env = "VANGNET_LANE_STALL_S", default_value = "30")]
    pub lane_stall_s: String,
    /// Police dispatch endpoint: https://, or http:// to this machine [default: alerts are kept
    /// and shown, not sent]
    #[arg(long, env = "VANGNET_DISPATCH_URL", hide_env_values = true)]
    pub dispatch_url: Option<String>,
    /// Allow plain http:// dispatch URLs (VANGNET_DISPATCH_URL and every route) to other
    /// machines: alerts then cross the network unencrypted
    #[arg(long, env = "VANGNET_DISPATCH_ALLOW_HTTP", default_value = "false")]
    pub dispatch_allow_http: String,
    /// Longest wait (s) between two tries of a failing dispatch route, 1 to 30
    #[arg(long, env = "VANGNET_DISPATCH_MAX_BACKOFF_S", default_value = "30")]
    pub dispatch_max_backoff_s: String,
    /// A route whose oldest undelivered P1 is older than this (s) makes /healthz degraded
    #[arg(long, env = "VANGNET_DISPATCH_DEGRADED_AFTER_S", default_value = "30")]
    pub dispatch_degraded_after_s: String,
    /// Seconds a revision that changes only an alert's press count waits after the last one sent to a route
    #[arg(long, env = "VANGNET_DISPATCH_COUNT_EVERY_S", default_value = "10")]
    pub dispatch_count_every_s: String,
    /// HMAC-SHA256 key signing dispatch requests [default: unsigned]
    #[arg(long, env = "VANGNET_DISPATCH_SECRET", hide_env_values = true)]
    pub dispatch_secret: Option<String>,
    /// HS256 key of API tokens, for development and tests
    #[arg(long, env = "VANGNET_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Path of a PEM public key (ES256 or EdDSA), or of a JWKS file of such keys picked by `kid`,
    /// of API tokens
    #[arg(long, env = "VANGNET_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<String>,
    /// Required `iss` of API tokens [default: not checked]
    #[arg(long, env = "VANGNET_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of API tokens [default: not checked]
    #[arg(long, env = "VANGNET_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Changes (POST, PUT, DELETE) one token holder may make per minute; more get 429
    #[arg(long, env = "VANGNET_API_CHANGES_PER_MINUTE", default_value = "600")]
    pub api_changes_per_minute: String,
    /// Active orders one device may be in; an order that would put it in more gets 409
    #[arg(long, env = "VANGNET_MAX_ORDERS_PER_DEVICE", default_value = "8")]
    pub max_orders_per_device: String,
    /// Partitions (orders) whose engines stay in memory; others are loaded from the store when used
    #[arg(long, env = "VANGNET_PARTITION_CACHE", default_value = "100000")]
    pub partition_cache: String,
    /// Resolved alerts stay in memory this long (s) after the newest revision; older ones are
    /// read from the store
    #[arg(long, env = "VANGNET_ALERT_WINDOW_S", default_value = "86400")]
    pub alert_window_s: String,
    /// Assumed drift of a victim's position per second of fix age (m/s)
    #[arg(long, env = "VANGNET_DRIFT_MPS", default_value = "1.5")]
    pub drift_mps: String,
    /// Fixes further apart than this (s) make the older position unknown
    #[arg(long, env = "VANGNET_STALE_AFTER_S", default_value = "900")]
    pub stale_after_s: String,
    /// Raise proximity_approach when the alarm distance would be reached within this (s)
    #[arg(long, env = "VANGNET_APPROACH_HORIZON_S", default_value = "120")]
    pub approach_horizon_s: String,
    /// Silence (s) after which a perpetrator device raises signal_lost P2
    #[arg(long, env = "VANGNET_PERP_SILENCE_S", default_value = "300")]
    pub perp_silence_s: String,
    /// Silence (s) after which a victim device raises signal_lost P3
    #[arg(long, env = "VANGNET_VICTIM_SILENCE_S", default_value = "900")]
    pub victim_silence_s: String,
    /// PEM file of the VAPID private key that signs Web Push to dispatchers (`vangnet vapid
    /// generate` writes one) [default: Web Push off]
    #[arg(long, env = "VANGNET_VAPID_KEY_FILE")]
    pub vapid_key_file: Option<String>,
    /// The operator's contact for push services, mailto: or https:// (required with
    /// VANGNET_VAPID_KEY_FILE)
    #[arg(long, env = "VANGNET_VAPID_SUBJECT")]
    pub vapid_subject: Option<String>,
    /// Push service hosts Vangnet may reach over plain http:// or on a private network,
    /// comma-separated, for tests [default: none: https:// to public addresses only]
    #[arg(long, env = "VANGNET_PUSH_INSECURE_HOSTS")]
    pub push_insecure_hosts: Option<String>,
    /// Web Push subscriptions kept in all; more get 409
    #[arg(long, env = "VANGNET_PUSH_MAX_SUBSCRIPTIONS", default_value = "10000")]
    pub push_max_subscriptions: String,
    /// Map tile template for the console's maps, https://HOST/{z}/{x}/{y}.png [default: no tiles]
    #[arg(long, env = "VANGNET_CONSOLE_TILE_URL")]
    pub console_tile_url: Option<String>,
    /// Mosquitto's password file (`vangnet device`); its credentials also admit devices to the
    /// HTTP device endpoint and the app at /app [default: the device endpoint is off]
    #[arg(long, env = "VANGNET_DEVICE_PASSWORD_FILE")]
    pub device_password_file: Option<String>,
    /// Log format: text or json (the filter comes from RUST_LOG, default info)
    #[arg(long, env = "VANGNET_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Dispatch routes beyond the default one: the file's `[[routes]]` tables.
    #[arg(skip)]
    #[serde(skip)]
    pub routes: Vec<RouteConfig>,
}

impl Settings {
    /// The settings in force: each from its flag or variable (`given`), else
    /// the file at `path`, else its default. Values are trimmed, and a blank
    /// one counts as unset.
    pub fn resolve(given: &Given, path: Option<&Path>) -> Result<Self, ConfigError> {
        let command = &*COMMAND;
        let (mut from_file, routes) = match path {
            Some(path) => read_file(path, command)?,
            None => Default::default(),
        };
        let mut resolved = toml::Table::new();
        for arg in command.get_arguments() {
            let key = arg.get_id().as_str();
            let value = given
                .0
                .get(key)
                .cloned()
                .or_else(|| from_file.remove(key))
                .or_else(|| {
                    arg.get_default_values()
                        .first()?
                        .to_str()
                        .map(str::to_owned)
                });
            if let Some(value) = value {
                resolved.insert(key.to_owned(), value.into());
            }
        }
        let settings: Self = resolved
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::new("--config", e.message()))?;
        Ok(Self { routes, ..settings })
    }
}

/// The settings given as flags or variables, by key: what beats the file.
#[derive(Debug, Clone, Default)]
pub struct Given(HashMap<String, String>);

impl Given {
    /// The non-blank values clap took from flags or variables in `matches`,
    /// not those it took from defaults, so that the file's can beat those.
    pub fn of(matches: &ArgMatches) -> Self {
        let given = COMMAND.get_arguments().filter_map(|arg| {
            let key = arg.get_id().as_str();
            let flag_or_variable = matches!(
                matches.value_source(key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            let value = matches
                .get_one::<String>(key)
                .filter(|_| flag_or_variable)
                .and_then(|value| non_blank(value))?;
            Some((key.to_owned(), value))
        });
        Self(given.collect())
    }

    /// The settings' variables, for a subcommand that takes settings from
    /// the environment and a file only.
    pub fn from_env() -> Result<Self, ConfigError> {
        let matches = COMMAND
            .clone()
            .try_get_matches_from(["vangnet"])
            .map_err(|e| ConfigError::new("VANGNET_*", e.kind().to_string()))?;
        Ok(Self::of(&matches))
    }
}

/// The settings as clap arguments, built once: [`Settings::resolve`] walks them for each file.
static COMMAND: LazyLock<Command> =
    LazyLock::new(|| Settings::augment_args(Command::new("vangnet")));

/// `value` trimmed, if anything is left.
fn non_blank(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The settings of the TOML file at `path` as text by key (blank ones left
/// out), and its `[[routes]]`; a key that is no setting of `command` is an error.
fn read_file(
    path: &Path,
    command: &Command,
) -> Result<(HashMap<String, String>, Vec<RouteConfig>), ConfigError> {
    const SETTING: &str = "--config";
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(SETTING, format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::new(
            SETTING,
            format!("{} is not valid TOML: {}", path.display(), e.message()),
        )
    })?;
    let mut values = HashMap::new();
    let mut routes = Vec::new();
    for (key, value) in table {
        if key == "routes" {
            routes = value.try_into().map_err(|e: toml::de::Error| {
                ConfigError::new("routes", format!("{}: {}", path.display(), e.message()))
            })?;
            continue;
        }
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_id() == key.as_str())
        else {
            return Err(ConfigError::new(
                SETTING,
                format!("{}: unknown setting `{key}`", path.display()),
            ));
        };
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                value.to_string()
            }
            _ => {
                let env = arg
                    .get_env()
                    .map_or(key.clone(), |env| env.to_string_lossy().into_owned());
                return Err(ConfigError::new(
                    env,
                    format!(
                        "`{key}` in {} must be a string, number or boolean",
                        path.display()
                    ),
                ));
            }
        };
        if let Some(text) = non_blank(&text) {
            values.insert(key, text);
        }
    }
    Ok((values, routes))
}

/// `pairs` as `vangnet serve` flags, matched without the environment.
#[cfg(test)]
pub(crate) fn flags(pairs: &[(&str, &str)]) -> ArgMatches {
    let flags = pairs
        .iter()
        .map(|(key, value)| format!("--{}={value}", key.replace('_', "-")));
    Settings::augment_args(Command::new("vangnet"))
        .mut_args(|arg| arg.env(None))
        .try_get_matches_from(std::iter::once("vangnet".to_owned()).chain(flags))
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)], file: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vangnet.toml");
        std::fs::write(&path, file).unwrap();
        Settings::resolve(&Given::of(&flags(pairs)), Some(&path))
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let file = "store = \"file:/from-file\"\nhttp_addr = \"127.0.0.1:1\"\n";
        let settings = resolve(&[("store", "file:/from-flag")], file).unwrap();
        assert_eq!(settings.store, "file:/from-flag");
        assert_eq!(settings.http_addr, "127.0.0.1:1");
        assert_eq!(settings.mqtt_prefix, "vangnet/v1");
        assert_eq!(settings.mqtt_url, None);
    }

    #[test]
    fn values_are_trimmed_and_a_blank_one_counts_as_unset() {
        let file = "store = \"file:/from-file\"\nmqtt_prefix = \" \"\n";
        let settings = resolve(&[("store", "  "), ("instance_id", " a ")], file).unwrap();
        assert_eq!(settings.store, "file:/from-file");
        assert_eq!(settings.mqtt_prefix, "vangnet/v1");
        assert_eq!(settings.instance_id, "a");
    }

    #[test]
    fn numbers_and_booleans_in_the_file_are_read_as_text() {
        let file = "lane_stall_s = 45\ndrift_mps = 2.5\nowntracks = true\n";
        let settings = resolve(&[], file).unwrap();
        assert_eq!(settings.lane_stall_s, "45");
        assert_eq!(settings.drift_mps, "2.5");
        assert_eq!(settings.owntracks, "true");
    }

    #[test]
    fn an_unknown_key_or_a_table_in_the_file_is_named() {
        let unknown = resolve(&[], "stroe = \"file:./x\"\n").err().unwrap();
        assert_eq!(unknown.setting, "--config");
        assert!(unknown.message.contains("`stroe`"), "{unknown}");
        let table = resolve(&[], "[owntracks]\non = true\n").err().unwrap();
        assert_eq!(table.setting, "VANGNET_OWNTRACKS");
    }

    #[test]
    fn the_routes_come_from_the_file() {
        let file = "[[routes]]\nname = \"drill\"\nurl = \"http://127.0.0.1:9/x\"\n";
        let settings = resolve(&[], file).unwrap();
        assert_eq!(settings.routes[0].name, "drill");
    }
}
