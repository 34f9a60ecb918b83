//! Hardware protocol clients. They know nothing about nodes or states: addresses,
//! credentials and commands in, answers or typed errors out.

pub mod ipmi;
pub mod redfish;
pub mod sol;
