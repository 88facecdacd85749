//! The deployment files of `deploy/` are valid as their tools read them.

use std::process::Command;

use vangnet_e2e::{unique_name, workspace_binary};

#[test]
fn the_systemd_units_verify() {
    let units = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/systemd");
    let dir = std::env::temp_dir().join(unique_name("units"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(units).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let installed = text.replace(
            "/usr/local/bin/vangnet",
            &workspace_binary("vangnet").display().to_string(),
        );
        let copy = dir.join(path.file_name().unwrap());
        std::fs::write(&copy, installed).unwrap();
        paths.push(copy);
    }

    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    let _ = std::fs::remove_dir_all(&dir);

    let complaints = String::from_utf8_lossy(&output.stderr);
    assert_eq!(paths.len(), 3);
    assert!(output.status.success(), "{complaints}");
    assert!(complaints.trim().is_empty(), "{complaints}");
}

#[test]
fn the_compose_file_is_valid() {
    let compose = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose.yaml");

    let output = Command::new("docker-compose")
        .args(["-f", compose, "config", "--quiet"])
        .output()
        .expect("docker-compose (apt-get install docker-compose)");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
