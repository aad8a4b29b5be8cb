//! Seals keep the root key at rest. A seal turns the root key into an opaque
//! blob stored beside the data, and back. Which seals exist:
//!
//! - [`DevFileSeal`]: the key-encryption key sits in a file next to the
//!   store. Zero set-up, and **insecure**: anyone who can read the data dir
//!   can read every key. The server warns loudly when it is used.
//! - [`PassphraseSeal`]: the key-encryption key is derived from an operator
//!   passphrase with Argon2id.
//!
//! Sealed blob: `"TRNTSEAL" ‖ 0x01 ‖ kind ‖ kind parameters ‖ wrapped root`,
//! where the wrapped root is `root::seal_with` under the key-encryption key
//! with everything before it as associated data (see `docs/FORMATS.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use zeroize::Zeroizing;

use crate::root::{RootKey, open_with, seal_with};
use crate::{Error, random_bytes};

const MAGIC: &[u8; 8] = b"TRNTSEAL";
const SEAL_V1: u8 = 0x01;
const KIND_DEV_FILE: u8 = 0x01;
const KIND_PASSPHRASE: u8 = 0x02;
pub(crate) const KIND_SHAMIR: u8 = 0x03;
pub(crate) const KIND_PKCS11: u8 = 0x04;

/// A way of keeping the root key sealed at rest.
pub trait Seal: Send + Sync + std::fmt::Debug {
    /// A short name for logs and status ("dev-file", "passphrase", ...).
    fn name(&self) -> &'static str;
    /// Whether this seal protects the root key against someone who can read
    /// the data directory.
    fn is_secure(&self) -> bool;
    /// Seals the root key.
    fn seal(&self, root: &RootKey) -> Result<Vec<u8>, Error>;
    /// Opens a blob made by [`Seal::seal`] of the same kind.
    fn unseal(&self, sealed: &[u8]) -> Result<RootKey, Error>;
}

/// Reads the kind byte of a sealed blob, to tell the operator which seal
/// the store was initialized with.
pub fn sealed_kind(sealed: &[u8]) -> Option<&'static str> {
    if sealed.len() < 10 || &sealed[..8] != MAGIC || sealed[8] != SEAL_V1 {
        return None;
    }
    match sealed[9] {
        KIND_DEV_FILE => Some("dev-file"),
        KIND_PASSPHRASE => Some("passphrase"),
        KIND_SHAMIR => Some("shamir"),
        KIND_PKCS11 => Some("pkcs11"),
        _ => None,
    }
}

pub(crate) fn header(kind: u8, params: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + params.len());
    out.extend_from_slice(MAGIC);
    out.push(SEAL_V1);
    out.push(kind);
    out.extend_from_slice(params);
    out
}

fn aead(kek: &[u8]) -> Result<LessSafeKey, Error> {
    let key =
        UnboundKey::new(&AES_256_GCM, kek).map_err(|_| Error::Format("key-encryption key"))?;
    Ok(LessSafeKey::new(key))
}

pub(crate) fn seal_root(kek: &[u8], head: Vec<u8>, root: &RootKey) -> Result<Vec<u8>, Error> {
    let wrapped = seal_with(&aead(kek)?, SEAL_V1, &head, root.expose_bytes())?;
    let mut out = head;
    out.extend_from_slice(&wrapped);
    Ok(out)
}

pub(crate) fn unseal_root(
    kek: &[u8],
    sealed: &[u8],
    head_len: usize,
    what: &str,
) -> Result<RootKey, Error> {
    let (head, wrapped) = sealed.split_at(head_len);
    let bytes = open_with(&aead(kek)?, SEAL_V1, head, wrapped)
        .map_err(|_| Error::Unseal(what.to_owned()))?;
    let mut root = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(Error::Format("sealed root key length"));
    }
    root.copy_from_slice(&bytes);
    RootKey::from_bytes(root)
}

pub(crate) fn check_kind(sealed: &[u8], kind: u8, min_len: usize) -> Result<(), Error> {
    if sealed.len() < min_len || &sealed[..8] != MAGIC || sealed[8] != SEAL_V1 {
        return Err(Error::Format("sealed root key"));
    }
    if sealed[9] != kind {
        let found = sealed_kind(sealed).unwrap_or("unknown");
        return Err(Error::Unseal(format!(
            "the store was sealed with the {found} seal"
        )));
    }
    Ok(())
}

/// The insecure development seal: a random key-encryption key in a file.
#[derive(Debug)]
pub struct DevFileSeal {
    path: PathBuf,
}

impl DevFileSeal {
    /// A seal whose key file is at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn read_kek(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let kek = Zeroizing::new(
            std::fs::read(&self.path)
                .map_err(|e| Error::Io(format!("{}: {e}", self.path.display())))?,
        );
        if kek.len() != 32 {
            return Err(Error::Unseal(format!(
                "{} is not a 32-byte seal key",
                self.path.display()
            )));
        }
        Ok(kek)
    }

    /// Creates the key file (mode 0600) unless it exists.
    pub fn ensure_key_file(&self) -> Result<(), Error> {
        if self.path.exists() {
            return Ok(());
        }
        let mut kek = Zeroizing::new([0u8; 32]);
        random_bytes(kek.as_mut())?;
        write_private_file(&self.path, kek.as_ref())
    }
}

impl Seal for DevFileSeal {
    fn name(&self) -> &'static str {
        "dev-file"
    }

    fn is_secure(&self) -> bool {
        false
    }

    fn seal(&self, root: &RootKey) -> Result<Vec<u8>, Error> {
        self.ensure_key_file()?;
        seal_root(&self.read_kek()?, header(KIND_DEV_FILE, &[]), root)
    }

    fn unseal(&self, sealed: &[u8]) -> Result<RootKey, Error> {
        check_kind(sealed, KIND_DEV_FILE, 10)?;
        unseal_root(
            &self.read_kek()?,
            sealed,
            10,
            "the dev seal file does not match this store",
        )
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option).
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

/// A seal whose key-encryption key is Argon2id(passphrase, salt).
pub struct PassphraseSeal {
    passphrase: Zeroizing<String>,
    params: Argon2Params,
}

impl std::fmt::Debug for PassphraseSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassphraseSeal")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PassphraseSeal {
    /// A seal for `passphrase` with the default cost for new seals.
    pub fn new(passphrase: Zeroizing<String>) -> Self {
        Self {
            passphrase,
            params: Argon2Params::default(),
        }
    }

    /// Overrides the cost used when sealing (tests use a cheap one).
    pub fn with_params(mut self, params: Argon2Params) -> Self {
        self.params = params;
        self
    }

    fn derive(&self, params: Argon2Params, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
        let argon_params = argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|_| Error::Format("argon2 parameters"))?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon_params,
        );
        let mut kek = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.passphrase.as_bytes(), salt, kek.as_mut())
            .map_err(|_| Error::Format("argon2"))?;
        Ok(kek)
    }
}

const PASSPHRASE_PARAMS_LEN: usize = 12 + 16;

impl Seal for PassphraseSeal {
    fn name(&self) -> &'static str {
        "passphrase"
    }

    fn is_secure(&self) -> bool {
        true
    }

    fn seal(&self, root: &RootKey) -> Result<Vec<u8>, Error> {
        if self.passphrase.len() < 8 {
            return Err(Error::Unseal(
                "the passphrase must have at least 8 characters".into(),
            ));
        }
        let mut salt = [0u8; 16];
        random_bytes(&mut salt)?;
        let p = self.params;
        let mut params = Vec::with_capacity(PASSPHRASE_PARAMS_LEN);
        params.extend_from_slice(&p.memory_kib.to_be_bytes());
        params.extend_from_slice(&p.iterations.to_be_bytes());
        params.extend_from_slice(&p.parallelism.to_be_bytes());
        params.extend_from_slice(&salt);
        let kek = self.derive(p, &salt)?;
        seal_root(kek.as_ref(), header(KIND_PASSPHRASE, &params), root)
    }

    fn unseal(&self, sealed: &[u8]) -> Result<RootKey, Error> {
        let head_len = 10 + PASSPHRASE_PARAMS_LEN;
        check_kind(sealed, KIND_PASSPHRASE, head_len)?;
        let u32_at =
            |i: usize| u32::from_be_bytes([sealed[i], sealed[i + 1], sealed[i + 2], sealed[i + 3]]);
        let params = Argon2Params {
            memory_kib: u32_at(10),
            iterations: u32_at(14),
            parallelism: u32_at(18),
        };
        if params.memory_kib > 4 * 1024 * 1024 || params.iterations > 64 || params.parallelism > 64
        {
            return Err(Error::Format("argon2 parameters out of range"));
        }
        let kek = self.derive(params, &sealed[22..38])?;
        unseal_root(kek.as_ref(), sealed, head_len, "wrong passphrase")
    }
}

/// Writes `bytes` to a new file readable only by its owner, durably.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(p: &str) -> PassphraseSeal {
        PassphraseSeal::new(Zeroizing::new(p.into())).with_params(Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let root = RootKey::generate().unwrap();
        let sealed = cheap("correct horse").seal(&root).unwrap();
        assert_eq!(sealed_kind(&sealed), Some("passphrase"));
        let back = cheap("correct horse").unseal(&sealed).unwrap();
        assert_eq!(back.expose_bytes(), root.expose_bytes());
        assert!(matches!(
            cheap("wrong horse!").unseal(&sealed),
            Err(Error::Unseal(_))
        ));
        let mut bad = sealed.clone();
        bad[25] ^= 1; // salt
        assert!(cheap("correct horse").unseal(&bad).is_err());
        assert!(cheap("short").seal(&root).is_err());
    }

    #[test]
    fn dev_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("trent-seal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let seal = DevFileSeal::new(dir.join("dev-seal.key"));
        let root = RootKey::generate().unwrap();
        let sealed = seal.seal(&root).unwrap();
        assert_eq!(
            seal.unseal(&sealed).unwrap().expose_bytes(),
            root.expose_bytes()
        );
        assert!(matches!(
            cheap("correct horse").unseal(&sealed),
            Err(Error::Unseal(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
