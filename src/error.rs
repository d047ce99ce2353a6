//! What kind of failure an error is, for front ends that map failures to
//! exit codes, and the stable names scripts match in `--json` errors.

/// The classes of failure, each with its own exit code in the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// A policy gate or a scan refused the image.
    Policy,
    /// Bad usage or bad input: a spec, an image, an argument.
    Input,
    /// A registry or the filesystem failed.
    Io,
}

/// A failed command: its class and a message that says what is wrong, where,
/// and how to fix it. The library's command entry points return it when the
/// failure needs no more structure than that.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub class: ErrorClass,
    pub message: String,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl std::fmt::Display) -> Self {
        Self {
            class,
            message: message.to_string(),
        }
    }

    pub fn input(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorClass::Input, message)
    }

    pub fn io(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorClass::Io, message)
    }
}

/// The error kind from an error's `Debug` form: the leading chain of enum
/// variant names (`Artifact(Missing { .. })` → `Build::Artifact::Missing`).
/// Transparent wrappers such as `Base(Store { .. })` keep every level. These
/// names are part of the `--json` contract, so they come from the types and
/// change only when the types do.
pub fn kind_name(prefix: &str, debug: &str) -> String {
    let mut parts = vec![prefix.to_string()];
    let mut rest = debug;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        parts.push(name.clone());
        rest = &rest[name.len()..];
        if let Some(r) = rest.strip_prefix('(') {
            rest = r;
        } else {
            break;
        }
    }
    parts.join("::")
}

#[cfg(test)]
mod tests {
    #[test]
    fn kind_names_from_debug() {
        assert_eq!(
            super::kind_name("Build", "Artifact(Missing { number: 1 })"),
            "Build::Artifact::Missing"
        );
        assert_eq!(
            super::kind_name("Spec", "RootUser { at: .. }"),
            "Spec::RootUser"
        );
        assert_eq!(super::kind_name("Output", "\"text\""), "Output");
    }
}
