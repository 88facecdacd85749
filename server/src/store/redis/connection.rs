//! The connection under the Redis store: to one server or to a Redis Cluster,
//! reconnecting by itself either way, so the store's code does not care which.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value};
use tokio::sync::OnceCell;
use url::Url;

/// Where the Redis store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisAddress {
    /// One server (a primary, with replicas if wanted): `redis://` or `rediss://`.
    Server(Url),
    /// A Redis Cluster, reached through any of these nodes:
    /// `redis+cluster://HOST:PORT,HOST:PORT` (`rediss+cluster://` for TLS).
    Cluster(Vec<Url>),
}

impl RedisAddress {
    /// Reads `redis://…`, `rediss://…`, `redis+cluster://…` or `rediss+cluster://…`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let expected = "expected redis://HOST:PORT/DB or redis+cluster://HOST:PORT,HOST:PORT";
        let (scheme, rest) = value.split_once("://").ok_or_else(|| expected.to_owned())?;
        let node_scheme = match scheme {
            "redis" | "rediss" => {
                let url = Url::parse(value).map_err(|_| expected.to_owned())?;
                return if url.host_str().is_some() {
                    Ok(Self::Server(url))
                } else {
                    Err(expected.to_owned())
                };
            }
            "redis+cluster" => "redis",
            "rediss+cluster" => "rediss",
            other => return Err(format!("unknown scheme `{other}`: {expected}")),
        };
        let (credentials, hosts) = match rest.rsplit_once('@') {
            Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
            None => (String::new(), rest),
        };
        let nodes = hosts
            .trim_end_matches('/')
            .split(',')
            .map(|host| {
                Url::parse(&format!("{node_scheme}://{credentials}{host}"))
                    .ok()
                    .filter(|url| url.host_str().is_some() && url.port().is_some())
                    .ok_or_else(|| format!("cluster node `{host}`: expected HOST:PORT"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Cluster(nodes))
    }

    /// Whether the store is reached over TLS.
    pub fn uses_tls(&self) -> bool {
        match self {
            Self::Server(url) => url.scheme() == "rediss",
            Self::Cluster(nodes) => nodes.iter().any(|node| node.scheme() == "rediss"),
        }
    }
}

/// Shows the address without its password.
impl fmt::Debug for RedisAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |url: &Url| {
            let mut url = url.clone();
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        };
        match self {
            Self::Server(url) => write!(f, "{}", hide(url)),
            Self::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(hide).collect();
                write!(f, "cluster {}", nodes.join(","))
            }
        }
    }
}

/// A connection to one server or to a cluster; cheap to clone.
#[derive(Clone)]
pub(super) enum Connection {
    Server(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

/// A cluster connection made on first use, and again after a failed attempt,
/// so the store can be created while the cluster is down.
pub(super) struct LazyCluster {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

/// How long to wait for a connection and for an answer.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Connection {
    /// Prepares connections to `address` (a separate one per call), trusting
    /// `ca_pem` for TLS when given.
    pub(super) fn open(address: &RedisAddress, ca_pem: Option<&[u8]>) -> RedisResult<Self> {
        let certificates = || TlsCertificates {
            client_tls: None,
            root_cert: ca_pem.map(<[u8]>::to_vec),
        };
        match address {
            RedisAddress::Server(url) => {
                let client = match ca_pem {
                    Some(_) if url.scheme() == "rediss" => {
                        Client::build_with_tls(url.as_str(), certificates())
                    }
                    _ => Client::open(url.as_str()),
                }?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(3)
                    .set_max_delay(Duration::from_secs(1));
                Ok(Self::Server(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            RedisAddress::Cluster(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.iter().map(Url::as_str))
                    .connection_timeout(CONNECTION_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(3);
                if ca_pem.is_some() && address.uses_tls() {
                    builder = builder.certs(certificates());
                }
                Ok(Self::Cluster(Arc::new(LazyCluster {
                    client: builder.build()?,
                    connection: OnceCell::new(),
                })))
            }
        }
    }

    /// Whether this is a cluster connection.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Runs `cmd` on the primary that holds `key`'s slot (on one server, on it),
    /// e.g. a `WAIT` after a write to `key`.
    pub(super) async fn on_primary_of(&mut self, key: &str, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Server(conn) => conn.req_packed_command(cmd).await,
            Self::Cluster(lazy) => {
                let route = Route::with_key(key, SlotAddr::Master);
                lazy.connection()
                    .await?
                    .route_command(
                        cmd.clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await
            }
        }
    }
}

impl LazyCluster {
    async fn connection(&self) -> RedisResult<ClusterConnection> {
        self.connection
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(conn) => conn.req_packed_command(cmd),
            Self::Cluster(lazy) => async move {
                let mut conn = lazy.connection().await?;
                conn.req_packed_command(cmd).await
            }
            .boxed(),
        }
    }

    /// On a cluster, a pipeline that is not a transaction is sent as separate
    /// commands, each to the node of its own keys, since its commands may
    /// touch several slots; a transaction must keep to one slot.
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(lazy) => async move {
                let conn = lazy.connection().await?;
                if pipeline.is_transaction() {
                    return conn
                        .clone()
                        .req_packed_commands(pipeline, offset, count)
                        .await;
                }
                let replies = try_join_all(pipeline.cmd_iter().map(|cmd| {
                    let mut conn = conn.clone();
                    async move { conn.req_packed_command(cmd).await }
                }))
                .await?;
                Ok(replies.into_iter().skip(offset).take(count).collect())
            }
            .boxed(),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(conn) => conn.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RedisAddress;

    #[test]
    fn a_cluster_address_names_every_node_with_the_shared_credentials() {
        let address = RedisAddress::parse("rediss+cluster://:secret@a:7000,b:7001/").unwrap();
        let RedisAddress::Cluster(nodes) = &address else {
            panic!("not a cluster: {address:?}");
        };
        let nodes: Vec<String> = nodes.iter().map(ToString::to_string).collect();
        assert_eq!(
            nodes,
            ["rediss://:secret@a:7000", "rediss://:secret@b:7001"]
        );
        assert!(address.uses_tls());
        assert!(!format!("{address:?}").contains("secret"));
    }

    #[test]
    fn a_cluster_node_without_a_port_is_refused() {
        let refused = RedisAddress::parse("redis+cluster://a:7000,b").unwrap_err();
        assert!(refused.contains("`b`"), "{refused}");
    }

    #[test]
    fn a_server_address_stays_one_server() {
        let address = RedisAddress::parse("redis://localhost:6379/2").unwrap();
        assert!(matches!(address, RedisAddress::Server(_)));
        assert!(!address.uses_tls());
    }
}
