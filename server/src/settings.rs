//! The table of every setting of `vangnet serve`: its file key, its
//! environment variable, its default and its help. `--help`, the TOML file
//! and the environment are all read through this one table.

/// One configurable setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Key in the TOML file, and `--flag` on the command line (with `-` for `_`).
    pub key: &'static str,
    /// Environment variable overriding the file.
    pub env: &'static str,
    /// Value used when neither the file nor the environment sets it.
    pub default: Option<&'static str>,
    /// What it means, for `--help`.
    pub help: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        default,
        help,
    }
}

/// Every setting, in the order `--help` lists them.
pub const SETTINGS: &[Setting] = &[
    setting(
        "http_addr",
        "VANGNET_HTTP_ADDR",
        Some("127.0.0.1:8080"),
        "HTTP listen address",
    ),
    setting(
        "mqtt_url",
        "VANGNET_MQTT_URL",
        None,
        "External MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT [default: start the embedded broker on 127.0.0.1:1883]",
    ),
    setting(
        "mqtt_ca_file",
        "VANGNET_MQTT_CA_FILE",
        None,
        "PEM file of the CA that signed the broker's certificate, for mqtts:// [default: the system's roots]",
    ),
    setting(
        "mqtt_password_file",
        "VANGNET_MQTT_PASSWORD_FILE",
        None,
        "File holding the MQTT password, instead of the URL's (the user comes from the URL)",
    ),
    setting(
        "mqtt_client_cert_file",
        "VANGNET_MQTT_CLIENT_CERT_FILE",
        None,
        "PEM client certificate for a broker that wants one (with VANGNET_MQTT_CA_FILE)",
    ),
    setting(
        "mqtt_client_key_file",
        "VANGNET_MQTT_CLIENT_KEY_FILE",
        None,
        "PEM private key of VANGNET_MQTT_CLIENT_CERT_FILE",
    ),
    setting(
        "embedded_broker_addr",
        "VANGNET_EMBEDDED_BROKER_ADDR",
        Some("127.0.0.1:1883"),
        "Where the embedded broker listens when VANGNET_MQTT_URL is unset (loopback only: it takes anonymous clients)",
    ),
    setting(
        "mqtt_prefix",
        "VANGNET_MQTT_PREFIX",
        Some("vangnet/v1"),
        "Topic root",
    ),
    setting(
        "mqtt_shared_group",
        "VANGNET_MQTT_SHARED_GROUP",
        None,
        "MQTT 5 shared-subscription group, so several instances split the load [default: none]",
    ),
    setting(
        "instance_id",
        "VANGNET_INSTANCE_ID",
        Some("vangnet"),
        "Name of this instance in its MQTT client ids; give each instance of a shared group its own",
    ),
    setting(
        "owntracks",
        "VANGNET_OWNTRACKS",
        Some("false"),
        "Also take OwnTracks location messages (owntracks/{user}/{device}) as fixes",
    ),
    setting(
        "store",
        "VANGNET_STORE",
        Some("file:./vangnet-data"),
        "State store: redis://HOST:PORT/DB, rediss:// for TLS, :PASSWORD@ for AUTH, or file:PATH (embedded)",
    ),
    setting(
        "store_ca_file",
        "VANGNET_STORE_CA_FILE",
        None,
        "PEM file of the CA that signed Redis's certificate, for rediss:// [default: the system's roots]",
    ),
    setting(
        "store_prefix",
        "VANGNET_STORE_PREFIX",
        Some("vangnet"),
        "Prefix of every Redis key, so several deployments or tests share one Redis",
    ),
    setting(
        "history_retention_days",
        "VANGNET_HISTORY_RETENTION_DAYS",
        Some("30"),
        "Days of location history kept before it is trimmed",
    ),
    setting(
        "lane_stall_s",
        "VANGNET_LANE_STALL_S",
        Some("30"),
        "A lane holding messages without finishing one for this long (s) makes /readyz answer 503",
    ),
    setting(
        "dispatch_url",
        "VANGNET_DISPATCH_URL",
        None,
        "Police dispatch endpoint: https://, or http:// to this machine [default: alerts are kept and shown, not sent]",
    ),
    setting(
        "dispatch_allow_http",
        "VANGNET_DISPATCH_ALLOW_HTTP",
        Some("false"),
        "Allow plain http:// dispatch URLs (VANGNET_DISPATCH_URL and every route) to other machines: alerts then cross the network unencrypted",
    ),
    setting(
        "dispatch_max_backoff_s",
        "VANGNET_DISPATCH_MAX_BACKOFF_S",
        Some("30"),
        "Longest wait (s) between two tries of a failing dispatch route, 1 to 30",
    ),
    setting(
        "dispatch_degraded_after_s",
        "VANGNET_DISPATCH_DEGRADED_AFTER_S",
        Some("30"),
        "A route whose oldest undelivered P1 is older than this (s) makes /healthz degraded",
    ),
    setting(
        "dispatch_secret",
        "VANGNET_DISPATCH_SECRET",
        None,
        "HMAC-SHA256 key signing dispatch requests [default: unsigned]",
    ),
    setting(
        "jwt_secret",
        "VANGNET_JWT_SECRET",
        None,
        "HS256 key of API tokens, for development and tests",
    ),
    setting(
        "jwt_public_key",
        "VANGNET_JWT_PUBLIC_KEY",
        None,
        "Path of a PEM public key (ES256 or EdDSA), or of a JWKS file of such keys picked by `kid`, of API tokens",
    ),
    setting(
        "jwt_issuer",
        "VANGNET_JWT_ISSUER",
        None,
        "Required `iss` of API tokens [default: not checked]",
    ),
    setting(
        "jwt_audience",
        "VANGNET_JWT_AUDIENCE",
        None,
        "Required `aud` of API tokens [default: not checked]",
    ),
    setting(
        "api_changes_per_minute",
        "VANGNET_API_CHANGES_PER_MINUTE",
        Some("600"),
        "Changes (POST, PUT, DELETE) one token holder may make per minute; more get 429",
    ),
    setting(
        "max_orders_per_device",
        "VANGNET_MAX_ORDERS_PER_DEVICE",
        Some("8"),
        "Active orders one device may be in; an order that would put it in more gets 409",
    ),
    setting(
        "drift_mps",
        "VANGNET_DRIFT_MPS",
        Some("1.5"),
        "Assumed drift of a victim's position per second of fix age (m/s)",
    ),
    setting(
        "stale_after_s",
        "VANGNET_STALE_AFTER_S",
        Some("900"),
        "Fixes further apart than this (s) make the older position unknown",
    ),
    setting(
        "approach_horizon_s",
        "VANGNET_APPROACH_HORIZON_S",
        Some("120"),
        "Raise proximity_approach when the alarm distance would be reached within this (s)",
    ),
    setting(
        "perp_silence_s",
        "VANGNET_PERP_SILENCE_S",
        Some("300"),
        "Silence (s) after which a perpetrator device raises signal_lost P2",
    ),
    setting(
        "victim_silence_s",
        "VANGNET_VICTIM_SILENCE_S",
        Some("900"),
        "Silence (s) after which a victim device raises signal_lost P3",
    ),
    setting(
        "log_format",
        "VANGNET_LOG_FORMAT",
        Some("text"),
        "Log format: text or json (the filter comes from RUST_LOG, default info)",
    ),
];
