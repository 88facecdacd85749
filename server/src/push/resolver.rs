//! Name resolution for pushes that drops addresses of this machine and of
//! private networks, so an endpoint's host name cannot lead Vangnet's
//! pushes into the operator's own network. (An endpoint's IP address is
//! checked when it subscribes.)

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::subscribe::internal_ip;

/// Resolves names to their public addresses only; a listed host to any.
pub struct PublicOnly {
    listed: Vec<String>,
}

impl PublicOnly {
    /// A resolver that lets `listed` hosts resolve to private addresses too.
    pub fn new(listed: Vec<String>) -> Self {
        Self { listed }
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let listed = self.listed.iter().any(|h| h.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| listed || !internal_ip(addr.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_of_this_machine_resolves_only_when_listed() {
        let name = || "localhost".parse::<Name>().unwrap();

        assert!(PublicOnly::new(vec![]).resolve(name()).await.is_err());

        let listed = PublicOnly::new(vec!["localhost".into()]);
        assert!(listed.resolve(name()).await.is_ok());
    }
}
