//! The check catalog: every check ironhull knows, with a stable ID, a default
//! severity, a fix and the external benchmarks it corresponds to.
//!
//! IDs are part of ironhull's public contract (policy files, SARIF rule IDs,
//! CI allow-lists refer to them), so they are never renamed or reused.

use std::fmt;
use std::str::FromStr;

/// How bad a finding is. Ordered, so `Severity::High > Severity::Low`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// A severity string that is not one of the five names.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("unknown severity {0:?}; use one of \"info\", \"low\", \"medium\", \"high\", \"critical\"")]
pub struct SeverityError(pub String);

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in policy files, JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// SARIF `level`: GitHub shows `error` results as failing alerts, so only
    /// high and critical findings get it.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        }
    }

    /// SARIF `properties.security-severity` (a CVSS-like score as a string).
    /// GitHub buckets it as critical > 9.0, high 7.0-8.9, medium 4.0-6.9,
    /// low 0.1-3.9, so each value sits inside its bucket.
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            Severity::Info => "0.0",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = SeverityError;
    /// Parses the lowercase names only: policy files are strict so a typo such
    /// as `"Hihg"` is reported rather than guessed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| SeverityError(s.chars().take(40).collect()))
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable ID (`SH-001`).
    pub id: &'static str,
    /// Default severity; a policy file may override it for audits.
    pub severity: Severity,
    /// A short title (`Shell present`).
    pub title: &'static str,
    /// Why this matters.
    pub description: &'static str,
    /// How to fix it, in one sentence.
    pub fix: &'static str,
    /// Matching items in external benchmarks, for people who map findings.
    pub anchors: &'static [&'static str],
    /// Core checks can never be waived or downgraded for a build: they are the
    /// properties ironhull promises for every image it produces.
    pub core: bool,
}

static CATALOG: &[Check] = &[
    Check {
        id: "USR-001",
        severity: Severity::Critical,
        title: "Container runs as root",
        description: "The image config's User is empty, root, uid 0, or a name that resolves to uid 0 in /etc/passwd. A process running as root inside the container is one kernel or runtime bug away from root on the host.",
        fix: "Set a non-root numeric user (e.g. User \"10001:10001\"); in builder.toml set [user] uid to a non-zero value.",
        anchors: &["CIS 4.1", "dockle CIS-DI-0001", "Trivy DS002"],
        core: true,
    },
    Check {
        id: "USR-002",
        severity: Severity::Medium,
        title: "Configured user cannot be resolved",
        description: "The config's User is a name that is not present in /etc/passwd (or the image has no /etc/passwd). The runtime refuses to start such a container, or falls back to surprising defaults.",
        fix: "Use a numeric uid:gid for User, or add the account to /etc/passwd.",
        anchors: &["dockle CIS-DI-0001"],
        core: false,
    },
    Check {
        id: "USR-003",
        severity: Severity::High,
        title: "Account with an empty password",
        description: "An account in /etc/shadow has an empty password field, so anything that authenticates via PAM or su accepts it without a password (CVE-2019-5021 in Alpine images).",
        fix: "Lock the account: set its password field in /etc/shadow to '!' or '*'.",
        anchors: &["dockle DKL-LI-0001", "CVE-2019-5021"],
        core: false,
    },
    Check {
        id: "USR-004",
        severity: Severity::Medium,
        title: "Duplicate uid or gid",
        description: "Two accounts share a uid in /etc/passwd, or two groups share a gid in /etc/group. File ownership and audit logs then cannot tell them apart.",
        fix: "Give every account and group a unique numeric id, or remove the duplicate entry.",
        anchors: &["dockle DKL-LI-0002"],
        core: false,
    },
    Check {
        id: "USR-005",
        severity: Severity::Medium,
        title: "Account has a login shell",
        description: "An account in /etc/passwd has an interactive login shell (or an empty shell field, which means /bin/sh). Service accounts in a container never need one.",
        fix: "Set the account's shell to /sbin/nologin (or remove the account).",
        anchors: &["CIS 5.4.2"],
        core: false,
    },
    Check {
        id: "USR-006",
        severity: Severity::High,
        title: "Image user in a privileged group",
        description: "The config's user belongs to a privileged group (gid 0, root, wheel, sudo, adm, shadow, disk, kmem, tty, docker, lxd, libvirt, staff) as its primary group or in /etc/group: privilege that is not uid 0, such as reading password hashes or raw disks, or controlling a container daemon.",
        fix: "Remove the user from the group's member list in /etc/group (and /etc/gshadow), and give it an unprivileged primary gid; ironhull does both for images it builds.",
        anchors: &["CIS 5.4", "dockle CIS-DI-0001"],
        core: true,
    },
    Check {
        id: "SH-001",
        severity: Severity::High,
        title: "Shell present",
        description: "A shell (sh, bash, ash, dash, zsh, ksh, mksh, csh, tcsh, fish, in any versioned or static spelling) or a multi-call binary that contains one (busybox, toybox) is present, by name anywhere in the image or by content under any name, directly or through a symlink or hard link. A shell turns any code-execution bug into an interactive foothold.",
        fix: "Remove the shell and every link to it; run the application binary directly with an exec-form entrypoint.",
        anchors: &["NIST SP 800-190 4.1.1", "distroless"],
        core: true,
    },
    Check {
        id: "SH-002",
        severity: Severity::High,
        title: "Entrypoint needs a shell or does not exist",
        description: "The entrypoint/cmd is in shell form (runs through sh -c) or its argv[0] does not exist or is not executable in the image, so the container depends on a shell or cannot start.",
        fix: "Use exec form with an absolute path to an executable in the image: [\"/app/server\", \"--flag\"].",
        anchors: &["hadolint DL3025"],
        core: true,
    },
    Check {
        id: "PKG-001",
        severity: Severity::High,
        title: "Package manager present",
        description: "A package manager (apk, apt, dpkg, rpm, yum, dnf, pip, npm, ..., in any versioned or static spelling) or its engine (found by content: libapk, libapt-pkg, librpm, dpkg) is present. It lets an attacker install tools and makes the image's contents drift from what was built.",
        fix: "Remove the package manager from the final image; install dependencies in a build stage or through builder.toml artifacts.",
        anchors: &["NIST SP 800-190 4.1.1"],
        core: true,
    },
    Check {
        id: "PKG-002",
        severity: Severity::Medium,
        title: "Package manager cache present",
        description: "A package manager cache or index (apk cache, apt lists, pip/npm/cargo/go/conda/gem/NuGet caches, .deb/.rpm files, package archives below a cache-like directory) is present: dead weight that also records what could be installed.",
        fix: "Delete the cache in the same layer that created it (e.g. apk --no-cache, rm -rf /var/lib/apt/lists/*).",
        anchors: &["dockle DKL-DI-0005", "hadolint DL3009"],
        core: true,
    },
    Check {
        id: "FS-001",
        severity: Severity::Low,
        title: "Unnecessary files",
        description: "Development or host leftovers (.git, .svn, .aws, Dockerfile, .DS_Store, editor and shell history files) are present. They leak source history and host details and are never needed at run time.",
        fix: "Exclude the file from the image (builder.toml artifact exclude = [...] or .dockerignore).",
        anchors: &["dockle DKL-LI-0003", "dockle CIS-DI-0010"],
        core: false,
    },
    Check {
        id: "FS-002",
        severity: Severity::High,
        title: "Setuid or setgid file",
        description: "A file has the setuid or setgid bit. Such files are the classic privilege-escalation path inside a container.",
        fix: "Remove the file or clear the bits (chmod u-s,g-s); ironhull strips them from images it builds.",
        anchors: &["CIS 4.8", "dockle CIS-DI-0008"],
        core: true,
    },
    Check {
        id: "FS-003",
        severity: Severity::High,
        title: "World-writable path",
        description: "A file or directory is writable by every user and is not a sticky directory, so any process can replace or tamper with it.",
        fix: "Remove the world-write bit (chmod o-w), or make shared directories sticky (chmod +t).",
        anchors: &["CIS 6.1.10"],
        core: true,
    },
    Check {
        id: "FS-004",
        severity: Severity::High,
        title: "File capability",
        description: "A file carries file capabilities (the security.capability extended attribute, e.g. cap_setuid+ep): whoever runs it gains kernel privileges, such as setuid(0), without any setuid bit. Layers carry it as a PAX SCHILY.xattr record and runtimes apply it on unpack.",
        fix: "Remove the capability (setcap -r FILE) before the file is added to the image; ironhull strips every xattr from images it builds.",
        anchors: &["CIS 4.8", "NIST SP 800-190 4.4.3"],
        core: true,
    },
    Check {
        id: "FS-005",
        severity: Severity::High,
        title: "POSIX ACL",
        description: "A file or directory carries a POSIX ACL (system.posix_acl_access or system.posix_acl_default), which can grant read or write to users and groups the mode bits do not show; an ACL that lets group or other write is as bad as a world-writable path.",
        fix: "Remove the ACL (setfacl -b FILE) and express the permission in the mode bits; ironhull strips every xattr from images it builds.",
        anchors: &["CIS 6.1.10"],
        core: true,
    },
    Check {
        id: "SEC-001",
        severity: Severity::Critical,
        title: "Secret file present",
        description: "A file whose name marks it as a credential (private keys, .netrc, .git-credentials, cloud credentials, ...) is present in some layer. A file deleted by a later layer still ships in the earlier layer blob.",
        fix: "Never copy credentials into an image; mount them at run time. Rebuild without the file (deleting it in a later layer does not remove it), then rotate the credential.",
        anchors: &["dockle CIS-DI-0010"],
        core: true,
    },
    Check {
        id: "SEC-002",
        severity: Severity::Critical,
        title: "Secret in file content",
        description: "A layer contains content that matches a known credential format (private key, cloud or API token). Every layer blob is scanned, so a secret removed by a later layer is still found.",
        fix: "Rebuild without the secret (a later deletion does not remove it from the layer), then rotate the credential.",
        anchors: &["dockle CIS-DI-0010"],
        core: true,
    },
    Check {
        id: "SEC-003",
        severity: Severity::Critical,
        title: "Secret in image config",
        description: "An environment variable, label or build history line in the image config looks like a credential. The config is readable by anyone who can pull the image.",
        fix: "Inject secrets at run time (a mounted file or the orchestrator's secret store), never through ENV, LABEL or build arguments; rotate the credential.",
        anchors: &["dockle CIS-DI-0010", "Trivy DS016"],
        core: true,
    },
    Check {
        id: "SEC-004",
        severity: Severity::Info,
        title: "Key material in a verified distro package file",
        description: "An ELF library or program under /usr/lib, /lib, /usr/bin (or /bin, /sbin, /usr/sbin, /usr/libexec) embeds private-key material, and the image's dpkg or apk database lists that file with a checksum that matches its bytes: the key is part of the distribution package (self-test vectors, as in libgnutls30), not a credential someone copied in. Only key material in such files qualifies; tokens, secret file names, files elsewhere, files of layers the build wrote, and files whose checksum does not match stay SEC-001/SEC-002.",
        fix: "Nothing to do for a distro's own test vectors; if the package is not needed, use a smaller base. Raise this check's severity in a policy file to refuse such bases.",
        anchors: &[],
        core: false,
    },
    Check {
        id: "CFG-001",
        severity: Severity::Info,
        title: "No HEALTHCHECK",
        description: "The image config declares no health check, so a runtime that honours it cannot tell a hung process from a healthy one.",
        fix: "Declare a health check in exec form, or rely on the orchestrator's probes (and waive this check in the policy file).",
        anchors: &["CIS 4.6", "dockle CIS-DI-0006", "Trivy DS026"],
        core: false,
    },
    Check {
        id: "CFG-002",
        severity: Severity::High,
        title: "System path declared as volume",
        description: "/proc, /sys or /dev (or a path below them) is declared as a volume, which would shadow or expose kernel interfaces.",
        fix: "Remove the volume declaration; mount what the application needs explicitly at run time.",
        anchors: &["CIS 5.5"],
        core: false,
    },
    Check {
        id: "CFG-003",
        severity: Severity::Medium,
        title: "SSH port exposed",
        description: "Port 22 is exposed, which suggests an SSH daemon in the container. Containers should be inspected with the runtime's exec, not SSH.",
        fix: "Remove EXPOSE 22 and the SSH daemon.",
        anchors: &["CIS 5.7", "Trivy DS004"],
        core: false,
    },
    Check {
        id: "SRC-001",
        severity: Severity::Low,
        title: "Base image not pinned by digest",
        description: "The provenance annotation org.opencontainers.image.base.name names the base by tag, so rebuilding may silently pick up different content.",
        fix: "Pin the base by digest: image@sha256:<digest>.",
        anchors: &["CIS 4.2", "hadolint DL3007"],
        core: false,
    },
];

/// Every check, in catalog order (also the order of SARIF rules).
pub fn catalog() -> &'static [Check] {
    CATALOG
}

/// The check with this ID.
pub fn lookup(id: &str) -> Option<&'static Check> {
    CATALOG.iter().find(|c| c.id == id)
}

/// The ID of the catalog entry closest to `wrong`, for "did you mean" hints.
pub fn suggest(wrong: &str) -> Option<&'static str> {
    let upper = wrong.to_ascii_uppercase();
    CATALOG
        .iter()
        .map(|c| (strsim::jaro_winkler(&upper, c.id), c.id))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_unique_and_core_set_exact() {
        let ids: BTreeSet<_> = catalog().iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), catalog().len());
        let core: BTreeSet<_> = catalog().iter().filter(|c| c.core).map(|c| c.id).collect();
        let want: BTreeSet<_> = [
            "USR-001", "USR-006", "SH-001", "SH-002", "PKG-001", "PKG-002", "FS-002", "FS-003",
            "FS-004", "FS-005", "SEC-001", "SEC-002", "SEC-003",
        ]
        .into_iter()
        .collect();
        assert_eq!(core, want);
        // The spec's list of unwaivable checks is the same set.
        let spec: BTreeSet<_> = crate::spec::CORE_CHECKS.iter().copied().collect();
        assert_eq!(spec, want);
        for id in [
            "USR-002", "USR-003", "USR-004", "USR-005", "FS-001", "CFG-001", "CFG-002", "CFG-003",
            "SRC-001",
        ] {
            assert!(ids.contains(id), "{id}");
        }
    }

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert!("HIGH".parse::<Severity>().is_err());
        assert!("".parse::<Severity>().is_err());
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("SH-01"), Some("SH-001"));
        assert_eq!(suggest("usr-001"), Some("USR-001"));
        assert_eq!(suggest("completely-different"), None);
        assert!(lookup("SEC-002").is_some_and(|c| c.core));
    }
}
