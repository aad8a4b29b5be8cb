//! A one-connection KMS client for the setup steps of a workload (creating
//! keys, making ciphertexts and signatures to decrypt and verify), and the
//! reading of error names from responses, shared with the load loop.

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use crate::signer::Signer;
use crate::transport::{Connection, Endpoint};

/// A failed call: the AWS error name (`__type`) and message, or what went
/// wrong below HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `KMSInvalidStateException`, `HTTP 502`, `transport`, …
    pub name: String,
    /// The message, if the server sent one.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl Failure {
    /// A failure below HTTP.
    pub fn transport(message: impl fmt::Display) -> Self {
        Self {
            name: "transport".into(),
            message: message.to_string(),
        }
    }

    /// Whether the server said it does not implement the operation (or a
    /// key spec it needs) yet.
    pub fn is_unsupported(&self) -> bool {
        self.name == "UnsupportedOperationException"
    }
}

/// The error name of a non-200 response: `__type` without any
/// `namespace#` prefix, else `HTTP <status>`.
pub fn failure_of(status: u16, body: &[u8]) -> Failure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name).or_else(|| v.get(name.to_ascii_lowercase())))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match field("__type") {
        Some(ty) => Failure {
            name: ty.rsplit('#').next().unwrap_or(&ty).to_owned(),
            message: field("Message").unwrap_or_default(),
        },
        None => Failure {
            name: format!("HTTP {status}"),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
        },
    }
}

/// A signed, one-connection client.
#[derive(Debug)]
pub struct Api {
    endpoint: Endpoint,
    connection: Option<Connection>,
    signer: Signer,
}

impl Api {
    /// A client; it connects on first use.
    pub fn new(endpoint: Endpoint, signer: Signer) -> Self {
        Self {
            endpoint,
            connection: None,
            signer,
        }
    }

    /// Calls `operation` with a JSON body; the JSON response, or why not.
    pub async fn call(&mut self, operation: &str, body: &Value) -> Result<Value, Failure> {
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(Failure::transport)?);
        let (status, response) = self.call_raw(operation, bytes).await?;
        if status != 200 {
            return Err(failure_of(status, &response));
        }
        serde_json::from_slice(&response)
            .map_err(|e| Failure::transport(format!("response is not JSON: {e}")))
    }

    /// Calls `operation` with a raw body; the status and body.
    pub async fn call_raw(
        &mut self,
        operation: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), Failure> {
        // A kept-alive connection may have been closed by the server while
        // idle (its idle timeout); a request on it fails before the server
        // reads anything, so it is sent once more on a fresh connection.
        let mut reused = self.connection.is_some();
        let answer = loop {
            let connection = match &mut self.connection {
                Some(c) => c,
                None => self.connection.insert(
                    Connection::open(&self.endpoint)
                        .await
                        .map_err(Failure::transport)?,
                ),
            };
            let request = self
                .signer
                .request(operation, body.clone(), self.endpoint.absolute_uri())
                .map_err(|e| Failure::transport(format!("signing: {e}")))?;
            match connection.exchange(request).await {
                Ok(a) => break a,
                Err(e) => {
                    self.connection = None;
                    if !reused {
                        return Err(Failure::transport(e));
                    }
                    reused = false;
                }
            }
        };
        if !answer.keep_alive {
            self.connection = None;
        }
        Ok((answer.status, answer.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_come_from_type() {
        let f = failure_of(
            400,
            br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"gone"}"#,
        );
        assert_eq!(
            f,
            Failure {
                name: "NotFoundException".into(),
                message: "gone".into()
            }
        );
        assert!(failure_of(400, br#"{"__type":"UnsupportedOperationException"}"#).is_unsupported());
        assert_eq!(failure_of(502, b"bad gateway").name, "HTTP 502");
    }
}
