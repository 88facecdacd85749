//! `VANGNET_CONSOLE_TILE_URL`: a map tile template such as
//! `https://tiles.example.org/{z}/{x}/{y}.png`. Its origin goes into the
//! console's Content-Security-Policy, so only a plain https origin (or http
//! on loopback, for development) with the three placeholders is taken.

use url::Url;

/// A checked tile URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileUrl {
    template: String,
    origin: String,
}

impl TileUrl {
    /// Checks `template`; the error says what is wrong with it.
    pub fn parse(template: &str) -> Result<Self, String> {
        for placeholder in ["{z}", "{x}", "{y}"] {
            if !template.contains(placeholder) {
                return Err(format!("`{template}` lacks the placeholder {placeholder}"));
            }
        }
        let url = Url::parse(template).map_err(|e| format!("`{template}` is not a URL: {e}"))?;
        let loopback = url.host().is_some_and(|host| match host {
            url::Host::Domain(name) => name == "localhost",
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        });
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(format!("`{template}` is not https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{template}` must not carry credentials"));
        }
        if url.host_str().is_some_and(|host| host.contains('*')) {
            return Err(format!("`{template}` has a wildcard host"));
        }
        let origin = url.origin().ascii_serialization();
        if origin == "null"
            || !origin
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b'\'')
        {
            return Err(format!("`{template}` has no usable origin"));
        }
        Ok(Self {
            template: template.to_owned(),
            origin,
        })
    }

    /// The template, as the console fills it in.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// `scheme://host[:port]`, for the Content-Security-Policy.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_template_gives_its_origin() {
        let tiles = TileUrl::parse("https://tiles.example.org:8443/{z}/{x}/{y}.png").unwrap();
        assert_eq!(tiles.origin(), "https://tiles.example.org:8443");
    }

    #[test]
    fn plain_http_is_taken_only_on_loopback() {
        assert!(TileUrl::parse("http://127.0.0.1:9000/{z}/{x}/{y}.png").is_ok());
        assert!(TileUrl::parse("http://tiles.example.org/{z}/{x}/{y}.png").is_err());
    }

    #[test]
    fn a_template_that_would_widen_the_policy_is_refused() {
        for bad in [
            "javascript:alert(1)//{z}/{x}/{y}",
            "data:image/png;base64,{z}{x}{y}",
            "https://*.example.org/{z}/{x}/{y}.png",
            "https://user:secret@tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org/{z}/{x}.png",
            "https://tiles.example.org; script-src *",
        ] {
            assert!(TileUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
