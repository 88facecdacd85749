//! The VAPID key (RFC 8292): the P-256 key Vangnet signs each push request
//! with, so a push service takes pushes to a browser only from the server
//! the browser subscribed to. It is kept in a PEM file: PKCS#8, as
//! `vangnet vapid generate` writes it, or SEC1 (`EC PRIVATE KEY`).

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand::RngCore;
use serde::Serialize;
use url::Url;

/// How long a VAPID signature is valid; RFC 8292 allows at most 24 hours.
const SIGNATURE_VALID_S: u64 = 12 * 3600;

/// Why a VAPID key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VapidError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file holds no P-256 private key in PEM.
    #[error("{0} is not a PEM P-256 private key (PKCS#8 or SEC1)")]
    NotAKey(String),
    /// The key cannot be encoded for signing.
    #[error("the key cannot be encoded: {0}")]
    Encoding(String),
}

/// The application server's key pair.
#[derive(Clone)]
pub struct VapidKey {
    signing: EncodingKey,
    /// The uncompressed public point, 65 bytes.
    public: Vec<u8>,
}

/// What a VAPID token claims (RFC 8292 section 2).
#[derive(Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

impl VapidKey {
    /// A new random key, and its PKCS#8 PEM to keep.
    pub fn generate() -> Result<(Self, String), VapidError> {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(secret) = SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| VapidError::Encoding(e.to_string()))?;
        Ok((Self::from_secret(&secret)?, pem.to_string()))
    }

    /// The key in the PEM file at `path`.
    pub fn read(path: &Path) -> Result<Self, VapidError> {
        let name = path.display().to_string();
        let pem = std::fs::read_to_string(path).map_err(|source| VapidError::Io {
            path: name.clone(),
            source,
        })?;
        let secret = SecretKey::from_pkcs8_pem(&pem)
            .or_else(|_| SecretKey::from_sec1_pem(&pem))
            .map_err(|_| VapidError::NotAKey(name))?;
        Self::from_secret(&secret)
    }

    /// Writes a new key to `path` (mode 0600), replacing a file there only
    /// when `force`; returns the key.
    pub fn generate_into(path: &Path, force: bool) -> Result<Self, VapidError> {
        let (key, pem) = Self::generate()?;
        crate::secret::write_key_file(path, force, pem.as_bytes()).map_err(|source| {
            VapidError::Io {
                path: path.display().to_string(),
                source,
            }
        })?;
        Ok(key)
    }

    fn from_secret(secret: &SecretKey) -> Result<Self, VapidError> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| VapidError::Encoding(e.to_string()))?;
        Ok(Self {
            signing: EncodingKey::from_ec_der(der.as_bytes()),
            public: secret
                .public_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        })
    }

    /// The public key as browsers take it (`applicationServerKey`): the
    /// uncompressed point, base64url without padding.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.public)
    }

    /// The `Authorization` header of a push to `endpoint`, signed now
    /// (`now_s`, seconds since the epoch) naming `subject` as the contact.
    pub fn authorization(
        &self,
        endpoint: &Url,
        subject: &str,
        now_s: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let audience = endpoint.origin().ascii_serialization();
        let claims = VapidClaims {
            aud: &audience,
            exp: now_s + SIGNATURE_VALID_S,
            sub: subject,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.signing)?;
        Ok(format!("vapid t={token}, k={}", self.public_key()))
    }
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[derive(serde::Deserialize)]
    struct Claims {
        aud: String,
        sub: String,
        exp: u64,
    }

    fn verify(key: &VapidKey, header: &str) -> Claims {
        let (token, public) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(public, key.public_key());
        let point = URL_SAFE_NO_PAD.decode(public).unwrap();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..]),
        );
        let decoding = DecodingKey::from_ec_components(&x, &y).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Claims>(token, &decoding, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn a_signature_names_the_endpoint_origin_with_its_port_and_the_contact() {
        let (key, _) = VapidKey::generate().unwrap();
        let endpoint = Url::parse("http://127.0.0.1:8443/push/abc?x=1").unwrap();
        let now = 1_800_000_000;

        let header = key
            .authorization(&endpoint, "mailto:ops@example.org", now)
            .unwrap();

        let claims = verify(&key, &header);
        assert_eq!(claims.aud, "http://127.0.0.1:8443");
        assert_eq!(claims.sub, "mailto:ops@example.org");
        assert!(claims.exp > now && claims.exp <= now + 24 * 3600);
    }

    #[test]
    fn a_generated_key_file_is_private_refuses_overwriting_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.pem");

        let written = VapidKey::generate_into(&path, false).unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            VapidKey::read(&path).unwrap().public_key(),
            written.public_key()
        );
        assert!(matches!(
            VapidKey::generate_into(&path, false),
            Err(VapidError::Io { .. })
        ));
        let replaced = VapidKey::generate_into(&path, true).unwrap();
        assert_ne!(replaced.public_key(), written.public_key());
    }

    #[test]
    fn a_file_without_a_p256_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.pem");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();

        assert!(matches!(VapidKey::read(&path), Err(VapidError::NotAKey(_))));
    }

    #[test]
    fn the_public_key_is_an_uncompressed_point_in_base64url() {
        let (key, _) = VapidKey::generate().unwrap();
        let point = URL_SAFE_NO_PAD.decode(key.public_key()).unwrap();
        assert_eq!((point.len(), point[0]), (65, 4));
    }
}
