//! ironbox patch: request parsing reachable from ironbox's fuzz targets (not public API).

use crate::packet::{Mode, Packet};

/// A decoded RRQ/WRQ, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub write: bool,
    pub filename: String,
    pub mode: &'static str,
    pub block_size: Option<u16>,
    pub timeout: Option<u8>,
    pub transfer_size: Option<u64>,
    pub window_size: Option<u16>,
}

/// Decode `data` as the server does. `Ok(None)`: a valid packet that is not a request;
/// `Err`: refused. The encoding of any decoded packet must decode to the same packet.
pub fn decode(data: &[u8]) -> Result<Option<Request>, String> {
    let packet = Packet::decode(data).map_err(|e| e.to_string())?;
    let again = packet.to_bytes();
    let same = Packet::decode(&again).map_err(|e| format!("re-decode: {e}"))?;
    if format!("{packet:?}") != format!("{same:?}") {
        return Err(format!("round trip changed {packet:?} into {same:?}"));
    }
    let (write, req) = match packet {
        Packet::Rrq(r) => (false, r),
        Packet::Wrq(r) => (true, r),
        _ => return Ok(None),
    };
    Ok(Some(Request {
        write,
        mode: match req.mode {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
            Mode::Mail => "mail",
        },
        filename: req.filename,
        block_size: req.opts.block_size,
        timeout: req.opts.timeout,
        transfer_size: req.opts.transfer_size,
        window_size: req.opts.window_size,
    }))
}
