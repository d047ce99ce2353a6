//! Deciding what to strip from a base image, from its merged filesystem.
//!
//! The plan is computed once from the merged view, then applied to every layer
//! entry by entry ([`Plan::action`]), so shadowed copies in lower layers are
//! removed too and the removed bytes never ship in any blob.

use super::apk;
use super::rules::{self, Reason};
use crate::fs::merge::MergedTree;
use crate::fs::{Entry, EntryKind, ImagePath};
use std::collections::{BTreeMap, BTreeSet};

/// Paths of the apk installed database, newest location first.
pub const APK_DBS: &[&str] = &["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// What to do with one entry of a base layer.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    Keep,
    Drop(Reason),
    /// Keep with a new mode and, when given, new content.
    Rewrite {
        mode: u32,
        content: Option<&'a [u8]>,
    },
}

/// The hardening plan for one platform's base.
#[derive(Debug, Default)]
pub struct Plan {
    /// Exact paths removed (files, links), with why.
    pub removed: BTreeMap<ImagePath, Reason>,
    /// Subtrees removed whole, root included.
    pub removed_trees: BTreeMap<ImagePath, Reason>,
    /// New content for a file, applied where its topmost copy lives: (layer, bytes).
    pub replacements: BTreeMap<ImagePath, (usize, Vec<u8>)>,
    /// Packages removed from the package database.
    pub dropped_packages: BTreeSet<String>,
}

impl Plan {
    /// Computes the plan from the merged view of the base.
    pub fn compute(tree: &MergedTree) -> Plan {
        let mut plan = Plan::default();
        for (path, node) in tree.iter() {
            match rules::classify(&node.entry) {
                Some(Reason::BusyboxDir) if path.components().count() == 1 => {
                    plan.removed_trees.insert(path.clone(), Reason::BusyboxDir);
                }
                Some(Reason::Cache) => {} // rule-based at action time
                Some(r) => {
                    plan.removed.insert(path.clone(), r);
                }
                None => {}
            }
        }
        plan.remove_links_to_removed(tree);
        plan.drop_apk_packages(tree);
        plan.remove_links_to_removed(tree);
        plan
    }

    fn is_removed(&self, p: &ImagePath) -> Option<&Reason> {
        if let Some(r) = self.removed.get(p) {
            return Some(r);
        }
        self.removed_trees
            .iter()
            .find(|(root, _)| p.starts_with(root))
            .map(|(_, r)| r)
    }

    /// Links whose final target is removed would dangle and, worse, were the
    /// removed program under another name (`/bin/ls -> /bin/busybox`).
    fn remove_links_to_removed(&mut self, tree: &MergedTree) {
        loop {
            let mut added = Vec::new();
            for (path, node) in tree.iter() {
                if self.is_removed(path).is_some() {
                    continue;
                }
                let target = match &node.entry.kind {
                    EntryKind::Hardlink { target } => Some(target.clone()),
                    EntryKind::Symlink { target } => {
                        let lexical = path.resolve_link_target(target);
                        // Follow the whole chain when it resolves; otherwise judge
                        // by the lexical target (it may itself be removed).
                        Some(tree.resolve(&lexical).map(|(p, _)| p).unwrap_or(lexical))
                    }
                    _ => None,
                };
                if let Some(t) = target
                    && self.is_removed(&t).is_some()
                {
                    added.push((path.clone(), Reason::LinkToRemoved(t.to_abs())));
                }
            }
            if added.is_empty() {
                break;
            }
            self.removed.extend(added);
        }
    }

    /// Drops the apk packages that own a removed file (and the packages that only
    /// exist for them), removes the rest of their files, and rewrites the database.
    fn drop_apk_packages(&mut self, tree: &MergedTree) {
        for db_path in APK_DBS {
            let Ok(p) = ImagePath::parse(db_path) else {
                continue;
            };
            let (Some(node), Some(bytes)) = (tree.get(&p), tree.content(&p)) else {
                continue;
            };
            let text = String::from_utf8_lossy(bytes);
            let pkgs = apk::parse(&text);
            let mut dropped: BTreeSet<String> = pkgs
                .iter()
                .filter(|pkg| {
                    pkg.files.iter().any(|f| {
                        ImagePath::parse(f)
                            .ok()
                            .and_then(|fp| self.is_removed(&fp).cloned())
                            .is_some()
                    })
                })
                .map(|pkg| pkg.name.clone())
                .collect();
            apk::close_over_install_if(&pkgs, &mut dropped);
            if dropped.is_empty() {
                continue;
            }
            for pkg in pkgs.iter().filter(|p| dropped.contains(&p.name)) {
                for f in &pkg.files {
                    if let Ok(fp) = ImagePath::parse(f)
                        && self.is_removed(&fp).is_none()
                        && tree.get(&fp).is_some_and(|n| !n.entry.is_dir())
                    {
                        self.removed
                            .insert(fp, Reason::PackageRemoved(pkg.name.clone()));
                    }
                }
            }
            let kept: Vec<_> = pkgs
                .into_iter()
                .filter(|p| !dropped.contains(&p.name))
                .collect();
            self.replacements
                .insert(p, (node.layer, apk::render(&kept).into_bytes()));
            self.dropped_packages.extend(dropped);
        }
    }

    /// Decides one entry of layer `layer`. `dropped_here` holds the paths already
    /// dropped from this layer, so hardlinks to them are dropped too.
    pub fn action(
        &self,
        layer: usize,
        entry: &Entry,
        dropped_here: &BTreeSet<ImagePath>,
    ) -> Action<'_> {
        if let Some(r) = self.is_removed(&entry.path) {
            return Action::Drop(r.clone());
        }
        if let Some(r) = rules::classify(entry) {
            return Action::Drop(r);
        }
        if let EntryKind::Hardlink { target } = &entry.kind
            && (dropped_here.contains(target) || self.is_removed(target).is_some())
        {
            return Action::Drop(Reason::LinkToRemoved(target.to_abs()));
        }
        let mode = rules::hardened_mode(entry);
        let content = match self.replacements.get(&entry.path) {
            Some((l, bytes)) if *l == layer && entry.is_file() => Some(bytes.as_slice()),
            _ => None,
        };
        if mode != entry.mode || content.is_some() {
            Action::Rewrite { mode, content }
        } else {
            Action::Keep
        }
    }
}
