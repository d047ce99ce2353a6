//! Account files: `/etc/passwd`, `/etc/group`, `/etc/shadow`.
//!
//! Every account gets `/sbin/nologin` as its shell (Alpine ships root with
//! `/bin/sh`), empty passwords are locked, and the image's own user is added.
//! Lines ironhull does not need to change are kept byte for byte.

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

/// Adds the user's primary group unless the same group exists.
pub fn group(old: &str, user: &User) -> Result<String, AccountError> {
    let mut out = String::new();
    let mut present = false;
    for line in old.lines() {
        out.push_str(line);
        out.push('\n');
        let f = fields(line);
        if f.len() < 3 || line.starts_with('#') {
            continue;
        }
        if f[2] == user.gid.to_string() {
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
    }
    if !present {
        out.push_str(&format!("{}:x:{}:\n", user.name, user.gid));
    }
    Ok(out)
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
    fn empty_passwords_are_locked() {
        assert_eq!(
            shadow("root:::0:::::\nbin:!::0:::::\n", &U),
            "root:!::0:::::\nbin:!::0:::::\napp:!::0:::::\n"
        );
    }
}
