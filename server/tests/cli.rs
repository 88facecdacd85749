//! The command line as an operator meets it. Also makes `cargo test`
//! build the `vangnet` binary that the end-to-end tests in `tests/` start.

use std::process::Command;

fn vangnet() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vangnet"));
    command.env_clear();
    command
}

#[test]
fn version_prints_the_crate_version() {
    let output = vangnet().arg("--version").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
}

#[test]
fn a_bogus_store_exits_2_with_one_line_naming_vangnet_store() {
    let output = vangnet()
        .arg("serve")
        .env("VANGNET_STORE", "bogus://x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VANGNET_STORE"), "{stderr}");
}

#[test]
fn audit_verify_on_a_new_embedded_store_reports_0_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file:{}", dir.path().join("vangnet.redb").display());
    let output = vangnet()
        .args(["audit", "verify"])
        .env("VANGNET_STORE", store)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("0 entries verified"), "{stdout}");
}

#[test]
fn audit_verify_of_an_unreadable_file_exits_3() {
    let output = vangnet()
        .args(["audit", "verify", "--file", "/nonexistent/audit.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
}

/// Runs `vangnet serve` with `env` on a private store, an unreachable broker
/// and any free port; kills it if it still runs after 10 s (it took the
/// configuration then, so the returned status is not 2).
fn serve_with(env: &[(&str, &str)]) -> std::process::Output {
    serve_with_flags(&[], env)
}

/// [`serve_with`], with `flags` after `serve`.
fn serve_with_flags(flags: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file:{}", dir.path().join("vangnet.redb").display());
    let mut child = vangnet()
        .arg("serve")
        .args(flags)
        .env("VANGNET_STORE", store)
        .env("VANGNET_MQTT_URL", "mqtt://127.0.0.1:1")
        .env("VANGNET_HTTP_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[test]
fn a_plain_http_dispatch_url_off_loopback_exits_2_naming_vangnet_dispatch_url() {
    let output = serve_with(&[("VANGNET_DISPATCH_URL", "http://dispatch.example.org/alerts")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VANGNET_DISPATCH_URL"), "{stderr}");
}

#[test]
fn a_plain_http_route_url_off_loopback_exits_2_naming_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vangnet.toml");
    std::fs::write(
        &config,
        "[[routes]]\nname = \"mirror\"\nurl = \"http://10.1.2.3/alerts\"\n",
    )
    .unwrap();
    let output = serve_with(&[("VANGNET_CONFIG", config.to_str().unwrap())]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("routes[0].url"), "{stderr}");
}

/// A config file in `dir` setting `log_format`.
fn log_format_file(dir: &tempfile::TempDir, log_format: &str) -> String {
    let path = dir.path().join("vangnet.toml");
    std::fs::write(&path, format!("log_format = \"{log_format}\"\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_flag_beats_its_variable() {
    let output = serve_with_flags(
        &["--log-format", "bogus"],
        &[("VANGNET_LOG_FORMAT", "json")],
    );
    assert_bad_configuration_naming(&output, "VANGNET_LOG_FORMAT");
}

#[test]
fn a_variable_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_format_file(&dir, "json");
    let output = serve_with(&[("VANGNET_CONFIG", &config), ("VANGNET_LOG_FORMAT", "bogus")]);
    assert_bad_configuration_naming(&output, "VANGNET_LOG_FORMAT");
}

#[test]
fn a_blank_variable_leaves_the_file_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_format_file(&dir, "bogus");
    let output = serve_with(&[("VANGNET_CONFIG", &config), ("VANGNET_LOG_FORMAT", " ")]);
    assert_bad_configuration_naming(&output, "VANGNET_LOG_FORMAT");
}

/// A secret of 31 bytes: one short of what HS256 keys must have.
const SHORT_SECRET: &str = "0123456789012345678901234567890";
/// A secret of exactly 32 bytes.
const LONG_ENOUGH_SECRET: &str = "01234567890123456789012345678901";

fn assert_bad_configuration_naming(output: &std::process::Output, setting: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(setting), "{stderr}");
}

fn token(secret: &str, extra: &[&str]) -> std::process::Output {
    vangnet()
        .args(["token", "--role", "admin", "--region", "*"])
        .args(extra)
        .env("VANGNET_JWT_SECRET", secret)
        .output()
        .unwrap()
}

#[test]
fn serve_with_a_jwt_secret_shorter_than_32_bytes_exits_2_naming_vangnet_jwt_secret() {
    let output = vangnet()
        .arg("serve")
        .env("VANGNET_JWT_SECRET", SHORT_SECRET)
        .output()
        .unwrap();
    assert_bad_configuration_naming(&output, "VANGNET_JWT_SECRET");
}

#[test]
fn token_with_a_jwt_secret_shorter_than_32_bytes_exits_2_naming_vangnet_jwt_secret() {
    assert_bad_configuration_naming(&token(SHORT_SECRET, &[]), "VANGNET_JWT_SECRET");
}

#[test]
fn token_with_a_32_byte_secret_prints_a_token() {
    let output = token(LONG_ENOUGH_SECRET, &[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );
}

#[test]
fn token_refuses_a_ttl_beyond_the_12_h_cap_with_exit_2() {
    assert!(
        token(LONG_ENOUGH_SECRET, &["--ttl", "12h"])
            .status
            .success()
    );
    assert_bad_configuration_naming(&token(LONG_ENOUGH_SECRET, &["--ttl", "13h"]), "--ttl");
}

#[test]
fn the_ttl_cap_of_token_is_set_by_vangnet_token_max_ttl() {
    let capped = |max: &str, ttl: &str| {
        vangnet()
            .args(["token", "--role", "admin", "--region", "*", "--ttl", ttl])
            .env("VANGNET_JWT_SECRET", LONG_ENOUGH_SECRET)
            .env("VANGNET_TOKEN_MAX_TTL", max)
            .output()
            .unwrap()
    };
    assert!(capped("24h", "13h").status.success());
    assert_bad_configuration_naming(&capped("1h", "2h"), "--ttl");
}

#[test]
fn vapid_generate_writes_a_private_key_file_and_prints_its_public_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vapid.pem");
    let generate = |force: bool| {
        let mut command = vangnet();
        command.args(["vapid", "generate", "--out"]).arg(&path);
        if force {
            command.arg("--force");
        }
        command.output().unwrap()
    };

    let first = generate(false);

    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let public = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    assert_eq!(public.len(), 87, "{public}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let refused = generate(false);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let replaced = generate(true);
    assert_eq!(replaced.status.code(), Some(0), "{replaced:?}");
    assert_ne!(String::from_utf8_lossy(&replaced.stdout).trim(), public);
}

#[test]
fn serve_with_a_malformed_vapid_key_exits_2_naming_vangnet_vapid_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vapid.pem");
    std::fs::write(&path, "not a key").unwrap();
    let output = vangnet()
        .arg("serve")
        .env("VANGNET_VAPID_KEY_FILE", &path)
        .env("VANGNET_VAPID_SUBJECT", "mailto:ops@example.org")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VANGNET_VAPID_KEY_FILE"), "{stderr}");
}
