//! API fuzzing (docs/api.md#api-fuzzing): schemathesis generates requests
//! from the OpenAPI document, valid and invalid, and checks every answer
//! against it (`--checks all`): no server error, only documented statuses,
//! bodies and headers, valid requests taken and invalid ones refused, 405
//! with `Allow`, 401 without a token. One test per role, each against a
//! vangnet of its own; `tests/schemathesis.toml` fixes the seed and says
//! which checks an operation answers differently, and why.

use std::path::Path;
use std::process::Command;

use vangnet_e2e::{AppOptions, TestApp, token_for};
use vangnet_proto::token::Role;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
/// The version `.ci/run` installs, whose generated requests the seed fixes.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Runs schemathesis against a fresh vangnet with a token of `role` and
/// fails with its report if it finds any failure.
async fn fuzz(role: Role) {
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_API_CHANGES_PER_MINUTE", "1000000"),
    )
    .await;
    app.wait_until_ready().await;
    let regions: &[&str] = if role == Role::Admin {
        &["*"]
    } else {
        &["rotterdam"]
    };
    let token = token_for(SECRET, role, regions);
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let workdir = std::env::temp_dir().join(vangnet_e2e::unique_name("schemathesis"));
    std::fs::create_dir_all(&workdir).unwrap();
    let schema = app.url("/api/v1/openapi.json");
    let header = format!("Authorization: Bearer {token}");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &schema, "--checks", "all", "--no-color"])
            .args(["--header", &header])
            .current_dir(&workdir)
            .output()
            .map(|output| (output, workdir))
    })
    .await
    .unwrap();
    let (output, workdir) = output.unwrap_or_else(|e| {
        panic!("cannot run schemathesis ({e}): python3 -m pip install '{SCHEMATHESIS}' (bash .ci/run does)")
    });
    let _ = std::fs::remove_dir_all(workdir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found failures with a {role:?} token ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[tokio::test]
async fn schemathesis_finds_no_failure_with_an_admin_token() {
    fuzz(Role::Admin).await;
}

#[tokio::test]
async fn schemathesis_finds_no_failure_with_a_dispatcher_token() {
    fuzz(Role::Dispatcher).await;
}

#[tokio::test]
async fn schemathesis_finds_no_failure_with_a_pilot_token() {
    fuzz(Role::Pilot).await;
}

#[tokio::test]
async fn schemathesis_finds_no_failure_with_an_auditor_token() {
    fuzz(Role::Auditor).await;
}
