//! Handlers for common use-cases.

mod dir;

pub use self::dir::*;
