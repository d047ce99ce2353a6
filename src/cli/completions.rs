//! `ironhull completions SHELL` and `ironhull man`: generated from the clap
//! definitions at run time, so they can never drift from the real flags and
//! packagers need no extra build step
//! (`ironhull completions bash > /usr/share/bash-completion/completions/ironhull`).

use super::exit;
use clap::CommandFactory;
use std::io::Write;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull completions bash > ~/.local/share/bash-completion/completions/ironhull\n  ironhull completions zsh > \"${fpath[1]}/_ironhull\"\n  ironhull completions fish > ~/.config/fish/completions/ironhull.fish\n  ironhull completions --man > ironhull.1 && man ./ironhull.1"
)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(required_unless_present = "man")]
    pub shell: Option<Shell>,
    /// Print the man page (roff) instead of completions.
    #[arg(long, conflicts_with = "shell")]
    pub man: bool,
}

/// Completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    match shell {
        Shell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "ironhull", &mut out)
        }
        Shell::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "ironhull", &mut out)
        }
        Shell::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "ironhull", &mut out)
        }
    }
    out
}

/// The man page, in roff, for `ironhull` (with every subcommand listed).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

fn emit(bytes: std::io::Result<Vec<u8>>) -> i32 {
    let r = bytes.and_then(|b| {
        let mut o = std::io::stdout().lock();
        o.write_all(&b)?;
        o.flush()
    });
    match r {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            exit::IO
        }
    }
}

pub fn run(a: CompletionsArgs) -> i32 {
    match (a.man, a.shell) {
        (true, _) | (false, None) => emit(man_page()),
        (false, Some(s)) => emit(Ok(completions(s))),
    }
}

pub fn man() -> i32 {
    emit(man_page())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_and_the_man_page_generate() {
        for s in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let out = String::from_utf8(completions(s)).unwrap();
            assert!(out.contains("ironhull"), "{s:?}");
            assert!(out.contains("build") && out.contains("audit"), "{s:?}");
        }
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(man.contains(".TH ironhull"), "{man}");
        assert!(man.contains("audit"));
    }
}
