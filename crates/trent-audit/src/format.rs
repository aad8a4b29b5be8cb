//! The bytes of the log, as specified in docs/FORMATS.md ("Audit log"):
//! a segment header, then length-prefixed frames, each a record or a
//! checkpoint. Integers are big-endian.
//!
//! - Record frame body: `0x01 ‖ seq (8) ‖ prev hash (32) ‖ time ms (8) ‖
//!   nonce (12) ‖ AES-256-GCM(JSON event) ‖ tag (16)`. Its hash, SHA-256 of
//!   the body, is the next record's `prev`; the first record's `prev` is 32
//!   zero bytes. The AEAD's associated data is a context string, the node
//!   id and the 61 header bytes, so a record cannot be moved to another
//!   position or node, nor its time changed.
//! - Checkpoint frame body: `0x02 ‖ seq (8) ‖ head hash (32) ‖ first seq (8)
//!   ‖ time ms (8) ‖ Ed25519 signature (64)`: "records first seq ..= seq
//!   exist and record seq hashes to head".

use aws_lc_rs::aead::NONCE_LEN;

use crate::error::{Error, Result};
use crate::keys::{AuditKeys, PublicKey, SIGNATURE_LEN, TAG_LEN};

/// A SHA-256 chain hash.
pub type Hash = [u8; 32];
/// The `prev` of the first record of a node.
pub const GENESIS: Hash = [0; 32];

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"TRNTAUDT";
/// Segment format version.
pub const SEGMENT_VERSION: u8 = 0x01;
/// Frame kind of a record.
pub const KIND_RECORD: u8 = 0x01;
/// Frame kind of a checkpoint.
pub const KIND_CHECKPOINT: u8 = 0x02;
/// Largest frame body accepted when reading.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

const RECORD_HEADER: usize = 1 + 8 + 32 + 8 + NONCE_LEN;
const CHECKPOINT_SIGNED: usize = 1 + 8 + 32 + 8 + 8;
/// Length of a checkpoint frame body.
pub const CHECKPOINT_LEN: usize = CHECKPOINT_SIGNED + SIGNATURE_LEN;
const RECORD_AAD_CONTEXT: &[u8] = b"trent/audit/record/v1\0";
const CHECKPOINT_CONTEXT: &[u8] = b"trent/audit/checkpoint/v1\0";

/// Node ids name files and chains: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_node_id(node: &str) -> bool {
    (1..=64).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The header at the start of a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The node that wrote it.
    pub node: String,
    /// Its number among the node's segments (from 1).
    pub segment: u64,
    /// The seq its first record has (or would have).
    pub first_seq: u64,
    /// The hash its first record's `prev` must equal.
    pub prev_hash: Hash,
    /// When it was created (Unix ms).
    pub created_ms: i64,
}

impl SegmentHeader {
    /// `magic ‖ version ‖ node len (1) ‖ node ‖ segment (8) ‖ first seq (8)
    /// ‖ prev hash (32) ‖ created ms (8)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 2 + self.node.len() + 56);
        out.extend_from_slice(SEGMENT_MAGIC);
        out.push(SEGMENT_VERSION);
        out.push(self.node.len() as u8);
        out.extend_from_slice(self.node.as_bytes());
        out.extend_from_slice(&self.segment.to_be_bytes());
        out.extend_from_slice(&self.first_seq.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out
    }

    /// Parses a header; returns it and its length.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let bad = |what: &str| Error::Format(format!("segment header: {what}"));
        if bytes.len() < 10 || &bytes[..8] != SEGMENT_MAGIC {
            return Err(bad("not an audit segment"));
        }
        if bytes[8] != SEGMENT_VERSION {
            return Err(bad("unknown version"));
        }
        let node_len = bytes[9] as usize;
        let len = 10 + node_len + 56;
        if bytes.len() < len {
            return Err(bad("truncated"));
        }
        let node = std::str::from_utf8(&bytes[10..10 + node_len])
            .ok()
            .filter(|n| valid_node_id(n))
            .ok_or_else(|| bad("node id"))?
            .to_owned();
        let mut r = Reader(&bytes[10 + node_len..len]);
        Ok((
            SegmentHeader {
                node,
                segment: r.u64(),
                first_seq: r.u64(),
                prev_hash: r.hash(),
                created_ms: r.i64(),
            },
            len,
        ))
    }
}

/// A record frame, decoded but still encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFrame {
    /// Position in the node's chain, from 1.
    pub seq: u64,
    /// Hash of the previous record.
    pub prev: Hash,
    /// Event time (Unix ms), in the clear for range queries.
    pub time_ms: i64,
    /// The whole body, as hashed.
    pub body: Vec<u8>,
}

impl RecordFrame {
    /// Encrypts `event_json` into a record body.
    pub fn seal(
        keys: &AuditKeys,
        node: &str,
        seq: u64,
        prev: &Hash,
        time_ms: i64,
        event_json: &[u8],
    ) -> Result<Self> {
        let mut nonce = [0u8; NONCE_LEN];
        trent_crypto::random_bytes(&mut nonce)?;
        let mut body = Vec::with_capacity(RECORD_HEADER + event_json.len() + TAG_LEN);
        body.push(KIND_RECORD);
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(prev);
        body.extend_from_slice(&time_ms.to_be_bytes());
        body.extend_from_slice(&nonce);
        let aad = record_aad(node, &body);
        let mut sealed = event_json.to_vec();
        keys.seal(nonce, &aad, &mut sealed)?;
        body.extend_from_slice(&sealed);
        Ok(RecordFrame {
            seq,
            prev: *prev,
            time_ms,
            body,
        })
    }

    /// The record's chain hash: SHA-256 of its body.
    pub fn hash(&self) -> Hash {
        sha256(&self.body)
    }

    /// Decrypts the event JSON; `None` if the record was altered (or is
    /// another node's, or under another key).
    pub fn open(&self, keys: &AuditKeys, node: &str) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.body[RECORD_HEADER - NONCE_LEN..RECORD_HEADER]);
        let aad = record_aad(node, &self.body[..RECORD_HEADER]);
        keys.open(nonce, &aad, &self.body[RECORD_HEADER..])
    }

    fn decode(body: &[u8]) -> Result<Self> {
        if body.len() < RECORD_HEADER + TAG_LEN {
            return Err(Error::Format("record frame too short".into()));
        }
        let mut r = Reader(&body[1..]);
        Ok(RecordFrame {
            seq: r.u64(),
            prev: r.hash(),
            time_ms: r.i64(),
            body: body.to_vec(),
        })
    }
}

fn record_aad(node: &str, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(RECORD_AAD_CONTEXT.len() + node.len() + 1 + RECORD_HEADER);
    aad.extend_from_slice(RECORD_AAD_CONTEXT);
    aad.extend_from_slice(node.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&header[..RECORD_HEADER]);
    aad
}

/// A signed statement: records `first_seq ..= seq` of `node` exist, and
/// record `seq` hashes to `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record covered (0: none yet).
    pub seq: u64,
    /// That record's hash ([`GENESIS`] when `seq` is 0).
    pub head: Hash,
    /// The oldest record retention keeps.
    pub first_seq: u64,
    /// When it was made (Unix ms).
    pub time_ms: i64,
    /// Ed25519 over the context, the node id and the fields above.
    pub signature: [u8; SIGNATURE_LEN],
}

impl Checkpoint {
    /// Makes and signs a checkpoint.
    pub fn sign(
        keys: &AuditKeys,
        node: &str,
        seq: u64,
        head: Hash,
        first_seq: u64,
        time_ms: i64,
    ) -> Self {
        let mut cp = Checkpoint {
            seq,
            head,
            first_seq,
            time_ms,
            signature: [0; SIGNATURE_LEN],
        };
        cp.signature = keys.sign(&cp.signed_message(node));
        cp
    }

    /// Whether the signature is `key`'s over this checkpoint for `node`.
    pub fn verify(&self, key: &PublicKey, node: &str) -> bool {
        key.verify(&self.signed_message(node), &self.signature)
    }

    fn signed_part(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CHECKPOINT_LEN);
        out.push(KIND_CHECKPOINT);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&self.first_seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out
    }

    fn signed_message(&self, node: &str) -> Vec<u8> {
        let mut msg = CHECKPOINT_CONTEXT.to_vec();
        msg.extend_from_slice(node.as_bytes());
        msg.push(0);
        msg.extend_from_slice(&self.signed_part());
        msg
    }

    /// The frame body (also the value stored in the store's meta table).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_part();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a checkpoint body.
    pub fn decode(body: &[u8]) -> Result<Self> {
        if body.len() != CHECKPOINT_LEN || body[0] != KIND_CHECKPOINT {
            return Err(Error::Format("checkpoint".into()));
        }
        let mut r = Reader(&body[1..]);
        let seq = r.u64();
        let head = r.hash();
        let first_seq = r.u64();
        let time_ms = r.i64();
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&body[CHECKPOINT_SIGNED..]);
        Ok(Checkpoint {
            seq,
            head,
            first_seq,
            time_ms,
            signature,
        })
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An event.
    Record(RecordFrame),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
}

/// `len (4) ‖ body`.
pub fn frame_bytes(body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// What reading one frame at an offset found.
#[derive(Debug)]
pub enum ReadFrame {
    /// A frame, and the offset after it.
    Frame(Frame, usize),
    /// End of data.
    End,
    /// Fewer bytes than the frame announces: a write cut short (crash), or
    /// the tail cut off.
    Torn,
    /// Bytes that are not a frame.
    Malformed(String),
}

/// Reads the frame at `offset` of a segment's bytes.
pub fn read_frame(bytes: &[u8], offset: usize) -> ReadFrame {
    let rest = &bytes[offset.min(bytes.len())..];
    if rest.is_empty() {
        return ReadFrame::End;
    }
    if rest.len() < 4 {
        return ReadFrame::Torn;
    }
    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        return ReadFrame::Malformed(format!("frame length {len}"));
    }
    let Some(body) = rest.get(4..4 + len) else {
        return ReadFrame::Torn;
    };
    let frame = match body[0] {
        KIND_RECORD => RecordFrame::decode(body).map(Frame::Record),
        KIND_CHECKPOINT => Checkpoint::decode(body).map(Frame::Checkpoint),
        kind => Err(Error::Format(format!("frame kind {kind:#04x}"))),
    };
    match frame {
        Ok(frame) => ReadFrame::Frame(frame, offset + 4 + len),
        Err(e) => ReadFrame::Malformed(e.to_string()),
    }
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> Hash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Reads fixed-size big-endian fields; callers check lengths first.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[..N]);
        self.0 = &self.0[N..];
        out
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
    fn hash(&mut self) -> Hash {
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::test_keys;

    #[test]
    fn header_round_trips() {
        let h = SegmentHeader {
            node: "node-1".into(),
            segment: 7,
            first_seq: 42,
            prev_hash: [9; 32],
            created_ms: 1_700_000_000_000,
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes).unwrap(), (h, bytes.len()));
        assert!(SegmentHeader::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(SegmentHeader::decode(b"NOTAUDIT\x01\x00").is_err());
    }

    #[test]
    fn record_round_trips_and_binds_position_and_node() {
        let keys = test_keys();
        let rec = RecordFrame::seal(&keys, "n1", 5, &[3; 32], 1234, br#"{"a":1}"#).unwrap();
        let mut file = Vec::new();
        frame_bytes(&rec.body, &mut file);
        let ReadFrame::Frame(Frame::Record(back), end) = read_frame(&file, 0) else {
            panic!("not a record");
        };
        assert_eq!(end, file.len());
        assert_eq!((back.seq, back.prev, back.time_ms), (5, [3; 32], 1234));
        assert_eq!(back.open(&keys, "n1").unwrap(), br#"{"a":1}"#);
        assert!(back.open(&keys, "n2").is_none());
        for i in 1..back.body.len() {
            let mut bad = back.clone();
            bad.body[i] ^= 0x10;
            let bad = RecordFrame::decode(&bad.body).unwrap();
            assert!(bad.open(&keys, "n1").is_none(), "flip at {i} accepted");
        }
        assert!(matches!(
            read_frame(&file[..file.len() - 1], 0),
            ReadFrame::Torn
        ));
        assert!(matches!(read_frame(&file, file.len()), ReadFrame::End));
    }

    #[test]
    fn checkpoint_signature_covers_every_field_and_the_node() {
        let keys = test_keys();
        let pk = keys.public_key();
        let cp = Checkpoint::sign(&keys, "n1", 10, [1; 32], 1, 99);
        let body = cp.encode();
        assert_eq!(body.len(), CHECKPOINT_LEN);
        let back = Checkpoint::decode(&body).unwrap();
        assert!(back.verify(&pk, "n1"));
        assert!(!back.verify(&pk, "n2"));
        for i in 1..body.len() {
            let mut bad = body.clone();
            bad[i] ^= 1;
            let bad = Checkpoint::decode(&bad).unwrap();
            assert!(!bad.verify(&pk, "n1"), "flip at {i} accepted");
        }
    }
}
