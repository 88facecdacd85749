//! Vangnet reaches a production broker over TLS with credentials: the
//! broker's CA from `VANGNET_MQTT_CA_FILE`, the password from
//! `VANGNET_MQTT_PASSWORD_FILE`, and no secret in an error line.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use vangnet_e2e::{
    AppOptions, Device, MosquittoServer, TestApp, free_port, run_vangnet, unique_name,
    workspace_binary,
};
use vangnet_proto::{Channel, TimestampMs};

const USER: &str = "vangnet";
const PASSWORD: &str = "correct horse battery staple";

/// A CA, a certificate it signed for `localhost` and 127.0.0.1, and a
/// Mosquitto password file, made in a fresh directory.
struct Credentials {
    dir: PathBuf,
}

impl Credentials {
    fn make() -> Self {
        let dir = std::env::temp_dir().join(unique_name("broker-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |program: &str, args: &[&str]| {
            let status = Command::new(program)
                .args(args)
                .current_dir(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            assert!(status.success(), "{program} {args:?}");
        };
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=vangnet test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        run(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ],
        );
        run(
            "mosquitto_passwd",
            &["-b", "-c", "passwords", USER, PASSWORD],
        );
        // Mosquitto started as root reads its files as the `mosquitto` user.
        run("chmod", &["0644", "server.key", "passwords"]);
        std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(dir.join("wrong-password"), "not it\n").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A broker with a TLS listener that wants the password on `port`,
    /// beside an anonymous plain one for the test's devices.
    fn broker(&self, port: u16) -> MosquittoServer {
        MosquittoServer::start(&format!(
            "per_listener_settings true\n\
             listener {port} 127.0.0.1\n\
             cafile {}\ncertfile {}\nkeyfile {}\n\
             allow_anonymous false\npassword_file {}\n",
            self.path("ca.pem"),
            self.path("server.pem"),
            self.path("server.key"),
            self.path("passwords"),
        ))
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn over_tls(credentials: &Credentials, port: u16, password_file: &str) -> AppOptions {
    AppOptions::default()
        .env(
            "VANGNET_MQTT_URL",
            format!("mqtts://{USER}@localhost:{port}"),
        )
        .env("VANGNET_MQTT_CA_FILE", credentials.path("ca.pem"))
        .env(
            "VANGNET_MQTT_PASSWORD_FILE",
            credentials.path(password_file),
        )
}

#[tokio::test]
async fn vangnet_takes_a_panic_through_a_broker_it_reaches_over_tls_with_a_password() {
    let credentials = Credentials::make();
    let tls_port = free_port();
    let broker = credentials.broker(tls_port);
    let app = TestApp::spawn_with(over_tls(&credentials, tls_port, "password")).await;
    app.wait_until_ready().await;
    app.put_order(json!({
        "id": "o-1", "region": "rotterdam", "exercise": false,
        "victim_devices": ["v-1"], "perpetrator_devices": ["p-1"],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    }))
    .await;
    let mut victim = Device::connect_to(&broker.url(), app.topics.clone(), "v-1").await;

    let alarm = json!({"seq": 1, "ts": TimestampMs::now().millis(), "kind": "panic"});
    victim.send(Channel::Alarm, alarm.to_string()).await;

    let receipt = victim
        .next_downlink(Duration::from_secs(5))
        .await
        .expect("a receipt through the TLS broker");
    assert!(receipt.topic.ends_with("/ack"), "{}", receipt.topic);
}

#[tokio::test]
async fn a_wrong_password_keeps_vangnet_unready() {
    let credentials = Credentials::make();
    let tls_port = free_port();
    let _broker = credentials.broker(tls_port);
    let app = TestApp::spawn_with(over_tls(&credentials, tls_port, "wrong-password")).await;

    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert_eq!(app.get("/readyz").await.status(), 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn an_unreadable_ca_file_is_bad_configuration_named_in_one_line() {
    let (status, stderr) = run_vangnet(
        &["serve"],
        &[
            ("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@localhost:8883"),
            ("VANGNET_MQTT_CA_FILE", "/nonexistent/ca.pem"),
        ],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_MQTT_CA_FILE"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_bad_broker_url_is_reported_without_its_password() {
    let (status, stderr) = run_vangnet(
        &["serve"],
        &[("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@/")],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_MQTT_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn help_shows_no_broker_password() {
    let output = Command::new(workspace_binary("vangnet"))
        .args(["serve", "--help"])
        .env("VANGNET_MQTT_URL", "mqtts://vangnet:hunter2@localhost:8883")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(help.contains("VANGNET_MQTT_URL"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}
