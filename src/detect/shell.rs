//! Shells: the names they go by, and what their binaries carry.
//!
//! The profiles were measured on every shell Debian 12 ships (bash,
//! bash-static, dash, mksh, mksh-static, lksh, zsh, zsh-static, posh, sash,
//! yash, ksh93, tcsh, fish, busybox, busybox-static, toybox) and on every ELF
//! file of a Debian system, where none but shells match
//! (`tests/shell_corpus.rs` keeps both measurements in the suite).

use super::{Evidence, Group, Kind, Profile, normalize_name, tokens::Seen};

/// Command interpreters, by their canonical name. A versioned or static
/// build (`bash-static`, `zsh-5.9`, `ksh93`) is the same program: names are
/// compared after [`normalize_name`].
pub const INTERPRETERS: &[&str] = &[
    "sh", "bash", "rbash", "ash", "dash", "zsh", "ksh", "mksh", "lksh", "pdksh", "oksh", "loksh",
    "yash", "posh", "sash", "csh", "tcsh", "fish", "elvish", "xonsh",
];

/// Multi-call binaries with a built-in shell (or able to carry one): a shell
/// whatever they are called.
pub const MULTICALL: &[&str] = &["busybox", "toybox"];

/// True for a program name that is a shell or a shell-bearing multi-call
/// binary, in any of its versioned or static spellings.
pub fn is_shell_name(name: &str) -> bool {
    let n = normalize_name(name);
    INTERPRETERS.contains(&n) || MULTICALL.contains(&n)
}

/// True for a multi-call binary name (`busybox`, `busybox.static`, `toybox`).
pub fn is_multicall_name(name: &str) -> bool {
    MULTICALL.contains(&normalize_name(name))
}

/// What a shell must carry to work: its own variable names (to initialise
/// and expand them), its reserved words (to parse), its builtin names (to
/// dispatch). Each group alone appears in other programs (glibc's wordexp
/// knows `IFS`, node carries `PS1`, `case` and `while`); all of them
/// together do not.
const POSIX: Profile = Profile {
    name: "POSIX shell",
    groups: &[
        Group {
            min: 5,
            strings: &[
                "PS1",
                "PS2",
                "PS3",
                "PS4",
                "IFS",
                "OPTIND",
                "OPTARG",
                "PPID",
                "HISTFILE",
                "ENV",
                "MAILCHECK",
            ],
        },
        // getopts keeps its state in these two: every POSIX shell has both.
        Group {
            min: 2,
            strings: &["OPTIND", "OPTARG"],
        },
        Group {
            min: 4,
            strings: &["elif", "esac", "then", "done", "until", "case", "while"],
        },
        // The reserved words no other language has (node carries `case`,
        // `while`, `then`, `done` and even `PS1`, but not these).
        Group {
            min: 2,
            strings: &["elif", "esac"],
        },
        Group {
            min: 3,
            strings: &[
                "getopts",
                "readonly",
                "unset",
                "export",
                "unalias",
                "ulimit",
                "umask",
                "eval",
                "exec",
                "shift",
                "trap",
                "wait",
                "builtin",
                "alias",
                "command",
                "source",
                "functions",
                "complete",
            ],
        },
    ],
};

/// csh and tcsh: their own variables and the `switch` words.
const CSH: Profile = Profile {
    name: "csh",
    groups: &[
        Group {
            min: 4,
            strings: &[
                "prompt",
                "prompt2",
                "prompt3",
                "histchars",
                "savehist",
                "ignoreeof",
                "noclobber",
            ],
        },
        Group {
            min: 2,
            strings: &["endsw", "breaksw", "onintr", "foreach", "endif"],
        },
        Group {
            min: 4,
            strings: &[
                "unset", "unalias", "umask", "eval", "exec", "shift", "alias", "source",
                "unsetenv", "setenv", "complete",
            ],
        },
    ],
};

/// fish: its `fish_*` variables (stored as `wchar_t` strings) and builtins.
const FISH: Profile = Profile {
    name: "fish",
    groups: &[
        Group {
            min: 2,
            strings: &[
                "fish_prompt",
                "fish_greeting",
                "fish_function_path",
                "fish_user_paths",
                "fish_complete_path",
            ],
        },
        Group {
            min: 4,
            strings: &[
                "builtin",
                "source",
                "export",
                "ulimit",
                "umask",
                "eval",
                "exec",
                "complete",
                "argparse",
                "functions",
            ],
        },
    ],
};

/// sash, the stand-alone shell: its built-in commands are `-chmod`, `-cp` …
const SASH: Profile = Profile {
    name: "sash",
    groups: &[
        Group {
            min: 8,
            strings: &[
                "-chmod",
                "-chown",
                "-chgrp",
                "-chroot",
                "-cp",
                "-mv",
                "-rm",
                "-ln",
                "-ls",
                "-mkdir",
                "-rmdir",
                "-mknod",
                "-mount",
                "-umount",
                "-dd",
                "-ed",
                "-grep",
                "-gzip",
                "-gunzip",
                "-kill",
                "-chattr",
                "-lsattr",
                "-cmp",
                "-echo",
                "-pwd",
                "-find",
                "-file",
                "-more",
                "-printenv",
                "-pivot_root",
                "-losetup",
            ],
        },
        Group {
            min: 3,
            strings: &[
                "prompt", "setenv", "unalias", "umask", "exec", "source", "alias",
            ],
        },
    ],
};

/// A multi-call toolbox (toybox, busybox built without `ash`): the applet
/// names table, dozens of command names stored as separate strings, and
/// the tool's `--install`/`--list`-style self-description.
const MULTICALL_TOOLBOX: Profile = Profile {
    name: "multi-call toolbox",
    groups: &[
        Group {
            min: 40,
            strings: &[
                "arch", "base64", "basename", "blkid", "bunzip2", "bzcat", "cat", "chattr",
                "chgrp", "chmod", "chown", "chroot", "cksum", "cmp", "comm", "cp", "cpio", "cut",
                "date", "dd", "df", "dirname", "dmesg", "du", "echo", "egrep", "env", "expand",
                "false", "fgrep", "find", "free", "fsync", "grep", "groups", "gunzip", "gzip",
                "head", "hostname", "id", "ifconfig", "install", "kill", "killall", "link", "ln",
                "logger", "login", "ls", "lsattr", "md5sum", "mkdir", "mkfifo", "mknod", "mktemp",
                "more", "mount", "mv", "nc", "netcat", "nice", "nl", "nohup", "od", "paste",
                "patch", "pgrep", "pidof", "ping", "pkill", "printenv", "printf", "ps", "pwd",
                "readlink", "realpath", "renice", "rm", "rmdir", "sed", "seq", "setsid", "sha1sum",
                "sleep", "sort", "split", "stat", "strings", "stty", "su", "sync", "tac", "tail",
                "tar", "tee", "test", "time", "timeout", "top", "touch", "tr", "true", "truncate",
                "tty", "umount", "uname", "uniq", "unlink", "uptime", "usleep", "uudecode",
                "uuencode", "vi", "watch", "wc", "wget", "which", "who", "whoami", "xargs", "xxd",
                "yes", "zcat",
            ],
        },
        Group {
            min: 1,
            strings: &[
                "--install",
                "--list",
                "--long",
                "multi-call binary",
                "multicall binary",
            ],
        },
    ],
};

pub(crate) const PROFILES: &[Profile] = &[POSIX, CSH, FISH, SASH, MULTICALL_TOOLBOX];

/// The shell verdict for the strings a file carries.
pub(crate) fn judge(seen: &Seen) -> Option<Evidence> {
    PROFILES.iter().find_map(|p| p.judge(Kind::Shell, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "sh",
            "bash-static",
            "busybox.static",
            "mksh-static",
            "lksh",
            "sash",
            "posh",
            "zsh-static",
            "zsh-5.9",
            "ksh93",
            "toybox",
        ] {
            assert!(is_shell_name(n), "{n}");
        }
        for n in ["shasum", "sha256sum", "bashbug", "fish_indent", "ls", "ssh"] {
            assert!(!is_shell_name(n), "{n}");
        }
    }

    fn elf_with(strings: &[&str]) -> Vec<u8> {
        let mut v = b"\x7fELF\x02\x01\x01\0".to_vec();
        for s in strings {
            v.extend_from_slice(s.as_bytes());
            v.push(0);
        }
        v
    }

    #[test]
    fn needs_every_group() {
        let vars = [
            "PS1=$ ", "PS2=> ", "PS4=+ ", "IFS", "OPTIND=1", "OPTARG", "PPID",
        ];
        let kw = ["elif", "esac", "then", "until", "while"];
        let builtins = ["getopts", "readonly", "unset"];
        let all: Vec<&str> = vars.iter().chain(&kw).chain(&builtins).copied().collect();
        let e = super::super::detect_bytes(&elf_with(&all)).expect("a shell");
        assert_eq!((e.kind, e.profile), (Kind::Shell, "POSIX shell"));
        // Drop any one group below its threshold: not a shell.
        for drop in [&vars[..3], &vars[4..6], &kw[..2], &kw[1..2], &builtins[..1]] {
            let some: Vec<&str> = all.iter().copied().filter(|s| !drop.contains(s)).collect();
            assert_eq!(
                super::super::detect_bytes(&elf_with(&some)),
                None,
                "{drop:?}"
            );
        }
    }
}
