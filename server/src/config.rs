//! Typed configuration of `vangnet serve`: the settings in force
//! (docs/protocol.md#configuration), checked once at start-up so that a bad
//! value stops the service with one line naming its variable.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;
use vangnet_proto::Topics;

use crate::audit_seal::SealKey;
use crate::auth::{KeyError, MIN_SECRET_BYTES, TokenKeys, TokenRules, Verifier};
use crate::console::{ConsoleSettings, TileUrl};
use crate::dispatch::Route;
use crate::push::{EndpointPolicy, PushSettings, VapidKey};
use crate::secret::{Secret, without_password};
use crate::settings::{Given, Settings};
use crate::store::RedisAddress;

/// A setting with an unusable value: the service must not start.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    /// The environment variable (or option) naming the setting.
    pub setting: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Where MQTT traffic comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSetting {
    /// Start the embedded broker on this address (127.0.0.1:1883 by default).
    Embedded(SocketAddr),
    /// Connect to an external broker.
    External(Url),
}

/// How Vangnet checks an external broker over TLS, and its password there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerAuth {
    /// PEM certificates of the CA that signed the broker's certificate; the system's roots when `None`.
    pub ca_pem: Option<Vec<u8>>,
    /// The password, read from `VANGNET_MQTT_PASSWORD_FILE`, instead of the URL's.
    pub password: Option<Secret>,
    /// A client certificate and its key, for a broker that wants one.
    pub client: Option<ClientIdentity>,
}

/// A TLS client certificate with its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate (chain).
    pub cert_pem: Vec<u8>,
    /// The private key.
    pub key_pem: Secret,
}

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// A Redis server (`redis://` or `rediss://`) or a Redis Cluster (`redis+cluster://`).
    Redis(RedisAddress),
    /// The embedded store in a local file.
    File(PathBuf),
}

/// Whether logs are written for people or for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parameters of detection (docs/detection.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionSettings {
    /// Assumed drift of a victim's position per second of fix age.
    pub drift_mps: f64,
    /// Fixes further apart than this make the older position unknown.
    pub stale_after: Duration,
    /// Horizon of the approach rule.
    pub approach_horizon: Duration,
    /// Silence of a perpetrator device before `signal_lost` P2.
    pub perp_silence: Duration,
    /// Silence of a victim device before `signal_lost` P3.
    pub victim_silence: Duration,
}

/// The validated configuration of a running service.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// Embedded or external broker.
    pub broker: BrokerSetting,
    /// How Vangnet checks an external broker and proves itself to it.
    pub broker_auth: BrokerAuth,
    /// The topic tree.
    pub topics: Topics,
    /// Shared-subscription group (`$share/GROUP/...`).
    pub mqtt_shared_group: Option<String>,
    /// This instance's name in its MQTT client ids.
    pub instance_id: String,
    /// Whether OwnTracks topics are taken.
    pub owntracks: bool,
    /// The state store.
    pub store: StoreSetting,
    /// PEM certificates of the CA that signed Redis's certificate, for `rediss://`.
    pub store_ca_pem: Option<Vec<u8>>,
    /// Prefix of every Redis key.
    pub store_prefix: String,
    /// The key that seals the audit chain; `None` leaves it unsealed.
    pub audit_key: Option<SealKey>,
    /// Replicas that must hold a commit with an alert before it counts as done.
    pub store_wait_replicas: u32,
    /// How long location history is kept.
    pub history_retention: Duration,
    /// How long a lane may hold messages without finishing one before `/readyz` says 503.
    pub lane_stall: Duration,
    /// How dispatch paces retries and when a route is degraded.
    pub dispatch_timing: crate::dispatch::Timing,
    /// The default police dispatch route.
    pub dispatch_url: Option<Url>,
    /// Dispatch routes: the default route (if `dispatch_url` is set) and the file's `[[routes]]`.
    pub routes: Vec<Route>,
    /// Key signing dispatch requests.
    pub dispatch_secret: Option<Secret>,
    /// HS256 key of API tokens.
    pub jwt_secret: Option<Secret>,
    /// PEM public key file of API tokens.
    pub jwt_public_key: Option<PathBuf>,
    /// Required `iss` of API tokens.
    pub jwt_issuer: Option<String>,
    /// Required `aud` of API tokens.
    pub jwt_audience: Option<String>,
    /// Changes one token holder may make per minute.
    pub api_changes_per_minute: NonZeroU32,
    /// Active orders one device may be in.
    pub max_orders_per_device: NonZeroUsize,
    /// Partitions whose engines stay in memory.
    pub partition_cache: NonZeroUsize,
    /// How long after the newest revision the alert board holds a resolved incident.
    pub alert_window: Duration,
    /// Detection parameters.
    pub detection: DetectionSettings,
    /// Web Push to dispatchers; `None` when no VAPID key is configured.
    pub push: Option<PushSettings>,
    /// What the dispatcher console is served with.
    pub console: ConsoleSettings,
    /// The password file whose devices may use the HTTP device endpoint; off when `None`.
    pub device_password_file: Option<PathBuf>,
    /// Log output format.
    pub log_format: LogFormat,
}

impl Config {
    /// The verifier of API tokens: the public key file (PEM or JWKS) if
    /// given, else the HS256 secret; `None` when neither is configured
    /// (every API call then gets 401).
    pub fn verifier(&self) -> Result<Option<Verifier>, ConfigError> {
        let keys = match (&self.jwt_public_key, &self.jwt_secret) {
            (Some(path), _) => TokenKeys::PublicKeyFile(path),
            (None, Some(secret)) => TokenKeys::Secret(secret.expose()),
            (None, None) => return Ok(None),
        };
        let rules = TokenRules {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        };
        Verifier::new(&keys, &rules)
            .map(Some)
            .map_err(|err| match err {
                KeyError::PublicKey(why) => ConfigError::new("VANGNET_JWT_PUBLIC_KEY", why),
                KeyError::Secret(why) => ConfigError::new("VANGNET_JWT_SECRET", why),
            })
    }

    /// The configuration of a command that takes no setting flags: the file
    /// at `path`, overridden by the environment.
    pub fn from_env_and_file(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_file(&Environment::read()?, path)
    }

    /// The configuration of the file at `path` (none: the defaults) under
    /// the variables `environment` read.
    pub fn from_file(environment: &Environment, path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_settings(Settings::resolve(&environment.0, path)?)
    }

    /// Checks every setting and builds the configuration.
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        let allow_http = check(
            "VANGNET_DISPATCH_ALLOW_HTTP",
            &s.dispatch_allow_http,
            parse_bool,
        )?;
        let dispatch_url = check_set("VANGNET_DISPATCH_URL", &s.dispatch_url, |v| {
            let url = parse_http_url(v)?;
            crate::dispatch::check_transport(&url, allow_http)?;
            Ok(url)
        })?;
        let dispatch_secret = s.dispatch_secret.clone().map(Secret::new);
        let mut routes: Vec<Route> = dispatch_url
            .iter()
            .map(|url| Route::default_route(url.clone(), dispatch_secret.clone()))
            .collect();
        for (index, route) in s.routes.iter().cloned().enumerate() {
            let route = Route::from_config(route, allow_http).map_err(|message| {
                ConfigError::new("routes", format!("routes[{index}].{message}"))
            })?;
            if routes.iter().any(|r| r.name == route.name) {
                return Err(ConfigError::new(
                    "routes",
                    format!("routes[{index}].name: `{}` is used twice", route.name),
                ));
            }
            routes.push(route);
        }
        let broker = match check_set("VANGNET_MQTT_URL", &s.mqtt_url, parse_broker)? {
            Some(external) => external,
            None => BrokerSetting::Embedded(check(
                "VANGNET_EMBEDDED_BROKER_ADDR",
                &s.embedded_broker_addr,
                parse_embedded_broker_addr,
            )?),
        };
        let push = push_settings(&s)?;
        let config = Self {
            http_addr: check("VANGNET_HTTP_ADDR", &s.http_addr, parse_http_addr)?,
            broker_auth: broker_auth(&s, &broker)?,
            broker,
            topics: check("VANGNET_MQTT_PREFIX", &s.mqtt_prefix, parse_topics)?,
            mqtt_shared_group: check_set(
                "VANGNET_MQTT_SHARED_GROUP",
                &s.mqtt_shared_group,
                parse_name,
            )?,
            instance_id: check("VANGNET_INSTANCE_ID", &s.instance_id, parse_name)?,
            owntracks: check("VANGNET_OWNTRACKS", &s.owntracks, parse_bool)?,
            store: check("VANGNET_STORE", &s.store, parse_store)?,
            store_ca_pem: check_set("VANGNET_STORE_CA_FILE", &s.store_ca_file, read_ca_pem)?,
            store_prefix: check("VANGNET_STORE_PREFIX", &s.store_prefix, parse_store_prefix)?,
            store_wait_replicas: check(
                "VANGNET_STORE_WAIT_REPLICAS",
                &s.store_wait_replicas,
                parse_positive,
            )?,
            history_retention: check(
                "VANGNET_HISTORY_RETENTION_DAYS",
                &s.history_retention_days,
                parse_days,
            )?,
            lane_stall: seconds("VANGNET_LANE_STALL_S", &s.lane_stall_s)?,
            dispatch_timing: crate::dispatch::Timing {
                max_backoff: check(
                    "VANGNET_DISPATCH_MAX_BACKOFF_S",
                    &s.dispatch_max_backoff_s,
                    parse_backoff,
                )?,
                degraded_after: seconds(
                    "VANGNET_DISPATCH_DEGRADED_AFTER_S",
                    &s.dispatch_degraded_after_s,
                )?,
                count_only_every: seconds(
                    "VANGNET_DISPATCH_COUNT_EVERY_S",
                    &s.dispatch_count_every_s,
                )?,
            },
            dispatch_url,
            routes,
            dispatch_secret,
            jwt_secret: check_set("VANGNET_JWT_SECRET", &s.jwt_secret, parse_jwt_secret)?,
            jwt_public_key: check_set(
                "VANGNET_JWT_PUBLIC_KEY",
                &s.jwt_public_key,
                parse_readable_file,
            )?,
            jwt_issuer: s.jwt_issuer,
            jwt_audience: s.jwt_audience,
            api_changes_per_minute: check(
                "VANGNET_API_CHANGES_PER_MINUTE",
                &s.api_changes_per_minute,
                parse_positive,
            )?,
            max_orders_per_device: check(
                "VANGNET_MAX_ORDERS_PER_DEVICE",
                &s.max_orders_per_device,
                parse_positive,
            )?,
            partition_cache: check(
                "VANGNET_PARTITION_CACHE",
                &s.partition_cache,
                parse_positive,
            )?,
            alert_window: check("VANGNET_ALERT_WINDOW_S", &s.alert_window_s, |v| {
                v.parse()
                    .map(Duration::from_secs)
                    .map_err(|_| format!("`{v}` is not a whole number of seconds"))
            })?,
            detection: DetectionSettings {
                drift_mps: check("VANGNET_DRIFT_MPS", &s.drift_mps, parse_speed)?,
                stale_after: seconds("VANGNET_STALE_AFTER_S", &s.stale_after_s)?,
                approach_horizon: seconds("VANGNET_APPROACH_HORIZON_S", &s.approach_horizon_s)?,
                perp_silence: seconds("VANGNET_PERP_SILENCE_S", &s.perp_silence_s)?,
                victim_silence: seconds("VANGNET_VICTIM_SILENCE_S", &s.victim_silence_s)?,
            },
            push,
            console: ConsoleSettings {
                tile_url: check_set(
                    "VANGNET_CONSOLE_TILE_URL",
                    &s.console_tile_url,
                    TileUrl::parse,
                )?,
            },
            audit_key: check_set("VANGNET_AUDIT_KEY_FILE", &s.audit_key_file, |path| {
                SealKey::read(Path::new(path)).map_err(|e| e.to_string())
            })?,
            device_password_file: check_set(
                "VANGNET_DEVICE_PASSWORD_FILE",
                &s.device_password_file,
                parse_readable_file,
            )?,
            log_format: check("VANGNET_LOG_FORMAT", &s.log_format, parse_log_format)?,
        };
        config.consistent()?;
        Ok(config)
    }

    /// Refuses settings that are each valid but wrong together: a CA file
    /// for a connection without TLS (it would be silently ignored), and the
    /// published development key on an address other machines can reach.
    fn consistent(&self) -> Result<(), ConfigError> {
        let tls_broker = matches!(&self.broker, BrokerSetting::External(url) if matches!(url.scheme(), "mqtts" | "ssl"));
        if self.broker_auth.ca_pem.is_some() && !tls_broker {
            return Err(ConfigError::new(
                "VANGNET_MQTT_CA_FILE",
                "is set, but VANGNET_MQTT_URL is not mqtts://: the CA would be ignored",
            ));
        }
        let tls_store = matches!(&self.store, StoreSetting::Redis(address) if address.uses_tls());
        if self.store_ca_pem.is_some() && !tls_store {
            return Err(ConfigError::new(
                "VANGNET_STORE_CA_FILE",
                "is set, but VANGNET_STORE is not rediss://: the CA would be ignored",
            ));
        }
        let development_key = self.jwt_secret.as_ref().is_some_and(|secret| {
            secret.expose() == crate::auth::DEVELOPMENT_JWT_SECRET.as_bytes()
        });
        if development_key && !self.http_addr.ip().is_loopback() {
            return Err(ConfigError::new(
                "VANGNET_JWT_SECRET",
                "is the published development key, which anyone can sign tokens with; it is \
                 allowed only with a loopback VANGNET_HTTP_ADDR",
            ));
        }
        Ok(())
    }
}

/// Web Push, on when a VAPID key file is given, which then needs a subject.
fn push_settings(s: &Settings) -> Result<Option<PushSettings>, ConfigError> {
    let endpoints = EndpointPolicy {
        insecure_hosts: check_set(
            "VANGNET_PUSH_INSECURE_HOSTS",
            &s.push_insecure_hosts,
            parse_hosts,
        )?
        .unwrap_or_default(),
    };
    let max_subscriptions = check(
        "VANGNET_PUSH_MAX_SUBSCRIPTIONS",
        &s.push_max_subscriptions,
        parse_positive,
    )?;
    let key = check_set("VANGNET_VAPID_KEY_FILE", &s.vapid_key_file, |path| {
        VapidKey::read(Path::new(path)).map_err(|e| e.to_string())
    })?;
    let subject = check_set(
        "VANGNET_VAPID_SUBJECT",
        &s.vapid_subject,
        parse_vapid_subject,
    )?;
    match (key, subject) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError::new(
            "VANGNET_VAPID_SUBJECT",
            "is set, but VANGNET_VAPID_KEY_FILE is not: Web Push is off",
        )),
        (Some(_), None) => Err(ConfigError::new(
            "VANGNET_VAPID_SUBJECT",
            "must be set with VANGNET_VAPID_KEY_FILE: push services want the operator's contact",
        )),
        (Some(key), Some(subject)) => Ok(Some(PushSettings {
            key,
            subject,
            endpoints,
            max_subscriptions,
        })),
    }
}

/// A comma-separated list of host names or IP addresses.
fn parse_hosts(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| match url::Host::parse(host) {
            Ok(parsed) if parsed.to_string().eq_ignore_ascii_case(host) => Ok(parsed.to_string()),
            _ => Err(format!("`{host}` is not a host name or IP address")),
        })
        .collect()
}

/// A `mailto:` address or an `https://` URL.
fn parse_vapid_subject(value: &str) -> Result<String, String> {
    let mail = value
        .strip_prefix("mailto:")
        .is_some_and(|a| a.contains('@'));
    let web = Url::parse(value).is_ok_and(|url| url.scheme() == "https" && url.host().is_some());
    if mail || web {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a mailto: address or an https:// URL"
        ))
    }
}

/// `value` as `parse` reads it; an error names `env`.
fn check<T>(
    env: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|message| ConfigError::new(env, message))
}

/// `value`, if set, as `parse` reads it; an error names `env`.
fn check_set<T>(
    env: &'static str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    value.as_deref().map(|v| check(env, v, parse)).transpose()
}

/// A positive whole number of seconds.
fn seconds(env: &'static str, value: &str) -> Result<Duration, ConfigError> {
    check(env, value, |v| match v.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("`{v}` is not a positive whole number of seconds")),
        Ok(s) => Ok(Duration::from_secs(s)),
    })
}

fn parse_positive<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("`{value}` is not a positive whole number"))
}

/// The most days a period may have: a century, so that it can always be
/// counted in seconds and milliseconds.
const MAX_DAYS: u64 = 36_500;

fn parse_days(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(Duration::from_secs(days * 86_400)),
        _ => Err(format!(
            "`{value}` is not a whole number of days from 1 to {MAX_DAYS}"
        )),
    }
}

fn parse_backoff(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(s) if (1..=30).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(format!(
            "`{value}` is not a whole number of seconds from 1 to 30"
        )),
    }
}

fn parse_speed(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(mps) if mps.is_finite() && mps >= 0.0 => Ok(mps),
        _ => Err(format!("`{value}` is not a non-negative speed in m/s")),
    }
}

fn parse_http_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("`{value}` is not an address like 127.0.0.1:8080"))
}

/// The embedded broker's address: loopback only, since it takes anonymous clients.
fn parse_embedded_broker_addr(value: &str) -> Result<SocketAddr, String> {
    match value.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => Ok(addr),
        Ok(_) => Err(format!(
            "`{value}` is not a loopback address: the embedded broker takes anonymous \
             clients, so it is for demos and development on one machine; give \
             devices elsewhere a broker with credentials (VANGNET_MQTT_URL)"
        )),
        Err(_) => Err(format!("`{value}` is not an address like 127.0.0.1:1883")),
    }
}

fn parse_topics(value: &str) -> Result<Topics, String> {
    Topics::new(value).map_err(|e| format!("`{value}`: {e}"))
}

/// A key prefix without the braces and spaces that would break key hash tags.
fn parse_store_prefix(value: &str) -> Result<String, String> {
    (!value.contains(['{', '}', ' ']))
        .then(|| value.to_owned())
        .ok_or_else(|| {
            format!("`{value}` must not contain braces or spaces (they would break key hash tags)")
        })
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("`{value}` is neither text nor json")),
    }
}

/// A name that goes into MQTT client ids and shared-subscription filters.
fn parse_name(value: &str) -> Result<String, String> {
    let valid = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    valid
        .then(|| value.to_owned())
        .ok_or_else(|| format!("`{value}` may hold only letters, digits, _ and -"))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("`{value}` is not a boolean (1/0, true/false)")),
    }
}

fn parse_url(value: &str) -> Result<Url, String> {
    Url::parse(value).map_err(|e| format!("`{}` is not a URL: {e}", without_password(value)))
}

fn parse_broker(value: &str) -> Result<BrokerSetting, String> {
    let url = parse_url(value)?;
    match url.scheme() {
        "mqtt" | "mqtts" | "tcp" | "ssl" if url.host_str().is_some() => {
            Ok(BrokerSetting::External(url))
        }
        "mqtt" | "mqtts" | "tcp" | "ssl" => {
            Err(format!("`{}` names no host", without_password(value)))
        }
        scheme => Err(format!(
            "unknown scheme `{scheme}`: expected mqtt://HOST:PORT or mqtts://HOST:PORT"
        )),
    }
}

fn parse_store(value: &str) -> Result<StoreSetting, String> {
    if let Some(path) = value.strip_prefix("file:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        return if path.is_empty() {
            Err("`file:` needs a path, e.g. file:./vangnet-data".into())
        } else {
            Ok(StoreSetting::File(PathBuf::from(path)))
        };
    }
    if value.starts_with("redis") {
        return RedisAddress::parse(value)
            .map(StoreSetting::Redis)
            .map_err(|message| format!("`{}`: {message}", without_password(value)));
    }
    Err(format!(
        "`{}`: expected redis://HOST:PORT/DB, redis+cluster://HOST:PORT,HOST:PORT or file:PATH",
        without_password(value)
    ))
}

fn parse_http_url(value: &str) -> Result<Url, String> {
    let url = parse_url(value)?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        scheme => Err(format!(
            "unknown scheme `{scheme}`: expected http:// or https://"
        )),
    }
}

/// The PEM certificates in the file at `path`.
fn read_ca_pem(path: &str) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let certificate = b"-----BEGIN CERTIFICATE-----";
    pem.windows(certificate.len())
        .any(|window| window == certificate)
        .then_some(pem)
        .ok_or_else(|| format!("{path} holds no PEM certificate"))
}

/// The broker's CA and Vangnet's password there, read from their files.
fn broker_auth(s: &Settings, broker: &BrokerSetting) -> Result<BrokerAuth, ConfigError> {
    let ca_pem = check_set("VANGNET_MQTT_CA_FILE", &s.mqtt_ca_file, read_ca_pem)?;
    let password = check_set(
        "VANGNET_MQTT_PASSWORD_FILE",
        &s.mqtt_password_file,
        read_password,
    )?;
    if password.is_some()
        && matches!(broker, BrokerSetting::External(url) if url.username().is_empty())
    {
        return Err(ConfigError::new(
            "VANGNET_MQTT_PASSWORD_FILE",
            "VANGNET_MQTT_URL names no user (mqtts://USER@HOST:PORT) for the password",
        ));
    }
    let cert = check_set(
        "VANGNET_MQTT_CLIENT_CERT_FILE",
        &s.mqtt_client_cert_file,
        read_ca_pem,
    )?;
    let key = check_set(
        "VANGNET_MQTT_CLIENT_KEY_FILE",
        &s.mqtt_client_key_file,
        read_key,
    )?;
    let client = match (cert, key) {
        (Some(cert_pem), Some(key_pem)) if ca_pem.is_some() => {
            Some(ClientIdentity { cert_pem, key_pem })
        }
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "VANGNET_MQTT_CA_FILE",
                "a client certificate needs the broker's CA too (VANGNET_MQTT_CA_FILE)",
            ));
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "VANGNET_MQTT_CLIENT_KEY_FILE",
                "VANGNET_MQTT_CLIENT_CERT_FILE is set, so its key must be too",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "VANGNET_MQTT_CLIENT_CERT_FILE",
                "VANGNET_MQTT_CLIENT_KEY_FILE is set, so its certificate must be too",
            ));
        }
    };
    Ok(BrokerAuth {
        ca_pem,
        password,
        client,
    })
}

/// The password in the file at `path`, without the line end.
fn read_password(path: &str) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(format!("{path} is empty"));
    }
    Ok(Secret::new(password.to_owned()))
}

/// The PEM private key in the file at `path`.
fn read_key(path: &str) -> Result<Secret, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    pem.contains("PRIVATE KEY-----")
        .then_some(Secret::new(pem))
        .ok_or_else(|| format!("{path} holds no PEM private key"))
}

/// An HS256 secret: its raw UTF-8 bytes, at least [`MIN_SECRET_BYTES`] of them.
fn parse_jwt_secret(value: &str) -> Result<Secret, String> {
    if value.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "an HS256 secret must be at least {MIN_SECRET_BYTES} bytes long; this one has {}",
            value.len()
        ));
    }
    Ok(Secret::new(value.to_owned()))
}

fn parse_readable_file(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    std::fs::File::open(&path)
        .map(|_| path.clone())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The `VANGNET_*` variables as read once, against which configuration
/// files are read ([`Config::from_file`]).
pub struct Environment(Given);

impl Environment {
    /// Reads the variables of this process's environment.
    pub fn read() -> Result<Self, ConfigError> {
        Given::from_env().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration with `pairs` given as flags, over `file` and the defaults.
    fn load(pairs: &[(&str, &str)], file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        Config::from_settings(Settings::resolve(
            &Given::of(&crate::settings::flags(pairs)),
            file,
        )?)
    }

    fn from_flags(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load(pairs, None)
    }

    fn error(pairs: &[(&str, &str)]) -> ConfigError {
        from_flags(pairs).unwrap_err()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let config = from_flags(&[]).unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.broker,
            BrokerSetting::Embedded("127.0.0.1:1883".parse().unwrap())
        );
        assert_eq!(config.topics.prefix(), "vangnet/v1");
        assert_eq!(config.store, StoreSetting::File("./vangnet-data".into()));
        assert_eq!(config.dispatch_url, None);
        assert_eq!(config.detection.drift_mps, 1.5);
        assert_eq!(config.detection.stale_after, Duration::from_secs(900));
        assert_eq!(config.detection.perp_silence, Duration::from_secs(300));
        assert_eq!(config.detection.victim_silence, Duration::from_secs(900));
        assert_eq!(config.history_retention, Duration::from_secs(30 * 86_400));
        assert_eq!(config.max_orders_per_device.get(), 8);
        assert_eq!(config.alert_window, Duration::from_secs(86_400));
    }

    #[test]
    fn a_retention_too_long_to_count_in_seconds_is_refused() {
        let err = error(&[("history-retention-days", "44444444444444444")]);
        assert_eq!(err.setting, "VANGNET_HISTORY_RETENTION_DAYS");
        let century = from_flags(&[("history-retention-days", "36500")]).unwrap();
        assert_eq!(
            century.history_retention,
            Duration::from_secs(36_500 * 86_400)
        );
    }

    #[test]
    fn web_push_is_off_without_a_vapid_key() {
        assert!(from_flags(&[]).unwrap().push.is_none());
    }

    #[test]
    fn a_vapid_key_with_a_subject_turns_web_push_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.pem");
        let key = VapidKey::generate_into(&path, false).unwrap();
        let config = from_flags(&[
            ("vapid_key_file", path.to_str().unwrap()),
            ("vapid_subject", "mailto:ops@example.org"),
            ("push_insecure_hosts", "127.0.0.1, push.test"),
        ])
        .unwrap();
        let push = config.push.unwrap();
        assert_eq!(push.key.public_key(), key.public_key());
        assert_eq!(push.endpoints.insecure_hosts, ["127.0.0.1", "push.test"]);
        assert_eq!(push.max_subscriptions.get(), 10_000);
    }

    #[test]
    fn bad_web_push_settings_name_their_setting() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("vapid.pem");
        VapidKey::generate_into(&key, false).unwrap();
        let not_a_key = dir.path().join("not-a-key.pem");
        std::fs::write(&not_a_key, "hello").unwrap();
        let (key, not_a_key) = (key.to_str().unwrap(), not_a_key.to_str().unwrap());
        let subject = ("vapid_subject", "mailto:ops@example.org");
        for (pairs, setting) in [
            (
                vec![("vapid_key_file", "/nonexistent/vapid.pem"), subject],
                "VANGNET_VAPID_KEY_FILE",
            ),
            (
                vec![("vapid_key_file", not_a_key), subject],
                "VANGNET_VAPID_KEY_FILE",
            ),
            (vec![("vapid_key_file", key)], "VANGNET_VAPID_SUBJECT"),
            (vec![subject], "VANGNET_VAPID_SUBJECT"),
            (
                vec![("vapid_key_file", key), ("vapid_subject", "ops")],
                "VANGNET_VAPID_SUBJECT",
            ),
            (
                vec![("push_insecure_hosts", "127.0.0.1:80")],
                "VANGNET_PUSH_INSECURE_HOSTS",
            ),
            (
                vec![("push_insecure_hosts", "http://x")],
                "VANGNET_PUSH_INSECURE_HOSTS",
            ),
            (
                vec![("push_max_subscriptions", "0")],
                "VANGNET_PUSH_MAX_SUBSCRIPTIONS",
            ),
        ] {
            assert_eq!(error(&pairs).setting, setting, "{pairs:?}");
        }
    }

    #[test]
    fn an_unreadable_device_password_file_names_vangnet_device_password_file() {
        let err = error(&[("device-password-file", "/nonexistent/vangnet.passwd")]);
        assert_eq!(err.setting, "VANGNET_DEVICE_PASSWORD_FILE");
        assert_eq!(from_flags(&[]).unwrap().device_password_file, None);
    }

    #[test]
    fn an_audit_key_file_that_is_missing_or_no_key_names_vangnet_audit_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_key = dir.path().join("audit.key");
        std::fs::write(&not_a_key, "secret\n").unwrap();
        for path in ["/nonexistent/audit.key", not_a_key.to_str().unwrap()] {
            assert_eq!(
                error(&[("audit-key-file", path)]).setting,
                "VANGNET_AUDIT_KEY_FILE"
            );
        }
        assert_eq!(from_flags(&[]).unwrap().audit_key, None);
    }

    #[test]
    fn an_alert_window_may_be_0_s_and_must_be_whole_seconds() {
        let config = from_flags(&[("alert-window-s", "0")]).unwrap();
        assert_eq!(config.alert_window, Duration::ZERO);
        assert_eq!(
            error(&[("alert-window-s", "a day")]).setting,
            "VANGNET_ALERT_WINDOW_S"
        );
    }

    #[test]
    fn an_unknown_store_scheme_names_vangnet_store() {
        let err = error(&[("store", "bogus://x")]);
        assert_eq!(err.setting, "VANGNET_STORE");
    }

    #[test]
    fn redis_and_file_stores_are_understood() {
        let redis = from_flags(&[("store", "redis://127.0.0.1:6379/3")]);
        assert!(matches!(redis.unwrap().store, StoreSetting::Redis(_)));
        let file = from_flags(&[("store", "file:/var/lib/vangnet")]);
        assert_eq!(
            file.unwrap().store,
            StoreSetting::File("/var/lib/vangnet".into())
        );
    }

    #[test]
    fn a_malformed_broker_url_names_vangnet_mqtt_url() {
        assert_eq!(
            error(&[("mqtt_url", "http://x")]).setting,
            "VANGNET_MQTT_URL"
        );
        assert_eq!(error(&[("mqtt_url", "::")]).setting, "VANGNET_MQTT_URL");
    }

    #[test]
    fn a_malformed_listen_address_names_vangnet_http_addr() {
        assert_eq!(
            error(&[("http_addr", "localhost")]).setting,
            "VANGNET_HTTP_ADDR"
        );
    }

    #[test]
    fn an_unreadable_public_key_names_vangnet_jwt_public_key() {
        let err = error(&[("jwt_public_key", "/nonexistent/key.pem")]);
        assert_eq!(err.setting, "VANGNET_JWT_PUBLIC_KEY");
    }

    #[test]
    fn a_prefix_with_wildcards_names_vangnet_mqtt_prefix() {
        assert_eq!(
            error(&[("mqtt_prefix", "a/#")]).setting,
            "VANGNET_MQTT_PREFIX"
        );
    }

    #[test]
    fn zero_seconds_of_silence_is_refused() {
        assert_eq!(
            error(&[("perp_silence_s", "0")]).setting,
            "VANGNET_PERP_SILENCE_S"
        );
    }

    #[test]
    fn the_dispatch_url_makes_the_default_route() {
        let config = from_flags(&[("dispatch_url", "http://127.0.0.1:9000/alerts")]);
        let routes = config.unwrap().routes;
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].name, "default");
    }

    #[test]
    fn plain_http_dispatch_to_another_machine_names_vangnet_dispatch_url_unless_allowed() {
        let url = ("dispatch_url", "http://dispatch.example.org/alerts");
        assert_eq!(error(&[url]).setting, "VANGNET_DISPATCH_URL");
        let allowed = from_flags(&[url, ("dispatch_allow_http", "true")]);
        assert_eq!(allowed.unwrap().routes.len(), 1);
        assert_eq!(
            error(&[url, ("dispatch_allow_http", "maybe")]).setting,
            "VANGNET_DISPATCH_ALLOW_HTTP"
        );
    }

    #[test]
    fn routes_in_the_file_are_read_and_a_bad_one_is_named() {
        let dir = std::env::temp_dir().join(format!("vangnet-routes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[[routes]]\nname = \"drill\"\nurl = \"http://127.0.0.1:9/x\"\nformat = \"cap\"\nexercise = true\nmin_priority = \"P3\"\n").unwrap();
        let config = load(&[], Some(&good)).unwrap();
        assert_eq!(config.routes[0].name, "drill");
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[[routes]]\nname = \"x\"\nurl = \"ftp://x\"\n").unwrap();
        let err = load(&[], Some(&bad)).unwrap_err();
        assert!(err.to_string().contains("routes[0].url"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let secret = "hunter2-hunter2-hunter2-hunter2-hunter2";
        let config = from_flags(&[("jwt_secret", secret)]).unwrap();
        assert!(!format!("{config:?}").contains(secret));
    }

    #[test]
    fn a_jwt_secret_needs_32_bytes_of_utf_8_not_32_characters() {
        let sixteen_characters = "é".repeat(16);
        assert!(from_flags(&[("jwt_secret", sixteen_characters.as_str())]).is_ok());
        let thirty_one_bytes = format!("{}a", "é".repeat(15));
        let err = error(&[("jwt_secret", thirty_one_bytes.as_str())]);
        assert_eq!(err.setting, "VANGNET_JWT_SECRET");
        assert!(!err.to_string().contains(&thirty_one_bytes), "{err}");
    }

    #[test]
    fn the_error_is_one_line_naming_the_setting() {
        let text = error(&[("store", "bogus://x")]).to_string();
        assert!(text.contains("VANGNET_STORE"));
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_bad_configuration_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_ca = dir.path().join("not-a-ca.pem");
        std::fs::write(&not_a_ca, "hello").unwrap();
        let path = not_a_ca.to_str().unwrap();
        assert_eq!(
            error(&[("store_ca_file", path)]).setting,
            "VANGNET_STORE_CA_FILE"
        );
        assert_eq!(
            error(&[("mqtt_ca_file", path)]).setting,
            "VANGNET_MQTT_CA_FILE"
        );
    }

    #[test]
    fn a_ca_file_for_a_connection_without_tls_is_bad_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let ca = ca.to_str().unwrap();
        assert_eq!(
            error(&[("mqtt_url", "mqtt://localhost:1883"), ("mqtt_ca_file", ca)]).setting,
            "VANGNET_MQTT_CA_FILE"
        );
        assert_eq!(
            error(&[("store", "redis://localhost:6379/0"), ("store_ca_file", ca)]).setting,
            "VANGNET_STORE_CA_FILE"
        );
    }

    #[test]
    fn the_development_key_is_refused_off_loopback() {
        let key = crate::auth::DEVELOPMENT_JWT_SECRET;
        assert_eq!(
            error(&[("jwt_secret", key), ("http_addr", "0.0.0.0:8080")]).setting,
            "VANGNET_JWT_SECRET"
        );
        assert!(from_flags(&[("jwt_secret", key)]).is_ok());
    }

    #[test]
    fn a_password_in_a_bad_url_is_never_shown() {
        let shown = error(&[("store", "rediss://:hunter2@")]);
        assert!(!shown.message.contains("hunter2"), "{}", shown.message);
    }

    #[test]
    fn the_embedded_broker_listens_on_loopback_only() {
        assert_eq!(
            error(&[("embedded_broker_addr", "0.0.0.0:1883")]).setting,
            "VANGNET_EMBEDDED_BROKER_ADDR"
        );
        let config = from_flags(&[("embedded_broker_addr", "[::1]:1883")]);
        assert!(config.is_ok());
    }
}
