//! The sink's record: one JSON line per request, appended to a file (or
//! stdout for `-`) and flushed at once, so tests and pilots can follow it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use serde_json::Value;

/// Where the request lines go, if anywhere.
pub struct Recorder {
    out: Option<Mutex<Box<dyn Write + Send>>>,
}

impl Recorder {
    /// Appends to `path` (created if missing), stdout for `-`, nothing for `None`.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let out: Option<Box<dyn Write + Send>> = match path {
            None => None,
            Some(path) if path == Path::new("-") => Some(Box::new(io::stdout())),
            Some(path) => {
                let file: File = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening the record {}", path.display()))?;
                Some(Box::new(BufWriter::new(file)))
            }
        };
        Ok(Self {
            out: out.map(Mutex::new),
        })
    }

    /// Writes one line; a failed write is reported on stderr, not fatal.
    pub fn write(&self, line: &Value) {
        let Some(out) = &self.out else {
            return;
        };
        let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = serde_json::to_writer(&mut *out, line)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            eprintln!("sink: writing the record: {e}");
        }
    }
}
