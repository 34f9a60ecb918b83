use async_executor::Executor;
use async_io::Async;
use async_lock::Mutex;
use log::trace;
use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::read_req::*;
use super::write_req::*;
use super::Handler;
use crate::error::*;
use crate::packet::{Packet, RwReq};

/// TFTP server.
pub struct TftpServer<H>
where
    H: Handler,
{
    pub(crate) socket: Async<UdpSocket>,
    pub(crate) handler: Arc<Mutex<H>>,
    pub(crate) reqs_in_progress: Arc<Mutex<HashSet<SocketAddr>>>,
    pub(crate) ex: Executor<'static>,
    pub(crate) config: ServerConfig,
    pub(crate) local_ip: IpAddr,
    pub(crate) read_limit: ReadLimit,
}

/// ironbox patch: how many read transfers (threads) may run, and how many do.
pub(crate) struct ReadLimit {
    pub(crate) max: Option<usize>,
    pub(crate) running: Arc<AtomicUsize>,
    pub(crate) on_refused: Option<super::RefusedHook>,
}

/// ironbox patch: counts a running read transfer; dropped when its thread ends.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Clone)]
pub(crate) struct ServerConfig {
    pub(crate) timeout: Duration,
    pub(crate) block_size_limit: Option<u16>,
    pub(crate) window_size_limit: Option<u16>,
    pub(crate) max_send_retries: u32,
    pub(crate) ignore_client_timeout: bool,
    pub(crate) ignore_client_block_size: bool,
    pub(crate) ignore_client_window_size: bool,
}

pub(crate) const DEFAULT_BLOCK_SIZE: usize = 512;

impl<H: 'static> TftpServer<H>
where
    H: Handler,
{
    /// Returns the listenning socket address.
    pub fn listen_addr(&self) -> Result<SocketAddr> {
        Ok(self.socket.get_ref().local_addr()?)
    }

    /// Consume and start the server.
    pub async fn serve(self) -> Result<()> {
        self.ex
            .run(async {
                let mut buf = [0u8; 4096];

                loop {
                    let (len, peer) = self.socket.recv_from(&mut buf).await?;
                    self.handle_req_packet(peer, &buf[..len]).await;
                }
            })
            .await
    }

    async fn handle_req_packet(&self, peer: SocketAddr, data: &[u8]) {
        let packet = match Packet::decode(data) {
            Ok(p @ Packet::Rrq(_)) => p,
            Ok(p @ Packet::Wrq(_)) => p,
            // Ignore packets that are not requests
            Ok(_) => return,
            // Ignore invalid packets
            Err(_) => return,
        };

        if !self.reqs_in_progress.lock().await.insert(peer) {
            // Ignore pending requests
            return;
        }

        match packet {
            Packet::Rrq(req) => self.handle_rrq(peer, req),
            Packet::Wrq(req) => self.handle_wrq(peer, req),
            _ => unreachable!(),
        }
    }

    fn handle_rrq(&self, peer: SocketAddr, req: RwReq) {
        trace!("RRQ recieved (peer: {}, req: {:?})", &peer, &req);

        // ironbox patch: over the cap, an ERROR packet instead of a thread. Only this
        // (the server's) task increments, so the check and the increment cannot race.
        let running = &self.read_limit.running;
        if self
            .read_limit
            .max
            .is_some_and(|max| running.load(Ordering::Acquire) >= max)
        {
            if let Some(hook) = &self.read_limit.on_refused {
                hook(&peer);
            }
            let busy = Error::Packet(crate::packet::Error::Msg(
                "server busy, try again later".into(),
            ));
            let reqs = Arc::clone(&self.reqs_in_progress);
            let local_ip = self.local_ip;
            self.ex
                .spawn(async move {
                    if let Err(e) = send_error(busy, peer, local_ip).await {
                        trace!("Failed to send error to peer {}: {}", &peer, &e);
                    }
                    reqs.lock().await.remove(&peer);
                })
                .detach();
            return;
        }
        running.fetch_add(1, Ordering::AcqRel);
        let slot = Running(Arc::clone(running));

        let handler = Arc::clone(&self.handler);
        let config = self.config.clone();
        let local_ip = self.local_ip;

        // Prepare request future
        let req_fut = async move {
            let (mut reader, size) = handler
                .lock()
                .await
                .read_req_open(&peer, req.filename.as_ref())
                .await
                .map_err(Error::Packet)?;

            let mut read_req = ReadRequest::init(
                &mut reader,
                size,
                peer,
                &req,
                config,
                local_ip,
            )
            .await?;

            read_req.handle().await;

            Ok(())
        };

        let reqs_in_progress = Arc::clone(&self.reqs_in_progress);
        let reqs = Arc::clone(&self.reqs_in_progress);

        // ironbox patch: a read transfer runs on its own thread, with blocking socket I/O
        // (read_req.rs): per block a `send` and a `recv`, no reactor and no timer.
        let transfer = run_req(req_fut, peer, reqs_in_progress, local_ip);
        let spawned = std::thread::Builder::new()
            .name("tftp-rrq".into())
            .spawn(move || {
                let _slot = slot;
                async_io::block_on(transfer)
            });
        if let Err(e) = spawned {
            trace!("Cannot start a thread for the RRQ of {}: {}", &peer, &e);
            self.ex
                .spawn(async move {
                    reqs.lock().await.remove(&peer);
                })
                .detach();
        }
    }

    fn handle_wrq(&self, peer: SocketAddr, req: RwReq) {
        trace!("WRQ recieved (peer: {}, req: {:?})", &peer, &req);

        let handler = Arc::clone(&self.handler);
        let config = self.config.clone();
        let local_ip = self.local_ip;

        // Prepare request future
        let req_fut = async move {
            let mut writer = handler
                .lock()
                .await
                .write_req_open(
                    &peer,
                    req.filename.as_ref(),
                    req.opts.transfer_size,
                )
                .await
                .map_err(Error::Packet)?;

            let mut write_req =
                WriteRequest::init(&mut writer, peer, &req, config, local_ip)
                    .await?;

            write_req.handle().await;

            Ok(())
        };

        let reqs_in_progress = Arc::clone(&self.reqs_in_progress);

        // Run request future in a new task
        self.ex
            .spawn(run_req(req_fut, peer, reqs_in_progress, local_ip))
            .detach();
    }
}

async fn send_error(
    error: Error,
    peer: SocketAddr,
    local_ip: IpAddr,
) -> Result<()> {
    let addr: SocketAddr = SocketAddr::new(local_ip, 0);
    let socket = Async::<UdpSocket>::bind(addr).map_err(Error::Bind)?;

    let data = Packet::Error(error.into()).to_bytes();
    socket.send_to(&data[..], peer).await?;

    Ok(())
}

async fn run_req(
    req_fut: impl Future<Output = Result<()>>,
    peer: SocketAddr,
    reqs_in_progress: Arc<Mutex<HashSet<SocketAddr>>>,
    local_ip: IpAddr,
) {
    if let Err(e) = req_fut.await {
        trace!("Request failed (peer: {}, error: {}", &peer, &e);

        if let Err(e) = send_error(e, peer, local_ip).await {
            trace!("Failed to send error to peer {}: {}", &peer, &e);
        }
    }

    reqs_in_progress.lock().await.remove(&peer);
}
