//! The console's files, compiled in from `server/console/`: the complete
//! list of what `/console/` serves; any other name is 404.

/// One file and the type it is served as.
pub struct Asset {
    /// Its content.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($file:literal, $type:expr) => {
        (
            $file,
            Asset {
                bytes: include_bytes!(concat!("../../console/", $file)),
                content_type: $type,
            },
        )
    };
}

static ASSETS: &[(&str, Asset)] = &[
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
    asset!("icon.svg", "image/svg+xml"),
];

/// The file served at `/console/{name}`; the empty name is the page.
pub fn find(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, asset)| asset)
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
