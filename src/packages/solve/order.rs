//! From the chosen set to the answer: which chosen package satisfies each
//! dependency (the edges), the chain that pulled each package in (the
//! shortest from the request, found breadth-first in request and
//! dependency order), and the install order (dependencies first; within
//! what is ready, and to break a cycle, by name).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Display;

use super::provider::Model;
use super::{Req, Request, Resolved, Solution};

/// A dependency's satisfier: the package, and the virtual name when it
/// satisfies the dependency only as a provider.
type Satisfier<V> = (usize, Option<Req<V>>);

struct Chosen<'m, V> {
    real: BTreeMap<&'m str, usize>,
    /// Virtual name -> chosen providers (package, provided version), by
    /// provider name.
    provided: BTreeMap<&'m str, Vec<(usize, Option<&'m V>)>>,
}

impl<'m, V: Ord + Clone + Display + 'static> Chosen<'m, V> {
    fn new(model: &'m Model<'_, V>, chosen: &[usize]) -> Self {
        let mut real = BTreeMap::new();
        let mut provided: BTreeMap<&str, Vec<(usize, Option<&V>)>> = BTreeMap::new();
        for &p in chosen {
            let pkg = &model.pkgs[p];
            real.insert(pkg.name, p);
            for (v, ver) in pkg.provides {
                provided
                    .entry(v.as_str())
                    .or_default()
                    .push((p, ver.as_ref()));
            }
        }
        for list in provided.values_mut() {
            list.sort_by(|a, b| model.pkgs[a.0].name.cmp(model.pkgs[b.0].name));
        }
        Self { real, provided }
    }

    /// The first alternative a chosen package satisfies, by name before
    /// by provide, as the solver tried them.
    fn satisfier(&self, model: &Model<'_, V>, group: &[Req<V>]) -> Option<Satisfier<V>> {
        for r in group {
            if let Some(&p) = self.real.get(r.name.as_str())
                && r.accepts(model.pkgs[p].version)
            {
                return Some((p, None));
            }
            if let Some(list) = self.provided.get(r.name.as_str())
                && let Some(&(p, _)) = list.iter().find(|(_, v)| r.accepts_provided(*v))
            {
                return Some((p, Some(r.clone())));
            }
        }
        None
    }
}

/// The first ambiguous use of a virtual: its name, the providers the
/// dependency accepts, and the chain to the package that depends on it.
pub(super) type Ambiguity = (String, Vec<String>, Vec<String>);

/// The ordered solution, and the first ambiguous virtual it uses, if any.
pub(super) fn solution<V: Ord + Clone + Display + 'static>(
    model: &Model<'_, V>,
    request: &Request<V>,
    chosen: &[usize],
) -> (Solution, Option<Ambiguity>) {
    let set = Chosen::new(model, chosen);
    let mut ambiguous: Option<Ambiguity> = None;
    let mut note = |via: &Option<Req<V>>, chain: &[String]| {
        if ambiguous.is_none()
            && let Some(r) = via
            && let Some(providers) = model.ambiguous_for(r)
        {
            ambiguous = Some((r.name.clone(), providers, chain.to_vec()));
        }
    };
    // Edges, in dependency order.
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &p in chosen {
        let mut out = Vec::new();
        for &g in &model.groups[p] {
            if let Some((q, _)) = set.satisfier(model, &model.pkgs[p].depends[g])
                && q != p
                && !out.contains(&q)
            {
                out.push(q);
            }
        }
        children.insert(p, out);
    }
    // Chains, breadth-first from the request.
    let mut chain: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut queue = VecDeque::new();
    for r in &request.install {
        if model.group_left_out(std::slice::from_ref(r)) {
            continue;
        }
        if let Some((q, via)) = set.satisfier(model, std::slice::from_ref(r)) {
            note(&via, &[]);
            if let Entry::Vacant(slot) = chain.entry(q) {
                slot.insert(vec![model.pkgs[q].name.to_string()]);
                queue.push_back(q);
            }
        }
    }
    while let Some(p) = queue.pop_front() {
        let here = chain.get(&p).cloned().unwrap_or_default();
        for &g in &model.groups[p] {
            let Some((q, via)) = set.satisfier(model, &model.pkgs[p].depends[g]) else {
                continue;
            };
            note(&via, &here);
            if let Entry::Vacant(slot) = chain.entry(q) {
                let mut c = here.clone();
                c.push(model.pkgs[q].name.to_string());
                slot.insert(c);
                queue.push_back(q);
            }
        }
    }
    let packages = install_order(model, chosen, &children)
        .into_iter()
        .map(|p| {
            let pkg = &model.pkgs[p];
            Resolved {
                index: pkg.index.unwrap_or(usize::MAX),
                name: pkg.name.to_string(),
                key: pkg.key.clone(),
                chain: chain
                    .get(&p)
                    .cloned()
                    .unwrap_or_else(|| vec![pkg.name.to_string()]),
            }
        })
        .collect();
    (Solution { packages }, ambiguous)
}

/// Kahn's algorithm over the strongly connected components of the
/// "depends on" graph: a component is ready when every component it
/// depends on is placed; the ready one with the first name goes first, and
/// a cycle's members go in name order.
fn install_order<V: Ord + Clone + Display + 'static>(
    model: &Model<'_, V>,
    chosen: &[usize],
    children: &BTreeMap<usize, Vec<usize>>,
) -> Vec<usize> {
    let name = |p: usize| model.pkgs[p].name;
    let mut comps = components(chosen, children);
    for c in &mut comps {
        c.sort_by_key(|&p| (name(p), p));
    }
    let mut comp_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (c, members) in comps.iter().enumerate() {
        for &p in members {
            comp_of.insert(p, c);
        }
    }
    let mut pending = vec![BTreeSet::new(); comps.len()];
    let mut dependents = vec![BTreeSet::new(); comps.len()];
    for (&p, deps) in children {
        let Some(&cp) = comp_of.get(&p) else {
            continue;
        };
        for q in deps {
            if let Some(&cq) = comp_of.get(q)
                && cq != cp
            {
                pending[cp].insert(cq);
                dependents[cq].insert(cp);
            }
        }
    }
    let first = |c: usize| (name(comps[c][0]), comps[c][0]);
    let mut ready: BTreeSet<((&str, usize), usize)> = (0..comps.len())
        .filter(|&c| pending[c].is_empty())
        .map(|c| (first(c), c))
        .collect();
    let mut out = Vec::with_capacity(chosen.len());
    while let Some((_, c)) = ready.pop_first() {
        out.extend(comps[c].iter().copied());
        for &d in &dependents[c] {
            pending[d].remove(&c);
            if pending[d].is_empty() {
                ready.insert((first(d), d));
            }
        }
    }
    out
}

/// Tarjan's strongly connected components, iteratively (a long dependency
/// chain must not overflow the stack). Each component's members are
/// sorted by name.
fn components(chosen: &[usize], children: &BTreeMap<usize, Vec<usize>>) -> Vec<Vec<usize>> {
    let none: Vec<usize> = Vec::new();
    let mut index: BTreeMap<usize, usize> = BTreeMap::new();
    let mut low: BTreeMap<usize, usize> = BTreeMap::new();
    let mut on_stack: BTreeSet<usize> = BTreeSet::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut counter = 0;
    for &root in chosen {
        if index.contains_key(&root) {
            continue;
        }
        // (node, next child position)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index.insert(root, counter);
        low.insert(root, counter);
        counter += 1;
        stack.push(root);
        on_stack.insert(root);
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            let kids = children.get(&v).unwrap_or(&none);
            if let Some(&w) = kids.get(*next) {
                *next += 1;
                if let Entry::Vacant(slot) = index.entry(w) {
                    if !children.contains_key(&w) {
                        continue;
                    }
                    slot.insert(counter);
                    low.insert(w, counter);
                    counter += 1;
                    stack.push(w);
                    on_stack.insert(w);
                    work.push((w, 0));
                } else if on_stack.contains(&w) {
                    let lw = index[&w];
                    if lw < low[&v] {
                        low.insert(v, lw);
                    }
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                let lv = low[&v];
                if lv < low[&parent] {
                    low.insert(parent, lv);
                }
            }
            if low[&v] == index[&v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack.remove(&w);
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}
