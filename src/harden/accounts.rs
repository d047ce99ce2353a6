//! Account files: `/etc/passwd`, `/etc/group`, `/etc/shadow`.
//!
//! Every account gets `/sbin/nologin` as its shell (Alpine ships root with
//! `/bin/sh`), empty passwords are locked, and the image's own user is added.
//! Lines ironhull does not need to change are kept byte for byte.
//!
//! Privilege that is not uid 0: membership of a group that can read raw
//! disks, password hashes or the Docker socket, or that `sudo` trusts, is as
//! good as root. The image user is removed from every [`PRIVILEGED_GROUPS`]
//! member list (in `/etc/group` and `/etc/gshadow`), and a user whose
//! primary group would be one of them is refused. The account files
//! themselves are generated here, so an artifact may not replace them
//! ([`account_file`]).

/// Why the requested user cannot be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    #[error(
        "uid {uid} already belongs to account '{existing}' in the base image's /etc/passwd; set [user] name = \"{existing}\" to run as it, or pick another uid"
    )]
    UidTaken { uid: u32, existing: String },
    #[error(
        "account name '{name}' already exists in the base image's /etc/passwd with uid {existing_uid}; set [user] uid = {existing_uid} or choose another name"
    )]
    NameTaken { name: String, existing_uid: String },
    #[error(
        "gid {gid} already belongs to group '{existing}' in the base image's /etc/group; set [user] name = \"{existing}\" or pick another gid"
    )]
    GidTaken { gid: u32, existing: String },
    #[error(
        "[user] gid {gid} is the base image's group '{group}', a privileged group ({why}); pick an unprivileged gid such as 10001"
    )]
    PrivilegedGroup {
        gid: u32,
        group: String,
        why: &'static str,
    },
    #[error(
        "the base image's {why}; the container would read accounts ironhull cannot see. \
         Use a base whose account files are regular files"
    )]
    Unreadable { why: String },
}

/// An account database as a runtime reads it: `/etc/passwd` and friends are
/// opened by path, through symlinks and hard links, when the container
/// starts (runc resolves `User` that way).
#[derive(Debug, PartialEq, Eq)]
pub enum AccountDb<'a> {
    /// No such file (or a dangling link): the runtime finds nothing either.
    Absent,
    Bytes(&'a [u8]),
    /// The file exists but ironhull did not read its content; the reason
    /// says why. Whatever the runtime reads there is unknown, so callers
    /// fail closed: a user it may map to root, groups it may grant.
    Unreadable(String),
}

/// Reads the account database at `rel` (for example `etc/passwd`) from the
/// merged view, following links as the runtime does.
pub fn read_db<'a>(tree: &'a crate::fs::MergedTree, rel: &str) -> AccountDb<'a> {
    let Ok(p) = crate::fs::ImagePath::parse(rel) else {
        return AccountDb::Absent;
    };
    let Some((real, node)) = tree.resolve(&p) else {
        return AccountDb::Absent;
    };
    if node.entry.is_dir() {
        return AccountDb::Absent;
    }
    if let Some(b) = tree.content(&real) {
        return AccountDb::Bytes(b);
    }
    let why = if let Some(n) = tree.capture_too_big(&real) {
        format!("it is {n} bytes, more than ironhull reads of an account file")
    } else if let crate::fs::EntryKind::Hardlink { target } = &node.entry.kind {
        format!(
            "it is a hard link to {}, which ironhull does not read",
            target.to_abs()
        )
    } else if real != p {
        format!(
            "it resolves to {}, which ironhull does not read",
            real.to_abs()
        )
    } else {
        "it is a hard link to a file outside the account files, whose content ironhull \
         did not read"
            .to_string()
    };
    AccountDb::Unreadable(format!("{}: {why}", p.to_abs()))
}

/// Groups whose members hold privilege that is not a mode bit, with why.
/// gid 0 is privileged whatever its name. `tty` is included because its
/// members may write to other users' terminals, and `staff` because Debian
/// gives it write access to `/usr/local`: neither is needed by a service.
pub const PRIVILEGED_GROUPS: &[(&str, &str)] = &[
    (
        "root",
        "owns system files and is gid 0 on every distribution",
    ),
    ("wheel", "trusted by su and sudo on many distributions"),
    ("sudo", "trusted by sudo on Debian and Ubuntu"),
    ("admin", "trusted by sudo on older Ubuntu"),
    ("adm", "reads system logs"),
    ("shadow", "reads password hashes in /etc/shadow"),
    ("disk", "reads and writes raw block devices"),
    ("kmem", "reads kernel memory through /dev/kmem"),
    ("tty", "writes to other users' terminals"),
    ("docker", "controls the Docker daemon, which is root"),
    ("lxd", "controls LXD, which is root"),
    ("libvirt", "controls libvirt, which is root"),
    ("staff", "writes to /usr/local on Debian"),
];

/// Why a group (by name and gid) is privileged, if it is.
pub fn privileged_group(name: &str, gid: Option<u64>) -> Option<&'static str> {
    if gid == Some(0) {
        return Some("gid 0");
    }
    PRIVILEGED_GROUPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Account and privilege files an artifact may not replace, with why. The
/// account databases (and the `-` backups that `pwconv` and `vipw` restore
/// from) are generated by ironhull from `[user]`; the rest grant privilege
/// to users (sudo, doas, PAM, subordinate id ranges, login defaults).
pub const ACCOUNT_FILES: &[(&str, &str)] = &[
    ("etc/passwd", "is generated by ironhull from [user]"),
    ("etc/group", "is generated by ironhull from [user]"),
    ("etc/shadow", "is generated by ironhull from [user]"),
    ("etc/gshadow", "is generated by ironhull from [user]"),
    (
        "etc/passwd-",
        "is a backup of an account file ironhull generates",
    ),
    (
        "etc/group-",
        "is a backup of an account file ironhull generates",
    ),
    (
        "etc/shadow-",
        "is a backup of an account file ironhull generates",
    ),
    (
        "etc/gshadow-",
        "is a backup of an account file ironhull generates",
    ),
    ("etc/sudoers", "grants root to users through sudo"),
    ("etc/doas.conf", "grants root to users through doas"),
    ("etc/subuid", "assigns subordinate uids to users"),
    ("etc/subgid", "assigns subordinate gids to users"),
    ("etc/login.defs", "sets account and password defaults"),
    ("etc/pam.conf", "configures authentication (PAM)"),
];

/// Directories whose every entry is a privilege grant.
pub const ACCOUNT_DIRS: &[(&str, &str)] = &[
    ("etc/sudoers.d", "grants root to users through sudo"),
    ("etc/doas.d", "grants root to users through doas"),
    ("etc/pam.d", "configures authentication (PAM)"),
];

/// Why an artifact may not write `path`, if it is an account or privilege
/// file (or lies in a directory of them). The one list: spec validation and
/// artifact intake (including files inside a directory artifact) use it.
pub fn account_file(path: &crate::fs::ImagePath) -> Option<&'static str> {
    if let Some((_, why)) = ACCOUNT_FILES.iter().find(|(p, _)| *p == path.as_str()) {
        return Some(why);
    }
    ACCOUNT_DIRS.iter().find_map(|(d, why)| {
        let rest = path.as_str().strip_prefix(d)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(*why)
    })
}

pub const NOLOGIN: &str = "/sbin/nologin";

/// The image's user.
#[derive(Clone, Debug)]
pub struct User<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
}

fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

/// Rewrites passwd: every shell → nologin, and the user appended unless an
/// identical account exists. Returns the new file.
pub fn passwd(old: &str, user: &User) -> Result<String, AccountError> {
    let mut out = String::new();
    let mut present = false;
    for line in old.lines() {
        let f = fields(line);
        if f.len() < 7 || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let uid_matches = f[2] == user.uid.to_string();
        if f[0] == user.name {
            if !uid_matches {
                return Err(AccountError::NameTaken {
                    name: user.name.into(),
                    existing_uid: f[2].into(),
                });
            }
            present = true;
        } else if uid_matches {
            return Err(AccountError::UidTaken {
                uid: user.uid,
                existing: f[0].into(),
            });
        }
        let mut f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        if f[0] == user.name {
            f[3] = user.gid.to_string();
            f[5] = user.home.to_string();
        }
        f[6] = NOLOGIN.to_string();
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    if !present {
        out.push_str(&format!(
            "{}:x:{}:{}:{}:{}:{}\n",
            user.name, user.uid, user.gid, user.name, user.home, NOLOGIN
        ));
    }
    Ok(out)
}

/// Adds the user's primary group unless the same group exists, and removes
/// the user from the member list of every privileged group.
pub fn group(old: &str, user: &User) -> Result<String, AccountError> {
    let mut out = String::new();
    let mut present = false;
    for line in old.lines() {
        let f = fields(line);
        if f.len() < 3 || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let gid = f[2].trim().parse::<u64>().ok();
        let privileged = privileged_group(f[0], gid);
        if f[2] == user.gid.to_string() {
            if let Some(why) = privileged {
                return Err(AccountError::PrivilegedGroup {
                    gid: user.gid,
                    group: f[0].into(),
                    why,
                });
            }
            if f[0] == user.name {
                present = true;
            } else if !present {
                // A distinct group already has this gid: reuse it as the primary
                // group only if the names agree; otherwise the mapping is ambiguous.
                return Err(AccountError::GidTaken {
                    gid: user.gid,
                    existing: f[0].into(),
                });
            }
        }
        match privileged {
            Some(_) => out.push_str(&without_member(&f, &[3], user.name)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if !present {
        out.push_str(&format!("{}:x:{}:\n", user.name, user.gid));
    }
    Ok(out)
}

/// Removes the user from the admin and member lists of every privileged
/// group in `/etc/gshadow` (`name:password:admins:members`).
pub fn gshadow(old: &str, group_file: &str, user: &User) -> String {
    let gids: std::collections::BTreeMap<&str, Option<u64>> = group_file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f = fields(l);
            Some((*f.first()?, f.get(2).and_then(|g| g.trim().parse().ok())))
        })
        .collect();
    let mut out = String::new();
    for line in old.lines() {
        let f = fields(line);
        let gid = f.first().and_then(|n| gids.get(n)).copied().flatten();
        if f.len() < 4 || line.starts_with('#') || privileged_group(f[0], gid).is_none() {
            out.push_str(line);
        } else {
            out.push_str(&without_member(&f, &[2, 3], user.name));
        }
        out.push('\n');
    }
    out
}

/// The line `f` with `name` dropped from the comma-separated lists at `cols`.
fn without_member(f: &[&str], cols: &[usize], name: &str) -> String {
    f.iter()
        .enumerate()
        .map(|(i, v)| {
            if cols.contains(&i) {
                v.split(',')
                    .filter(|m| !m.is_empty() && m.trim() != name)
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                v.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Locks empty passwords (`!`) and adds a locked entry for the user.
pub fn shadow(old: &str, user: &User) -> String {
    let mut out = String::new();
    let mut present = false;
    for line in old.lines() {
        let f = fields(line);
        if f.len() < 2 || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        if f[0] == user.name {
            present = true;
            f[1] = "!".into();
        }
        if f[1].is_empty() {
            f[1] = "!".into();
        }
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    if !present {
        out.push_str(&format!("{}:!::0:::::\n", user.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: User = User {
        name: "app",
        uid: 10001,
        gid: 10001,
        home: "/home/app",
    };

    #[test]
    fn alpine_root_shell_is_replaced_and_user_added() {
        let p = passwd(
            "root:x:0:0:root:/root:/bin/sh\nsync:x:5:0:sync:/sbin:/bin/sync\n",
            &U,
        )
        .unwrap();
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/sbin/nologin\nsync:x:5:0:sync:/sbin:/sbin/nologin\napp:x:10001:10001:app:/home/app:/sbin/nologin\n"
        );
    }

    #[test]
    fn conflicts_are_explained() {
        let base = "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
        let u = User {
            name: "app",
            uid: 65532,
            gid: 65532,
            home: "/home/app",
        };
        assert!(matches!(
            passwd(base, &u),
            Err(AccountError::UidTaken { .. })
        ));
        let u = User {
            name: "nonroot",
            uid: 65532,
            gid: 65532,
            home: "/home/nonroot",
        };
        assert_eq!(passwd(base, &u).unwrap(), base);
        let u = User {
            name: "nonroot",
            uid: 1000,
            gid: 1000,
            home: "/home/nonroot",
        };
        assert!(matches!(
            passwd(base, &u),
            Err(AccountError::NameTaken { .. })
        ));
        assert!(matches!(
            group("other:x:10001:\n", &U),
            Err(AccountError::GidTaken { .. })
        ));
        assert_eq!(
            group("root:x:0:\n", &U).unwrap(),
            "root:x:0:\napp:x:10001:\n"
        );
    }

    #[test]
    fn user_leaves_every_privileged_group() {
        let base = "root:x:0:app\nwheel:x:10:root,app\nsudo:x:27:app,bob\ndocker:x:999:app\nshadow:x:42:app\ndisk:x:6:app\nusers:x:100:app\nweird:x:5000:app,app\n";
        let g = group(base, &U).unwrap();
        assert_eq!(
            g,
            "root:x:0:\nwheel:x:10:root\nsudo:x:27:bob\ndocker:x:999:\nshadow:x:42:\ndisk:x:6:\nusers:x:100:app\nweird:x:5000:app,app\napp:x:10001:\n"
        );
        // Renamed gid 0 is still gid 0.
        assert_eq!(
            group("superusers:x:0:app\n", &U).unwrap(),
            "superusers:x:0:\napp:x:10001:\n"
        );
        let gs = gshadow("root:*::app\nsudo:*:app:app,bob\nusers:*::app\n", base, &U);
        assert_eq!(gs, "root:*::\nsudo:*::bob\nusers:*::app\n");
    }

    #[test]
    fn privileged_primary_group_is_refused() {
        for (base, gid) in [("shadow:x:42:\n", 42), ("disk:x:6:\n", 6)] {
            let u = User {
                name: "shadow",
                uid: 10001,
                gid,
                home: "/home/app",
            };
            assert!(
                matches!(group(base, &u), Err(AccountError::PrivilegedGroup { .. })),
                "{base}"
            );
        }
    }

    #[test]
    fn account_files_are_recognised() {
        let p = |s: &str| crate::fs::ImagePath::parse(s).unwrap();
        for bad in [
            "/etc/passwd",
            "/etc/shadow",
            "/etc/group",
            "/etc/gshadow",
            "/etc/shadow-",
            "/etc/sudoers",
            "/etc/sudoers.d",
            "/etc/sudoers.d/app",
            "/etc/subuid",
            "/etc/subgid",
            "/etc/doas.conf",
            "/etc/pam.d/su",
            "/etc/login.defs",
        ] {
            assert!(account_file(&p(bad)).is_some(), "{bad}");
        }
        for ok in [
            "/etc/passwdx",
            "/etc/sudoers.dx",
            "/app/etc/passwd",
            "/etc/hosts",
        ] {
            assert!(account_file(&p(ok)).is_none(), "{ok}");
        }
    }

    #[test]
    fn empty_passwords_are_locked() {
        assert_eq!(
            shadow("root:::0:::::\nbin:!::0:::::\n", &U),
            "root:!::0:::::\nbin:!::0:::::\napp:!::0:::::\n"
        );
    }
}
