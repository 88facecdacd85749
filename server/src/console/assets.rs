//! The console's files, compiled in from `server/console/`: the complete
//! list of what `/console/` serves; any other name is 404.

use crate::web_files::{self, Asset, CSS, HTML, JS, SVG};

macro_rules! asset {
    ($file:literal, $type:expr) => {
        Asset {
            name: $file,
            bytes: include_bytes!(concat!("../../console/", $file)),
            content_type: $type,
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("stream.js", JS),
    asset!("board.js", JS),
    asset!("detail.js", JS),
    asset!("map.js", JS),
    asset!("alarm.js", JS),
    asset!("push.js", JS),
    asset!("sw.js", JS),
    asset!("icon.svg", SVG),
];

/// The file served at `/console/{name}`; the empty name is the page.
pub fn find(name: &str) -> Option<&'static Asset> {
    web_files::find(ASSETS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_name_is_the_page() {
        assert_eq!(find("").map(|a| a.content_type), Some(HTML));
    }

    #[test]
    fn a_path_outside_the_list_is_not_served() {
        for name in [
            "../Cargo.toml",
            "..%2fCargo.toml",
            "/etc/passwd",
            "index.html/",
            "APP.JS",
        ] {
            assert!(find(name).is_none(), "{name}");
        }
    }
}
