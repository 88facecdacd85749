//! `vangnet device`: a device's credentials on the production broker, kept
//! in Mosquitto's password file (`user:$7$…`, PBKDF2-SHA512 as
//! `mosquitto_passwd` writes it). The file is the broker's own format, so
//! Mosquitto needs no plugin and a reload (SIGHUP) applies every change;
//! a device's user name is its device id, which the ACL of
//! `deploy/mosquitto/vangnet.acl` ties to its own topics.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::Sha512;
use subtle::ConstantTimeEq;
use vangnet_proto::DeviceId;

/// PBKDF2 rounds, as `mosquitto_passwd` uses them.
const ITERATIONS: u32 = 101;
/// The most PBKDF2 rounds a stored hash may ask for, so that an odd line
/// in the file cannot make each check slow.
const MAX_ITERATIONS: u32 = 100_000;
/// Salt bytes, as `mosquitto_passwd` uses them.
const SALT_BYTES: usize = 12;
/// Random bytes in a new device password (32 characters of base64url).
const PASSWORD_BYTES: usize = 24;
/// User names that are not devices: Vangnet's own account.
const RESERVED: [&str; 1] = ["vangnet"];

/// Why a change to the password file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The id is not a device id, or belongs to Vangnet's own account.
    #[error("`{0}` is not a device id (it must match [A-Za-z0-9_.-]{{1,64}} and not be `vangnet`)")]
    BadId(String),
    /// `add` of a device that has credentials already.
    #[error("device {0} is provisioned already (rotate gives it a new password)")]
    Exists(String),
    /// `remove` or `rotate` of a device that has none.
    #[error("device {0} is not provisioned")]
    Unknown(String),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The password file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Mosquitto's password file: one `user:hash` line per account, in order.
#[derive(Debug)]
pub struct PasswordFile {
    path: PathBuf,
    lines: Vec<(String, String)>,
}

impl PasswordFile {
    /// Reads the file at `path`; a missing file is an empty one.
    pub fn open(path: &Path) -> Result<Self, DeviceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(io(path, source)),
        };
        let lines = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(user, hash)| (user.to_owned(), hash.to_owned()))
            .collect();
        Ok(Self {
            path: path.to_owned(),
            lines,
        })
    }

    /// The provisioned devices, in the file's order.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .map(|(user, _)| user.as_str())
            .filter(|user| !RESERVED.contains(user))
    }

    /// Gives a new device a fresh password; returns it (it is stored only hashed).
    pub fn add(&mut self, id: &str) -> Result<String, DeviceError> {
        let id = device_id(id)?;
        if self.position(&id).is_some() {
            return Err(DeviceError::Exists(id));
        }
        let password = new_password();
        self.lines.push((id, hash(&password)));
        Ok(password)
    }

    /// Gives a provisioned device a fresh password; the old one stops working at the broker's next reload.
    pub fn rotate(&mut self, id: &str) -> Result<String, DeviceError> {
        let id = device_id(id)?;
        let index = self.position(&id).ok_or(DeviceError::Unknown(id))?;
        let password = new_password();
        self.lines[index].1 = hash(&password);
        Ok(password)
    }

    /// Takes a device's credentials away; it is refused at its next connect after the broker's reload.
    pub fn remove(&mut self, id: &str) -> Result<(), DeviceError> {
        let id = device_id(id)?;
        let index = self.position(&id).ok_or(DeviceError::Unknown(id))?;
        self.lines.remove(index);
        Ok(())
    }

    /// Writes the file anew: a temporary file, readable by its owner only
    /// until it has the old file's owner, group and mode (0640 for a new
    /// file), renamed over it.
    pub fn save(&self) -> Result<(), DeviceError> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

        let text: String = self
            .lines
            .iter()
            .map(|(user, hash)| format!("{user}:{hash}\n"))
            .collect();
        let temporary = self.path.with_extension("new");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            match std::fs::metadata(&self.path) {
                Ok(existing) => {
                    std::os::unix::fs::chown(
                        &temporary,
                        Some(existing.uid()),
                        Some(existing.gid()),
                    )?;
                    std::fs::set_permissions(&temporary, existing.permissions())?;
                }
                Err(_) => {
                    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o640))?
                }
            }
            std::fs::rename(&temporary, &self.path)
        };
        write().map_err(|source| io(&self.path, source))
    }

    /// Every device with its stored hash, for checking passwords.
    pub(crate) fn into_device_hashes(self) -> impl Iterator<Item = (String, String)> {
        self.lines
            .into_iter()
            .filter(|(user, _)| !RESERVED.contains(&user.as_str()))
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.lines.iter().position(|(user, _)| user == id)
    }
}

fn device_id(id: &str) -> Result<String, DeviceError> {
    match DeviceId::parse(id, "device") {
        Ok(device) if !RESERVED.contains(&device.as_str()) => Ok(device.as_str().to_owned()),
        _ => Err(DeviceError::BadId(id.to_owned())),
    }
}

fn io(path: &Path, source: std::io::Error) -> DeviceError {
    DeviceError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A password safe to put in an `mqtts://` URL as it is.
fn new_password() -> String {
    let mut bytes = [0u8; PASSWORD_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `$7$101$salt$hash`: PBKDF2-SHA512 as Mosquitto 2 checks it.
pub(crate) fn hash(password: &str) -> String {
    let mut salt = [0u8; SALT_BYTES];
    rand::rng().fill_bytes(&mut salt);
    hash_with_salt(password, &salt)
}

fn hash_with_salt(password: &str, salt: &[u8]) -> String {
    let mut derived = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, ITERATIONS, &mut derived);
    format!(
        "$7${ITERATIONS}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(derived)
    )
}

/// Whether `password` matches a `$7$` hash, compared in constant time; any
/// other or malformed hash matches nothing.
pub(crate) fn verify(stored: &str, password: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(""), Some("7"), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse::<u32>(),
        STANDARD.decode(salt),
        STANDARD.decode(expected),
    ) else {
        return false;
    };
    if iterations == 0 || iterations > MAX_ITERATIONS || expected.len() != 64 {
        return false;
    }
    let mut derived = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, iterations, &mut derived);
    bool::from(derived.ct_eq(expected.as_slice()))
}

/// Spends the time of checking a password against a hash of ours, so that
/// an unknown device id answers as slowly as a wrong password.
pub(crate) fn verify_nothing(password: &str) {
    let mut derived = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(
        password.as_bytes(),
        &[0; SALT_BYTES],
        ITERATIONS,
        &mut derived,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> (tempfile::TempDir, PasswordFile) {
        let dir = tempfile::tempdir().unwrap();
        let file = PasswordFile::open(&dir.path().join("passwd")).unwrap();
        (dir, file)
    }

    #[test]
    fn a_hash_has_mosquittos_pbkdf2_sha512_form() {
        let hash = hash_with_salt("secret", b"0123456789ab");
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(&parts[..4], ["", "7", "101", "MDEyMzQ1Njc4OWFi"]);
        assert_eq!(STANDARD.decode(parts[4]).unwrap().len(), 64);
    }

    #[test]
    fn a_password_verifies_against_its_hash_and_no_other() {
        let stored = hash("secret");
        assert!(verify(&stored, "secret"));
        assert!(!verify(&stored, "secreT"));
        assert!(!verify(&hash("other"), "secret"));
    }

    #[test]
    fn a_malformed_or_foreign_hash_matches_nothing() {
        let stored = hash("secret");
        let rounds_changed = stored.replacen("$101$", "$1000000$", 1);
        for bad in ["", "$6$abc$def", "$7$101$!!$??", &rounds_changed, "secret"] {
            assert!(!verify(bad, "secret"), "{bad}");
        }
    }

    #[test]
    fn a_device_is_added_once_and_listed() {
        let (_dir, mut file) = empty();
        let password = file.add("v-17").unwrap();
        assert_eq!(password.len(), 32);
        assert!(matches!(file.add("v-17"), Err(DeviceError::Exists(_))));
        assert_eq!(file.devices().collect::<Vec<_>>(), ["v-17"]);
    }

    #[test]
    fn vangnets_own_account_and_bad_ids_are_refused() {
        let (_dir, mut file) = empty();
        for id in ["vangnet", "bad id", ""] {
            assert!(matches!(file.add(id), Err(DeviceError::BadId(_))), "{id}");
        }
    }

    #[test]
    fn rotate_and_remove_need_a_provisioned_device() {
        let (_dir, mut file) = empty();
        assert!(matches!(file.rotate("v-1"), Err(DeviceError::Unknown(_))));
        assert!(matches!(file.remove("v-1"), Err(DeviceError::Unknown(_))));
    }

    #[test]
    fn the_file_keeps_other_accounts_across_a_save() {
        let (dir, mut file) = empty();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "vangnet:$7$101$a$b\n").unwrap();
        let mut file_with_vangnet = PasswordFile::open(&path).unwrap();
        file_with_vangnet.add("p-1").unwrap();
        file_with_vangnet.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("vangnet:$7$101$a$b\np-1:$7$101$"),
            "{text}"
        );
        assert!(file.add("p-1").is_ok());
    }
}
