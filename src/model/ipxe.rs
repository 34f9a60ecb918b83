//! The iPXE programs embedded at build time (see build.rs): plain data, here so both the
//! boot servers (which serve them) and the drivers (which put them on boot ISOs) reach
//! one copy.

include!(concat!(env!("OUT_DIR"), "/ipxe_embedded.rs"));

/// The embedded program called `name`, if the build had it.
pub fn embedded(name: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
