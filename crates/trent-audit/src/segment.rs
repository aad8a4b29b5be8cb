//! Segment files: `DIR/<node>.<number, 10 digits>.audit`. Each node writes
//! its own chain into its own files, so nodes sharing a store (and a
//! directory) never interleave; a node's id is kept in `DIR/node-id`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{Frame, ReadFrame, SegmentHeader, read_frame, valid_node_id};

const SUFFIX: &str = ".audit";

/// The file name of a node's segment.
pub fn segment_name(node: &str, number: u64) -> String {
    format!("{node}.{number:010}{SUFFIX}")
}

/// `(node, number)` of a segment file name.
pub fn parse_segment_name(name: &str) -> Option<(String, u64)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (node, number) = stem.rsplit_once('.')?;
    if number.len() != 10 || !number.bytes().all(|b| b.is_ascii_digit()) || !valid_node_id(node) {
        return None;
    }
    Some((node.to_owned(), number.parse().ok()?))
}

/// A segment file found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// Its number.
    pub number: u64,
    /// Its path.
    pub path: PathBuf,
}

/// Every node's segments, each list in number order. A missing directory
/// has none.
pub fn list(dir: &Path) -> Result<BTreeMap<String, Vec<SegmentFile>>> {
    let mut out: BTreeMap<String, Vec<SegmentFile>> = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some((node, number)) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        out.entry(node).or_default().push(SegmentFile {
            number,
            path: entry.path(),
        });
    }
    for files in out.values_mut() {
        files.sort_by_key(|f| f.number);
    }
    Ok(out)
}

/// How a segment's bytes end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEnd {
    /// After a whole frame.
    Clean,
    /// In the middle of a frame: a write cut short by a crash (or a cut).
    Torn {
        /// Where the incomplete frame starts.
        offset: usize,
        /// How many bytes of it there are.
        bytes: usize,
    },
    /// At bytes that are not a frame.
    Malformed {
        /// Where.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A segment file, read and split into frames (records still encrypted).
#[derive(Debug, Clone)]
pub struct ParsedSegment {
    /// The header.
    pub header: SegmentHeader,
    /// Frames with their byte offsets.
    pub frames: Vec<(usize, Frame)>,
    /// How it ends.
    pub end: SegmentEnd,
    /// Its size in bytes.
    pub len: usize,
}

/// Reads and splits a segment file.
pub fn read(path: &Path) -> Result<ParsedSegment> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&bytes)
}

/// Splits a segment's bytes into frames.
pub fn parse(bytes: &[u8]) -> Result<ParsedSegment> {
    let (header, mut offset) = SegmentHeader::decode(bytes)?;
    let mut frames = Vec::new();
    let end = loop {
        match read_frame(bytes, offset) {
            ReadFrame::Frame(frame, next) => {
                frames.push((offset, frame));
                offset = next;
            }
            ReadFrame::End => break SegmentEnd::Clean,
            ReadFrame::Torn => {
                break SegmentEnd::Torn {
                    offset,
                    bytes: bytes.len() - offset,
                };
            }
            ReadFrame::Malformed(reason) => break SegmentEnd::Malformed { offset, reason },
        }
    };
    Ok(ParsedSegment {
        header,
        frames,
        end,
        len: bytes.len(),
    })
}

/// Reads just a segment's header.
pub(crate) fn read_header(path: &Path) -> Option<SegmentHeader> {
    let mut buf = vec![0u8; 8 + 2 + 64 + 56];
    let mut file = File::open(path).ok()?;
    let n = std::io::Read::read(&mut file, &mut buf).ok()?;
    SegmentHeader::decode(&buf[..n]).ok().map(|(h, _)| h)
}

pub(crate) fn create_segment(path: &Path, header: &[u8]) -> Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    if let Err(e) = file.write_all(header).and_then(|()| file.sync_all()) {
        // No record is in it yet: remove it, so that the retry after the
        // fault (a full disk, say) can create the segment again.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(path, e));
    }
    Ok(file)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

/// Makes a file creation or removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads `DIR/node-id`, creating it with a random id on first use.
pub fn local_node_id(dir: &Path) -> Result<String> {
    let path: PathBuf = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim().to_owned();
            if valid_node_id(&id) {
                return Ok(id);
            }
            return Err(Error::Format(format!("{}: not a node id", path.display())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    create_private_dir(dir)?;
    let mut bytes = [0u8; 4];
    trent_crypto::random_bytes(&mut bytes)?;
    let id = format!(
        "node-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let tmp = dir.join(format!("node-id.{id}.tmp"));
    std::fs::write(&tmp, format!("{id}\n")).map_err(|e| Error::io(&tmp, e))?;
    // Two processes racing: the first link wins (linking never replaces),
    // and both read the winner back.
    let _ = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name("node-a", 3), "node-a.0000000003.audit");
        assert_eq!(
            parse_segment_name("node-a.0000000003.audit"),
            Some(("node-a".into(), 3))
        );
        assert_eq!(parse_segment_name("node-a.3.audit"), None);
        assert_eq!(parse_segment_name("node.a.0000000003.audit"), None);
        assert_eq!(parse_segment_name("x.0000000003.log"), None);
    }
}
