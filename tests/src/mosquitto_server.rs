//! A Mosquitto broker of a test's own, on a free port: with the settings of
//! `deploy/mosquitto`, or with none, passing whatever a device sends as a
//! misconfigured broker would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, unique_name};

/// A private `mosquitto`, killed when dropped.
pub struct MosquittoServer {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl MosquittoServer {
    /// Starts `mosquitto` with Mosquitto's defaults: no message size limit.
    pub fn unlimited() -> Self {
        Self::start("")
    }

    /// Starts `mosquitto` with the settings of `deploy/mosquitto/mosquitto.conf`.
    pub fn deployed() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/mosquitto/mosquitto.conf"
        );
        let deployed =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let settings: String = deployed
            .lines()
            .filter(|line| {
                !["listener", "allow_anonymous", "persistence"]
                    .iter()
                    .any(|key| line.starts_with(key))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        Self::start(&settings)
    }

    /// Starts `mosquitto` with `settings` (other listeners, say) ahead of
    /// its plain, anonymous loopback listener.
    pub fn start(settings: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name("mosquitto"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "{settings}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            ),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting mosquitto: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, dir, child }
    }

    /// Its URL, for `VANGNET_MQTT_URL`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for MosquittoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
