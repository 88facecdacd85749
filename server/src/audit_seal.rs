//! The key that seals the audit chain: HMAC-SHA256 over each entry's seq and
//! hash. The key lives in a file beside the service, never in the store, so
//! someone who can only write to the store cannot rewrite the chain and
//! recompute seals that `vangnet audit verify` accepts.

use std::fmt;
use std::path::Path;

use hmac::digest::KeyInit;
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Bytes of a key.
const KEY_BYTES: usize = 32;
/// SHA-256's block: HMAC pads a shorter key with zeros to this length.
const BLOCK_BYTES: usize = 64;
/// What a seal commits to, before the seq and hash: names the scheme.
const DOMAIN: &[u8] = b"vangnet-audit-seal-v1";

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SealKeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("{0}: not an audit key (64 hex digits, as `vangnet audit key generate` writes)")]
    NotAKey(String),
}

/// The audit chain's sealing key; its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SealKey([u8; KEY_BYTES]);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key in the file at `path`: 64 hex digits.
    pub fn read(path: &Path) -> Result<Self, SealKeyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SealKeyError::Io {
            path: name.clone(),
            source,
        })?;
        let mut bytes = [0u8; KEY_BYTES];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| SealKeyError::NotAKey(name))?;
        Ok(Self(bytes))
    }

    /// Writes a new key to `path` (mode 0600), replacing a file there only
    /// when `force`; returns the key.
    pub fn generate_into(path: &Path, force: bool) -> Result<Self, SealKeyError> {
        let key = Self::generate();
        let contents = format!("{}\n", hex::encode(key.0));
        crate::secret::write_key_file(path, force, contents.as_bytes()).map_err(|source| {
            SealKeyError::Io {
                path: path.display().to_string(),
                source,
            }
        })?;
        Ok(key)
    }

    /// The seal (hex) of the entry at `seq` with `hash`; sealing the seq
    /// seals the length of the chain up to that entry.
    pub fn seal(&self, seq: u64, hash: &str) -> String {
        hex::encode(self.mac(seq, hash).finalize().into_bytes())
    }

    /// Whether `seal` is this key's seal of `seq` and `hash` (in constant time).
    pub fn verifies(&self, seq: u64, hash: &str, seal: &str) -> bool {
        hex::decode(seal).is_ok_and(|bytes| self.mac(seq, hash).verify_slice(&bytes).is_ok())
    }

    fn mac(&self, seq: u64, hash: &str) -> Hmac<Sha256> {
        let mut block = [0u8; BLOCK_BYTES];
        block[..KEY_BYTES].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&block));
        mac.update(DOMAIN);
        mac.update(&seq.to_be_bytes());
        mac.update(hash.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_generated_key_file_is_private_and_reads_back_as_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let written = SealKey::generate_into(&path, false).unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(SealKey::read(&path).unwrap(), written);
        assert!(matches!(
            SealKey::generate_into(&path, false),
            Err(SealKeyError::Io { .. })
        ));
        assert_ne!(SealKey::generate_into(&path, true).unwrap(), written);
    }

    #[test]
    fn a_file_without_64_hex_digits_is_not_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        std::fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(
            SealKey::read(&path),
            Err(SealKeyError::NotAKey(_))
        ));
    }

    #[test]
    fn a_seal_verifies_only_for_its_seq_hash_and_key() {
        let key = SealKey::generate();
        let hash = "ab".repeat(32);
        let seal = key.seal(7, &hash);
        assert!(key.verifies(7, &hash, &seal));
        assert!(!key.verifies(8, &hash, &seal));
        assert!(!key.verifies(7, &"cd".repeat(32), &seal));
        assert!(!SealKey::generate().verifies(7, &hash, &seal));
    }
}
