//! The embedded broker (rumqttd) that `vangnet serve` starts when no
//! `VANGNET_MQTT_URL` is given, so a newcomer needs nothing installed.

use std::net::{SocketAddr, TcpListener};

use crate::config::ConfigError;

/// Checks that `addr` is free and starts the broker there on its own thread.
/// A taken port is a configuration problem: the caller exits with status 2.
pub fn start(addr: SocketAddr) -> Result<url::Url, ConfigError> {
    if TcpListener::bind(addr).is_err() {
        return Err(ConfigError::new(
            "VANGNET_MQTT_URL",
            format!(
                "unset, so the embedded broker would listen on {addr}, but that port is taken \
                 (another MQTT broker?); to use the broker already there, set \
                 VANGNET_MQTT_URL=mqtt://{addr}"
            ),
        ));
    }
    let config = broker_config(addr)
        .map_err(|e| ConfigError::new("VANGNET_MQTT_URL", format!("embedded broker: {e}")))?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
            if let Err(err) = broker.start() {
                tracing::error!(%err, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|e| {
            ConfigError::new("VANGNET_MQTT_URL", format!("embedded broker thread: {e}"))
        })?;
    tracing::info!(%addr, "embedded MQTT broker started");
    url::Url::parse(&format!("mqtt://{addr}"))
        .map_err(|e| ConfigError::new("VANGNET_MQTT_URL", e.to_string()))
}

/// The broker's packet limit (`max_payload_size`) is 65 KiB: a 64 KiB
/// payload (docs/protocol.md#limits) with room for its topic; a larger
/// packet ends the sender's connection instead of reaching Vangnet.
fn broker_config(addr: SocketAddr) -> Result<rumqttd::Config, toml::de::Error> {
    toml::from_str(&format!(
        r#"
        id = 0

        [router]
        max_connections = 10010
        max_outgoing_packet_count = 1000
        max_segment_size = 104857600
        max_segment_count = 10

        [v4.1]
        name = "embedded"
        listen = "{addr}"
        next_connection_delay_ms = 1

        [v4.1.connections]
        connection_timeout_ms = 60000
        max_payload_size = 66560
        max_inflight_count = 1000
        dynamic_filters = true
        "#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_configuration_parses() {
        assert!(broker_config("127.0.0.1:1883".parse().unwrap()).is_ok());
    }
}
