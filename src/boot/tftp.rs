//! Read-only TFTP (async-tftp): the iPXE boot programs from `[pxe] ipxe_dir`, and
//! `boot.ipxe`. Only names in the table are served, so no path can escape; writes are
//! refused. blksize, tsize and windowsize are negotiated by async-tftp.

use std::net::SocketAddr;
use std::path::Path;

use async_tftp::packet;
use async_tftp::server::{Handler, TftpServerBuilder};
use tokio_util::sync::CancellationToken;

use super::dhcp::options::TFTP_FILES;
use super::{Boot, BootError};

type Reader = Box<dyn futures_lite::AsyncRead + Unpin + Send>;

pub struct Files {
    boot: Boot,
}

impl Files {
    /// Resolve a requested name to what we serve. Anything not in the table is "not found".
    fn resolve(&self, path: &Path) -> Option<std::path::PathBuf> {
        let name = path.to_str()?.trim_start_matches('/');
        let (_, candidates) = TFTP_FILES.iter().find(|(n, _)| *n == name)?;
        candidates.iter().map(|c| self.boot.ipxe_dir.join(c)).find(|p| p.is_file())
    }
}

impl Handler for Files {
    type Reader = Reader;
    type Writer = futures_lite::io::Sink;

    async fn read_req_open(&mut self, client: &SocketAddr, path: &Path) -> Result<(Self::Reader, Option<u64>), packet::Error> {
        let name = path.to_string_lossy().trim_start_matches('/').to_string();
        if name == "boot.ipxe" {
            let script = super::templates::render("boot.ipxe", &[("base", &self.boot.base_url())]).map_err(|_| packet::Error::FileNotFound)?;
            let len = script.len() as u64;
            tracing::info!(client = %client, file = %name, "TFTP read");
            return Ok((Box::new(futures_lite::io::Cursor::new(script.into_bytes())), Some(len)));
        }
        let Some(file) = self.resolve(path) else {
            tracing::info!(client = %client, file = %name, "TFTP read refused: not served");
            return Err(packet::Error::FileNotFound);
        };
        let f = std::fs::File::open(&file).map_err(|_| packet::Error::FileNotFound)?;
        let len = f.metadata().map(|m| m.len()).ok();
        tracing::info!(client = %client, file = %name, from = %file.display(), "TFTP read");
        Ok((Box::new(blocking::Unblock::new(f)), len))
    }

    async fn write_req_open(&mut self, client: &SocketAddr, path: &Path, _: Option<u64>) -> Result<Self::Writer, packet::Error> {
        tracing::info!(client = %client, file = %path.display(), "TFTP write refused: read-only server");
        Err(packet::Error::PermissionDenied)
    }
}

/// Bind on the interface address and serve until cancelled.
pub async fn serve(boot: Boot, port: u16, cancel: CancellationToken) -> Result<SocketAddr, BootError> {
    let addr = SocketAddr::new(boot.net.ip.into(), port);
    let server = TftpServerBuilder::with_handler(Files { boot })
        .bind(addr)
        .build()
        .await
        .map_err(|e| BootError::Bind { what: format!("TFTP on {addr}"), source: std::io::Error::other(e.to_string()) })?;
    let local = server.listen_addr().unwrap_or(addr);
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            r = server.serve() => if let Err(e) = r { tracing::error!(error = %e, "TFTP server stopped") },
        }
    });
    Ok(local)
}
