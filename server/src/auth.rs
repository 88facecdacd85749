//! API authentication (docs/api.md#tokens): bearer JWTs verified with the
//! configured key (an HS256 secret, a PEM public key, or the keys of a JWKS
//! file picked by `kid`), each key's algorithm pinned, so `alg: none` and
//! tokens signed with the public key as an HMAC secret are refused.

use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
pub use vangnet_proto::token::{Claims, DEVELOPMENT_JWT_SECRET, Role};

/// Bytes an HS256 secret must have at least (docs/api.md#tokens; RFC 7518 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// The keys API tokens are signed with.
pub enum TokenKeys<'a> {
    /// A PEM public key (ES256 or EdDSA) or a JWKS file of such keys.
    PublicKeyFile(&'a Path),
    /// An HS256 secret, for development and tests.
    Secret(&'a [u8]),
}

/// What every token must name besides its expiry.
#[derive(Debug, Clone, Default)]
pub struct TokenRules {
    /// The issuer every token must name, when the deployment sets one.
    pub issuer: Option<String>,
    /// The audience every token must include, when the deployment sets one.
    pub audience: Option<String>,
}

/// Why the configured keys cannot verify tokens.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The public key file is unreadable or holds no usable key.
    #[error("{0}")]
    PublicKey(String),
    /// The HS256 secret is unusable.
    #[error("{0}")]
    Secret(String),
}

/// Checks API tokens against the configured keys.
pub struct Verifier {
    keys: Vec<TrustedKey>,
}

/// A key tokens may be signed with, and the checks pinned to its algorithm.
struct TrustedKey {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// Seconds of clock skew a token's `exp` and `nbf` may have (docs/api.md#tokens).
pub const LEEWAY_S: u64 = 30;

impl Verifier {
    /// The verifier of tokens signed with `keys` and naming what `rules` require.
    pub fn new(keys: &TokenKeys<'_>, rules: &TokenRules) -> Result<Self, KeyError> {
        let keys = match keys {
            TokenKeys::PublicKeyFile(path) => public_keys(path).map_err(KeyError::PublicKey)?,
            TokenKeys::Secret(secret) => {
                let key = DecodingKey::from_secret(secret)
                    .map_err(|e| KeyError::Secret(e.to_string()))?;
                vec![(None, key, Algorithm::HS256)]
            }
        };
        let keys = keys
            .into_iter()
            .map(|(kid, key, algorithm)| TrustedKey {
                kid,
                key,
                validation: validation(rules, algorithm),
            })
            .collect();
        Ok(Self { keys })
    }

    /// The claims of a valid token, or why it is not.
    pub fn verify(&self, token: &str) -> Result<Claims, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong);
        }
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|err| Refusal::of(err.kind()))?
            .kid;
        let trusted = match self.keys.as_slice() {
            [only] if only.kid.is_none() => only,
            keys => keys
                .iter()
                .find(|key| key.kid.is_some() && key.kid == kid)
                .ok_or(Refusal::UnknownKey)?,
        };
        jsonwebtoken::decode::<Claims>(token, &trusted.key, &trusted.validation)
            .map(|data| data.claims)
            .map_err(|err| Refusal::of(err.kind()))
    }
}

/// The longest token read: real ones are a few hundred bytes, and a larger
/// one would only cost the time to decode it.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Why a token was refused; each is counted in
/// `vangnet_api_auth_failures_total{reason}`, so an operator sees an attack
/// or a clock or issuer misconfiguration for what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLong,
    /// Not a JWT, or its header or claims are not what a token holds
    /// (an unknown `alg` such as `none`, a claim given twice, of the wrong
    /// type, or a claim every token has, such as `exp`, missing).
    Malformed,
    /// Its `kid` names no configured key.
    UnknownKey,
    /// Signed with another algorithm than its key's (`alg: none`, an HMAC
    /// made with a public key).
    WrongAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// `exp` has passed, beyond the leeway.
    Expired,
    /// `nbf` is ahead, beyond the leeway.
    NotYetValid,
    /// `iss` or `aud` is absent while the deployment requires it.
    MissingClaim,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not include the configured audience.
    WrongAudience,
    /// No token key is configured, so no token can pass.
    NoKeyConfigured,
}

impl Refusal {
    fn of(kind: &jsonwebtoken::errors::ErrorKind) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match kind {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Self::WrongAlgorithm,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::MissingRequiredClaim(_) => Self::MissingClaim,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            _ => Self::Malformed,
        }
    }

    /// The metric's `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::TooLong => "too_long",
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim => "missing_claim",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::NoKeyConfigured => "no_key_configured",
        }
    }
}

/// The checks of every token: `exp` required and `nbf` when present, both
/// with leeway; `iss` and `aud` required and checked when configured.
fn validation(rules: &TokenRules, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_S;
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    match &rules.issuer {
        Some(issuer) => {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        None => validation.iss = None,
    }
    match &rules.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// The keys of a PEM public key file, or of a JWKS file (a JSON object with `keys`).
fn public_keys(path: &Path) -> Result<Vec<(Option<String>, DecodingKey, Algorithm)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.trim_ascii_start().starts_with(b"{") {
        let set: JwkSet = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a JWKS file: {e}", path.display()))?;
        return jwks_keys(&set);
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&bytes) {
        return Ok(vec![(None, key, Algorithm::ES256)]);
    }
    if let Ok(key) = DecodingKey::from_ed_pem(&bytes) {
        return Ok(vec![(None, key, Algorithm::EdDSA)]);
    }
    Err(format!(
        "{} is not a PEM public key of ES256 (P-256) or EdDSA (Ed25519)",
        path.display()
    ))
}

/// The ES256 and EdDSA keys of a JWKS; any other key, or a key without
/// `kid` beside others, is a configuration error.
fn jwks_keys(set: &JwkSet) -> Result<Vec<(Option<String>, DecodingKey, Algorithm)>, String> {
    if set.keys.is_empty() {
        return Err("the JWKS holds no keys".into());
    }
    set.keys
        .iter()
        .map(|jwk| {
            let kid = jwk.common.key_id.clone();
            let name = kid.as_deref().unwrap_or("without kid");
            if kid.is_none() && set.keys.len() > 1 {
                return Err(format!(
                    "key {name}: every key of a JWKS with several needs a kid"
                ));
            }
            let (algorithm, declared) = match &jwk.algorithm {
                AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                    (Algorithm::ES256, KeyAlgorithm::ES256)
                }
                AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                    (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
                }
                _ => {
                    return Err(format!(
                        "key {name}: only ES256 (P-256) and EdDSA (Ed25519) keys are accepted"
                    ));
                }
            };
            if jwk.common.key_algorithm.is_some_and(|alg| alg != declared) {
                return Err(format!("key {name}: its alg does not match its curve"));
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {name}: {e}"))?;
            Ok((kid, key, algorithm))
        })
        .collect()
}
