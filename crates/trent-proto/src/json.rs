//! Decoding request bodies. Syntax errors are `SerializationException`; a
//! field of the wrong type or shape is a `ValidationException` naming the
//! field, as AWS names it (lowerCamelCase).

use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// Decodes a request body. An empty body is read as `{}`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    // serde also builds a struct from a JSON array, field by field in
    // declaration order (`[]` would be an empty request); a request body is
    // an object or nothing.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::Serialization,
            "Start of structure or map found where not expected: the body must be a JSON object.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::new(
                ErrorCode::Validation,
                format!("1 validation error detected: Value at '{}' failed to satisfy constraint: {}", field_name(&path), data_reason(&inner)),
            ),
            _ => ApiError::new(ErrorCode::Serialization, "Start of structure or map found where not expected, or the body is not valid JSON."),
        }
    })?;
    de.end().map_err(|_| {
        ApiError::new(
            ErrorCode::Serialization,
            "Unexpected content after the JSON body.",
        )
    })?;
    Ok(value)
}

/// `NumberOfBytes` → `numberOfBytes`; `Tags[0].TagKey` → `tags.1.member.tagKey`.
fn field_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut start = true;
    for c in path.chars() {
        if start && c.is_ascii_uppercase() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        start = matches!(c, '.' | '[');
    }
    if out.is_empty() || out == "." {
        "body".into()
    } else {
        out
    }
}

fn data_reason(e: &serde_json::Error) -> String {
    // serde's message without its " at line L column C" suffix.
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or("invalid value");
    format!("Member {msg}")
}

/// Standard base64 for blob fields (`#[serde(with = "trent_proto::json::blob")]`).
pub mod blob {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    /// Encodes bytes.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// Decodes bytes, zeroizing the intermediate string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        STANDARD
            .decode(text.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| serde::de::Error::custom("must be valid base64"))
    }
}

/// Optional blob fields.
pub mod opt_blob {
    use serde::{Deserialize, Deserializer};
    use zeroize::Zeroizing;

    /// Decodes an optional blob.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::blob")] Zeroizing<Vec<u8>>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct R {
        number_of_bytes: Option<u32>,
        #[serde(default, with = "super::opt_blob")]
        plaintext: Option<zeroize::Zeroizing<Vec<u8>>>,
    }

    /// Shaped like the operation requests: every field optional.
    #[derive(Deserialize, Debug, Default)]
    #[serde(rename_all = "PascalCase", default)]
    #[allow(dead_code)]
    struct Opt {
        key_id: Option<String>,
        limit: Option<i64>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = decode::<R>(br#"{"NumberOfBytes": "x"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation);
        assert!(e.message.contains("'numberOfBytes'"), "{}", e.message);
        let e = decode::<R>(br#"{"Plaintext": "!!"}"#).unwrap_err();
        assert!(
            e.message.contains("'plaintext'") && e.message.contains("base64"),
            "{}",
            e.message
        );
        assert_eq!(
            decode::<R>(b"{").unwrap_err().code,
            ErrorCode::Serialization
        );
        assert_eq!(
            decode::<R>(b"[]").unwrap_err().code,
            ErrorCode::Serialization
        );
        assert_eq!(
            decode::<Opt>(b" []").unwrap_err().code,
            ErrorCode::Serialization
        );
        assert_eq!(
            decode::<Opt>(br#"["x", 5]"#).unwrap_err().code,
            ErrorCode::Serialization
        );
        assert!(decode::<Opt>(b" {} ").is_ok());
        assert!(decode::<R>(b"").is_ok());
        assert_eq!(
            decode::<R>(br#"{"Plaintext":"aGk="}"#)
                .unwrap()
                .plaintext
                .unwrap()
                .as_slice(),
            b"hi"
        );
    }
}
