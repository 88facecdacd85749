//! Web Push subscriptions of dispatchers' browsers and of devices' phones,
//! so that they survive a restart and every instance pushes to the same ones.

use std::future::Future;

use serde::{Deserialize, Serialize};
use vangnet_proto::{DeviceId, UtcTime};

use super::StoreError;

/// A browser that asked for Web Push on behalf of a token holder, with the
/// regions that token had and the time it expired; or a device's phone
/// ([`PushSubscription::device`]), which gets that device's warnings only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    /// Derived from the endpoint, so one browser has one subscription.
    pub id: String,
    /// The `sub` of the token that subscribed.
    pub owner: String,
    /// The token's regions; `["*"]` for all.
    pub regions: Vec<String>,
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's authentication secret, base64url.
    pub auth: String,
    /// When the token that subscribed expired; nothing is pushed after.
    pub expires_at: UtcTime,
    /// For a device's subscription, the device; `None` for a dispatcher's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceSubscriber>,
}

/// The device a subscription is for, and the credentials it subscribed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSubscriber {
    /// The device whose warnings are pushed.
    pub id: DeviceId,
    /// A fingerprint of the device's credentials when it subscribed; once
    /// they are removed or replaced, the subscription is removed unpushed.
    pub credential: String,
}

/// Where the API keeps subscriptions and the push sender finds them.
pub trait PushSubscriptions: Send + Sync + 'static {
    /// Stores `subscription`, replacing the one with its id.
    fn put_push_subscription(
        &self,
        subscription: &PushSubscription,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every stored subscription, expired ones included.
    fn push_subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<PushSubscription>, StoreError>> + Send;
    /// Removes the subscription `id`; whether there was one.
    fn remove_push_subscription(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
