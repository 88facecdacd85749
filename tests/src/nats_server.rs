//! A NATS server of a test's own with its MQTT listener: JetStream (which
//! MQTT sessions live in) in a store directory of its own, free ports for
//! NATS clients and for MQTT.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, unique_name};

/// A private `nats-server`, killed when dropped.
pub struct NatsServer {
    mqtt_port: u16,
    dir: PathBuf,
    child: Child,
}

impl NatsServer {
    /// Starts `nats-server` and waits until its MQTT listener takes connections.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(unique_name("nats"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let (client_port, mqtt_port) = (free_port(), free_port());
        let config = format!(
            "server_name: {name}\n\
             listen: 127.0.0.1:{client_port}\n\
             log_file: {log}\n\
             jetstream {{ store_dir: {store}, max_memory_store: 64MB, max_file_store: 256MB }}\n\
             mqtt {{ listen: 127.0.0.1:{mqtt_port} }}\n",
            name = unique_name("vangnet-test"),
            log = quoted(&dir.join("nats.log")),
            store = quoted(&dir.join("store")),
        );
        let path = dir.join("nats.conf");
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        let mut child = Command::new("nats-server")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting nats-server (apt-get install nats-server): {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", mqtt_port)).is_err() {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
                panic!("nats-server did not start ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            mqtt_port,
            dir,
            child,
        }
    }

    /// Its MQTT URL, for `VANGNET_MQTT_URL`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt_port)
    }

    /// What it logged so far: why it closed a client's connection, say.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }
}

/// A path as a quoted string of the NATS configuration format.
fn quoted(path: &std::path::Path) -> String {
    format!("{:?}", path.display().to_string())
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
