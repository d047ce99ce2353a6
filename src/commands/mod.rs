//! One library entry point per command. A front end maps its arguments to
//! the typed job, calls the entry point and renders the typed result; it
//! holds no image, lock, policy or package logic of its own.
//!
//! | command | entry point |
//! |---|---|
//! | `build` | [`crate::pipeline::build`] (the stages are listed there) |
//! | `audit` | [`audit::audit`] |
//! | `sbom` | [`sbom::sbom`] |
//! | `scan` | [`scan::scan`] |
//! | `push` | [`push::push`] |
//! | `lock` | [`crate::lock::check::lock`] |
//! | `outdated` | [`crate::lock::check::outdated`] |
//! | `inspect` | [`crate::inspect::run`] |
//! | `init` | [`crate::init::init`] |
//! | `generate-key-pair` | [`generate_key_pair::generate_key_pair`] |
//! | `public-key` | [`public_key::public_key`] |
//! | `login`, `logout` | [`crate::registry::login`], [`crate::registry::logout`] |

pub mod audit;
pub mod generate_key_pair;
pub mod public_key;
pub mod push;
pub mod sbom;
pub mod scan;
pub mod sign;
