//! Reading the log back for operators: decrypt, filter, in chain order per
//! node (`trent audit tail|query|export`). Reading needs the record key;
//! records that do not decrypt are skipped here and reported by `verify`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::format::{Frame, ReadFrame, SegmentHeader, read_frame};
use crate::keys::AuditKeys;
use crate::segment::{self, SegmentFile};

/// A decrypted record.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The node that wrote it.
    pub node: String,
    /// Its position in that node's chain.
    pub seq: u64,
    /// When it was written (Unix ms).
    pub time_ms: i64,
    /// The event (see [`crate::AuditEvent`]).
    pub event: Value,
}

/// Which records to return; every set condition must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this node's records.
    pub node: Option<String>,
    /// Written at or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Written before (Unix ms).
    pub until_ms: Option<i64>,
    /// Concerning this key: its id, ARN or an alias named in the request.
    pub key: Option<String>,
    /// Made by this principal: ARN, access key id or account id.
    pub principal: Option<String>,
    /// This operation (`eventName`, case-insensitive).
    pub operation: Option<String>,
    /// With this `errorCode`; `any` for every failed request.
    pub error: Option<String>,
}

impl Filter {
    /// Whether the record passes.
    pub fn matches(&self, record: &StoredRecord) -> bool {
        let e = &record.event;
        let s = |v: &Value| v.as_str().map(str::to_owned);
        if self.node.as_ref().is_some_and(|n| *n != record.node)
            || self.since_ms.is_some_and(|t| record.time_ms < t)
            || self.until_ms.is_some_and(|t| record.time_ms >= t)
        {
            return false;
        }
        if let Some(op) = &self.operation
            && !s(&e["eventName"]).is_some_and(|n| n.eq_ignore_ascii_case(op))
        {
            return false;
        }
        if let Some(code) = &self.error {
            let got = s(&e["errorCode"]);
            let ok = match got {
                None => false,
                Some(got) => code == "any" || got == *code || got == format!("{code}Exception"),
            };
            if !ok {
                return false;
            }
        }
        if let Some(p) = &self.principal {
            let id = &e["userIdentity"];
            let hit = ["arn", "accessKeyId", "accountId", "principalId", "userName"]
                .iter()
                .any(|f| s(&id[*f]).as_deref() == Some(p.as_str()));
            if !hit {
                return false;
            }
        }
        if let Some(key) = &self.key
            && !concerns_key(e, key)
        {
            return false;
        }
        true
    }
}

fn concerns_key(event: &Value, key: &str) -> bool {
    let arn_hit = |arn: &str| arn == key || arn.rsplit_once('/').is_some_and(|(_, id)| id == key);
    let resources = event["resources"].as_array().into_iter().flatten();
    if resources.filter_map(|r| r["ARN"].as_str()).any(arn_hit) {
        return true;
    }
    let params = &event["requestParameters"];
    [
        "keyId",
        "targetKeyId",
        "sourceKeyId",
        "destinationKeyId",
        "aliasName",
    ]
    .iter()
    .filter_map(|f| params[*f].as_str())
    .any(|v| v == key || arn_hit(v))
}

/// Calls `each` with every record passing `filter`, node by node, in chain
/// order. `each` returns false to stop.
pub fn scan(
    dir: &Path,
    keys: &AuditKeys,
    filter: &Filter,
    each: &mut dyn FnMut(StoredRecord) -> bool,
) -> Result<()> {
    for (node, files) in segment::list(dir)? {
        if filter.node.as_ref().is_some_and(|n| *n != node) {
            continue;
        }
        for file in files {
            let Ok(parsed) = segment::read(&file.path) else {
                continue;
            };
            for (_, frame) in parsed.frames {
                let Frame::Record(r) = frame else { continue };
                if filter.since_ms.is_some_and(|t| r.time_ms < t)
                    || filter.until_ms.is_some_and(|t| r.time_ms >= t)
                {
                    continue;
                }
                let Some(record) = decrypt(keys, &node, &r) else {
                    continue;
                };
                if filter.matches(&record) && !each(record) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

fn decrypt(keys: &AuditKeys, node: &str, r: &crate::format::RecordFrame) -> Option<StoredRecord> {
    let json = r.open(keys, node)?;
    let event = serde_json::from_slice(&json).ok()?;
    Some(StoredRecord {
        node: node.to_owned(),
        seq: r.seq,
        time_ms: r.time_ms,
        event,
    })
}

/// Where a follower has read up to in one node's files.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    segment: u64,
    offset: u64,
}

/// Reads records written after `cursors` (one per node; new nodes start at
/// their beginning), advancing them: `tail --follow`.
pub fn follow(
    dir: &Path,
    keys: &AuditKeys,
    filter: &Filter,
    cursors: &mut std::collections::BTreeMap<String, Cursor>,
    each: &mut dyn FnMut(StoredRecord),
) -> Result<()> {
    for (node, files) in segment::list(dir)? {
        if filter.node.as_ref().is_some_and(|n| *n != node) {
            continue;
        }
        let cursor = cursors.entry(node.clone()).or_default();
        let from = cursor.segment;
        for file in files.iter().filter(|f| f.number >= from) {
            if file.number != cursor.segment {
                *cursor = Cursor {
                    segment: file.number,
                    offset: 0,
                };
            }
            read_new(file, &node, keys, filter, cursor, each)?;
        }
    }
    Ok(())
}

fn read_new(
    file: &SegmentFile,
    node: &str,
    keys: &AuditKeys,
    filter: &Filter,
    cursor: &mut Cursor,
    each: &mut dyn FnMut(StoredRecord),
) -> Result<()> {
    let mut f = std::fs::File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    let mut bytes = Vec::new();
    if cursor.offset == 0 {
        f.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&file.path, e))?;
        let Ok((_, header_len)) = SegmentHeader::decode(&bytes) else {
            return Ok(()); // being created
        };
        bytes.drain(..header_len);
        cursor.offset = header_len as u64;
    } else {
        f.seek(SeekFrom::Start(cursor.offset))
            .and_then(|_| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(&file.path, e))?;
    }
    let mut at = 0;
    while let ReadFrame::Frame(frame, next) = read_frame(&bytes, at) {
        at = next;
        if let Frame::Record(r) = frame
            && let Some(record) = decrypt(keys, node, &r)
            && filter.matches(&record)
        {
            each(record);
        }
    }
    cursor.offset += at as u64;
    Ok(())
}
