//! What protects a node from slow, idle and too many clients: the limits
//! [`crate::http::serve_with`] enforces, and the idle timeout it wraps each
//! connection in.
//!
//! - **Connections**: at most [`Limits::max_connections`] open at once; a
//!   connection over the limit is closed at once (the client retries).
//! - **Idle connections**: no byte either way for [`Limits::idle_timeout`]
//!   closes a connection ([`IdleTimeout`]), so idle keep-alive connections
//!   and stalled readers give their slot back.
//! - **Slow headers**: a request head must arrive within
//!   [`Limits::header_read_timeout`] of its first byte (hyper's HTTP/1
//!   header timeout), else the connection is closed.
//! - **Slow bodies**: the body must arrive within [`Limits::body_timeout`]
//!   of the head, else `RequestTimeoutException` (408, retryable).
//! - **Concurrency**: at most [`Limits::max_in_flight`] KMS requests are
//!   handled at once; more are shed with `ThrottlingException`, which the
//!   AWS SDKs retry with backoff.
//!
//! Handlers are not cancelled midway: a write either completes or fails in
//! the store, never half-way because a timer fired. The in-flight limit is
//! what bounds the pile-up when the store is slow.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The limits a server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// KMS requests handled at once; more get `ThrottlingException`.
    pub max_in_flight: usize,
    /// Time from a request head's first byte to its end.
    pub header_read_timeout: Duration,
    /// Time from the head to the end of the body.
    pub body_timeout: Duration,
    /// Time without a byte in either direction before a connection closes.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: default_max_connections(),
            max_in_flight: 512,
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// 4096 connections, or fewer when the open-file limit is lower (leaving
/// room for the store's files and the listener).
fn default_max_connections() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(1024);
    soft_limit.saturating_sub(64).clamp(16, 4096)
}

/// The body deadline of a request, put in its extensions by the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDeadline(pub(crate) Instant);

/// A connection that fails with `TimedOut` once no byte has moved in either
/// direction for the idle timeout.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    /// Wraps a connection.
    pub fn new(inner: S, idle: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// Called when the inner connection is not ready: an error once idle.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn idle_connection_times_out_and_activity_keeps_it_open() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut conn = IdleTimeout::new(a, Duration::from_millis(200));
        let mut buf = [0u8; 4];
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(120)).await;
            b.write_all(b"x").await.unwrap_or_default();
            assert_eq!(conn.read(&mut buf).await.ok(), Some(1));
        }
        let started = std::time::Instant::now();
        let err = conn.read(&mut buf).await.err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn default_limits_are_sane() {
        let l = Limits::default();
        assert!((16..=4096).contains(&l.max_connections));
        assert!(l.header_read_timeout < l.idle_timeout);
    }
}
