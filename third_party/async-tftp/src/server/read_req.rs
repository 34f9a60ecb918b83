use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt};
use log::trace;
use std::cmp;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::packet::{Opts, Packet, RwReq, PACKET_DATA_HEADER_LEN};
use crate::server::{ServerConfig, DEFAULT_BLOCK_SIZE};

pub(crate) struct ReadRequest<'r, R>
where
    R: AsyncRead + Send,
{
    peer: SocketAddr,
    // ironbox patch: a blocking socket; the transfer runs on its own thread (server.rs).
    socket: UdpSocket,
    reader: &'r mut R,
    block_size: usize,
    timeout: Duration,
    max_send_retries: u32,
    oack_opts: Option<Opts>,
    window_size: usize,
    // ironbox patch: data packet buffers, reused for the whole transfer.
    spare: Vec<Vec<u8>>,
}

impl<'r, R> ReadRequest<'r, R>
where
    R: AsyncRead + Send + Unpin,
{
    pub(crate) async fn init(
        reader: &'r mut R,
        file_size: Option<u64>,
        peer: SocketAddr,
        req: &RwReq,
        config: ServerConfig,
        local_ip: IpAddr,
    ) -> Result<ReadRequest<'r, R>> {
        let oack_opts = build_oack_opts(&config, req, file_size);

        let block_size = oack_opts
            .as_ref()
            .and_then(|o| o.block_size)
            .map(usize::from)
            .unwrap_or(DEFAULT_BLOCK_SIZE);

        // Default window size is 1 as per rfc7440
        let negotiated_window_size: usize =
            oack_opts.as_ref().and_then(|o| o.window_size).unwrap_or(1u16)
                as usize;

        let timeout = oack_opts
            .as_ref()
            .and_then(|o| o.timeout)
            .map(|t| Duration::from_secs(u64::from(t)))
            .unwrap_or(config.timeout);

        let addr = SocketAddr::new(local_ip, 0);
        // ironbox patch: a blocking socket with the ACK timeout as its receive timeout, so
        // waiting for an ACK is one `recv` (no reactor, no timer); and connected, so the
        // kernel drops datagrams from anyone but the peer and skips the route lookup on
        // every send.
        let socket = UdpSocket::bind(addr).map_err(Error::Bind)?;
        socket.connect(peer).map_err(Error::Bind)?;
        let timeout = timeout.max(Duration::from_millis(10));
        socket.set_read_timeout(Some(timeout)).map_err(Error::Bind)?;

        Ok(ReadRequest {
            peer,
            socket,
            reader,
            block_size,
            timeout,
            max_send_retries: config.max_send_retries,
            oack_opts,
            window_size: negotiated_window_size,
            spare: Vec::new(),
        })
    }

    pub(crate) async fn handle(&mut self) {
        if let Err(e) = self.try_handle().await {
            trace!("RRQ request failed (peer: {}, error: {})", &self.peer, &e);
            let mut buffer = BytesMut::with_capacity(DEFAULT_BLOCK_SIZE);
            Packet::Error(e.into()).encode(&mut buffer);
            let buf = buffer.split().freeze();
            // Errors are never retransmitted.
            // We do not care if `send` resulted to an IO error.
            let _ = self.socket.send(&buf[..]);
        }
    }

    async fn try_handle(&mut self) -> Result<()> {
        let mut window: VecDeque<Vec<u8>> =
            VecDeque::with_capacity(self.window_size);
        let mut block_id: u16;
        let mut window_base: u16 = 1;
        let mut buf: Vec<u8>;
        let mut is_last_block: bool;

        (buf, is_last_block) = self.fill_data_block(window_base).await?;
        window.push_back(buf);

        // Send OACK after we manage to read the first block from reader.
        //
        // We do this because we want to give the developers the option to
        // produce an error after they construct a reader.
        if let Some(opts) = self.oack_opts.as_ref() {
            trace!("RRQ OACK (peer: {}, opts: {:?}", &self.peer, &opts);
            let mut buff = BytesMut::with_capacity(PACKET_DATA_HEADER_LEN + 64);
            Packet::OAck(opts.to_owned()).encode(&mut buff);
            // OACK is not really part of the window, so we send it separately
            self.send_window(&VecDeque::from([buff.to_vec()]), 0).await?;
        }

        loop {
            // calculate next block_id, window might not be empty
            block_id = window_base.wrapping_add(window.len() as u16);

            while !is_last_block && (window.len() < self.window_size) {
                // we still have data and window is not full
                (buf, is_last_block) = self.fill_data_block(block_id).await?;
                window.push_back(buf);
                block_id = block_id.wrapping_add(1);
            }

            let blocks_acked = self.send_window(&window, window_base).await?;
            window_base = window_base.wrapping_add(blocks_acked);

            // remove acked blocks from window, keeping their buffers
            let acked = (blocks_acked as usize).min(window.len());
            self.spare.extend(window.drain(..acked));

            if is_last_block && window.is_empty() {
                // transfer is done
                break;
            }
        }

        trace!("RRQ request served (peer: {})", &self.peer);
        Ok(())
    }

    async fn fill_data_block(
        &mut self,
        block_id: u16,
    ) -> Result<(Vec<u8>, bool), Error> {
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(&[0, 3]);
        buffer.extend_from_slice(&block_id.to_be_bytes());
        buffer.resize(PACKET_DATA_HEADER_LEN + self.block_size, 0);

        let len = self.read_block(&mut buffer[PACKET_DATA_HEADER_LEN..]).await?;
        buffer.truncate(PACKET_DATA_HEADER_LEN + len);
        Ok((buffer, len < self.block_size))
    }

    /// Sends packets contained in a window and waits for client to acknowledge them. Returns amount
    /// of packets acknowledged.
    async fn send_window(
        &mut self,
        window: &VecDeque<Vec<u8>>,
        window_base: u16,
    ) -> Result<u16> {
        // Send packet until we receive an ack
        for _ in 0..=self.max_send_retries {
            for packet in window {
                self.socket.send(&packet[..])?;
            }

            match self.recv_ack(window_base, window.len() as u16) {
                Ok(blocks_acked) => {
                    trace!(
                        "RRQ (peer: {}, window_base: {}, blocks_acked: {}, window_len: {}) - Received ACK",
                        &self.peer,
                        window_base,
                        blocks_acked,
                        window.len()
                    );
                    return Ok(blocks_acked);
                }
                Err(ref e) if e.kind() == io::ErrorKind::TimedOut => {
                    trace!(
                        "RRQ (peer: {}, block_id: {}) - Timeout",
                        &self.peer,
                        window_base
                    );
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }

        Err(Error::MaxSendRetriesReached(self.peer, window_base))
    }

    /// Waits for ack packet, returns amount of packets acknowledged.
    ///
    /// ironbox patch: a blocking `recv` with the socket's receive timeout, instead of an
    /// async receive raced against a new `async_io::Timer` per block (each timer insertion
    /// and removal woke the reactor). Packets that are not an ACK of this window only
    /// shorten the wait to what is left of the deadline.
    fn recv_ack(&mut self, window_base: u16, window_len: u16) -> io::Result<u16> {
        let deadline = Instant::now() + self.timeout;
        let mut shortened = false;
        let got = self.recv_ack_until(window_base, window_len, deadline, &mut shortened);
        if shortened {
            self.socket.set_read_timeout(Some(self.timeout))?;
        }
        got
    }

    fn recv_ack_until(
        &mut self,
        window_base: u16,
        window_len: u16,
        deadline: Instant,
        shortened: &mut bool,
    ) -> io::Result<u16> {
        let mut buf = [0u8; 1024];
        loop {
            let len = match self.socket.recv(&mut buf[..]) {
                Ok(len) => len,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::ErrorKind::TimedOut.into())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // Only the peer can reach a connected socket.
            if let Some(acked) =
                acked_blocks(&buf[..len], window_base, window_len)
            {
                return Ok(acked);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.socket.set_read_timeout(Some(left))?;
            *shortened = true;
        }
    }

    async fn read_block(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut len = 0;

        while len < buf.len() {
            match self.reader.read(&mut buf[len..]).await? {
                0 => break,
                x => len += x,
            }
        }

        Ok(len)
    }
}

fn build_oack_opts(
    config: &ServerConfig,
    req: &RwReq,
    file_size: Option<u64>,
) -> Option<Opts> {
    let mut opts = Opts::default();

    if !config.ignore_client_block_size {
        opts.block_size = match (req.opts.block_size, config.block_size_limit) {
            (Some(bsize), Some(limit)) => Some(cmp::min(bsize, limit)),
            (Some(bsize), None) => Some(bsize),
            _ => None,
        };
    }

    if !config.ignore_client_timeout {
        opts.timeout = req.opts.timeout;
    }

    if let (Some(0), Some(file_size)) = (req.opts.transfer_size, file_size) {
        opts.transfer_size = Some(file_size);
    }

    if !config.ignore_client_window_size {
        opts.window_size =
            match (req.opts.window_size, config.window_size_limit) {
                (Some(wsize), Some(limit)) => Some(cmp::min(wsize, limit)),
                (Some(wsize), None) => Some(wsize),
                _ => None,
            };
    }

    if opts == Opts::default() {
        None
    } else {
        Some(opts)
    }
}

/// How many blocks of the window starting at `window_base` the packet acknowledges, if it is
/// such an ACK (ironbox patch: the window logic of the old `recv_ack`, unchanged).
fn acked_blocks(packet: &[u8], window_base: u16, window_len: u16) -> Option<u16> {
    let Ok(Packet::Ack(recved_block_id)) = Packet::decode(packet) else {
        return None;
    };
    let window_end = window_base.wrapping_add(window_len);
    if window_end > window_base {
        // window_end did not wrap
        if recved_block_id >= window_base && recved_block_id < window_end {
            return Some(recved_block_id - window_base + 1u16);
        }
    } else {
        // window_end wrapped
        if recved_block_id >= window_base {
            return Some(1u16 + (recved_block_id - window_base));
        } else if recved_block_id < window_end {
            return Some(1u16 + recved_block_id + (window_len - window_end));
        }
    }
    trace!("Unexpected ack packet {recved_block_id}, window_base: {window_base}, window_len: {window_len}");
    None
}
