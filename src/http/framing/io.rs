//! The socket side of the framing gate: a connection wrapper that passes what the client sends
//! through [`Gate`] before actix-http reads it. On a refused head it shows actix an end of
//! input, so actix answers the requests before it and then shuts the connection down; the
//! refusal is written at that shutdown, after those answers. It also owns the request-head
//! timeout (actix's own one answers with a bare 408).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_web::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

use super::{Gate, Rejection, Render};

/// One client connection seen through the gate.
pub struct Gated<T> {
    io: T,
    gate: Gate,
    /// Released by the gate and not yet read by actix.
    ready: Vec<u8>,
    pos: usize,
    /// No more input for actix (refused, or the client's own end of input).
    eof: bool,
    /// The refusal to write at shutdown, and how much of it is written.
    reply: Option<(Vec<u8>, usize)>,
    /// Deadline for the request head being received (or the first one).
    head_timer: Option<Pin<Box<Sleep>>>,
    head_timeout: Duration,
    render: Render,
}

impl<T> Gated<T> {
    /// `head_timeout` bounds the wait for a whole request head (first request included);
    /// `render` words the refusal.
    pub fn new(io: T, gate: Gate, head_timeout: Duration, render: Render) -> Self {
        Gated {
            io,
            gate,
            ready: Vec::new(),
            pos: 0,
            eof: false,
            reply: None,
            head_timer: Some(Box::pin(sleep(head_timeout))),
            head_timeout,
            render,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    fn refuse(&mut self, r: &Rejection) {
        tracing::info!(status = r.status.as_u16(), reason = %r.message, "refused a malformed request");
        if r.answer && self.reply.is_none() {
            self.reply = Some(((self.render)(r), 0));
        }
        self.eof = true;
        self.head_timer = None;
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Gated<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some(pending) = this.ready.get(this.pos..).filter(|p| !p.is_empty()) {
                let n = pending.len().min(buf.remaining());
                buf.put_slice(pending.get(..n).unwrap_or_default());
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            this.ready.clear();
            this.pos = 0;
            let mut chunk = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let input = rb.filled();
                    if input.is_empty() {
                        this.eof = true;
                        continue;
                    }
                    if let Err(r) = this.gate.feed(input, &mut this.ready) {
                        this.refuse(&r);
                        continue;
                    }
                    if this.gate.mid_head() {
                        if this.head_timer.is_none() {
                            this.head_timer = Some(Box::pin(sleep(this.head_timeout)));
                        }
                    } else if !this.gate.at_start() {
                        // Between requests idle time is actix's keep-alive, not a slow head.
                        this.head_timer = None;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let expired = this
                        .head_timer
                        .as_mut()
                        .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    let secs = this.head_timeout.as_secs_f32();
                    this.refuse(&Rejection::head(
                        StatusCode::REQUEST_TIMEOUT,
                        format!("The request head was not received within {secs} seconds."),
                    ));
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Gated<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// actix is done with the connection: write the refusal (after its answers), then close.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while let Some((bytes, written)) = this.reply.as_mut() {
            let Some(rest) = bytes.get(*written..).filter(|r| !r.is_empty()) else {
                ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                this.reply = None;
                break;
            };
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn plain(r: &Rejection) -> Vec<u8> {
        r.http_response("text/plain", &[], r.message.as_bytes())
    }

    #[tokio::test]
    async fn a_refusal_is_written_after_the_earlier_answer() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let mut gated = Gated::new(server, Gate::default(), Duration::from_secs(5), plain);
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: q\r\n\r\n")
            .await
            .unwrap();
        // What actix would read: the good request, then the end of input.
        let mut seen = vec![];
        gated.read_to_end(&mut seen).await.unwrap();
        assert_eq!(seen, b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n");
        gated
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        gated.shutdown().await.unwrap();
        drop(gated);
        let mut got = String::new();
        cr.read_to_string(&mut got).await.unwrap();
        let (first, second) = got.split_once("\r\n\r\n").unwrap();
        assert_eq!(first, "HTTP/1.1 200 OK\r\ncontent-length: 0");
        assert!(
            second.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{second}"
        );
        assert!(second.contains("Invalid Content-Length"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_head_gets_408() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let mut gated = Gated::new(server, Gate::default(), Duration::from_secs(5), plain);
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(b"GET /v1 HTTP/1.1\r\nHo").await.unwrap();
        let mut seen = vec![];
        gated.read_to_end(&mut seen).await.unwrap();
        assert!(seen.is_empty());
        gated.shutdown().await.unwrap();
        drop(gated);
        let mut got = String::new();
        cr.read_to_string(&mut got).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    }
}
