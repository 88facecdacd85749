//! Files compiled into the binary for people's screens (the dispatcher
//! console, the victim's app): how one is found by name and the headers
//! every one is served with.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};

/// `Content-Type` of a page.
pub const HTML: &str = "text/html; charset=utf-8";
/// `Content-Type` of a script.
pub const JS: &str = "text/javascript; charset=utf-8";
/// `Content-Type` of a style sheet.
pub const CSS: &str = "text/css; charset=utf-8";
/// `Content-Type` of an icon.
pub const SVG: &str = "image/svg+xml";

/// One file, the name it is served under and its type.
pub struct Asset {
    /// Its name under the site's path.
    pub name: &'static str,
    /// Its content.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// The file of `assets` served as `name`; the empty name is `index.html`.
/// Only names on the list are served, so no path can reach another file.
pub fn find(assets: &'static [Asset], name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    assets.iter().find(|asset| asset.name == name)
}

/// A permanent redirect to `to` (a site's path without its slash goes to the one with it).
pub fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Sets the headers every file carries: its site's `csp`, no caching
/// without checking, no type sniffing, no referrer.
pub fn guard(response: &mut HttpResponseBuilder, csp: HeaderValue) {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
}
