//! The resolve stage: the base, opened and verified for every platform the
//! build asks for ([`crate::base::resolve`]), and the artifacts, listed and
//! grouped into layers per platform before anything is hardened, so a
//! missing or wrong-architecture artifact fails fast.

use super::built::BuildError;
use crate::build::BuildRequest;
use crate::build::artifacts::{self, ArtifactError, Ownership, Planned};
use crate::fs::ImagePath;
use std::collections::BTreeMap;

/// The artifact layers of every platform of `base`, in platform order.
pub(crate) fn plan_artifacts(
    req: &BuildRequest,
    base: &crate::base::resolve::ResolvedBase,
) -> Result<Vec<Vec<Vec<Planned>>>, BuildError> {
    let own = Ownership {
        uid: req.user.uid,
        gid: req.user.gid,
        mtime: req.layer_params.mtime,
    };
    let mut per_platform = Vec::new();
    for base_img in &base.images {
        let mut lists = Vec::new();
        for a in &req.artifacts {
            let input = artifact_for(a, &base_img.platform)?;
            lists.push(artifacts::collect(&input, own, Some(&base_img.platform))?);
        }
        per_platform.push(group_layers(lists, req.layer_budget)?);
    }
    Ok(per_platform)
}

/// The artifact with its source resolved for one platform.
pub(crate) fn artifact_for(
    a: &artifacts::ArtifactInput,
    platform: &crate::image::Platform,
) -> Result<artifacts::ArtifactInput, ArtifactError> {
    let src = a.src_spec.for_platform(platform);
    let src = src.ok_or_else(|| ArtifactError::NoSourceForPlatform {
        number: a.number,
        dest: a.dest.to_abs(),
        platform: platform.to_string(),
    })?;
    Ok(artifacts::ArtifactInput { src, ..a.clone() })
}

/// Groups artifacts into at most `budget` layers: one per artifact, and the
/// ones beyond the budget share the last layer.
pub(crate) fn group_layers(
    lists: Vec<Vec<Planned>>,
    budget: usize,
) -> Result<Vec<Vec<Planned>>, BuildError> {
    let budget = budget.max(1);
    let mut groups: Vec<Vec<Vec<Planned>>> = Vec::new();
    for (i, l) in lists.into_iter().enumerate() {
        if i < budget {
            groups.push(vec![l]);
        } else if let Some(last) = groups.last_mut() {
            last.push(l);
        }
    }
    // Two artifacts writing the same path is an error even across layers.
    let mut seen: BTreeMap<ImagePath, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for g in groups {
        let merged = artifacts::merge_sorted(g)?;
        for p in &merged {
            if p.entry.is_dir() {
                continue;
            }
            if let Some(first) = seen.insert(p.entry.path.clone(), p.artifact) {
                return Err(ArtifactError::Conflict {
                    first,
                    second: p.artifact,
                    dest: p.entry.path.to_abs(),
                }
                .into());
            }
        }
        out.push(merged);
    }
    Ok(out)
}

pub(crate) fn describe_group(g: &[Planned]) -> String {
    let mut tops: Vec<String> = Vec::new();
    for p in g {
        let n = p.artifact;
        if !tops.iter().any(|t| t.starts_with(&format!("#{n} "))) {
            tops.push(format!("#{n} {}", p.entry.path.to_abs()));
        }
    }
    tops.iter()
        .map(|t| t.split_once(' ').map(|x| x.1).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(", ")
}
