//! The checked-in schemas and AsyncAPI document must match the types.
//! Run with `VANGNET_BLESS=1` to rewrite them after changing a wire type.

use std::path::Path;

use vangnet_proto::schema;

fn check(path: &Path, generated: &str) {
    if std::env::var_os("VANGNET_BLESS").is_some() {
        std::fs::write(path, generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with VANGNET_BLESS=1)", path.display()));
    assert!(
        checked_in == generated,
        "{} has drifted from the types: run `VANGNET_BLESS=1 cargo test -p vangnet-proto --test interface_documents` and commit",
        path.display()
    );
}

#[test]
fn json_schemas_match_the_wire_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for (name, schema) in schema::message_schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        check(&dir.join(format!("{name}.schema.json")), &text);
    }
}

#[test]
fn asyncapi_document_matches_the_wire_types() {
    let text = serde_yaml_ng::to_string(&schema::asyncapi()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("asyncapi.yaml");
    check(&path, &text);
}
