//! `ironhull audit`, `ironhull checks` and `ironhull explain`.

use super::common::use_color;
use super::exit;
use ironhull::commands::audit::{AuditJob, Audited, audit};
use ironhull::policy::{self, Severity, render};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull audit oci:out/hello:1.0.0\n  ironhull audit rootfs:alpine-minirootfs.tar.gz --fail-on info\n  ironhull audit docker-archive:app.tar --format sarif > audit.sarif\n  ironhull audit oci-archive:app.tar --policy audit-policy.toml --format json"
)]
pub struct AuditArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// A policy file (TOML) that overrides severities or allow-lists paths, each with a reason.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Audit only this platform (os/arch[/variant]); default: every platform in the image.
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
    /// Blob cache directory for extracted archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

use super::common::fail;

pub fn run(a: AuditArgs) -> i32 {
    let job = AuditJob {
        image: a.image.clone(),
        platform: a.platform.clone(),
        policy: a.policy.clone(),
        cache_dir: super::common::cache_dir(a.cache_dir.as_deref()),
        registry: a.registry.options(true, false),
    };
    let audited = match audit(&job) {
        Ok(x) => x,
        Err(e) => return fail(super::exit_code(e.class), e),
    };
    let mut worst = exit::OK;
    let mut docs = Vec::new();
    for Audited { name, report } in audited {
        match a.format {
            Format::Text => print!("{}", render::to_text(&name, &report, use_color_stdout())),
            Format::Json | Format::Sarif => docs.push((name.clone(), report.clone())),
        }
        if report.fails(a.fail_on) {
            worst = exit::POLICY;
        }
    }
    match a.format {
        Format::Text => {}
        Format::Json => {
            let v: Vec<_> = docs.iter().map(|(n, r)| render::to_json(n, r)).collect();
            let out = if v.len() == 1 {
                v.into_iter().next().unwrap_or_default()
            } else {
                serde_json::Value::Array(v)
            };
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Sarif => {
            // One SARIF log; each platform is a run.
            let mut runs = Vec::new();
            for (n, r) in &docs {
                let s = render::to_sarif(n, r);
                if let Some(rs) = s.get("runs").and_then(|x| x.as_array()) {
                    runs.extend(rs.iter().cloned());
                }
            }
            let mut log = docs
                .first()
                .map(|(n, r)| render::to_sarif(n, r))
                .unwrap_or_default();
            log["runs"] = serde_json::Value::Array(runs);
            println!("{}", serde_json::to_string_pretty(&log).unwrap_or_default());
        }
    }
    worst
}

fn use_color_stdout() -> bool {
    use std::io::IsTerminal;
    use_color() && std::io::stdout().is_terminal()
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  ironhull explain SH-001\n  ironhull explain usr-001")]
pub struct ExplainArgs {
    /// A check ID such as SH-001 (see `ironhull checks`).
    pub id: String,
}

/// The text `ironhull explain` prints for one check.
pub fn explanation(c: &policy::Check) -> String {
    let mut s = format!("{} — {}\nseverity: {}\n", c.id, c.title, c.severity);
    if c.core {
        s.push_str("core check: `ironhull build` never waives it\n");
    }
    s.push_str(&format!("\n{}\n\nfix: {}\n", c.description, c.fix));
    if !c.anchors.is_empty() {
        s.push_str(&format!("maps to: {}\n", c.anchors.join(", ")));
    }
    s
}

pub fn explain(a: ExplainArgs) -> i32 {
    let id = a.id.to_ascii_uppercase();
    match policy::catalog::lookup(&id) {
        Some(c) => {
            print!("{}", explanation(c));
            exit::OK
        }
        None => {
            let hint = policy::catalog::suggest(&id)
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            fail(
                exit::INPUT,
                format!("no check {id:?}{hint} Run `ironhull checks` for the list."),
            )
        }
    }
}

pub fn checks(json: bool) -> i32 {
    if json {
        let v: Vec<_> = policy::catalog()
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "severity": c.severity.as_str(), "title": c.title, "core": c.core, "anchors": c.anchors, "fix": c.fix}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for c in policy::catalog() {
            println!(
                "{:<8} {:<8} {}{}",
                c.id,
                c.severity.as_str(),
                c.title,
                if c.core { "  [core]" } else { "" }
            );
        }
    }
    exit::OK
}
