//! The solve itself: check the request's names, then run resolvo with
//! ambiguous virtuals excluded; only when that is unsatisfiable run it
//! again with them allowed, to tell "ambiguous" (the second run succeeds,
//! by using one) from "impossible" (it fails too, and its explanation is
//! the one reported).

use std::collections::BTreeSet;
use std::fmt::Display;

use resolvo::{ConditionalRequirement, DenseIndex, Problem, Solver, UnsolvableOrCancelled};

use super::order;
use super::provider::{Model, Sol};
use super::{Request, Solution, SolveError, Universe};

/// A name close to `name`, for "did you mean".
fn suggestions<V>(universe: &Universe<V>, name: &str) -> Vec<String> {
    let mut all: BTreeSet<&str> = BTreeSet::new();
    for c in &universe.candidates {
        all.insert(&c.name);
        for (p, _) in &c.provides {
            all.insert(p);
        }
    }
    let mut scored: Vec<(f64, &str)> = all
        .into_iter()
        .filter(|c| {
            strsim::jaro_winkler(name, c) >= 0.85
                || strsim::normalized_damerau_levenshtein(name, c) >= 0.6
        })
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn known<V>(universe: &Universe<V>, request: &Request<V>, name: &str) -> bool {
    universe
        .candidates
        .iter()
        .any(|c| c.name == name || c.provides.iter().any(|(p, _)| p == name))
        || request
            .installed
            .iter()
            .any(|b| b.name == name || b.provides.iter().any(|(p, _)| p == name))
}

pub(super) fn solve<V>(universe: &Universe<V>, request: &Request<V>) -> Result<Solution, SolveError>
where
    V: Ord + Clone + Display + 'static,
{
    for r in &request.install {
        if request.exclude.contains(&r.name) {
            return Err(SolveError::RequestedAndExcluded {
                name: r.name.clone(),
            });
        }
    }
    for name in request
        .install
        .iter()
        .map(|r| &r.name)
        .chain(&request.exclude)
    {
        if !known(universe, request, name) {
            return Err(SolveError::Unknown {
                name: name.clone(),
                suggestions: suggestions(universe, name),
            });
        }
    }
    let mut model = Model::new(universe, request);
    let roots = model.root_requirements(request);
    match run(&model, roots.clone()) {
        Ok(chosen) => return Ok(order::solution(&model, request, &chosen).0),
        Err(explanation) if model.ambiguous.is_empty() => {
            return Err(SolveError::Unsatisfiable { explanation });
        }
        Err(_) => model.allow_ambiguous = true,
    }
    match run(&model, roots) {
        Ok(chosen) => {
            let (solution, ambiguous) = order::solution(&model, request, &chosen);
            match ambiguous {
                Some((name, providers, chain)) => Err(SolveError::Ambiguous {
                    name,
                    providers,
                    chain,
                }),
                // The virtual's name is ambiguous, but the dependencies
                // that use it accept only one provider's name.
                None => Ok(solution),
            }
        }
        Err(explanation) => Err(SolveError::Unsatisfiable { explanation }),
    }
}

/// One resolvo run: the chosen repository packages (canonical indexes,
/// sorted), or the explanation of why there are none.
fn run<V: Ord + Clone + Display + 'static>(
    model: &Model<'_, V>,
    roots: Vec<ConditionalRequirement>,
) -> Result<Vec<usize>, String> {
    let mut solver = Solver::new(model);
    match solver.solve(Problem::new().requirements(roots)) {
        Ok(ids) => {
            let mut chosen: Vec<usize> = ids
                .into_iter()
                .filter_map(|s| match model.sols.get(s.to_index()) {
                    Some(Sol::Real(p)) if !model.pkgs[*p].installed() => Some(*p),
                    _ => None,
                })
                .collect();
            chosen.sort_unstable();
            Ok(chosen)
        }
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => Err(conflict
            .display_user_friendly(&solver)
            .to_string()
            .trim_end()
            .to_string()),
        // The provider never cancels.
        Err(UnsolvableOrCancelled::Cancelled(_)) => Err("the solver was cancelled".into()),
    }
}
