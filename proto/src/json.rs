//! Turning serde_json's errors into [`ProtoError`]s that name the field.
//!
//! The fast path deserializes straight into a struct; only a failed parse is
//! run again through `serde_path_to_error` to find the field at fault.

use serde::Deserialize;

use crate::{MAX_PAYLOAD_BYTES, ProtoError, RejectReason};

/// Deserializes `payload` into `T`, or explains which field is wrong and why.
pub(crate) fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, ProtoError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ProtoError::new("payload", RejectReason::TooLarge));
    }
    match serde_json::from_slice(payload) {
        Ok(value) => Ok(value),
        Err(_) => Err(explain::<T>(payload)),
    }
}

fn explain<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> ProtoError {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let Err(err) = serde_path_to_error::deserialize::<_, T>(&mut deserializer) else {
        // Only trailing characters after a complete object can get here.
        return ProtoError::new("payload", RejectReason::NotJson);
    };
    let reason = classify(err.inner());
    if reason == RejectReason::NotJson
        && let Some(field) = non_finite_field(payload)
    {
        return ProtoError::new(field, RejectReason::NonFinite);
    }
    let path = err.path().to_string();
    let field = if reason == RejectReason::NotJson || path == "." || path.is_empty() {
        "payload".to_owned()
    } else {
        path
    };
    ProtoError::new(field, reason)
}

fn classify(err: &serde_json::Error) -> RejectReason {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax if err.to_string().contains("number out of range") => {
            RejectReason::NonFinite
        }
        Category::Syntax | Category::Eof | Category::Io => RejectReason::NotJson,
        Category::Data if err.to_string().contains("missing field") => RejectReason::MissingField,
        Category::Data => RejectReason::WrongType,
    }
}

/// The key whose value is a bare `NaN` or `Infinity` token, which JSON forbids
/// but some device firmware writes.
fn non_finite_field(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_span = (0, 0);
    let mut key_span = None;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    string_span.1 = i;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                string_span.0 = i + 1;
            }
            ':' => key_span = Some(string_span),
            'N' | 'I' if text[i..].starts_with("NaN") || text[i..].starts_with("Infinity") => {
                let key = key_span.and_then(|(start, end)| text.get(start..end));
                return Some(key.unwrap_or("payload").to_owned());
            }
            _ => {}
        }
    }
    None
}
