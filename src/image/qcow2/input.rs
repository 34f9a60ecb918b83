//! The input side: a buffered, strictly forward reader over the image stream.

use std::io::{self, Read};

use super::*;

/// A buffered, strictly forward reader that knows its position.
pub(super) struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset of the next unconsumed byte.
    pub(super) pos: u64,
}

impl<R: Read> Input<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0u8; READ_BUF],
            start: 0,
            end: 0,
            pos: 0,
        }
    }

    /// The buffered unconsumed bytes, refilled when empty; empty only at end of input.
    pub(super) fn fill(&mut self) -> Result<&[u8], ImageError> {
        if self.start == self.end {
            self.start = 0;
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ImageError::Read(e)),
                }
            };
        }
        // start <= end <= buf.len(): `read` returns at most buf.len() and `consume` at most what
        // `fill` showed; out of step would be a bug here, reported rather than a panic.
        self.buf
            .get(self.start..self.end)
            .ok_or_else(|| ImageError::Read(io::Error::other("qcow2 input buffer out of step")))
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    /// Fills `out` as far as the input goes; returns how much was read.
    pub(super) fn read_some(&mut self, out: &mut [u8]) -> Result<usize, ImageError> {
        let mut done = 0;
        while done < out.len() {
            let avail = self.fill()?;
            if avail.is_empty() {
                break;
            }
            let n = avail.len().min(out.len() - done);
            let (Some(dst), Some(src)) = (out.get_mut(done..done + n), avail.get(..n)) else {
                break;
            };
            dst.copy_from_slice(src);
            self.consume(n);
            done += n;
        }
        Ok(done)
    }

    pub(super) fn read_exact_at(&mut self, offset: u64, out: &mut [u8]) -> Result<(), ImageError> {
        let n = self.read_some(out)?;
        if n < out.len() {
            return Err(ImageError::Truncated {
                offset,
                needed: out.len() as u64,
            });
        }
        Ok(())
    }

    /// Consumes up to `n` bytes (fewer at end of input), showing them to `sink`.
    pub(super) fn skip(
        &mut self,
        n: u64,
        sink: impl FnMut(u64, &[u8]) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        self.skip_chunked(n, u64::MAX, sink)
    }

    /// Like [`Input::skip`], but never hands `sink` a piece crossing a multiple of `align`.
    pub(super) fn skip_chunked(
        &mut self,
        n: u64,
        align: u64,
        mut sink: impl FnMut(u64, &[u8]) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let end = self.pos.saturating_add(n);
        while self.pos < end {
            let pos = self.pos;
            let boundary = if align == u64::MAX {
                end
            } else {
                ((pos / align) + 1).saturating_mul(align).min(end)
            };
            let avail = self.fill()?;
            if avail.is_empty() {
                break;
            }
            let take = avail
                .len()
                .min((boundary - pos).min(usize::MAX as u64) as usize);
            sink(pos, avail.get(..take).unwrap_or(avail))?;
            self.consume(take);
        }
        Ok(())
    }
}
