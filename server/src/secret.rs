//! Values that must not reach logs, `--help` or error lines: secrets, and
//! URLs with a password in them.

use std::fmt;

use url::Url;

/// A value that must never be printed: its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret's bytes, for the code that signs or verifies with it.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// `value` as it may be shown in an error: a URL's password replaced by `***`.
pub fn without_password(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => value.to_owned(),
        Err(_) if value.contains('@') => "(a URL with credentials)".to_owned(),
        Err(_) => value.to_owned(),
    }
}

/// Writes a new key file at `path`, readable by its owner only (mode 0600),
/// replacing a file there only when `force`; keys are written so, never
/// left readable for a moment.
pub fn write_key_file(path: &std::path::Path, force: bool, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
