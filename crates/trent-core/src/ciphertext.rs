//! The symmetric ciphertext blob: a versioned, self-describing header naming
//! the key and the key material version, then the AES-256-GCM output.
//!
//! ```text
//! offset  size  field
//!      0     1  format version (0x01)
//!      1    16  key id (UUID, binary)
//!     17    32  key material id
//!     49    32  per-message salt (random)
//!     81     n  AES-256-GCM ciphertext (n = plaintext length)
//!   81+n    16  GCM tag
//! ```
//! The data key and nonce are derived per message with HKDF-SHA256 from the
//! material and the salt; the header and the canonical encryption context are
//! the associated data. `docs/FORMATS.md` is the full specification.

use crate::Error;

/// The format version this code writes.
pub const VERSION_1: u8 = 0x01;
/// Length of the header (everything before the sealed bytes).
pub const HEADER_LEN: usize = 1 + 16 + 32 + 32;
/// Length of the GCM tag.
pub const TAG_LEN: usize = 16;
/// Largest blob accepted (the API model's CiphertextType limit).
pub const MAX_BLOB_LEN: usize = 6144;

/// The parsed header of a ciphertext blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The key id, binary.
    pub key_id: [u8; 16],
    /// The key material id, binary.
    pub material_id: [u8; 32],
    /// The per-message salt.
    pub salt: [u8; 32],
}

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION_1;
        out[1..17].copy_from_slice(&self.key_id);
        out[17..49].copy_from_slice(&self.material_id);
        out[49..81].copy_from_slice(&self.salt);
        out
    }

    /// The key id as its textual UUID.
    pub fn key_id_string(&self) -> String {
        uuid::Uuid::from_bytes(self.key_id).to_string()
    }

    /// The material id as 64 hex characters.
    pub fn material_id_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.material_id {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }
}

/// Splits a blob into its header, raw header bytes, and sealed part
/// (ciphertext ‖ tag). Any structural problem is `InvalidCiphertext`.
pub fn parse(blob: &[u8]) -> Result<(Header, &[u8], &[u8]), Error> {
    if blob.len() < HEADER_LEN + TAG_LEN || blob.len() > MAX_BLOB_LEN || blob[0] != VERSION_1 {
        return Err(Error::InvalidCiphertext);
    }
    let (raw_header, sealed) = blob.split_at(HEADER_LEN);
    let mut header = Header {
        key_id: [0; 16],
        material_id: [0; 32],
        salt: [0; 32],
    };
    header.key_id.copy_from_slice(&raw_header[1..17]);
    header.material_id.copy_from_slice(&raw_header[17..49]);
    header.salt.copy_from_slice(&raw_header[49..81]);
    Ok((header, raw_header, sealed))
}

/// Parses a textual key id into the 16 bytes a header carries.
pub fn key_id_bytes(key_id: &str) -> Result<[u8; 16], Error> {
    uuid::Uuid::parse_str(key_id)
        .map(|u| *u.as_bytes())
        .map_err(|_| Error::Validation(format!("key id {key_id} is not a UUID")))
}

/// Parses a 64-hex-character material id into 32 bytes.
pub fn material_id_bytes(material_id: &str) -> Result<[u8; 32], Error> {
    let bytes = material_id.as_bytes();
    if bytes.len() != 64 {
        return Err(Error::Validation(
            "key material id must be 64 hex characters".into(),
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16);
        let lo = (pair[1] as char).to_digit(16);
        match (hi, lo) {
            (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
            _ => return Err(Error::Validation("key material id must be hex".into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header {
            key_id: [7; 16],
            material_id: [0xab; 32],
            salt: [3; 32],
        };
        let mut blob = h.encode().to_vec();
        blob.extend_from_slice(&[0u8; 20]);
        let (parsed, raw, sealed) = parse(&blob).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(raw, &h.encode()[..]);
        assert_eq!(sealed.len(), 20);
        assert_eq!(
            material_id_bytes(&parsed.material_id_hex()).unwrap(),
            h.material_id
        );
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(parse(&[]), Err(Error::InvalidCiphertext));
        let mut blob = vec![0u8; HEADER_LEN + TAG_LEN];
        assert_eq!(parse(&blob), Err(Error::InvalidCiphertext));
        blob[0] = VERSION_1;
        assert!(parse(&blob).is_ok());
        blob.truncate(HEADER_LEN + TAG_LEN - 1);
        assert_eq!(parse(&blob), Err(Error::InvalidCiphertext));
        let mut big = vec![0u8; MAX_BLOB_LEN + 1];
        big[0] = VERSION_1;
        assert_eq!(parse(&big), Err(Error::InvalidCiphertext));
    }
}
