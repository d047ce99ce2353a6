//! The encoding of a [`Universe`] for resolvo, and the two-phase solve.
//!
//! resolvo knows names, solvables (one name each, at most one chosen per
//! name), requirements (a union of version sets: OR) and constraints
//! (`constrains`: if a solvable of that name is chosen, it must be in the
//! set). The mapping:
//!
//! - every candidate, and every package in the base, is a solvable of its
//!   *real* name: one version per name;
//! - every `Provides` entry is a solvable of the *virtual* name (a name of
//!   its own, "a provider of X", several of which may be chosen) that
//!   requires exactly its provider;
//! - a dependency group `a | b` is the union, in this order, of: real `a`,
//!   providers of `a`, real `b`, providers of `b`. resolvo tries a union's
//!   candidates in that order, so the first alternative wins and a real
//!   package beats a provider;
//! - a conflict with X is a constraint on real X (its complement) and, for
//!   each matching provider of X other than the package itself, a
//!   constraint that rules out that provider;
//! - base packages are root requirements (they are there) and the only
//!   candidates of their names (repository versions are excluded with the
//!   reason "the base has …");
//! - a dependency group that a base package satisfies, or that names an
//!   excluded package or a virtual one provides, is left out.
//!
//! The two-phase solve that uses this model is in `phases`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, DenseIndex, Dependencies,
    DependencyProvider, HintDependenciesAvailable, Interner, KnownDependencies, NameId,
    Requirement, SolvableId, SolverCache, StringId, VersionSetId, VersionSetUnionId,
};

use super::{Candidate, Installed, Req, Request, Universe};

/// A package: a repository candidate or a package in the base.
pub(super) struct Pkg<'a, V> {
    pub name: &'a str,
    pub version: &'a V,
    pub provides: &'a [(String, Option<V>)],
    pub depends: &'a [Vec<Req<V>>],
    pub conflicts: &'a [Req<V>],
    /// The index in the caller's universe; `None` for a base package.
    pub index: Option<usize>,
    pub key: String,
    pub origin: usize,
}

impl<V> Pkg<'_, V> {
    pub(super) fn installed(&self) -> bool {
        self.index.is_none()
    }
}

pub(super) enum Sol {
    Real(usize),
    /// `provides[entry]` of package `pkg`.
    Virtual {
        pkg: usize,
        entry: usize,
    },
}

struct NameInfo {
    text: String,
    is_virtual: bool,
    solvables: Vec<SolvableId>,
}

enum Set<V> {
    /// The solvables the requirement accepts (for a virtual name: by the
    /// provided version).
    Match(Req<V>),
    /// The solvables a conflict leaves allowed.
    Not(Req<V>),
    Exactly(SolvableId),
    AllBut(SolvableId),
}

/// The resolvo view of one request.
pub(super) struct Model<'a, V> {
    pub pkgs: Vec<Pkg<'a, V>>,
    pub(super) sols: Vec<Sol>,
    names: Vec<NameInfo>,
    /// Real names, then virtual names, to their ids.
    name_ids: [BTreeMap<String, NameId>; 2],
    sets: Vec<(NameId, Set<V>)>,
    unions: Vec<Vec<VersionSetId>>,
    strings: Vec<String>,
    deps: Vec<KnownDependencies>,
    /// Per package, the dependency groups that are not left out.
    pub groups: Vec<Vec<usize>>,
    excluded: BTreeSet<String>,
    requested: BTreeSet<String>,
    /// Virtual names that are ambiguous, with their provider names.
    pub ambiguous: BTreeMap<String, Vec<String>>,
    /// Whether ambiguous virtuals may be chosen (the second solve).
    pub(super) allow_ambiguous: bool,
    reason_excluded: StringId,
    reason_ambiguous: StringId,
    /// Per real name in the base, the reason its repository versions are
    /// not candidates.
    base_reason: BTreeMap<String, StringId>,
    /// Real name in the base -> its package.
    base: BTreeMap<&'a str, usize>,
}

fn sid(i: usize) -> SolvableId {
    SolvableId::from_index(i)
}

impl<'a, V: Ord + Clone + Display + 'static> Model<'a, V> {
    pub(super) fn new(universe: &'a Universe<V>, request: &'a Request<V>) -> Self {
        let mut pkgs: Vec<Pkg<'a, V>> = Vec::new();
        for b in &request.installed {
            pkgs.push(base_pkg(b));
        }
        for (i, c) in universe.candidates.iter().enumerate() {
            pkgs.push(repo_pkg(i, c));
        }
        // The canonical order: by name, base first, highest version, then
        // repository order and key. Everything below iterates this order.
        pkgs.sort_by(|a, b| {
            a.name
                .cmp(b.name)
                .then(b.installed().cmp(&a.installed()))
                .then(b.version.cmp(a.version))
                .then(a.origin.cmp(&b.origin))
                .then(a.key.cmp(&b.key))
        });
        let mut m = Model {
            pkgs,
            sols: Vec::new(),
            names: Vec::new(),
            name_ids: [BTreeMap::new(), BTreeMap::new()],
            sets: Vec::new(),
            unions: Vec::new(),
            strings: Vec::new(),
            deps: Vec::new(),
            groups: Vec::new(),
            excluded: request.exclude.iter().cloned().collect(),
            requested: request.install.iter().map(|r| r.name.clone()).collect(),
            ambiguous: BTreeMap::new(),
            allow_ambiguous: false,
            reason_excluded: StringId(0),
            reason_ambiguous: StringId(0),
            base_reason: BTreeMap::new(),
            base: BTreeMap::new(),
        };
        m.reason_excluded = m.string("it is in [packages] exclude".into());
        m.reason_ambiguous = m
            .string("it would be one of several providers of a virtual package (ambiguous)".into());
        for p in 0..m.pkgs.len() {
            let name = m.name(m.pkgs[p].name, false);
            let s = m.sol(Sol::Real(p), name);
            debug_assert_eq!(s.to_index(), m.deps.len());
            m.deps.push(KnownDependencies::default());
            if m.pkgs[p].installed() {
                let reason = format!(
                    "the base has {}={} (a package in the base is never upgraded or replaced)",
                    m.pkgs[p].name, m.pkgs[p].version
                );
                let reason = m.string(reason);
                m.base_reason.insert(m.pkgs[p].name.to_string(), reason);
                m.base.insert(m.pkgs[p].name, p);
            }
        }
        for p in 0..m.pkgs.len() {
            for e in 0..m.pkgs[p].provides.len() {
                let name = m.name(&m.pkgs[p].provides[e].0, true);
                m.sol(Sol::Virtual { pkg: p, entry: e }, name);
                let exact = m.set(m.real_name_of(p), Set::Exactly(sid(p)));
                m.deps.push(KnownDependencies {
                    requirements: vec![Requirement::Single(exact).into()],
                    constrains: Vec::new(),
                });
            }
        }
        m.find_ambiguous(request);
        let reach = m.reachable(request);
        for (p, reached) in reach.into_iter().enumerate() {
            let (groups, deps) = if m.pkgs[p].installed() || !reached {
                (Vec::new(), KnownDependencies::default())
            } else {
                m.encode(p)
            };
            m.groups.push(groups);
            m.deps[p] = deps;
        }
        m
    }

    /// The packages the request can reach through dependencies (by name
    /// or provide). resolvo only ever asks about these, so only these are
    /// encoded: a whole Debian archive is 60 000 candidates, a closure a
    /// few hundred.
    fn reachable(&self, request: &Request<V>) -> Vec<bool> {
        let mut reach = vec![false; self.pkgs.len()];
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = request.install.iter().map(|r| r.name.as_str()).collect();
        while let Some(name) = queue.pop() {
            if !seen.insert(name) {
                continue;
            }
            for virt in [false, true] {
                let Some(id) = self.lookup(name, virt) else {
                    continue;
                };
                for &s in &self.names[id.to_index()].solvables {
                    let p = self.owner(s);
                    if !reach[p] {
                        reach[p] = true;
                        for group in self.pkgs[p].depends {
                            queue.extend(group.iter().map(|r| r.name.as_str()));
                        }
                    }
                }
            }
        }
        reach
    }

    fn string(&mut self, s: String) -> StringId {
        self.strings.push(s);
        StringId::from_index(self.strings.len() - 1)
    }

    fn name(&mut self, text: &str, is_virtual: bool) -> NameId {
        if let Some(id) = self.lookup(text, is_virtual) {
            return id;
        }
        let id = NameId::from_index(self.names.len());
        self.names.push(NameInfo {
            text: text.to_string(),
            is_virtual,
            solvables: Vec::new(),
        });
        self.name_ids[usize::from(is_virtual)].insert(text.to_string(), id);
        id
    }

    fn lookup(&self, text: &str, is_virtual: bool) -> Option<NameId> {
        self.name_ids[usize::from(is_virtual)].get(text).copied()
    }

    fn sol(&mut self, s: Sol, name: NameId) -> SolvableId {
        let id = sid(self.sols.len());
        self.sols.push(s);
        self.names[name.to_index()].solvables.push(id);
        id
    }

    fn set(&mut self, name: NameId, s: Set<V>) -> VersionSetId {
        self.sets.push((name, s));
        VersionSetId::from_index(self.sets.len() - 1)
    }

    fn real_name_of(&self, p: usize) -> NameId {
        // Every package's real name was interned first.
        self.lookup(self.pkgs[p].name, false)
            .unwrap_or_else(|| NameId::from_index(0))
    }

    /// The packages providing `name`, as (package, entry).
    fn providers(&self, name: &str) -> Vec<(usize, usize)> {
        let Some(id) = self.lookup(name, true) else {
            return Vec::new();
        };
        self.names[id.to_index()]
            .solvables
            .iter()
            .filter_map(|s| match self.sols[s.to_index()] {
                Sol::Virtual { pkg, entry } => Some((pkg, entry)),
                Sol::Real(_) => None,
            })
            .collect()
    }

    /// Virtual names with no real package, providers of two or more names,
    /// none of them in the base or requested.
    fn find_ambiguous(&mut self, request: &Request<V>) {
        let requested: BTreeSet<&str> = request.install.iter().map(|r| r.name.as_str()).collect();
        let virtuals: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.is_virtual)
            .map(|n| n.text.clone())
            .collect();
        for v in virtuals {
            if self.lookup(&v, false).is_some() {
                continue;
            }
            let provs = self.providers(&v);
            if provs
                .iter()
                .any(|&(p, _)| self.pkgs[p].installed() || requested.contains(self.pkgs[p].name))
            {
                continue;
            }
            let names: BTreeSet<String> = provs
                .iter()
                .filter(|&&(p, _)| !self.excluded.contains(self.pkgs[p].name))
                .map(|&(p, _)| self.pkgs[p].name.to_string())
                .collect();
            if names.len() > 1 {
                self.ambiguous.insert(v, names.into_iter().collect());
            }
        }
    }

    /// When `r` names an ambiguous virtual and two or more provider names
    /// satisfy it: those names.
    pub(super) fn ambiguous_for(&self, r: &Req<V>) -> Option<Vec<String>> {
        if !self.ambiguous.contains_key(&r.name) {
            return None;
        }
        let names: BTreeSet<String> = self
            .providers(&r.name)
            .into_iter()
            .filter(|&(p, e)| {
                !self.excluded.contains(self.pkgs[p].name)
                    && r.accepts_provided(self.pkgs[p].provides[e].1.as_ref())
            })
            .map(|(p, _)| self.pkgs[p].name.to_string())
            .collect();
        (names.len() > 1).then(|| names.into_iter().collect())
    }

    /// Whether a base package satisfies `r` (by name or by a provide).
    fn base_satisfies(&self, r: &Req<V>) -> bool {
        if let Some(&p) = self.base.get(r.name.as_str())
            && r.accepts(self.pkgs[p].version)
        {
            return true;
        }
        self.providers(&r.name).iter().any(|&(p, e)| {
            self.pkgs[p].installed() && r.accepts_provided(self.pkgs[p].provides[e].1.as_ref())
        })
    }

    /// Whether `r` names an excluded package or a virtual one provides.
    fn names_excluded(&self, r: &Req<V>) -> bool {
        self.excluded.contains(&r.name)
            || self
                .providers(&r.name)
                .iter()
                .any(|&(p, _)| self.excluded.contains(self.pkgs[p].name))
    }

    /// Whether a dependency group is left out (already satisfied).
    pub(super) fn group_left_out(&self, group: &[Req<V>]) -> bool {
        group
            .iter()
            .any(|r| self.base_satisfies(r) || self.names_excluded(r))
    }

    /// The union for one group, in the order that makes the first
    /// alternative, and a real package, win.
    fn requirement(&mut self, group: &[Req<V>]) -> Option<Requirement> {
        let mut sets = Vec::new();
        for r in group {
            let real = self.lookup(&r.name, false);
            let virt = self.lookup(&r.name, true);
            if real.is_some() || virt.is_none() {
                let name = self.name(&r.name, false);
                sets.push(self.set(name, Set::Match(r.clone())));
            }
            if let Some(v) = virt {
                sets.push(self.set(v, Set::Match(r.clone())));
            }
        }
        match sets.len() {
            0 => None,
            1 => Some(Requirement::Single(sets[0])),
            _ => {
                self.unions.push(sets);
                Some(Requirement::Union(VersionSetUnionId::from_index(
                    self.unions.len() - 1,
                )))
            }
        }
    }

    fn encode(&mut self, p: usize) -> (Vec<usize>, KnownDependencies) {
        let pkg_depends = self.pkgs[p].depends;
        let pkg_conflicts = self.pkgs[p].conflicts;
        let own = self.pkgs[p].name;
        let mut groups = Vec::new();
        let mut deps = KnownDependencies::default();
        for (g, group) in pkg_depends.iter().enumerate() {
            if group.is_empty() || self.group_left_out(group) {
                continue;
            }
            if let Some(r) = self.requirement(group) {
                groups.push(g);
                deps.requirements.push(r.into());
            }
        }
        for c in pkg_conflicts {
            if c.name != own && self.lookup(&c.name, false).is_some() {
                let name = self.name(&c.name, false);
                deps.constrains.push(self.set(name, Set::Not(c.clone())));
            }
            for (q, e) in self.providers(&c.name) {
                let provider = &self.pkgs[q];
                if provider.name == own || !c.accepts_provided(provider.provides[e].1.as_ref()) {
                    continue;
                }
                let name = self.real_name_of(q);
                deps.constrains.push(self.set(name, Set::AllBut(sid(q))));
            }
        }
        (groups, deps)
    }

    pub(super) fn root_requirements(
        &mut self,
        request: &Request<V>,
    ) -> Vec<ConditionalRequirement> {
        let mut out = Vec::new();
        for r in &request.install {
            if self.base_satisfies(r) {
                continue;
            }
            if let Some(r) = self.requirement(std::slice::from_ref(r)) {
                out.push(r.into());
            }
        }
        for p in 0..self.pkgs.len() {
            if self.pkgs[p].installed() {
                let name = self.real_name_of(p);
                let s = self.set(name, Set::Exactly(sid(p)));
                out.push(Requirement::Single(s).into());
            }
        }
        out
    }

    fn provided_version(&self, s: SolvableId) -> Option<&V> {
        match self.sols[s.to_index()] {
            Sol::Real(p) => Some(self.pkgs[p].version),
            Sol::Virtual { pkg, entry } => self.pkgs[pkg].provides[entry].1.as_ref(),
        }
    }

    fn owner(&self, s: SolvableId) -> usize {
        match self.sols[s.to_index()] {
            Sol::Real(p) => p,
            Sol::Virtual { pkg, .. } => pkg,
        }
    }

    fn in_set(&self, s: SolvableId, set: &Set<V>) -> bool {
        let is_virtual = matches!(self.sols[s.to_index()], Sol::Virtual { .. });
        match set {
            Set::Match(r) if is_virtual => r.accepts_provided(self.provided_version(s)),
            Set::Match(r) => self.provided_version(s).is_some_and(|v| r.accepts(v)),
            Set::Not(r) => !self.provided_version(s).is_some_and(|v| r.accepts(v)),
            Set::Exactly(x) => s == *x,
            Set::AllBut(x) => s != *x,
        }
    }

    /// The order in which resolvo tries a name's solvables (see the module
    /// documentation of `solve`).
    fn preference(&self, a: SolvableId, b: SolvableId) -> std::cmp::Ordering {
        let (pa, pb) = (&self.pkgs[self.owner(a)], &self.pkgs[self.owner(b)]);
        let wanted = |p: &Pkg<'_, V>| p.installed() || self.requested.contains(p.name);
        wanted(pb)
            .cmp(&wanted(pa))
            .then_with(|| pa.name.cmp(pb.name))
            .then_with(|| self.provided_version(b).cmp(&self.provided_version(a)))
            .then_with(|| pb.version.cmp(pa.version))
            .then_with(|| pa.origin.cmp(&pb.origin))
            .then_with(|| pa.key.cmp(&pb.key))
    }
}

fn base_pkg<V>(b: &Installed<V>) -> Pkg<'_, V> {
    Pkg {
        name: &b.name,
        version: &b.version,
        provides: &b.provides,
        depends: &[],
        conflicts: &[],
        index: None,
        key: String::new(),
        origin: usize::MAX,
    }
}

fn repo_pkg<V>(i: usize, c: &Candidate<V>) -> Pkg<'_, V> {
    Pkg {
        name: &c.name,
        version: &c.version,
        provides: &c.provides,
        depends: &c.depends,
        conflicts: &c.conflicts,
        index: Some(i),
        key: c.key.clone(),
        origin: c.origin,
    }
}

impl<'m, 'a, V: Ord + Clone + Display + 'static> Interner for &'m Model<'a, V> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, s: SolvableId) -> impl Display + '_ {
        match self.sols[s.to_index()] {
            Sol::Real(p) => describe_pkg(&self.pkgs[p]),
            Sol::Virtual { pkg, .. } => {
                format!("{} (as a provider)", describe_pkg(&self.pkgs[pkg]))
            }
        }
    }

    fn display_merged_solvables(&self, solvables: &[SolvableId]) -> impl Display + '_ {
        let mut all: Vec<String> = solvables
            .iter()
            .map(|&s| self.display_solvable(s).to_string())
            .collect();
        all.sort();
        all.dedup();
        all.join(", ")
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        let n = &self.names[name.to_index()];
        if n.is_virtual {
            format!("a provider of {}", n.text)
        } else {
            n.text.clone()
        }
    }

    fn display_version_set(&self, set: VersionSetId) -> impl Display + '_ {
        match &self.sets[set.to_index()].1 {
            Set::Match(r) => r
                .relation
                .as_ref()
                .map(|r| format!("({})", r.describe()))
                .unwrap_or_default(),
            Set::Not(r) => r
                .relation
                .as_ref()
                .map(|r| format!("other than ({})", r.describe()))
                .unwrap_or_else(|| "(none: a conflict)".into()),
            Set::Exactly(s) => format!("exactly {}", self.display_solvable(*s)),
            Set::AllBut(s) => format!("other than {}", self.display_solvable(*s)),
        }
    }

    fn display_string(&self, id: StringId) -> impl Display + '_ {
        self.strings.get(id.to_index()).cloned().unwrap_or_default()
    }

    fn version_set_name(&self, set: VersionSetId) -> NameId {
        self.sets[set.to_index()].0
    }

    fn solvable_name(&self, s: SolvableId) -> NameId {
        match self.sols[s.to_index()] {
            Sol::Real(p) => self.real_name_of(p),
            Sol::Virtual { pkg, entry } => self
                .lookup(&self.pkgs[pkg].provides[entry].0, true)
                .unwrap_or_else(|| NameId::from_index(0)),
        }
    }

    fn version_sets_in_union(
        &self,
        union: VersionSetUnionId,
    ) -> impl Iterator<Item = VersionSetId> {
        self.unions
            .get(union.to_index())
            .into_iter()
            .flatten()
            .copied()
    }

    fn resolve_condition(&self, _: ConditionId) -> Condition {
        // No requirement of this encoding is conditional, so resolvo never
        // asks; an always-false-free answer keeps the trait total.
        Condition::Requirement(VersionSetId(0))
    }
}

fn describe_pkg<V: Display>(p: &Pkg<'_, V>) -> String {
    if p.installed() {
        format!("{}={} (in the base)", p.name, p.version)
    } else {
        p.key.clone()
    }
}

impl<'m, 'a, V: Ord + Clone + Display + 'static> DependencyProvider for &'m Model<'a, V> {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        set: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let set = &self.sets[set.to_index()].1;
        candidates
            .iter()
            .copied()
            .filter(|&s| self.in_set(s, set) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates<SolvableId>> {
        let n = self.names.get(name.to_index())?;
        if n.solvables.is_empty() {
            return None;
        }
        let mut excluded = Vec::new();
        for &s in &n.solvables {
            let p = &self.pkgs[self.owner(s)];
            if self.excluded.contains(p.name) {
                excluded.push((s, self.reason_excluded));
            } else if !p.installed()
                && let Some(&why) = self.base_reason.get(p.name)
            {
                excluded.push((s, why));
            } else if n.is_virtual && !self.allow_ambiguous && self.ambiguous.contains_key(&n.text)
            {
                excluded.push((s, self.reason_ambiguous));
            }
        }
        Some(Candidates {
            candidates: n.solvables.clone(),
            excluded,
            allow_multiple: n.is_virtual,
            hint_dependencies_available: HintDependenciesAvailable::All,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        solvables.sort_by(|&a, &b| self.preference(a, b));
    }

    async fn get_dependencies(&self, s: SolvableId) -> Dependencies {
        Dependencies::Known(self.deps.get(s.to_index()).cloned().unwrap_or_default())
    }
}
