//! OS packages (issue 15, in progress). What exists so far are the Debian
//! formats every later step reads: versions ordered exactly as dpkg orders
//! them ([`deb::version`], checked against `dpkg --compare-versions`),
//! relation fields ([`deb::relation`]), deb822 stanzas ([`deb::control`]),
//! and the repository trust chain: [`fetch`] (HTTP, no credentials ever),
//! [`openpgp`] (keyrings and signatures) and [`deb::repo`] (InRelease or
//! Release + Release.gpg, then each Packages index by size and SHA256).

pub mod deb;
pub mod fetch;
pub mod openpgp;
