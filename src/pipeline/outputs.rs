//! Stage 5 of the build: the outputs. Pushes go first, so a registry that is
//! down fails the build before any local output exists; then layouts and
//! archives, each written atomically ([`crate::output`]); after each, its
//! attachments: SBOM files beside a file output, or SBOM referrers on a
//! pushed image.

use super::PipelineError;
use super::attach::{Attachments, Signed};
use crate::build::{BuildRequest, Built};
use crate::error::ErrorClass;
use crate::events::{Event, SharedReporter};
use crate::output::{self, Destination, sbom};
use crate::reference::Transport;
use crate::registry::RegistryOptions;
use crate::store::StagedLayout;

pub fn write(
    built: &Built,
    req: &BuildRequest,
    dests: &[Destination],
    staged: Vec<Option<StagedLayout>>,
    attachments: &Attachments,
    registry: &RegistryOptions,
    reporter: &SharedReporter,
) -> Result<(), PipelineError> {
    // Output failures are I/O failures with the `Output` error kind.
    fn out_err<E: std::fmt::Display + std::fmt::Debug>(e: E) -> PipelineError {
        PipelineError::kinded(ErrorClass::Io, "Output", &e)
    }
    output::preflight(dests, built.images.len()).map_err(out_err)?;
    let mut ordered: Vec<(usize, &Destination, Option<StagedLayout>)> = Vec::new();
    let mut local = Vec::new();
    for (n, (d, st)) in dests.iter().zip(staged).enumerate() {
        if matches!(d.transport, Transport::Docker(_)) {
            ordered.push((n, d, st));
        } else {
            local.push((n, d, st));
        }
    }
    ordered.extend(local);
    for (n, d, st) in ordered {
        // A signed push moves no tag until its signatures are attached.
        let signed_push =
            attachments.signed.is_some() && matches!(d.transport, Transport::Docker(_));
        let pushed = if signed_push {
            output::push_untagged(built, d, &req.name, registry).map_err(out_err)?
        } else {
            output::write_staged(built, d, &req.name, &req.tags, registry, st).map_err(out_err)?
        };
        let shown = d.to_string();
        let pushed_s = pushed.as_ref().map(|p| p.to_string());
        reporter.event(&Event::OutputWritten {
            destination: &shown,
            pushed: pushed_s.as_deref(),
        });
        place_attachments(built, d, attachments, registry, reporter).map_err(out_err)?;
        if let Some(s) = &attachments.signed {
            place_signatures(built, d, n, s, registry, reporter).map_err(out_err)?;
        }
        if signed_push {
            output::tag_pushed(built, d, &req.tags, registry).map_err(out_err)?;
        }
    }
    Ok(())
}

/// Attaches the signed documents to a pushed image or an `oci:` layout.
/// Archives cannot hold referrers; they get a warning, not a silent skip.
fn place_signatures(
    built: &Built,
    dest: &Destination,
    n: usize,
    s: &Signed,
    registry: &RegistryOptions,
    reporter: &SharedReporter,
) -> Result<(), String> {
    use crate::output::signatures as sig;
    let subjects = super::attach::subjects(built);
    let legacy = s.legacy.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let store = &built.store;
    let mut placed = Vec::new();
    match &dest.transport {
        Transport::Docker(target) => {
            let client =
                crate::registry::Client::new(registry.clone()).map_err(|e| e.to_string())?;
            placed.extend(
                sig::push(
                    &client, target, &subjects, &s.bundles, legacy, &s.created, store,
                )
                .map_err(|e| e.to_string())?,
            );
            for (i, b) in built.images.iter().zip(&s.sbom_bundles) {
                let one = [crate::output::referrer::Subject::of_image(&i.image)];
                placed.extend(
                    sig::push(
                        &client,
                        target,
                        &one,
                        std::slice::from_ref(b),
                        &[],
                        &s.created,
                        store,
                    )
                    .map_err(|e| e.to_string())?,
                );
            }
        }
        Transport::Oci { dir, .. } => {
            placed.extend(
                sig::write_layout(dir, &subjects, &s.bundles, legacy, &s.created, store)
                    .map_err(|e| e.to_string())?,
            );
            for (i, b) in built.images.iter().zip(&s.sbom_bundles) {
                let one = [crate::output::referrer::Subject::of_image(&i.image)];
                placed.extend(
                    sig::write_layout(dir, &one, std::slice::from_ref(b), &[], &s.created, store)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        _ => {
            reporter.event(&Event::Warning(&format!(
                "{dest}: an archive cannot hold signatures; sign the pushed image or an oci: layout (ironhull sign)"
            )));
        }
    }
    for p in &placed {
        reporter.event(&Event::SignatureAttached {
            what: &p.what,
            subject: &p.subject,
            manifest: &p.manifest,
            tag: p.tag.as_deref(),
        });
    }
    Ok(())
}

/// Writes each platform's SBOM beside a file output (`OUTPUT.spdx.json`, or
/// `OUTPUT.<os>-<arch>.spdx.json` with several platforms), or attaches it to
/// the pushed image.
fn place_attachments(
    built: &Built,
    dest: &Destination,
    a: &Attachments,
    registry: &RegistryOptions,
    reporter: &SharedReporter,
) -> Result<(), String> {
    let Some(format) = a.sbom else {
        return Ok(());
    };
    let multi = built.images.len() > 1;
    for (i, doc) in built.images.iter().zip(&a.sboms) {
        match (&dest.transport, dest.path()) {
            (Transport::Docker(target), _) => {
                let client =
                    crate::registry::Client::new(registry.clone()).map_err(|e| e.to_string())?;
                let at = sbom::attach(
                    &client,
                    target,
                    &i.image,
                    doc,
                    format,
                    &a.created,
                    &built.store,
                )
                .map_err(|e| e.to_string())?;
                let how = at
                    .fallback_tag
                    .map(|t| format!("referrers tag {t}"))
                    .unwrap_or_else(|| "referrers API".into());
                reporter.event(&Event::SbomAttached {
                    artifact: &at.artifact,
                    subject: &at.subject,
                    how: &how,
                });
            }
            (_, Some(path)) => {
                let plat = if multi {
                    format!(".{}", i.image.platform.to_string().replace('/', "-"))
                } else {
                    String::new()
                };
                let file = std::path::PathBuf::from(format!(
                    "{}{plat}.{}",
                    path.display(),
                    format.suffix()
                ));
                crate::store::write_atomic(&file, doc)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                reporter.event(&Event::SbomWritten { path: &file });
            }
            _ => {}
        }
    }
    Ok(())
}
