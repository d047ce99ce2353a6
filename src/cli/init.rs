//! `ironhull init`: the flags of [`ironhull::init`], its message and exit
//! codes. The library picks or guesses the template, renders a spec that
//! validates and writes it without clobbering.

use super::exit;
use ironhull::init::{InitError, InitOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull init --artifact target/x86_64-unknown-linux-musl/release/server\n  ironhull init --template python --artifact . --name my-api\n  ironhull init --list\n  ironhull init --template static -o deploy/builder.toml --force\n\nWithout --template the template is guessed from --artifact: a static ELF → static, an ELF with a musl interpreter → alpine-musl, another dynamic ELF → cc, a .jar → java, package.json → node, pyproject.toml → python."
)]
pub struct InitArgs {
    /// Template to use (see --list); guessed from --artifact when omitted.
    #[arg(long, short = 't')]
    pub template: Option<String>,
    /// The file or directory to package; its path is written into the spec.
    #[arg(long, short = 'a')]
    pub artifact: Option<PathBuf>,
    /// Image name (lowercase, e.g. "api" or "org/api"); default: from the artifact's name.
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// List the templates and exit.
    #[arg(long)]
    pub list: bool,
    /// Where to write the spec.
    #[arg(long, short = 'o', default_value = "builder.toml")]
    pub output: PathBuf,
}

impl InitArgs {
    fn options(&self) -> InitOptions {
        InitOptions {
            template: self.template.clone(),
            artifact: self.artifact.clone(),
            name: self.name.clone(),
            output: self.output.clone(),
            force: self.force,
        }
    }
}

fn exit_code(e: &InitError) -> i32 {
    match e {
        InitError::Write { .. } => exit::IO,
        _ => exit::INPUT,
    }
}

/// The `--list` text: one template a line, name then summary.
pub fn list() -> String {
    let mut s = String::new();
    for t in ironhull::init::list() {
        s.push_str(&format!("{:<12} {}\n", t.name, t.summary));
    }
    s
}

pub fn run(a: InitArgs) -> i32 {
    if a.list {
        print!("{}", list());
        return exit::OK;
    }
    match ironhull::init::init(&a.options()) {
        Ok(o) => {
            let why = o
                .guessed
                .map(|k| format!(" (the artifact looks like {k})"))
                .unwrap_or_default();
            eprintln!(
                "wrote {} from template {:?}{why}.\nNext: read it, adjust it, then run `ironhull build -f {}`.",
                o.path.display(),
                o.template,
                o.path.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_code(&e)
        }
    }
}
