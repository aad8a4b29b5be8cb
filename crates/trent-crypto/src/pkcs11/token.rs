//! A logged-in connection to one PKCS#11 token: the module loaded once per
//! process, a pool of sessions, and a deadline on every call.
//!
//! Every call runs on a short-lived worker thread and the caller waits for it
//! at most [`HsmConfig::timeout`]: a token that stops answering costs the
//! caller a [`TokenError::Timeout`], never a hang. A call that timed out keeps
//! its thread (PKCS#11 calls cannot be cancelled) and its session; at most
//! [`MAX_IN_FLIGHT`] calls run at once, so a hung token cannot eat every
//! thread of the process either.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

/// Calls to one token that may be running at once.
pub const MAX_IN_FLIGHT: usize = 64;

/// Sessions kept open for reuse.
const POOL_SIZE: usize = 8;

/// One HSM as the operator declared it in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmConfig {
    /// The name custom key stores give as `CloudHsmClusterId`.
    pub name: String,
    /// The PKCS#11 module (a shared library).
    pub module: PathBuf,
    /// The token's label; the first token with this label is used.
    pub token_label: Option<String>,
    /// The slot id, when no label is given.
    pub slot: Option<u64>,
    /// How long one call may take before it is abandoned.
    pub timeout: Duration,
}

impl HsmConfig {
    /// The default deadline of one HSM call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

/// What went wrong talking to a token. Messages carry no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The PKCS#11 module could not be loaded or initialized.
    #[error("the PKCS#11 module could not be loaded: {0}")]
    Module(String),
    /// No token with the configured label or slot is present.
    #[error("no token found: {0}")]
    TokenNotFound(String),
    /// The user PIN was refused.
    #[error("the token refused the user PIN")]
    InvalidCredentials,
    /// The user PIN is locked after too many failures.
    #[error("the token's user PIN is locked")]
    PinLocked,
    /// The token did not answer within the deadline.
    #[error("the HSM did not answer within {0:?}")]
    Timeout(Duration),
    /// Too many calls to a token that is not answering are still pending.
    #[error("too many HSM calls pending")]
    Busy,
    /// The token was removed or the device failed.
    #[error("the token is not present")]
    Removed,
    /// The key store is not connected to its HSM.
    #[error("the custom key store is not connected")]
    Disconnected,
    /// A key object Trent created is no longer in the token.
    #[error("the key object is not in the token")]
    ObjectNotFound,
    /// Any other PKCS#11 failure (the return value's name).
    #[error("PKCS#11 call failed: {0}")]
    Device(String),
}

impl TokenError {
    pub(crate) fn from_p11(error: P11Error) -> Self {
        match error {
            P11Error::LibraryLoading(e) => Self::Module(e.to_string()),
            P11Error::Pkcs11(rv, _) => match rv {
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange => {
                    Self::InvalidCredentials
                }
                RvError::PinLocked => Self::PinLocked,
                RvError::TokenNotPresent
                | RvError::DeviceRemoved
                | RvError::TokenNotRecognized
                | RvError::SlotIdInvalid
                | RvError::DeviceError
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn => Self::Removed,
                other => Self::Device(format!("{other:?}")),
            },
            other => Self::Device(other.to_string()),
        }
    }

    /// Whether the PKCS#11 return value of `error` says the ciphertext was
    /// rejected. SoftHSM 2.6 reports a failed GCM tag as CKR_GENERAL_ERROR,
    /// so that counts too (docs/HSM.md).
    pub(crate) fn is_bad_ciphertext(error: &P11Error) -> bool {
        matches!(
            error,
            P11Error::Pkcs11(
                RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError,
                _
            )
        )
    }
}

/// The process's PKCS#11 contexts, one per module: PKCS#11 allows one
/// `C_Initialize` per process, so a context is never finalized.
fn context(module: &PathBuf) -> Result<Pkcs11, TokenError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let contexts = CONTEXTS.get_or_init(Default::default);
    let mut contexts = contexts
        .lock()
        .map_err(|_| TokenError::Device("context registry poisoned".into()))?;
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    if !module.exists() {
        return Err(TokenError::Module(format!(
            "{} does not exist",
            module.display()
        )));
    }
    let ctx = Pkcs11::new(module).map_err(TokenError::from_p11)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(TokenError::Module(e.to_string())),
    }
    contexts.insert(module.clone(), ctx.clone());
    Ok(ctx)
}

/// Runs `work` on its own thread and waits at most `timeout` for it.
pub(crate) fn with_deadline<T: Send + 'static>(
    timeout: Duration,
    in_flight: &Arc<AtomicUsize>,
    work: impl FnOnce() -> Result<T, TokenError> + Send + 'static,
) -> Result<T, TokenError> {
    if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return Err(TokenError::Busy);
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let counter = in_flight.clone();
    let spawned = std::thread::Builder::new()
        .name("trent-pkcs11".into())
        .spawn(move || {
            let result = work();
            counter.fetch_sub(1, Ordering::AcqRel);
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return Err(TokenError::Device("could not start an HSM worker".into()));
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TokenError::Timeout(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(TokenError::Device("the HSM worker failed".into()))
        }
    }
}

struct Inner {
    ctx: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    /// The session that holds the login: PKCS#11 logs a whole application
    /// in and out, and closing the last session logs it out.
    login: Mutex<Option<Session>>,
    pool: Mutex<Vec<Session>>,
    timeout: Duration,
    in_flight: Arc<AtomicUsize>,
}

/// A logged-in token. Clones share the sessions.
#[derive(Clone)]
pub struct Token {
    inner: Arc<Inner>,
    name: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("slot", &self.inner.slot)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Loads the module, finds the token and logs in as its user. Blocks for
    /// at most the configured timeout (per step).
    pub fn open(config: &HsmConfig, pin: &str) -> Result<Self, TokenError> {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let config_owned = config.clone();
        let pin = AuthPin::new(pin.into());
        let inner = with_deadline(config.timeout, &in_flight, move || {
            let ctx = context(&config_owned.module)?;
            let slot = find_slot(&ctx, &config_owned)?;
            let session = ctx.open_rw_session(slot).map_err(TokenError::from_p11)?;
            match session.login(UserType::User, Some(&pin)) {
                Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(TokenError::from_p11(e)),
            }
            Ok((ctx, slot, session, pin))
        })?;
        let (ctx, slot, session, pin) = inner;
        Ok(Self {
            inner: Arc::new(Inner {
                ctx,
                slot,
                pin,
                login: Mutex::new(Some(session)),
                pool: Mutex::new(Vec::new()),
                timeout: config.timeout,
                in_flight,
            }),
            name: config.name.clone(),
        })
    }

    /// The configured HSM name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `work` with a pooled session, within the deadline.
    pub fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Session) -> Result<T, TokenError> + Send + 'static,
    ) -> Result<T, TokenError> {
        let inner = self.inner.clone();
        with_deadline(self.inner.timeout, &self.inner.in_flight, move || {
            let session = inner.take_session()?;
            let result = work(&session);
            match &result {
                // A session of a removed token is useless: drop it.
                Err(TokenError::Removed) => {}
                _ => inner.return_session(session),
            }
            result
        })
    }

    /// Closes this connection's sessions. PKCS#11 logs the application out
    /// when its last session on the token closes; an explicit `C_Logout`
    /// would also end the login of another connection to the same token.
    pub fn close(&self) {
        if let Ok(mut pool) = self.inner.pool.lock() {
            pool.clear();
        }
        if let Ok(mut login) = self.inner.login.lock() {
            login.take();
        }
    }
}

impl Inner {
    fn take_session(&self) -> Result<Session, TokenError> {
        if let Ok(mut pool) = self.pool.lock()
            && let Some(session) = pool.pop()
        {
            return Ok(session);
        }
        if self.login.lock().map(|l| l.is_none()).unwrap_or(true) {
            return Err(TokenError::Disconnected);
        }
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(TokenError::from_p11)?;
        // Sessions share the application's login; after a token reset the
        // login is gone and this restores it.
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(TokenError::from_p11(e)),
        }
    }

    fn return_session(&self, session: Session) {
        let open = self.login.lock().map(|l| l.is_some()).unwrap_or(false);
        if let Ok(mut pool) = self.pool.lock()
            && open
            && pool.len() < POOL_SIZE
        {
            pool.push(session);
        }
    }
}

fn find_slot(ctx: &Pkcs11, config: &HsmConfig) -> Result<Slot, TokenError> {
    let slots = ctx.get_slots_with_token().map_err(TokenError::from_p11)?;
    if let Some(label) = &config.token_label {
        for slot in slots {
            let info = ctx.get_token_info(slot).map_err(TokenError::from_p11)?;
            if info.label().trim_end() == label {
                return Ok(slot);
            }
        }
        return Err(TokenError::TokenNotFound(format!(
            "no token labelled {label:?}"
        )));
    }
    if let Some(id) = config.slot {
        return slots
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or_else(|| TokenError::TokenNotFound(format!("no token in slot {id}")));
    }
    Err(TokenError::TokenNotFound(
        "the HSM configuration names neither a token label nor a slot".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_hangs_times_out() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let started = std::time::Instant::now();
        let result: Result<(), _> = with_deadline(Duration::from_millis(50), &in_flight, || {
            std::thread::sleep(Duration::from_millis(400));
            Ok(())
        });
        assert_eq!(result, Err(TokenError::Timeout(Duration::from_millis(50))));
        assert!(started.elapsed() < Duration::from_millis(300));
    }

    #[test]
    fn too_many_pending_calls_are_refused() {
        let in_flight = Arc::new(AtomicUsize::new(MAX_IN_FLIGHT));
        let result: Result<(), _> = with_deadline(Duration::from_secs(1), &in_flight, || Ok(()));
        assert_eq!(result, Err(TokenError::Busy));
    }

    #[test]
    fn a_missing_module_is_a_clear_error() {
        let config = HsmConfig {
            name: "x".into(),
            module: "/nonexistent/libpkcs11.so".into(),
            token_label: Some("t".into()),
            slot: None,
            timeout: Duration::from_secs(5),
        };
        assert!(matches!(
            Token::open(&config, "1234"),
            Err(TokenError::Module(_))
        ));
    }
}
