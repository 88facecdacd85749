//! `vangnet audit verify` and `vangnet audit export`: check the chain in the
//! configured store (or in an exported file), and write it out as JSON lines.

use std::io::{BufRead, Write};

use crate::audit_chain::{Broken, Entry, Fault, Verified, Verifier};
use crate::audit_seal::SealKey;
use crate::config::{Config, StoreSetting};
use crate::store::{AuditLog, EmbeddedStore, RedisStore, StoreError};

/// Entries read from the store per round trip.
const PAGE: usize = 1000;

/// Why the chain could not be verified or exported.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The chain is broken: tampered with or damaged.
    #[error(transparent)]
    Broken(#[from] Broken),
    /// The store could not be read.
    #[error("cannot read the audit trail: {0}")]
    Store(#[from] StoreError),
    /// The file could not be read or written.
    #[error("cannot read or write the file: {0}")]
    Io(#[from] std::io::Error),
    /// A line of an exported file is not an audit entry.
    #[error("line {line} is not an audit entry: {source}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        source: serde_json::Error,
    },
}

/// Verifies the chain of the configured store, its seals with the configured key.
pub async fn verify_configured(config: &Config) -> Result<Verified, AuditError> {
    let key = config.audit_key.clone();
    match &config.store {
        StoreSetting::Redis(address) => {
            let store = RedisStore::connect(
                address,
                &config.store_prefix,
                config.store_ca_pem.as_deref(),
            )?;
            verify_store(&store, key).await
        }
        StoreSetting::File(path) => verify_store(&EmbeddedStore::open(path)?, key).await,
    }
}

/// Writes the chain of the configured store as JSON lines; returns how many entries.
pub async fn export_configured(config: &Config, out: impl Write) -> Result<u64, AuditError> {
    match &config.store {
        StoreSetting::Redis(address) => {
            export_store(
                &RedisStore::connect(
                    address,
                    &config.store_prefix,
                    config.store_ca_pem.as_deref(),
                )?,
                out,
            )
            .await
        }
        StoreSetting::File(path) => export_store(&EmbeddedStore::open(path)?, out).await,
    }
}

/// Verifies the chain in `store` from the first entry to the head it
/// recorded, its seals too when `key` is given.
pub async fn verify_store<S: AuditLog>(
    store: &S,
    key: Option<SealKey>,
) -> Result<Verified, AuditError> {
    let head = store.audit_head().await?;
    let mut verifier = Verifier::new(key);
    let mut after = 0;
    loop {
        let page = store.audit_after(after, PAGE).await?;
        for entry in &page {
            verifier.check(entry)?;
        }
        if page.len() < PAGE {
            return Ok(verifier.finish(Some(&head.link))?);
        }
        after += page.len() as u64;
    }
}

/// Writes every entry of `store`, in stored order, one JSON object a line.
pub async fn export_store<S: AuditLog>(store: &S, mut out: impl Write) -> Result<u64, AuditError> {
    let mut after = 0;
    loop {
        let page = store.audit_after(after, PAGE).await?;
        for entry in &page {
            serde_json::to_writer(&mut out, entry).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
        after += page.len() as u64;
        if page.len() < PAGE {
            out.flush()?;
            return Ok(after);
        }
    }
}

/// Verifies an exported file on its own, its seals too when `key` is given.
pub fn verify_lines(input: impl BufRead, key: Option<SealKey>) -> Result<Verified, AuditError> {
    let mut verifier = Verifier::new(key);
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line).map_err(|source| AuditError::Line {
            line: index + 1,
            source,
        })?;
        verifier.check(&entry)?;
    }
    Ok(verifier.finish(None)?)
}

/// Fails a verified chain shorter than `seq` entries: entries at its end were
/// removed since the verifier last saw it that long.
pub fn at_least(verified: Verified, seq: u64) -> Result<Verified, Broken> {
    if verified.entries < seq {
        return Err(Broken {
            seq: verified.entries + 1,
            fault: Fault::Truncated,
        });
    }
    Ok(verified)
}
