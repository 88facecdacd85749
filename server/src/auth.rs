//! API authentication (SPEC section 7): bearer JWTs verified with the one
//! configured key, its algorithm pinned, so `alg: none` and tokens signed
//! with the public key as an HMAC secret are refused.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};

/// What a token holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages orders.
    Admin,
    /// Handles alerts of their regions.
    Dispatcher,
    /// Runs exercises: exercise orders only.
    Pilot,
    /// Reads the audit trail.
    Auditor,
}

/// The claims of an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who (recorded with every act).
    pub sub: String,
    /// What they may do.
    pub role: Role,
    /// Regions they see; `["*"]` for all.
    pub regions: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issuer, when the deployment checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when the deployment checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// Whether the holder may see `region`.
    pub fn sees_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == "*" || r == region)
    }
}

/// Checks API tokens against the configured key.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// Seconds of clock skew a token's `exp` may have (SPEC section 7).
const LEEWAY_S: u64 = 30;

impl Verifier {
    /// The verifier of the configured key: a public key if given, else the HS256 secret;
    /// `None` when neither is configured (every API call then gets 401).
    pub fn from_config(config: &Config) -> Result<Option<Self>, ConfigError> {
        let (key, algorithm) = if let Some(path) = &config.jwt_public_key {
            public_key(path)?
        } else if let Some(secret) = &config.jwt_secret {
            let key = DecodingKey::from_secret(secret.expose())
                .map_err(|e| ConfigError::new("VANGNET_JWT_SECRET", e.to_string()))?;
            (key, Algorithm::HS256)
        } else {
            return Ok(None);
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_S;
        validation.set_required_spec_claims(&["exp"]);
        match &config.jwt_issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &config.jwt_audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Some(Self { key, validation }))
    }

    /// The claims of a valid token, or why it is not.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims)
    }
}

fn public_key(path: &Path) -> Result<(DecodingKey, Algorithm), ConfigError> {
    let bad = |message: String| ConfigError::new("VANGNET_JWT_PUBLIC_KEY", message);
    let pem =
        std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((key, Algorithm::ES256));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    Err(bad(format!(
        "{} is not a PEM public key of ES256 (P-256) or EdDSA (Ed25519)",
        path.display()
    )))
}

/// Signs `claims` with the HS256 secret (for `vangnet token`, development and demos).
pub fn sign_hs256(secret: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    let key = EncodingKey::from_secret(secret)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
}

/// Refuses (403) a caller whose role is not one of `allowed`.
pub fn require(claims: &Claims, allowed: &[Role]) -> Result<(), crate::api::ApiError> {
    if allowed.contains(&claims.role) {
        Ok(())
    } else {
        Err(crate::api::ApiError::Forbidden(format!(
            "role {:?} may not do this",
            claims.role
        )))
    }
}
