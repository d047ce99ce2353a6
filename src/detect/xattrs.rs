//! Extended attributes: privilege that is not a mode bit.
//!
//! A mode bit is not the only way a file can grant privilege. A
//! `security.capability` xattr (`setcap cap_setuid+ep`) lets any user who runs
//! the file call `setuid(0)`, and a POSIX ACL (`system.posix_acl_access`) can
//! grant write to users the mode bits do not mention. Both travel in layers
//! as PAX `SCHILY.xattr.*` records, and runtimes apply them on unpack.
//!
//! The decisions, in one place (hardening, the layer writer, artifact intake
//! and the policy engine all call [`classify`]):
//! - images ironhull builds carry **no** extended attributes at all: hardening
//!   strips every xattr from every base layer (rewriting a layer that carries
//!   one), and artifact layers never get any;
//! - the layer writer refuses to emit a privilege-conferring xattr even if an
//!   entry carries one, so a future slip cannot ship it;
//! - an artifact whose host file has a file capability is refused (its author
//!   expected a privilege the image will not grant); host ACLs, SELinux labels
//!   and `user.*` attributes are host metadata, dropped like the host's mode;
//! - `ironhull audit` reports file capabilities (FS-004) and POSIX ACLs
//!   (FS-005) as core findings; other xattrs (`security.selinux`, `user.*`,
//!   `trusted.*`, `security.ima`/`evm`) confer no permission inside a
//!   container and are not reported.

use crate::fs::Entry;

/// The xattr that holds file capabilities (`struct vfs_cap_data`).
pub const CAPABILITY: &str = "security.capability";
/// POSIX access and default ACLs.
pub const ACL_ACCESS: &str = "system.posix_acl_access";
pub const ACL_DEFAULT: &str = "system.posix_acl_default";

/// What an extended attribute means for privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrClass {
    /// File capabilities: running the file grants kernel privileges.
    Capability,
    /// A POSIX ACL: permissions beyond what the mode bits show.
    Acl,
    /// Confers no permission in a container (labels, user data, integrity).
    Inert,
}

/// Classifies an xattr by name. Names are case-sensitive in the kernel, so
/// the comparison is exact.
pub fn classify(name: &str) -> XattrClass {
    match name {
        CAPABILITY => XattrClass::Capability,
        ACL_ACCESS | ACL_DEFAULT => XattrClass::Acl,
        _ => XattrClass::Inert,
    }
}

/// True for an xattr that grants privilege or permissions.
pub fn is_privileged(name: &str) -> bool {
    classify(name) != XattrClass::Inert
}

/// Removes every xattr from `e`, returning the names removed (sorted).
pub fn strip(e: &mut Entry) -> Vec<String> {
    let names = e.xattrs.keys().cloned().collect();
    e.xattrs.clear();
    names
}

/// A readable description of a capability set from the raw
/// `vfs_cap_data` (little-endian magic/flags word, then permitted and
/// inheritable words per 32-bit half), for audit messages:
/// `permitted 0x80 (cap_setuid), effective`. Unparseable data is described
/// by its length: it is reported either way.
pub fn describe_capability(value: &[u8]) -> String {
    let word = |i: usize| -> Option<u32> {
        let b = value.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(magic) = word(0) else {
        return format!("{} bytes of capability data", value.len());
    };
    let effective = magic & 1 != 0;
    let lo = word(1).unwrap_or(0);
    let hi = if magic & 0xff00_0000 >= 0x0200_0000 {
        word(3).unwrap_or(0)
    } else {
        0
    };
    let permitted = u64::from(lo) | (u64::from(hi) << 32);
    let mut names = Vec::new();
    for (bit, name) in NOTABLE_CAPS {
        if permitted & (1u64 << bit) != 0 {
            names.push(*name);
        }
    }
    format!(
        "permitted {permitted:#x}{}{}",
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        },
        if effective { ", effective" } else { "" }
    )
}

/// Capabilities worth naming in a message (bit, name).
const NOTABLE_CAPS: &[(u32, &str)] = &[
    (0, "cap_chown"),
    (1, "cap_dac_override"),
    (2, "cap_dac_read_search"),
    (3, "cap_fowner"),
    (6, "cap_setgid"),
    (7, "cap_setuid"),
    (12, "cap_net_admin"),
    (13, "cap_net_raw"),
    (16, "cap_sys_module"),
    (19, "cap_sys_ptrace"),
    (21, "cap_sys_admin"),
];

/// Reads the names of a host file's extended attributes without following
/// a symlink. A filesystem without xattr support yields an empty list.
pub fn host_xattr_names(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path contains a NUL byte"))?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `c` is a valid NUL-terminated string that outlives the
        // call, and `buf` is a writable buffer of exactly `buf.len()` bytes;
        // llistxattr writes at most that many bytes and returns the count.
        let n = unsafe {
            libc::llistxattr(
                c.as_ptr(),
                buf.as_mut_ptr().cast::<libc::c_char>(),
                buf.len(),
            )
        };
        if n >= 0 {
            let n = usize::try_from(n).unwrap_or(0).min(buf.len());
            return Ok(buf[..n]
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify("security.capability"), XattrClass::Capability);
        assert_eq!(classify("system.posix_acl_access"), XattrClass::Acl);
        assert_eq!(classify("system.posix_acl_default"), XattrClass::Acl);
        for inert in [
            "security.selinux",
            "user.note",
            "trusted.x",
            "security.ima",
            "Security.Capability",
        ] {
            assert_eq!(classify(inert), XattrClass::Inert, "{inert}");
        }
    }

    #[test]
    fn capability_is_described() {
        // setcap cap_setuid+ep: VFS_CAP_REVISION_2 | effective, bit 7 permitted.
        let mut v = Vec::new();
        v.extend_from_slice(&0x0200_0001u32.to_le_bytes());
        v.extend_from_slice(&0x80u32.to_le_bytes());
        v.extend_from_slice(&[0; 12]);
        assert_eq!(
            describe_capability(&v),
            "permitted 0x80 (cap_setuid), effective"
        );
        assert_eq!(describe_capability(&[1]), "1 bytes of capability data");
    }

    #[test]
    fn host_names_of_a_plain_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let names = host_xattr_names(&p).unwrap();
        assert!(!names.iter().any(|n| n == CAPABILITY), "{names:?}");
        assert!(host_xattr_names(&d.path().join("missing")).is_err());
    }
}
