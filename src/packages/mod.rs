//! OS packages (issue 15, in progress). What exists so far are the Debian
//! formats every later step reads: versions ordered exactly as dpkg orders
//! them ([`deb::version`], checked against `dpkg --compare-versions`),
//! relation fields ([`deb::relation`]) and deb822 stanzas
//! ([`deb::control`]). Repositories, signatures, the resolver and
//! installation come next; nothing in the build uses this module yet.

pub mod deb;
pub mod solve;
