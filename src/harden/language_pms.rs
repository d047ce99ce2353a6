//! Language package managers that live as module trees: pip inside a Python
//! installation, npm, corepack, yarn and pnpm inside a Node installation.
//!
//! Removing `/usr/bin/pip3` or `/usr/local/bin/npm` is not enough: `python3 -m
//! pip install …` and `node /usr/local/lib/node_modules/npm/bin/npm-cli.js …`
//! install whatever an attacker wants without any launcher. So the whole module
//! tree goes, with its packaging metadata (`pip-*.dist-info`), which SBOM tools
//! such as Syft read to list pip as installed.
//!
//! This is the one list: hardening removes every tree it matches
//! ([`super::plan::Plan::compute`]) and the policy engine reports every tree it
//! matches as PKG-001, so the gate never refuses a pip or npm tree that
//! hardening left behind (`python:*-slim` and `node:*` style bases, and
//! Debian's `python3-pip` and `npm` packages, build).

use crate::fs::ImagePath;
use std::sync::OnceLock;

/// Module trees, as image-relative globs (`*` stays within one component).
/// `python*` covers `python3`, `python3.12` and `python2.7`; `lib` at any
/// depth covers virtualenvs (`/opt/venv/lib/python3.12/site-packages/pip`).
pub const MODULE_TREES: &[(&str, &str)] = &[
    ("pip", "**/lib/python*/site-packages/pip"),
    ("pip", "**/lib/python*/dist-packages/pip"),
    ("pip", "**/lib/python*/site-packages/pip-[0-9]*.dist-info"),
    ("pip", "**/lib/python*/dist-packages/pip-[0-9]*.dist-info"),
    ("pip", "**/lib/python*/site-packages/pip-[0-9]*.egg-info"),
    ("pip", "**/lib/python*/dist-packages/pip-[0-9]*.egg-info"),
    ("npm", "usr/lib/node_modules/npm"),
    ("npm", "usr/local/lib/node_modules/npm"),
    // Debian's `npm` package (bookworm): /usr/bin/npm -> ../share/nodejs/npm/bin/npm-cli.js
    ("npm", "usr/share/nodejs/npm"),
    ("corepack", "usr/lib/node_modules/corepack"),
    ("corepack", "usr/local/lib/node_modules/corepack"),
    ("corepack", "usr/share/nodejs/corepack"),
    ("yarn", "usr/lib/node_modules/yarn"),
    ("yarn", "usr/local/lib/node_modules/yarn"),
    ("yarn", "usr/share/nodejs/yarn"),
    // The official node images unpack yarn classic here.
    ("yarn", "opt/yarn-v*"),
    ("pnpm", "usr/lib/node_modules/pnpm"),
    ("pnpm", "usr/local/lib/node_modules/pnpm"),
];

fn globs() -> Option<&'static globset::GlobSet> {
    static SET: OnceLock<Option<globset::GlobSet>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut b = globset::GlobSetBuilder::new();
        for (_, p) in MODULE_TREES {
            // Constants of this file; `every_pattern_compiles` guards them.
            if let Ok(g) = globset::GlobBuilder::new(p).literal_separator(true).build() {
                b.add(g);
            }
        }
        b.build().ok()
    })
    .as_ref()
}

/// The package manager whose module tree is rooted at `dir` (a directory
/// path), or `None`. Only the root matches; paths below it are inside a
/// removed tree.
pub fn module_tree(dir: &ImagePath) -> Option<&'static str> {
    let set = globs()?;
    let hit = set.matches(dir.as_str());
    hit.first()
        .and_then(|&i| MODULE_TREES.get(i))
        .map(|(pm, _)| *pm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str) -> Option<&'static str> {
        module_tree(&ImagePath::parse(p).unwrap())
    }

    #[test]
    fn every_pattern_compiles() {
        for (_, p) in MODULE_TREES {
            assert!(globset::Glob::new(p).is_ok(), "{p}");
        }
        assert_eq!(globs().map(|s| s.len()), Some(MODULE_TREES.len()));
    }

    #[test]
    fn pip_and_npm_trees_of_real_bases() {
        // Debian python3-pip, python:3.12-slim, a virtualenv.
        assert_eq!(m("usr/lib/python3/dist-packages/pip"), Some("pip"));
        assert_eq!(
            m("usr/lib/python3/dist-packages/pip-23.0.1.dist-info"),
            Some("pip")
        );
        assert_eq!(m("usr/local/lib/python3.12/site-packages/pip"), Some("pip"));
        assert_eq!(m("opt/venv/lib/python3.11/site-packages/pip"), Some("pip"));
        // Debian npm, node:22.
        assert_eq!(m("usr/share/nodejs/npm"), Some("npm"));
        assert_eq!(m("usr/local/lib/node_modules/npm"), Some("npm"));
        assert_eq!(m("usr/local/lib/node_modules/corepack"), Some("corepack"));
        assert_eq!(m("opt/yarn-v1.22.22"), Some("yarn"));
    }

    #[test]
    fn neighbours_are_not_package_managers() {
        for p in [
            "usr/lib/python3/dist-packages/pipx_helper",
            "usr/lib/python3/dist-packages/pip/_internal",
            "usr/lib/python3/dist-packages/pipes",
            "usr/lib/python3/dist-packages/pip_audit",
            "usr/lib/python3/dist-packages/pip_tools-7.4.1.dist-info",
            "usr/lib/python3/dist-packages/pip-tools-7.4.1.dist-info",
            "usr/local/lib/node_modules/npm-run-all",
            "usr/share/nodejs/npm-package-arg",
            "app/node_modules/left-pad",
            "usr/lib/python3.11",
        ] {
            assert_eq!(m(p), None, "{p}");
        }
    }
}
