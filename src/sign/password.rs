//! Where a key's password comes from: `IRONHULL_PASSWORD`, else
//! `COSIGN_PASSWORD` (so a CI secret set up for cosign works unchanged),
//! else a prompt on the terminal. Without a variable and without a terminal
//! there is no password, and that is an error, not an empty password: a CI
//! job that forgot the secret must fail, not sign with a key encrypted under
//! "" by accident. A variable that is set but empty *is* the empty password,
//! as in cosign.
//!
//! The environment and the terminal are injected ([`Lookup`], [`Terminal`])
//! so tests never mutate the process environment (other test threads read
//! it) and never need a real tty.

use super::key_error::KeyError;
use std::ffi::OsString;
use zeroize::Zeroizing;

pub const IRONHULL_VAR: &str = "IRONHULL_PASSWORD";
pub const COSIGN_VAR: &str = "COSIGN_PASSWORD";

/// A password, wiped from memory when dropped and never printed.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// What the password is for: a new key is asked for twice on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Decrypting an existing key.
    Decrypt,
    /// Encrypting a new key (`generate-key-pair`).
    NewKey,
}

/// Gives the password for a key.
pub trait PasswordSource {
    fn password(&self, purpose: Purpose) -> Result<Password, KeyError>;
}

/// Reads environment variables.
pub trait Lookup {
    fn var(&self, name: &str) -> Option<OsString>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Lookup for ProcessEnv {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

impl Lookup for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

/// The terminal a password may be typed on.
pub trait Terminal {
    /// Whether there is one (standard input is a terminal).
    fn present(&self) -> bool;
    /// Shows `prompt` and reads a line without echo.
    fn read_hidden(&self, prompt: &str) -> std::io::Result<String>;
}

/// The real terminal: present when stdin is a tty; read with rpassword
/// (which reads `/dev/tty` with echo off).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tty;

impl Terminal for Tty {
    fn present(&self) -> bool {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal()
    }
    fn read_hidden(&self, prompt: &str) -> std::io::Result<String> {
        rpassword::prompt_password(prompt)
    }
}

/// The rule above, over any environment and terminal.
pub struct EnvOrPrompt<L, T> {
    pub env: L,
    pub terminal: T,
}

impl<L, T> std::fmt::Debug for EnvOrPrompt<L, T> {
    /// Nothing about the environment: it holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvOrPrompt")
    }
}

/// The password source of the CLI: the process environment, then the tty.
pub fn from_process() -> EnvOrPrompt<ProcessEnv, Tty> {
    EnvOrPrompt {
        env: ProcessEnv,
        terminal: Tty,
    }
}

impl<L: Lookup, T: Terminal> PasswordSource for EnvOrPrompt<L, T> {
    fn password(&self, purpose: Purpose) -> Result<Password, KeyError> {
        for name in [IRONHULL_VAR, COSIGN_VAR] {
            if let Some(v) = self.env.var(name) {
                use std::os::unix::ffi::OsStringExt;
                return Ok(Password::new(v.into_vec()));
            }
        }
        if !self.terminal.present() {
            return Err(KeyError::NoPassword);
        }
        let read = |prompt: &str| {
            self.terminal
                .read_hidden(prompt)
                .map(|s| Zeroizing::new(s.into_bytes()))
                .map_err(|e| KeyError::Prompt {
                    reason: e.to_string(),
                })
        };
        match purpose {
            Purpose::Decrypt => Ok(Password(read("Enter password for private key: ")?)),
            Purpose::NewKey => {
                let first = read("Enter password for private key: ")?;
                let again = read("Enter password for private key again: ")?;
                if *first != *again {
                    return Err(KeyError::PasswordMismatch);
                }
                Ok(Password(first))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A terminal that answers from a script and records the prompts.
    struct Scripted {
        present: bool,
        answers: RefCell<Vec<&'static str>>,
        prompts: RefCell<Vec<String>>,
    }

    impl Scripted {
        fn new(present: bool, answers: &[&'static str]) -> Self {
            Self {
                present,
                answers: RefCell::new(answers.iter().rev().copied().collect()),
                prompts: RefCell::new(Vec::new()),
            }
        }
    }

    impl Terminal for Scripted {
        fn present(&self) -> bool {
            self.present
        }
        fn read_hidden(&self, prompt: &str) -> std::io::Result<String> {
            self.prompts.borrow_mut().push(prompt.to_string());
            self.answers
                .borrow_mut()
                .pop()
                .map(str::to_string)
                .ok_or_else(|| std::io::Error::other("end of input"))
        }
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn get(
        e: HashMap<String, String>,
        t: Scripted,
        p: Purpose,
    ) -> (Result<Password, KeyError>, Vec<String>) {
        let src = EnvOrPrompt {
            env: e,
            terminal: t,
        };
        let r = src.password(p);
        (r, src.terminal.prompts.into_inner())
    }

    #[test]
    fn ironhull_password_wins_over_cosign_password_and_the_terminal() {
        let (r, prompts) = get(
            env(&[(IRONHULL_VAR, "a"), (COSIGN_VAR, "b")]),
            Scripted::new(true, &["c"]),
            Purpose::NewKey,
        );
        assert_eq!(r.unwrap().as_bytes(), b"a");
        assert!(prompts.is_empty());
        let (r, _) = get(
            env(&[(COSIGN_VAR, "b")]),
            Scripted::new(true, &[]),
            Purpose::Decrypt,
        );
        assert_eq!(r.unwrap().as_bytes(), b"b");
    }

    #[test]
    fn a_set_but_empty_variable_is_the_empty_password() {
        let (r, _) = get(
            env(&[(IRONHULL_VAR, "")]),
            Scripted::new(false, &[]),
            Purpose::Decrypt,
        );
        assert_eq!(r.unwrap().as_bytes(), b"");
    }

    #[test]
    fn no_variable_and_no_terminal_is_a_clear_error() {
        let (r, prompts) = get(env(&[]), Scripted::new(false, &["x"]), Purpose::Decrypt);
        assert_eq!(r.unwrap_err(), KeyError::NoPassword);
        assert!(prompts.is_empty());
    }

    #[test]
    fn the_terminal_is_asked_once_to_decrypt_and_twice_for_a_new_key() {
        let (r, prompts) = get(env(&[]), Scripted::new(true, &["pw"]), Purpose::Decrypt);
        assert_eq!(r.unwrap().as_bytes(), b"pw");
        assert_eq!(prompts, ["Enter password for private key: "]);
        let (r, prompts) = get(
            env(&[]),
            Scripted::new(true, &["pw", "pw"]),
            Purpose::NewKey,
        );
        assert_eq!(r.unwrap().as_bytes(), b"pw");
        assert_eq!(prompts.len(), 2);
        let (r, _) = get(
            env(&[]),
            Scripted::new(true, &["pw", "pq"]),
            Purpose::NewKey,
        );
        assert_eq!(r.unwrap_err(), KeyError::PasswordMismatch);
        let (r, _) = get(env(&[]), Scripted::new(true, &[]), Purpose::Decrypt);
        assert!(matches!(r.unwrap_err(), KeyError::Prompt { .. }));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::new(b"hunter2".to_vec());
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        let src = EnvOrPrompt {
            env: env(&[(IRONHULL_VAR, "hunter2")]),
            terminal: Scripted::new(false, &[]),
        };
        assert!(!format!("{src:?}").contains("hunter2"));
    }
}
