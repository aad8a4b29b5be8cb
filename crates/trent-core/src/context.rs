//! Encryption contexts: the key–value pairs bound to a ciphertext as
//! additional authenticated data, and their canonical byte form.

use std::collections::BTreeMap;

use crate::Error;

/// An encryption context. Ordered by key so that its canonical form does not
/// depend on the order a client sent the pairs in.
pub type EncryptionContext = BTreeMap<String, String>;

/// The canonical bytes of a context, authenticated with the ciphertext.
///
/// Layout: pair count (u32 BE), then per pair in key order: key length (u32
/// BE), key UTF-8, value length (u32 BE), value UTF-8. An empty context is
/// four zero bytes. Length prefixes make the encoding injective.
pub fn canonical_bytes(context: &EncryptionContext) -> Vec<u8> {
    let size: usize = context.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    for (key, value) in context {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// AWS limits the whole context to 8192 bytes; empty keys are refused.
pub fn validate(context: &EncryptionContext, field: &str) -> Result<(), Error> {
    let size: usize = context.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 8192 {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have total length less than or equal to 8192"
        )));
    }
    if context.keys().any(|k| k.is_empty()) {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Map keys must have length greater than or equal to 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_injective() {
        let a: EncryptionContext = [("b".into(), "2".into()), ("a".into(), "1".into())].into();
        let b: EncryptionContext = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
        let c: EncryptionContext = [("ab".into(), "".into())].into();
        let d: EncryptionContext = [("a".into(), "b".into())].into();
        assert_ne!(canonical_bytes(&c), canonical_bytes(&d));
        assert_eq!(canonical_bytes(&EncryptionContext::new()), vec![0, 0, 0, 0]);
    }
}
