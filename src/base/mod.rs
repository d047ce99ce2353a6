//! Base images: where an image's lower layers come from.
pub mod builtin;
pub mod named;
pub mod resolve;
