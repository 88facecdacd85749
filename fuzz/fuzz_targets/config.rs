//! A `--config` file as `vangnet` reads it: whatever the file holds, the
//! settings are checked into a configuration or refused, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vangnet_server::config::{Config, Environment};

/// One file per fuzzing process, written anew for each input.
static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("vangnet-fuzz-config-{}.toml", std::process::id()))
});

/// The process's variables, read once as `Config::from_env_and_file` reads
/// them for each call: only the file changes from input to input.
static ENVIRONMENT: LazyLock<Environment> = LazyLock::new(|| {
    Environment::read().unwrap_or_else(|err| panic!("the environment's settings: {err}"))
});

fuzz_target!(|text: &[u8]| {
    std::fs::write(&*FILE, text)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", FILE.display()));
    if let Ok(config) = Config::from_file(&ENVIRONMENT, Some(&FILE)) {
        let _ = config.verifier();
    }
});
