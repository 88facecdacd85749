//! What the runs of `vangnet-sim` against a real `vangnet` share: skipping
//! when that binary was not built, and reading the figures a run printed.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// The `vangnet-sim` binary, or `None` (saying so) when no `vangnet` binary
/// was built beside it to run against.
pub fn sim_beside_vangnet() -> Option<&'static Path> {
    let sim = Path::new(env!("CARGO_BIN_EXE_vangnet-sim"));
    if sim.with_file_name("vangnet").exists() {
        Some(sim)
    } else {
        eprintln!("skipped: no vangnet binary beside {}", sim.display());
        None
    }
}

/// The JSON figures on the last line of a run's stdout, and that stdout for
/// messages, once the run is seen to have succeeded within `limit` of `started`.
pub fn figures(output: &Output, started: Instant, limit: Duration) -> (serde_json::Value, String) {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    printed_figures(output, started, limit)
}

/// The JSON figures on the last line of a run's stdout, and that stdout for
/// messages, once the run is seen to have ended within `limit` of `started`,
/// whatever its exit status.
pub fn printed_figures(
    output: &Output,
    started: Instant,
    limit: Duration,
) -> (serde_json::Value, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(started.elapsed() < limit, "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let figures = serde_json::from_str(last).unwrap_or_else(|err| panic!("{err}: {stdout}"));
    (figures, stdout)
}
