//! Dispatch routes: where alert revisions go, in which format, and which
//! ones each route takes (docs/api.md#routes).

use serde::Deserialize;
use url::{Host, Url};
use vangnet_proto::{DispatchBody, Priority};

use crate::secret::{Secret, without_password};

/// The wire format a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The JSON body (docs/api.md#the-request).
    #[default]
    Json,
    /// OASIS CAP 1.2 XML.
    Cap,
    /// NENA EIDO JSON.
    Eido,
}

/// A route as written in the config file (`[[routes]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Name in logs and metrics.
    pub name: String,
    /// Endpoint: https://, or http:// to this machine (elsewhere only with `dispatch_allow_http`).
    pub url: String,
    /// Wire format.
    #[serde(default)]
    pub format: Format,
    /// The least urgent priority the route takes.
    #[serde(default = "default_min_priority")]
    pub min_priority: Priority,
    /// Regions the route takes; all when absent.
    pub regions: Option<Vec<String>>,
    /// True for a route marked for exercises: it takes only exercise alerts,
    /// and a route not so marked never takes one.
    #[serde(default)]
    pub exercise: bool,
    /// Value of the `Authorization` header, if the endpoint wants one.
    pub auth_header: Option<String>,
    /// HMAC-SHA256 key signing the body; unsigned when absent.
    pub secret: Option<String>,
}

fn default_min_priority() -> Priority {
    Priority::P2
}

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Name in logs and metrics.
    pub name: String,
    /// Endpoint.
    pub url: Url,
    /// Wire format.
    pub format: Format,
    /// The least urgent priority taken.
    pub min_priority: Priority,
    /// Regions taken; all when `None`.
    pub regions: Option<Vec<String>>,
    /// Marked for exercises.
    pub exercise: bool,
    /// `Authorization` header value.
    pub auth_header: Option<Secret>,
    /// Signing key.
    pub secret: Option<Secret>,
}

impl Route {
    /// The default route of `VANGNET_DISPATCH_URL`: P1 and P2 of real orders.
    pub fn default_route(url: Url, secret: Option<Secret>) -> Self {
        Self {
            name: "default".into(),
            url,
            format: Format::Json,
            min_priority: Priority::P2,
            regions: None,
            exercise: false,
            auth_header: None,
            secret,
        }
    }

    /// Checks a configured route; the error names the field. Plain http to
    /// another machine is refused unless `allow_http`.
    pub fn from_config(config: RouteConfig, allow_http: bool) -> Result<Self, String> {
        let shown = without_password(&config.url);
        let url = Url::parse(&config.url).map_err(|e| format!("url: `{shown}`: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url: `{shown}` must be http:// or https://"));
        }
        check_transport(&url, allow_http).map_err(|e| format!("url: {e}"))?;
        if config.name.is_empty() {
            return Err("name: must not be empty".into());
        }
        Ok(Self {
            name: config.name,
            url,
            format: config.format,
            min_priority: config.min_priority,
            regions: config.regions,
            exercise: config.exercise,
            auth_header: config.auth_header.map(Secret::new),
            secret: config.secret.map(Secret::new),
        })
    }

    /// Whether this route takes `body`. An exercise alert only ever goes to
    /// an exercise route, and a real one never does.
    pub fn wants(&self, body: &DispatchBody) -> bool {
        body.exercise == self.exercise
            && body.priority >= self.min_priority
            && self.regions.as_ref().is_none_or(|regions| {
                body.region
                    .as_ref()
                    .is_some_and(|region| regions.iter().any(|r| r == region))
            })
    }
}

/// Refuses a URL that would carry alerts unencrypted across a network:
/// plain http is for this machine (127.0.0.0/8, ::1, `localhost`) unless
/// `allow_http` says otherwise.
pub fn check_transport(url: &Url, allow_http: bool) -> Result<(), String> {
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "https" || loopback || allow_http {
        Ok(())
    } else {
        Err(format!(
            "`{}://{}` is plain http to another machine: use https://, or allow it with VANGNET_DISPATCH_ALLOW_HTTP=true",
            url.scheme(),
            url.host_str().unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use vangnet_proto::{AlertId, AlertKind, AlertStatus, IncidentId, TimestampMs, UtcTime};

    use super::*;

    fn body(priority: Priority, exercise: bool, region: &str) -> DispatchBody {
        let at = UtcTime(TimestampMs(1));
        DispatchBody {
            alert_id: AlertId::new("A"),
            incident_id: IncidentId::new("A"),
            revision: 1,
            order_id: None,
            region: Some(region.into()),
            priority,
            kind: AlertKind::Panic,
            confidence: None,
            status: AlertStatus::Open,
            exercise,
            late: false,
            count: 1,
            created_at: at,
            updated_at: at,
            cleared_at: None,
            victim: None,
            perpetrator: None,
            zone: None,
            distance_m: None,
            summary: String::new(),
        }
    }

    fn route(exercise: bool, regions: Option<Vec<String>>) -> Route {
        Route {
            exercise,
            regions,
            ..Route::default_route(Url::parse("http://127.0.0.1:9").unwrap(), None)
        }
    }

    #[test]
    fn the_default_route_takes_p1_and_p2_of_real_orders_only() {
        let default = route(false, None);
        assert!(default.wants(&body(Priority::P1, false, "x")));
        assert!(default.wants(&body(Priority::P2, false, "x")));
        assert!(!default.wants(&body(Priority::P3, false, "x")));
        assert!(!default.wants(&body(Priority::P1, true, "x")));
    }

    #[test]
    fn an_exercise_route_takes_only_exercise_alerts() {
        let drill = route(true, None);
        assert!(drill.wants(&body(Priority::P1, true, "x")));
        assert!(!drill.wants(&body(Priority::P1, false, "x")));
    }

    fn transport(url: &str, allow_http: bool) -> Result<(), String> {
        check_transport(&Url::parse(url).unwrap(), allow_http)
    }

    #[test]
    fn https_and_plain_http_to_this_machine_are_accepted() {
        for url in [
            "https://dispatch.example.org/alerts",
            "http://127.0.0.1:9000/alerts",
            "http://127.3.4.5/alerts",
            "http://[::1]:9000/alerts",
            "http://localhost:9000/alerts",
            "http://LOCALHOST/alerts",
        ] {
            assert_eq!(transport(url, false), Ok(()), "{url}");
        }
    }

    #[test]
    fn plain_http_to_another_machine_is_refused_unless_allowed() {
        for url in [
            "http://dispatch.example.org/alerts",
            "http://10.1.2.3/alerts",
            "http://[fe80::1]/alerts",
            "http://localhost.example.org/alerts",
        ] {
            let refused = transport(url, false).unwrap_err();
            assert!(refused.contains("VANGNET_DISPATCH_ALLOW_HTTP"), "{refused}");
            assert_eq!(transport(url, true), Ok(()), "{url}");
        }
    }

    #[test]
    fn a_regional_route_takes_only_its_regions() {
        let rotterdam = route(false, Some(vec!["rotterdam".into()]));
        assert!(rotterdam.wants(&body(Priority::P1, false, "rotterdam")));
        assert!(!rotterdam.wants(&body(Priority::P1, false, "utrecht")));
    }
}
