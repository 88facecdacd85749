//! A Mosquitto broker of a test's own, on a free port: with the settings of
//! `deploy/mosquitto` (development or production), or with none, passing
//! whatever a device sends as a misconfigured broker would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::Pki;
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
        Self::launch(|port| {
            format!(
                "{settings}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            )
        })
    }

    /// Starts `mosquitto` as `deploy/mosquitto/production.conf` sets it up
    /// (TLS only, passwords, the ACL of `vangnet.acl` for topic root
    /// `prefix`), with `pki`'s certificates and password file.
    pub fn production(pki: &Pki, prefix: &str) -> Self {
        let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/mosquitto/");
        let read = |name: &str| {
            std::fs::read_to_string(format!("{deploy}{name}"))
                .unwrap_or_else(|e| panic!("reading {deploy}{name}: {e}"))
        };
        let acl = pki.write(
            "vangnet.acl",
            &read("vangnet.acl").replace("vangnet/v1", prefix),
        );
        let production = read("production.conf");
        Self::launch(|port| {
            production
                .lines()
                .filter(|line| !line.starts_with("persistence_location"))
                .map(|line| match line.split_once(' ') {
                    Some(("listener", _)) => format!("listener {port} 127.0.0.1"),
                    Some(("password_file", _)) => {
                        format!("password_file {}", pki.path("passwords"))
                    }
                    Some(("acl_file", _)) => format!("acl_file {acl}"),
                    Some(("cafile", _)) => format!("cafile {}", pki.path("ca.pem")),
                    Some(("certfile", _)) => format!("certfile {}", pki.path("server.pem")),
                    Some(("keyfile", _)) => format!("keyfile {}", pki.path("server.key")),
                    Some(("persistence", _)) => "persistence false".to_owned(),
                    _ => line.to_owned(),
                })
                .map(|line| line + "\n")
                .collect()
        })
    }

    /// Starts `mosquitto` with the configuration `config` makes for a free port.
    fn launch(config: impl FnOnce(u16) -> String) -> Self {
        let dir = std::env::temp_dir().join(unique_name("mosquitto"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let path = dir.join("mosquitto.conf");
        std::fs::write(&path, config(port))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&path)
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

    /// Makes it read its configuration and password file again (SIGHUP).
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -HUP: {e}"));
        assert!(status.success(), "kill -HUP mosquitto");
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
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
