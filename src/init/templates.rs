//! The `init` templates and how one is rendered into a spec.
//!
//! Templates are plain, valid `builder.toml` files in `templates/`, compiled
//! into the binary (they are tested as they are). A line ending in
//! `# ironhull-init: name` or `# ironhull-init: artifact` has its string value
//! replaced; elsewhere the word `myapp` becomes the last component of the
//! image name, so paths and entrypoints follow it.

/// One template: its name, a one-line summary and its text.
#[derive(Debug)]
pub struct Template {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// A template whose text is `templates/<name>.toml`, compiled in.
macro_rules! template {
    ($name:literal, $summary:literal) => {
        Template {
            name: $name,
            summary: $summary,
            text: include_str!(concat!("../../templates/", $name, ".toml")),
        }
    };
}

/// Every template, in `--list` order.
pub const TEMPLATES: &[Template] = &[
    template!(
        "static",
        "statically linked binary (Go, Rust musl, C) on the built-in base"
    ),
    template!(
        "cc",
        "glibc-dynamic binary on gcr.io/distroless/cc-debian12"
    ),
    template!(
        "python",
        "Python app directory on gcr.io/distroless/python3-debian12, PYTHONPATH=/app"
    ),
    template!(
        "node",
        "Node.js app directory on gcr.io/distroless/nodejs22-debian12"
    ),
    template!(
        "java",
        "executable jar on gcr.io/distroless/java21-debian12"
    ),
    template!(
        "alpine-musl",
        "musl binary on the Alpine minirootfs, shell and apk stripped"
    ),
    template!(
        "alpine-cxx",
        "C++ binary on the Alpine minirootfs, libstdc++ from Alpine's signed repository"
    ),
    template!(
        "static-site",
        "static web server + site directory + writable cache dir, built-in base"
    ),
];

/// The word in templates that stands for the application's name.
pub const NAME_TOKEN: &str = "myapp";
/// Marks a line whose value `init` replaces (`name` or `artifact`).
pub const MARKER: &str = "# ironhull-init:";

/// The template called `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a template: marker lines get their value, `myapp` elsewhere becomes
/// the last component of `name`.
pub fn render(text: &str, name: &str, artifact: Option<&str>) -> String {
    let short = name.rsplit('/').next().unwrap_or(name);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let marked = line.find(MARKER).and_then(|i| {
            let key = line[i + MARKER.len()..].trim();
            let eq = line[..i].find('=')?;
            Some((line[..eq].trim_end(), key))
        });
        match marked {
            Some((lhs, "name")) => {
                out.push_str(&format!("{lhs} = {}", toml_string(name)));
            }
            Some((lhs, "artifact")) => {
                let default = line
                    .find(MARKER)
                    .map(|i| line[..i].trim_end())
                    .unwrap_or(line)
                    .to_string();
                match artifact {
                    Some(a) => out.push_str(&format!("{lhs} = {}", toml_string(a))),
                    None => out.push_str(&default.replace(NAME_TOKEN, short)),
                }
            }
            _ => out.push_str(&line.replace(NAME_TOKEN, short)),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn render_substitutes_marked_values_and_token() {
        let t = "name = \"myapp\"  # ironhull-init: name\nsrc = \"build/myapp\"  # ironhull-init: artifact\nentrypoint = [\"/app/myapp\"]\n";
        let r = render(t, "org/api", Some("bin/a \"b\""));
        assert_eq!(
            r,
            "name = \"org/api\"\nsrc = \"bin/a \\\"b\\\"\"\nentrypoint = [\"/app/api\"]\n"
        );
        let r = render(t, "svc", None);
        assert!(r.contains("src = \"build/svc\"\n"), "{r}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(toml_string("a\u{1}\t"), "\"a\\u0001\\t\"");
    }

    #[test]
    fn every_template_is_valid_as_is_and_rendered() {
        for t in TEMPLATES {
            crate::spec::parse(t.text, Path::new("/tmp/builder.toml"))
                .unwrap_or_else(|e| panic!("template {}: {e}", t.name));
            let r = render(t.text, "acme/web-api", Some("/opt/x y/bin"));
            crate::spec::parse(&r, Path::new("/tmp/builder.toml"))
                .unwrap_or_else(|e| panic!("template {} rendered: {e}\n{r}", t.name));
            assert!(!r.contains(MARKER), "{}", t.name);
        }
    }
}
