//! HTTP plumbing shared by the API and the boot network's HTTP server: the framing gate that
//! refuses malformed HTTP/1 before actix-http parses it ([`framing`]), and the server builder
//! that puts every connection behind it ([`serve`]). Knows HTTP only: how a refusal reads is
//! the server owner's [`framing::Render`].

pub mod framing;
pub mod serve;
