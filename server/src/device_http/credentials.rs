//! Device credentials for HTTP: the same password file the broker checks
//! (`vangnet device`), read again whenever it changes, so that a device
//! added, rotated or removed there is so over HTTP too, without a restart.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use vangnet_proto::DeviceId;

use crate::devices::{self, PasswordFile};

/// Checks `device-id:password` pairs against Mosquitto's password file.
pub struct Credentials {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

/// The file as last read, and which version of it that was.
#[derive(Default)]
struct Loaded {
    stamp: Option<Stamp>,
    hashes: HashMap<String, String>,
}

/// What tells one version of the file from the next: a rename gives a new
/// inode, an edit in place a new size or modification time.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Credentials {
    /// Credentials from the password file at `path`, read at the first check.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            loaded: Mutex::default(),
        }
    }

    /// The device these credentials prove, if the password is its current
    /// one, with the [`Credentials::fingerprint`] of the very credentials it
    /// was checked against. An unknown id costs as much time as a wrong password.
    pub fn verify(&self, id: &str, password: &str) -> Option<(DeviceId, String)> {
        let stored = self.current_hash(id);
        match (DeviceId::parse(id, "device"), stored) {
            (Ok(device), Some(stored)) if devices::verify(&stored, password) => {
                Some((device, fingerprint_of(&stored)))
            }
            (_, Some(_)) => None,
            (_, None) => {
                devices::verify_nothing(password);
                None
            }
        }
    }

    /// A fingerprint of `id`'s current credentials, if it has any; it
    /// changes when they are replaced.
    pub fn fingerprint(&self, id: &str) -> Option<String> {
        self.current_hash(id).map(|hash| fingerprint_of(&hash))
    }

    /// The stored hash of `id`, after reading the file again if it changed.
    /// While the file cannot be read, the last version read stays in force.
    fn current_hash(&self, id: &str) -> Option<String> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let stamp = std::fs::metadata(&self.path).ok().map(|meta| Stamp {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        });
        if stamp.is_some() && stamp != loaded.stamp {
            match PasswordFile::open(&self.path) {
                Ok(file) => {
                    loaded.hashes = file.into_device_hashes().collect();
                    loaded.stamp = stamp;
                    tracing::info!(devices = loaded.hashes.len(), "device credentials read");
                }
                Err(err) => {
                    tracing::warn!(%err, "device credentials could not be read again; the last ones read stay in force")
                }
            }
        }
        loaded.hashes.get(id).cloned()
    }
}

/// The fingerprint of a stored password hash.
fn fingerprint_of(hash: &str) -> String {
    hex::encode(&Sha256::digest(hash.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provisioned(ids: &[&str]) -> (tempfile::TempDir, PathBuf, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let mut file = PasswordFile::open(&path).unwrap();
        let passwords = ids.iter().map(|id| file.add(id).unwrap()).collect();
        file.save().unwrap();
        (dir, path, passwords)
    }

    #[test]
    fn a_device_is_proven_by_its_own_password_only() {
        let (_dir, path, passwords) = provisioned(&["v-1", "v-2"]);
        let credentials = Credentials::new(path);
        assert_eq!(
            credentials
                .verify("v-1", &passwords[0])
                .map(|(d, _)| d.to_string()),
            Some("v-1".to_owned())
        );
        assert!(credentials.verify("v-1", &passwords[1]).is_none());
        assert!(credentials.verify("v-3", &passwords[0]).is_none());
    }

    #[test]
    fn vangnets_own_account_is_no_device() {
        let (_dir, path, _) = provisioned(&[]);
        std::fs::write(&path, format!("vangnet:{}\n", devices::hash("pw"))).unwrap();
        assert!(Credentials::new(path).verify("vangnet", "pw").is_none());
    }

    #[test]
    fn a_removed_device_is_refused_at_its_next_check() {
        let (_dir, path, passwords) = provisioned(&["v-1"]);
        let credentials = Credentials::new(path.clone());
        assert!(credentials.verify("v-1", &passwords[0]).is_some());
        let mut file = PasswordFile::open(&path).unwrap();
        file.remove("v-1").unwrap();
        file.save().unwrap();
        assert!(credentials.verify("v-1", &passwords[0]).is_none());
    }

    #[test]
    fn a_fingerprint_changes_when_the_credentials_are_replaced_or_removed() {
        let (_dir, path, passwords) = provisioned(&["v-1"]);
        let credentials = Credentials::new(path.clone());
        let first = credentials.fingerprint("v-1").unwrap();
        let (_, proven) = credentials.verify("v-1", &passwords[0]).unwrap();
        assert_eq!(proven, first);
        let mut file = PasswordFile::open(&path).unwrap();
        file.remove("v-1").unwrap();
        file.add("v-1").unwrap();
        file.save().unwrap();
        assert_ne!(credentials.fingerprint("v-1"), Some(first));
        let mut file = PasswordFile::open(&path).unwrap();
        file.remove("v-1").unwrap();
        file.save().unwrap();
        assert_eq!(credentials.fingerprint("v-1"), None);
    }

    #[test]
    fn a_vanished_file_leaves_the_last_credentials_in_force() {
        let (_dir, path, passwords) = provisioned(&["v-1"]);
        let credentials = Credentials::new(path.clone());
        assert!(credentials.verify("v-1", &passwords[0]).is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(credentials.verify("v-1", &passwords[0]).is_some());
    }
}
