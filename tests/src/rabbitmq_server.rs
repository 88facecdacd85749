//! A RabbitMQ node of a test binary's own with the MQTT plugin: its own node
//! name, ports, database, logs, plugin list and Erlang cookie, beside (never
//! touching) a node that may already run on 5672. It boots in seconds, so the
//! tests of one binary share it; it stops when that binary exits.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{free_port, unique_name};

/// Where Debian installs the server script that runs as the calling user
/// (`/usr/sbin/rabbitmq-server` switches to the `rabbitmq` user).
const DEBIAN_SERVER_SCRIPT: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// Runs the node in the background and stops it once standard input closes,
/// which happens when the test binary exits, however it exits.
const SUPERVISOR: &str = r#"
"$1" >"$2/node.log" 2>&1 &
cat >/dev/null
kill -TERM $!
wait
rm -rf "$2"
"#;

/// The shared `rabbitmq-server` node.
pub struct RabbitMqServer {
    mqtt_port: u16,
    /// The supervisor, whose standard input stays open for the node's life.
    _supervisor: Child,
}

impl RabbitMqServer {
    /// The node of this test binary, started by the first test that asks
    /// and waited for until its MQTT listener takes connections.
    pub fn shared() -> &'static Self {
        static NODE: OnceLock<RabbitMqServer> = OnceLock::new();
        NODE.get_or_init(Self::start)
    }

    fn start() -> Self {
        let dir = std::env::temp_dir().join(unique_name("rabbitmq"));
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
        let mqtt_port = free_port();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            path
        };
        let plugins = write("enabled_plugins", "[rabbitmq_mqtt].\n".to_owned());
        let config = write(
            "rabbitmq.conf",
            format!(
                "mqtt.listeners.tcp.default = 127.0.0.1:{mqtt_port}\n\
                 mqtt.allow_anonymous = true\n"
            ),
        );
        let env_file = write("rabbitmq-env.conf", String::new());
        let supervisor = Command::new("sh")
            .args(["-c", SUPERVISOR, "rabbitmq-supervisor", server_script()])
            .arg(&dir)
            .env("HOME", &home)
            .env(
                "RABBITMQ_NODENAME",
                format!("{}@localhost", unique_name("vangnet-test")),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", free_port().to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", plugins)
            .env("RABBITMQ_CONFIG_FILE", config)
            .env("RABBITMQ_CONF_ENV_FILE", env_file)
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting rabbitmq-server: {e}"));
        wait_for_listener(mqtt_port, &dir);
        Self {
            mqtt_port,
            _supervisor: supervisor,
        }
    }

    /// Its MQTT URL, for `VANGNET_MQTT_URL`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt_port)
    }
}

fn server_script() -> &'static str {
    if Path::new(DEBIAN_SERVER_SCRIPT).exists() {
        DEBIAN_SERVER_SCRIPT
    } else {
        "rabbitmq-server"
    }
}

fn wait_for_listener(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(35);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
            panic!("the RabbitMQ node did not start within 35 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
