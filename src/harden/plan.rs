//! Deciding what to strip from a base image, from its merged filesystem.
//!
//! The plan is computed once from the merged view, then applied to every layer
//! entry by entry ([`Plan::action`]), so shadowed copies in lower layers are
//! removed too and the removed bytes never ship in any blob.

use super::rules::{self, Reason};
use super::{apk, dpkg, language_pms};
use crate::fs::merge::MergedTree;
use crate::fs::{Entry, EntryKind, ImagePath};
use std::collections::{BTreeMap, BTreeSet};

/// Paths of the apk installed database, newest location first.
pub const APK_DBS: &[&str] = &["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// dpkg's per-package control files (file lists, checksums, scripts).
pub const DPKG_INFO: &str = "var/lib/dpkg/info";

/// Files found to be shells or package managers by their content, by
/// (layer index, path): each copy in each layer is judged on its own bytes.
pub type ContentHits = BTreeMap<(usize, ImagePath), crate::detect::Evidence>;

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
    /// Layer entries that are shells or package managers by content.
    pub by_content: ContentHits,
}

fn reason_for(kind: crate::detect::Kind) -> Reason {
    match kind {
        crate::detect::Kind::Shell => Reason::Shell,
        crate::detect::Kind::PackageManager => Reason::PackageManager,
    }
}

impl Plan {
    /// Computes the plan from the merged view of the base, by names only.
    pub fn compute(tree: &MergedTree) -> Plan {
        Self::compute_with(tree, ContentHits::new())
    }

    /// Computes the plan from the merged view and the content verdicts of
    /// the layers' files.
    pub fn compute_with(tree: &MergedTree, by_content: ContentHits) -> Plan {
        let mut plan = Plan::default();
        for ((layer, path), found) in &by_content {
            if tree
                .get(path)
                .is_some_and(|n| n.layer == *layer && n.entry.is_file())
            {
                plan.removed.insert(path.clone(), reason_for(found.kind));
            }
        }
        plan.by_content = by_content;
        for (path, node) in tree.iter() {
            match rules::classify(&node.entry) {
                Some(Reason::BusyboxDir) if path.components().count() == 1 => {
                    plan.removed_trees.insert(path.clone(), Reason::BusyboxDir);
                }
                Some(Reason::Cache) => {} // rule-based at action time
                Some(r) => {
                    plan.removed.insert(path.clone(), r);
                }
                None if node.entry.is_dir() && language_pms::module_tree(path).is_some() => {
                    plan.removed_trees
                        .insert(path.clone(), Reason::PackageManager);
                }
                None => {}
            }
        }
        plan.remove_files_behind_named_links(tree);
        plan.remove_links_to_removed(tree);
        plan.drop_apk_packages(tree);
        plan.drop_dpkg_packages(tree);
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

    /// A file reached under a shell or package manager name is that program,
    /// whatever its own name: `/bin/sh -> /opt/x/tool` or a hard link
    /// `/bin/sh` to `/opt/x/tool` means `tool` is a shell. Removing only the
    /// link would ship the program, so the file goes too (and, through
    /// [`Self::remove_links_to_removed`], every other name it has).
    fn remove_files_behind_named_links(&mut self, tree: &MergedTree) {
        let mut add = Vec::new();
        for (path, node) in tree.iter() {
            let reason = match self.removed.get(path) {
                Some(r @ (Reason::Shell | Reason::PackageManager)) => r.clone(),
                _ => continue,
            };
            let target = match &node.entry.kind {
                EntryKind::Hardlink { target } => Some(target.clone()),
                EntryKind::Symlink { .. } => tree.resolve(path).map(|(p, _)| p),
                _ => None,
            };
            if let Some(t) = target
                && !self.removed.contains_key(&t)
                && tree.get(&t).is_some_and(|n| !n.entry.is_dir())
            {
                add.push((t, reason));
            }
        }
        self.removed.extend(add);
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

    /// The same for dpkg: `status` stanzas, distroless `status.d/<pkg>` files,
    /// and the `info/<pkg>.*` control files of dropped packages.
    fn drop_dpkg_packages(&mut self, tree: &MergedTree) {
        let (Ok(info), Ok(statusd), Ok(status)) = (
            ImagePath::parse(DPKG_INFO),
            ImagePath::parse("var/lib/dpkg/status.d"),
            ImagePath::parse("var/lib/dpkg/status"),
        ) else {
            return;
        };
        let mut control: Vec<(String, ImagePath, &[u8])> = Vec::new();
        for dir in [&info, &statusd] {
            for (p, _) in tree.children(dir) {
                if let Some(bytes) = tree.content(p) {
                    control.push((p.file_name().to_string(), p.clone(), bytes));
                }
            }
        }
        let raw_owners = dpkg::ownership(control.iter().map(|(n, _, b)| (n.as_str(), *b)));
        // Package lists name files where the package put them (`/bin/bash`);
        // on a usr-merged system the tar entry is `usr/bin/bash`.
        let owners: BTreeMap<String, BTreeSet<String>> = raw_owners
            .into_iter()
            .map(|(pkg, files)| {
                let real = files
                    .into_iter()
                    .map(|f| match ImagePath::parse(&f) {
                        Ok(fp) => real_path(tree, &fp)
                            .map(|r| r.as_str().to_string())
                            .unwrap_or(f),
                        Err(_) => f,
                    })
                    .collect();
                (pkg, real)
            })
            .collect();
        let dropped: BTreeSet<String> = owners
            .iter()
            .filter(|(_, files)| {
                files.iter().any(|f| {
                    ImagePath::parse(f).ok().is_some_and(|fp| {
                        self.is_removed(&fp).is_some()
                            && tree.get(&fp).is_some_and(|n| !n.entry.is_dir())
                    })
                })
            })
            .map(|(p, _)| p.clone())
            .collect();
        if dropped.is_empty() {
            return;
        }
        // As dpkg does: a path another (kept) package also lists stays, and
        // a directory stays even when it is a symlink to one (usr-merge's
        // `/lib -> usr/lib` is listed by apt, dpkg and many more).
        let kept: BTreeSet<&str> = owners
            .iter()
            .filter(|(p, _)| !dropped.contains(*p))
            .flat_map(|(_, files)| files.iter().map(String::as_str))
            .collect();
        let is_dir_like = |fp: &ImagePath| {
            tree.get(fp).is_some_and(|n| n.entry.is_dir())
                || tree.resolve(fp).is_some_and(|(_, n)| n.entry.is_dir())
        };
        for pkg in &dropped {
            for f in owners.get(pkg).into_iter().flatten() {
                if let Ok(fp) = ImagePath::parse(f)
                    && self.is_removed(&fp).is_none()
                    && !kept.contains(f.as_str())
                    && tree.get(&fp).is_some()
                    && !is_dir_like(&fp)
                {
                    self.removed.insert(fp, Reason::PackageRemoved(pkg.clone()));
                }
            }
        }
        // Control files: info/<pkg>[:arch].* and status.d/<pkg>[.md5sums].
        for (name, path, _) in &control {
            let pkg = dpkg::split_info_name(name)
                .map(|(p, _)| p)
                .unwrap_or(name.as_str());
            if dropped.contains(pkg)
                || (path.starts_with(&statusd) && dropped.contains(name.as_str()))
            {
                self.removed
                    .insert(path.clone(), Reason::PackageRemoved(pkg.to_string()));
            }
        }
        for (p, _) in tree.children(&statusd) {
            if dropped.contains(p.file_name()) {
                self.removed
                    .insert(p.clone(), Reason::PackageRemoved(p.file_name().to_string()));
            }
        }
        if let (Some(node), Some(bytes)) = (tree.get(&status), tree.content(&status)) {
            let text = String::from_utf8_lossy(bytes);
            let kept: Vec<_> = dpkg::parse_status(&text)
                .into_iter()
                .filter(|s| !dropped.contains(&s.package))
                .collect();
            self.replacements.insert(
                status,
                (node.layer, dpkg::render_status(&kept).into_bytes()),
            );
        }
        self.dropped_packages.extend(dropped);
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
        if let Some(found) = self.by_content.get(&(layer, entry.path.clone())) {
            return Action::Drop(reason_for(found.kind));
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

/// Where the file a package list names really is: the path itself when the
/// tree has it, else its parent resolved through symlinks (usr-merge's
/// `/bin -> usr/bin`) plus its name. The final component is not followed.
fn real_path(tree: &MergedTree, p: &ImagePath) -> Option<ImagePath> {
    if tree.get(p).is_some() {
        return Some(p.clone());
    }
    let (dir, _) = tree.resolve(&p.parent()?)?;
    let real = dir.join(p.file_name()).ok()?;
    tree.get(&real).map(|_| real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::merge::CaptureSet;

    fn add(t: &mut MergedTree, p: &str, kind: EntryKind, mode: u32, content: Option<&str>) {
        let mut e = Entry::new(ImagePath::parse(p).unwrap(), kind, mode);
        if let Some(c) = content {
            e.size = c.len() as u64;
        }
        t.insert(0, e);
        if let Some(c) = content {
            t.set_content(&ImagePath::parse(p).unwrap(), c.as_bytes().to_vec());
        }
    }

    #[test]
    fn debian_shell_and_package_manager_leave_the_dpkg_database() {
        let mut t = MergedTree::with_capture(CaptureSet::standard().with_dir(DPKG_INFO));
        for d in [
            "bin",
            "usr",
            "usr/bin",
            "var",
            "var/lib",
            "var/lib/dpkg",
            "var/lib/dpkg/info",
        ] {
            add(&mut t, d, EntryKind::Dir, 0o755, None);
        }
        add(&mut t, "bin/bash", EntryKind::File, 0o755, Some("ELF"));
        add(
            &mut t,
            "bin/rbash",
            EntryKind::Symlink {
                target: "bash".into(),
            },
            0o777,
            None,
        );
        add(
            &mut t,
            "usr/bin/clear_console",
            EntryKind::File,
            0o755,
            Some("ELF"),
        );
        add(&mut t, "usr/bin/ls", EntryKind::File, 0o755, Some("ELF"));
        add(
            &mut t,
            "var/lib/dpkg/info/bash.list",
            EntryKind::File,
            0o644,
            Some("/.\n/bin\n/bin/bash\n/usr/bin/clear_console\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/info/bash.postinst",
            EntryKind::File,
            0o755,
            Some("#!/bin/sh\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/info/coreutils:amd64.list",
            EntryKind::File,
            0o644,
            Some("/usr/bin/ls\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/status",
            EntryKind::File,
            0o644,
            Some(
                "Package: bash\nStatus: install ok installed\n\nPackage: coreutils\nStatus: install ok installed\n\n",
            ),
        );
        let plan = Plan::compute(&t);
        assert_eq!(plan.dropped_packages, BTreeSet::from(["bash".to_string()]));
        for gone in [
            "bin/bash",
            "bin/rbash",
            "usr/bin/clear_console",
            "var/lib/dpkg/info/bash.list",
            "var/lib/dpkg/info/bash.postinst",
        ] {
            assert!(
                plan.removed.contains_key(&ImagePath::parse(gone).unwrap()),
                "{gone} should be removed"
            );
        }
        assert!(
            !plan
                .removed
                .contains_key(&ImagePath::parse("usr/bin/ls").unwrap())
        );
        let (_, status) = &plan.replacements[&ImagePath::parse("var/lib/dpkg/status").unwrap()];
        assert_eq!(
            String::from_utf8_lossy(status),
            "Package: coreutils\nStatus: install ok installed\n\n"
        );
    }

    #[test]
    fn usr_merged_debian_drops_bash_and_keeps_shared_dir_links() {
        let mut t = MergedTree::with_capture(CaptureSet::standard().with_dir(DPKG_INFO));
        for d in [
            "usr",
            "usr/bin",
            "usr/lib",
            "var",
            "var/lib",
            "var/lib/dpkg",
            "var/lib/dpkg/info",
        ] {
            add(&mut t, d, EntryKind::Dir, 0o755, None);
        }
        for (link, target) in [("bin", "usr/bin"), ("lib", "usr/lib")] {
            let kind = EntryKind::Symlink {
                target: target.into(),
            };
            add(&mut t, link, kind, 0o777, None);
        }
        add(&mut t, "usr/bin/bash", EntryKind::File, 0o755, Some("ELF"));
        add(
            &mut t,
            "usr/lib/libc.so.6",
            EntryKind::File,
            0o644,
            Some("ELF"),
        );
        add(
            &mut t,
            "var/lib/dpkg/info/bash.list",
            EntryKind::File,
            0o644,
            Some("/.\n/bin\n/bin/bash\n/lib\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/info/libc6:amd64.list",
            EntryKind::File,
            0o644,
            Some("/lib\n/lib/libc.so.6\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/status",
            EntryKind::File,
            0o644,
            Some("Package: bash\n\nPackage: libc6\n\n"),
        );
        let plan = Plan::compute(&t);
        assert_eq!(plan.dropped_packages, BTreeSet::from(["bash".to_string()]));
        for kept in ["bin", "lib", "usr/lib/libc.so.6"] {
            assert!(
                plan.is_removed(&ImagePath::parse(kept).unwrap()).is_none(),
                "{kept} must stay"
            );
        }
        assert!(
            plan.is_removed(&ImagePath::parse("usr/bin/bash").unwrap())
                .is_some()
        );
    }

    #[test]
    fn distroless_status_d_without_shells_is_untouched() {
        let mut t = MergedTree::with_capture(CaptureSet::standard().with_dir(DPKG_INFO));
        for d in ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d"] {
            add(&mut t, d, EntryKind::Dir, 0o755, None);
        }
        add(
            &mut t,
            "var/lib/dpkg/status.d/base-files",
            EntryKind::File,
            0o644,
            Some("Package: base-files\n"),
        );
        add(
            &mut t,
            "var/lib/dpkg/status.d/base-files.md5sums",
            EntryKind::File,
            0o644,
            Some("00  etc/debian_version\n"),
        );
        let plan = Plan::compute(&t);
        assert!(
            plan.removed.is_empty()
                && plan.replacements.is_empty()
                && plan.dropped_packages.is_empty()
        );
    }
}
