//! Privilege that is not a mode bit: file capabilities and POSIX ACLs
//! (FS-004, FS-005), and an image user in a privileged group (USR-006).
//! The facts come from the same detectors hardening uses
//! ([`crate::harden::xattrs`], [`crate::harden::accounts::privileged_group`]),
//! so what hardening strips is exactly what the audit reports.

use super::checks::{Config, parse_passwd};
use super::report::Finding;
use crate::fs::MergedTree;
use crate::harden::accounts::{AccountDb, privileged_group, read_db};
use crate::harden::xattrs::{XattrClass, classify, describe_capability};

/// FS-004 and FS-005 over the merged view (the files a container sees).
pub(crate) fn check_xattrs(tree: &MergedTree, out: &mut Vec<Finding>) {
    for (path, node) in tree.iter() {
        for (name, value) in &node.entry.xattrs {
            match classify(name) {
                XattrClass::Capability => out.push(Finding::new(
                    "FS-004",
                    Some(path.to_abs()),
                    format!(
                        "{} has file capabilities ({name}: {})",
                        path.to_abs(),
                        describe_capability(value)
                    ),
                )),
                XattrClass::Acl => out.push(Finding::new(
                    "FS-005",
                    Some(path.to_abs()),
                    format!("{} has a POSIX ACL ({name})", path.to_abs()),
                )),
                XattrClass::Inert => {}
            }
        }
    }
}

/// USR-006: the config's user (by name or uid) has a privileged primary
/// group, or is listed as a member of a privileged group in /etc/group.
/// A missing or root user is USR-001/USR-002's business.
pub(crate) fn check_groups(cfg: &Config<'_>, tree: &MergedTree, out: &mut Vec<Finding>) {
    let raw = cfg.str_field("User").unwrap_or("").trim();
    let mut parts = raw.splitn(2, ':');
    let user = parts.next().unwrap_or("").trim();
    let group_part = parts.next().map(str::trim).filter(|g| !g.is_empty());
    if user.is_empty() {
        return;
    }
    let passwd = match read_db(tree, "etc/passwd") {
        AccountDb::Bytes(b) => parse_passwd(b),
        AccountDb::Absent => Vec::new(),
        // A name is USR-001's finding then; a uid's primary group (which
        // runc takes from that file) is unknown, and may be gid 0.
        AccountDb::Unreadable(why) => {
            if user.parse::<u64>().is_ok() {
                out.push(Finding::new(
                    "USR-006",
                    Some("/etc/passwd".into()),
                    format!(
                        "config.User {raw:?} gets its primary group from /etc/passwd, which \
                         cannot be checked: {why}"
                    ),
                ));
            }
            return;
        }
    };
    let account = match user.parse::<u64>() {
        Ok(uid) => passwd.iter().find(|e| e.uid == Some(uid)),
        Err(_) => passwd.iter().find(|e| e.name == user),
    };
    // Root is USR-001's finding; a group adds nothing to it.
    if user == "0" || account.is_some_and(|a| a.uid == Some(0)) {
        return;
    }
    let groups = match read_db(tree, "etc/group") {
        AccountDb::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        AccountDb::Absent => String::new(),
        AccountDb::Unreadable(why) => {
            out.push(Finding::new(
                "USR-006",
                Some("/etc/group".into()),
                format!(
                    "config.User {raw:?} may be a member of privileged groups that cannot be \
                     checked: {why}"
                ),
            ));
            return;
        }
    };
    let primary: Option<u64> = match group_part {
        Some(g) => g.parse().ok().or_else(|| {
            group_lines(&groups)
                .find(|(_, f)| f.first() == Some(&g))
                .and_then(|(_, f)| f.get(2).and_then(|s| s.trim().parse().ok()))
        }),
        None => account.and_then(|a| a.gid),
    };
    for (line, f) in group_lines(&groups) {
        let (Some(name), gid) = (f.first(), f.get(2).and_then(|s| s.trim().parse().ok())) else {
            continue;
        };
        let Some(why) = privileged_group(name, gid) else {
            continue;
        };
        let member = account.is_some_and(|a| {
            f.get(3)
                .is_some_and(|m| m.split(',').any(|m| m.trim() == a.name))
        });
        if member {
            out.push(Finding::new(
                "USR-006",
                Some("/etc/group".into()),
                format!(
                    "config.User {raw:?} is a member of group '{name}' (/etc/group line {line}): {why}"
                ),
            ));
        } else if gid.is_some() && gid == primary {
            out.push(Finding::new(
                "USR-006",
                Some("/etc/group".into()),
                format!(
                    "config.User {raw:?} has primary group '{name}' (gid {}): {why}",
                    gid.unwrap_or_default()
                ),
            ));
        }
    }
    if primary == Some(0) && !group_lines(&groups).any(|(_, f)| f.get(2) == Some(&"0")) {
        out.push(Finding::new(
            "USR-006",
            None,
            format!("config.User {raw:?} has primary group gid 0"),
        ));
    }
}

/// Non-comment lines of a group file, split on `:`, with 1-based numbers.
fn group_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.split(':').collect()))
}
