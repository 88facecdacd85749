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
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "0 entries verified"
    );
}

#[test]
fn audit_verify_of_an_unreadable_file_exits_3() {
    let output = vangnet()
        .args(["audit", "verify", "--file", "/nonexistent/audit.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
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
