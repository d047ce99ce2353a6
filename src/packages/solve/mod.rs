//! The package resolver (issue 15, "Resolution"): which packages to install
//! for a request, over a format-neutral universe of candidates. The Debian
//! adapter is [`crate::packages::deb::universe`]; apk will get its own.
//!
//! The search is resolvo's CDCL SAT solver, not a greedy walk: a greedy
//! walk commits to the first alternative it sees and cannot back out of a
//! choice that a later conflict rules out. What this module adds is the
//! encoding (virtual packages, conflicts, the base, exclusions) and the
//! preferences that make the answer deterministic:
//!
//! 1. a package already in the base counts first: a dependency any base
//!    package satisfies is satisfied, and a base package is never upgraded,
//!    replaced or installed again;
//! 2. a real package (a candidate named X) beats a provider of X;
//! 3. otherwise the highest version; among providers of a virtual: an
//!    installed or requested one, then by provider name, then version;
//! 4. alternatives `a | b` are tried in the order written, as apt does:
//!    the first one that can be satisfied wins;
//! 5. a virtual package with no real package and several providers, none
//!    installed or requested, is ambiguous: an error that lists them.
//!
//! The universe is sorted into a canonical order before anything is
//! interned, and no hash map's iteration order reaches the solver, so the
//! same input gives the same output however the caller ordered it.

mod order;
mod phases;
mod provider;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

/// A version relation (`>= 2.36`, apk's `~1.2`): whether a version is
/// accepted, and how to say it in a message. A trait object, so that each
/// format brings its own operators and order.
pub trait Relation<V>: Send + Sync {
    fn accepts(&self, v: &V) -> bool;
    /// The relation as written in that format, without the name: `>= 2.36`.
    fn describe(&self) -> String;
}

/// A requirement on a package or virtual name, with an optional version
/// relation.
pub struct Req<V> {
    pub name: String,
    pub relation: Option<Arc<dyn Relation<V>>>,
}

impl<V> Req<V> {
    /// Any version of `name`.
    pub fn any(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            relation: None,
        }
    }

    pub fn with(name: impl Into<String>, relation: impl Relation<V> + 'static) -> Self {
        Self {
            name: name.into(),
            relation: Some(Arc::new(relation)),
        }
    }

    /// Whether version `v` of a package named [`Req::name`] satisfies it.
    pub fn accepts(&self, v: &V) -> bool {
        self.relation.as_ref().is_none_or(|r| r.accepts(v))
    }

    /// Whether a `Provides` entry with this (optional) version satisfies
    /// the requirement: a versioned requirement needs a versioned provide
    /// (Debian policy 7.5; apk says the same of `p:` without `=`).
    pub fn accepts_provided(&self, v: Option<&V>) -> bool {
        match (&self.relation, v) {
            (None, _) => true,
            (Some(r), Some(v)) => r.accepts(v),
            (Some(_), None) => false,
        }
    }
}

impl<V> Clone for Req<V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            relation: self.relation.clone(),
        }
    }
}

impl<V> fmt::Display for Req<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.relation {
            None => f.write_str(&self.name),
            Some(r) => write!(f, "{} ({})", self.name, r.describe()),
        }
    }
}

impl<V> fmt::Debug for Req<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One installable package version from a repository.
#[derive(Clone, Debug)]
pub struct Candidate<V> {
    pub name: String,
    pub version: V,
    pub arch: String,
    /// AND of ORs: every group must be satisfied by one of its entries
    /// (Debian `Pre-Depends` and `Depends` together, apk `D:`).
    pub depends: Vec<Vec<Req<V>>>,
    /// Virtual names this package provides, each with an optional version.
    pub provides: Vec<(String, Option<V>)>,
    /// Packages that must not be installed with this one (Debian
    /// `Conflicts` and `Breaks`, apk `!name`). A name that is a virtual
    /// means every provider of it, except this package itself.
    pub conflicts: Vec<Req<V>>,
    /// The repository's index in the spec.
    pub origin: usize,
    /// A unique id for messages and the lock, e.g. `name=version/arch`.
    pub key: String,
}

/// A package already in the base's database.
#[derive(Clone, Debug)]
pub struct Installed<V> {
    pub name: String,
    pub version: V,
    pub provides: Vec<(String, Option<V>)>,
}

impl<V> Installed<V> {
    pub fn new(name: impl Into<String>, version: V) -> Self {
        Self {
            name: name.into(),
            version,
            provides: Vec::new(),
        }
    }
}

/// Everything the repositories of one platform offer.
#[derive(Clone, Debug)]
pub struct Universe<V> {
    pub candidates: Vec<Candidate<V>>,
}

/// What to solve: the spec's `install` and `exclude`, and the base.
#[derive(Clone, Debug)]
pub struct Request<V> {
    pub install: Vec<Req<V>>,
    /// Never installed; a dependency that names an excluded package, or a
    /// virtual one of its candidates provides, counts as satisfied.
    pub exclude: Vec<String>,
    pub installed: Vec<Installed<V>>,
}

/// One package to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The candidate's index in [`Universe::candidates`] as given.
    pub index: usize,
    pub name: String,
    pub key: String,
    /// The names from a requested package down to this one:
    /// `python3.11-minimal -> libpython3.11-minimal -> libssl3`.
    pub chain: Vec<String>,
}

impl Resolved {
    /// The chain as `a -> b -> c`.
    pub fn chain_text(&self) -> String {
        self.chain.join(" -> ")
    }
}

/// The packages to install, dependencies before their dependents (where
/// the graph is acyclic; a cycle is broken by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solution {
    pub packages: Vec<Resolved>,
}

/// Why a request cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    #[error("no repository has a package named {name:?}{}", suggest(.suggestions))]
    Unknown {
        name: String,
        suggestions: Vec<String>,
    },
    #[error(
        "{name:?} is both in [packages] install and in [packages] exclude; remove it from one of them"
    )]
    RequestedAndExcluded { name: String },
    #[error(
        "{} needs {name:?}, a virtual package provided by {}: ironhull does not guess; add one of them to install",
        chain_or_request(.chain), .providers.join(", ")
    )]
    Ambiguous {
        name: String,
        providers: Vec<String>,
        /// The chain to the package whose dependency names the virtual
        /// (empty when the request names it).
        chain: Vec<String>,
    },
    #[error("the packages cannot be installed together:\n{explanation}")]
    Unsatisfiable { explanation: String },
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        "; check the name and the repositories".into()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

fn chain_or_request(chain: &[String]) -> String {
    if chain.is_empty() {
        "the request".into()
    } else {
        chain.join(" -> ")
    }
}

/// Resolves `request` against `universe`.
pub fn solve<V>(universe: &Universe<V>, request: &Request<V>) -> Result<Solution, SolveError>
where
    V: Ord + Clone + fmt::Display + 'static,
{
    phases::solve(universe, request)
}
