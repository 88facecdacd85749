//! What a browser sends to subscribe (`PushSubscription.toJSON()`), checked
//! before Vangnet ever sends anything to its endpoint: a dispatcher's token
//! or a device's credentials must not make Vangnet post to an address of the
//! operator's own network, nor keep a subscription alive past the token.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::{Host, Url};
use utoipa::ToSchema;
use vangnet_proto::{DeviceId, TimestampMs, UtcTime};

use crate::auth::{Claims, Role};
use crate::store::{DeviceSubscriber, PushSubscription};

/// Longest endpoint URL accepted, in bytes; push services' are a few hundred.
pub const MAX_ENDPOINT_BYTES: usize = 1024;
/// Longest a subscription lives, whatever its token's expiry.
const LONGEST_S: u64 = 24 * 3600;
/// The expiry of a device's subscription, which ends otherwise: the last
/// millisecond of the year 9999.
pub const NEVER: UtcTime = UtcTime(TimestampMs(253_402_300_799_999));
/// Bytes of an uncompressed P-256 point.
const P256DH_BYTES: usize = 65;
/// Bytes of the browser's authentication secret (RFC 8291 section 3.2).
const AUTH_BYTES: usize = 16;

/// The body of `POST /api/v1/push/subscriptions`: the browser's
/// `PushSubscription.toJSON()`; other fields (`expirationTime`) are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionRequest {
    /// The push service's URL for this browser: `https://`.
    pub endpoint: String,
    /// The browser's keys.
    pub keys: SubscriptionKeys,
}

/// The browser's keys of a subscription, base64url.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, an uncompressed point (65 bytes).
    pub p256dh: String,
    /// The browser's authentication secret (16 bytes).
    pub auth: String,
}

/// The answer to a subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCreated {
    /// The subscription's id, for `DELETE /api/v1/push/subscriptions/{id}`.
    pub id: String,
    /// When the subscription ends: the token's expiry, at most 24 hours away.
    pub expires_at: UtcTime,
}

/// Which push service hosts Vangnet may post to beyond public `https://` ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Hosts allowed over plain `http://` and although they are on this
    /// machine or a private network (a test push service).
    pub insecure_hosts: Vec<String>,
}

impl EndpointPolicy {
    /// `endpoint` if Vangnet may post to it, else why not.
    pub fn check(&self, endpoint: &str) -> Result<Url, String> {
        if endpoint.len() > MAX_ENDPOINT_BYTES {
            return Err(format!("longer than {MAX_ENDPOINT_BYTES} bytes"));
        }
        let url = Url::parse(endpoint).map_err(|e| format!("not a URL: {e}"))?;
        let host = url.host().ok_or("has no host")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        let listed = self.insecure_hosts.iter().any(|h| *h == host.to_string());
        match url.scheme() {
            "https" => {}
            "http" if listed => {}
            _ => return Err("must be https://".into()),
        }
        if internal(&host) && !listed {
            return Err("must not be on this machine or a private network".into());
        }
        Ok(url)
    }
}

/// Whether `host` names this machine or a private, link-local or unspecified address.
fn internal(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => internal_ip(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => internal_ip(IpAddr::V6(*ip)),
    }
}

/// Whether `ip` is of this machine or a private, shared, link-local or unspecified network.
pub(super) fn internal_ip(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(ip) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
    }
}

impl SubscriptionRequest {
    /// The subscription of the token holder `claims` at `now`, or the field
    /// at fault and why.
    pub fn subscription(
        self,
        claims: &Claims,
        policy: &EndpointPolicy,
        now: TimestampMs,
    ) -> Result<PushSubscription, String> {
        let endpoint = self.checked(policy)?;
        let regions = if claims.role == Role::Admin {
            vec!["*".to_owned()]
        } else {
            claims.regions.clone()
        };
        let longest = now.millis() / 1000 + LONGEST_S;
        Ok(PushSubscription {
            id: subscription_id(endpoint.as_str()),
            owner: claims.sub.clone(),
            regions,
            endpoint: endpoint.to_string(),
            p256dh: self.keys.p256dh,
            auth: self.keys.auth,
            expires_at: UtcTime(TimestampMs(claims.exp.min(longest).saturating_mul(1000))),
            device: None,
        })
    }

    /// The subscription of `device`'s phone, whose credentials have the
    /// fingerprint `credential`, or the field at fault and why. It has no
    /// regions and no expiry: it ends when the push service says it is gone,
    /// when the device unsubscribes or subscribes again, or when its
    /// credentials are removed or replaced.
    pub fn device_subscription(
        self,
        device: &DeviceId,
        credential: String,
        policy: &EndpointPolicy,
    ) -> Result<PushSubscription, String> {
        let endpoint = self.checked(policy)?;
        Ok(PushSubscription {
            id: device_subscription_id(device),
            owner: device.to_string(),
            regions: Vec::new(),
            endpoint: endpoint.to_string(),
            p256dh: self.keys.p256dh,
            auth: self.keys.auth,
            expires_at: NEVER,
            device: Some(DeviceSubscriber {
                id: device.clone(),
                credential,
            }),
        })
    }

    /// The endpoint, once it and the keys are checked, or the field at fault and why.
    fn checked(&self, policy: &EndpointPolicy) -> Result<Url, String> {
        let endpoint = policy
            .check(&self.endpoint)
            .map_err(|why| format!("endpoint: {why}"))?;
        decode_key(&self.keys.p256dh, P256DH_BYTES)
            .and_then(|point| {
                p256::PublicKey::from_sec1_bytes(&point)
                    .map(|_| ())
                    .map_err(|_| "not a P-256 point".to_owned())
            })
            .map_err(|why| format!("keys.p256dh: {why}"))?;
        decode_key(&self.keys.auth, AUTH_BYTES).map_err(|why| format!("keys.auth: {why}"))?;
        Ok(endpoint)
    }
}

/// The id of `device`'s subscription: one per device, so a new one replaces
/// the old, and no device's can replace a dispatcher's or another device's.
pub fn device_subscription_id(device: &DeviceId) -> String {
    format!("device:{device}")
}

/// The bytes of a base64url key (padding tolerated), if it has `len` of them.
pub fn decode_key(text: &str, len: usize) -> Result<Vec<u8>, String> {
    if text.len() > 2 * len {
        return Err(format!("longer than {len} bytes"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| "not base64url".to_owned())?;
    if bytes.len() != len {
        return Err(format!("must be {len} bytes, not {}", bytes.len()));
    }
    Ok(bytes)
}

/// The id of the subscription of `endpoint`: the same browser subscribing
/// again replaces its subscription.
fn subscription_id(endpoint: &str) -> String {
    hex::encode(&Sha256::digest(endpoint.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";
    const NOW: TimestampMs = TimestampMs(1_800_000_000_000);

    fn dispatcher(exp_s: u64) -> Claims {
        Claims {
            sub: "dispatcher-7".into(),
            role: Role::Dispatcher,
            regions: vec!["rotterdam".into()],
            exp: exp_s,
            iss: None,
            aud: None,
        }
    }

    fn request(endpoint: &str, p256dh: &str, auth: &str) -> SubscriptionRequest {
        SubscriptionRequest {
            endpoint: endpoint.into(),
            keys: SubscriptionKeys {
                p256dh: p256dh.into(),
                auth: auth.into(),
            },
        }
    }

    fn subscribe(endpoint: &str, p256dh: &str, auth: &str) -> Result<PushSubscription, String> {
        request(endpoint, p256dh, auth).subscription(
            &dispatcher(1_800_003_600),
            &EndpointPolicy::default(),
            NOW,
        )
    }

    #[test]
    fn a_subscription_has_the_tokens_holder_regions_and_expiry() {
        let made = subscribe("https://push.example/send/abc", P256DH, AUTH).unwrap();
        assert_eq!(made.owner, "dispatcher-7");
        assert_eq!(made.regions, ["rotterdam"]);
        assert_eq!(made.expires_at, UtcTime(TimestampMs(1_800_003_600_000)));
    }

    #[test]
    fn a_long_lived_token_gets_a_subscription_of_at_most_a_day() {
        let made = request("https://push.example/a", P256DH, AUTH)
            .subscription(&dispatcher(1_900_000_000), &EndpointPolicy::default(), NOW)
            .unwrap();
        assert_eq!(made.expires_at, UtcTime(TimestampMs(1_800_086_400_000)));
    }

    #[test]
    fn the_same_endpoint_gets_the_same_id() {
        let first = subscribe("https://push.example/a", P256DH, AUTH).unwrap();
        let again = subscribe("https://push.example/a", P256DH, AUTH).unwrap();
        let other = subscribe("https://push.example/b", P256DH, AUTH).unwrap();
        assert_eq!(first.id, again.id);
        assert_ne!(first.id, other.id);
    }

    #[test]
    fn endpoints_vangnet_must_not_post_to_are_refused_naming_the_field() {
        for endpoint in [
            "http://push.example/a",
            "ftp://push.example/a",
            "not a url",
            "https://user:pw@push.example/a",
            "https://127.0.0.1/a",
            "https://localhost:8443/a",
            "https://10.1.2.3/a",
            "https://192.168.0.1/a",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/a",
            "https://[::ffff:127.0.0.1]/a",
            "https://[fd00::1]/a",
            "https://0.0.0.0/a",
        ] {
            let refused = subscribe(endpoint, P256DH, AUTH).unwrap_err();
            assert!(refused.starts_with("endpoint: "), "{endpoint}: {refused}");
        }
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT_BYTES));
        assert!(subscribe(&long, P256DH, AUTH).is_err());
    }

    #[test]
    fn a_listed_host_may_be_plain_http_on_this_machine() {
        let policy = EndpointPolicy {
            insecure_hosts: vec!["127.0.0.1".into()],
        };
        assert!(policy.check("http://127.0.0.1:4000/push/1").is_ok());
        assert!(policy.check("http://127.0.0.2:4000/push/1").is_err());
    }

    #[test]
    fn keys_of_the_wrong_length_or_encoding_are_refused_naming_the_field() {
        let short_point = URL_SAFE_NO_PAD.encode([4u8; 33]);
        let off_curve = URL_SAFE_NO_PAD.encode([4u8; 65]);
        for (p256dh, auth, field) in [
            (short_point.as_str(), AUTH, "keys.p256dh"),
            (off_curve.as_str(), AUTH, "keys.p256dh"),
            ("!!!", AUTH, "keys.p256dh"),
            (P256DH, "c2hvcnQ", "keys.auth"),
            (P256DH, &"A".repeat(10_000), "keys.auth"),
        ] {
            let refused = subscribe("https://push.example/a", p256dh, auth).unwrap_err();
            assert!(refused.starts_with(field), "{refused}");
        }
    }

    #[test]
    fn a_device_subscription_is_the_devices_one_without_regions_or_expiry() {
        let device = DeviceId::parse("v-1", "device").unwrap();
        let made = request("https://push.example/a", P256DH, AUTH)
            .device_subscription(&device, "f".into(), &EndpointPolicy::default())
            .unwrap();
        assert_eq!(made.id, "device:v-1");
        assert!(made.regions.is_empty());
        assert_eq!(made.expires_at, NEVER);
        assert_eq!(NEVER.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(made.device.map(|d| d.id), Some(device.clone()));
        let refused = request("https://10.0.0.1/a", P256DH, AUTH)
            .device_subscription(&device, "f".into(), &EndpointPolicy::default())
            .unwrap_err();
        assert!(refused.starts_with("endpoint: "), "{refused}");
    }

    #[test]
    fn padded_base64url_keys_are_taken() {
        assert!(subscribe("https://push.example/a", P256DH, &format!("{AUTH}==")).is_ok());
    }
}
