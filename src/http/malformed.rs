//! The answer to a request hyper cannot parse (a `Content-Length` that is not one number, two that
//! disagree, a bad header name or request line): hyper writes its own `400` with an empty body and
//! closes the connection; [`AnswerMalformed`] puts the exporter's JSON error in its place, so that
//! every 4xx a client gets says what was wrong. The server counts these requests
//! (`mfu_exporter_http_malformed_requests_total`) from the connection's parse error.
//!
//! hyper's answer is told apart from the exporter's own `400`s by its empty body: the exporter's
//! always carry `{"error": ...}`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How hyper's answer to a request it cannot parse begins.
const HYPER_BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\n";
/// And the header that says it has no body.
const EMPTY_BODY: &[u8] = b"content-length: 0\r\n";

/// The exporter's answer in its place.
pub const MALFORMED_RESPONSE: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 151\r\n\r\n{\"error\": \"malformed HTTP request: its request line or headers cannot be parsed (for example a Content-Length that is not one number); fix the client\"}";

/// A connection's byte stream that swaps hyper's empty `400` for [`MALFORMED_RESPONSE`].
pub struct AnswerMalformed<T> {
    inner: T,
    /// The replacement, and how much of it is written, once hyper's answer has begun.
    replacement: Option<usize>,
}

impl<T> AnswerMalformed<T> {
    pub fn new(inner: T) -> Self {
        AnswerMalformed {
            inner,
            replacement: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> AnswerMalformed<T> {
    /// Writes what is left of the replacement.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(written) = self.replacement {
            let Some(rest) = MALFORMED_RESPONSE
                .get(written..)
                .filter(|rest| !rest.is_empty())
            else {
                return Poll::Ready(Ok(()));
            };
            let wrote = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if wrote == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.replacement = Some(written + wrote);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for AnswerMalformed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// Whether `buf` begins hyper's empty `400`.
fn is_hyper_bad_request(buf: &[u8]) -> bool {
    buf.starts_with(HYPER_BAD_REQUEST) && buf.windows(EMPTY_BODY.len()).any(|w| w == EMPTY_BODY)
}

impl<T: AsyncWrite + Unpin> AsyncWrite for AnswerMalformed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacement.is_none() && is_hyper_bad_request(buf) {
            self.replacement = Some(0);
        }
        if self.replacement.is_some() {
            // What hyper writes from here on is its answer, which the replacement stands for.
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    /// hyper writes a response's head and body in one call without copying the body into its
    /// head's buffer when the stream takes vectored writes, so they are passed on as they are.
    /// hyper's own answer is one head with an empty body, the first buffer it writes.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|buf| !buf.is_empty());
        if self.replacement.is_none() && first.is_some_and(|buf| is_hyper_bad_request(buf)) {
            self.replacement = Some(0);
        }
        if self.replacement.is_some() {
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|buf| buf.len()).sum()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_replacement_is_json_with_its_length() {
        let text = std::str::from_utf8(MALFORMED_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let error: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(error["error"].as_str().unwrap().contains("Content-Length"));
    }

    #[tokio::test]
    async fn hypers_empty_400_is_replaced_and_other_answers_pass() {
        for (written, expected) in [
            (
                &b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n"[..],
                MALFORMED_RESPONSE,
            ),
            (
                &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n{\"error\":1}\n"[..],
                &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n{\"error\":1}\n"[..],
            ),
            (
                &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
                &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            ),
        ] {
            for vectored in [false, true] {
                let got = through_answer_malformed(written, vectored).await;
                assert_eq!(got, expected, "{}", String::from_utf8_lossy(written));
            }
        }
    }

    /// What a client reads of `written` sent through [`AnswerMalformed`]: in one write, or as
    /// hyper writes with vectored writes, the head and the body as two buffers of one call.
    async fn through_answer_malformed(written: &'static [u8], vectored: bool) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(64);
        let mut server = AnswerMalformed::new(server);
        let writing = async move {
            if vectored {
                let head_end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let (head, body) = written.split_at(head_end);
                let mut slices = [io::IoSlice::new(head), io::IoSlice::new(body)];
                let mut bufs = &mut slices[..];
                while !bufs.is_empty() {
                    let wrote = server.write_vectored(bufs).await.unwrap();
                    io::IoSlice::advance_slices(&mut bufs, wrote);
                }
            } else {
                server.write_all(written).await.unwrap();
            }
            server.shutdown().await.unwrap();
        };
        let reading = async move {
            let mut client = client;
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        };
        let ((), got) = tokio::join!(writing, reading);
        got
    }
}
