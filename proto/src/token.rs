//! What an API token says (docs/api.md#tokens): who holds it, their role and
//! regions, and until when; shared by the service that checks tokens and the
//! tools that make them.

use serde::{Deserialize, Serialize};

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
    pub aud: Option<Audience>,
}

/// The `aud` claim, which RFC 7519 lets be one string or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences; the token is for each of them.
    Many(Vec<String>),
}

/// The HS256 secret of development, demos and tests: at least 32 bytes
/// as an HS256 secret must be, and named so that nobody takes it for a real key.
pub const DEVELOPMENT_JWT_SECRET: &str = "vangnet-development-only-not-for-production";

impl Claims {
    /// Whether the holder may see `region`.
    pub fn sees_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == "*" || r == region)
    }
}

/// Signs `claims` with an HS256 secret: for `vangnet token`, development,
/// demos and tests; deployments sign with their identity provider's key.
#[cfg(feature = "hs256")]
pub fn sign_hs256(secret: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    let key = jsonwebtoken::EncodingKey::from_secret(secret)?;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &key,
    )
}
