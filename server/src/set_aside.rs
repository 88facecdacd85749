//! `vangnet set-aside`: the device messages Vangnet set aside because they
//! failed every time they were handled, newest first, one JSON object a line
//! (topic, hex payload, reason, time), for an operator to look into.

use std::io::Write;

use crate::config::{Config, StoreSetting};
use crate::store::{EmbeddedStore, RedisStore, SetAside, SetAsideLog, StoreError};

/// Why the set-aside messages could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum SetAsideError {
    /// The store could not be read.
    #[error("cannot read the set-aside messages: {0}")]
    Store(#[from] StoreError),
    /// The output could not be written.
    #[error("cannot write: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes up to `limit` set-aside messages of the configured store to `out`; returns how many.
pub async fn print_configured(
    config: &Config,
    limit: usize,
    out: impl Write,
) -> Result<usize, SetAsideError> {
    let messages = match &config.store {
        StoreSetting::Redis(address) => {
            let ca = config.store_ca_pem.as_deref();
            RedisStore::connect(address, &config.store_prefix, ca)?
                .set_aside_messages(limit)
                .await?
        }
        StoreSetting::File(path) => EmbeddedStore::open(path)?.set_aside_messages(limit).await?,
    };
    write_lines(&messages, out)?;
    Ok(messages.len())
}

fn write_lines(messages: &[SetAside], mut out: impl Write) -> std::io::Result<()> {
    for message in messages {
        serde_json::to_writer(&mut out, message)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
