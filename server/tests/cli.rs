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
