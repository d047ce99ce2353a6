//! A strict walker over toml's spanned document tree (`toml::de::DeTable`).
//!
//! We walk the tree by hand instead of deriving serde shapes because every
//! error must point at the exact `line:col` of the offending key or value and
//! name the nearest valid key; serde's `deny_unknown_fields` gives neither
//! reliably. The walker knows nothing about ironhull; `validate.rs` uses it.

use super::error::{Location, SourceMap, SpecError};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(super) type Val<'i> = Spanned<DeValue<'i>>;

/// The parsing context: the source map for locations.
pub(super) struct Ctx<'a> {
    pub(super) map: SourceMap<'a>,
}

impl Ctx<'_> {
    pub(super) fn at(&self, span: &Range<usize>) -> Location {
        self.map.locate(span.start)
    }
}

/// A table being read, with the name used in messages (`[config]`,
/// `[[artifacts]] #2`).
pub(super) struct Table<'a, 'i> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) t: &'a DeTable<'i>,
    pub(super) span: Range<usize>,
    /// Name for messages: `[config]`, `[[artifacts]] #2`, `the top level`.
    pub(super) name: String,
    /// Prefix for key paths in messages: `config.`, `artifacts[2].`.
    pub(super) prefix: String,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Common misspellings and other tools' names for our keys.
const ALIASES: &[(&str, &str)] = &[
    ("command", "cmd"),
    ("environment", "env"),
    ("expose", "ports"),
    ("working_dir", "workdir"),
    ("workingdir", "workdir"),
    ("from", "image"),
    ("source", "src"),
    ("destination", "dest"),
    ("target", "dest"),
    ("digest", "sha256"),
    ("tag", "tags"),
    ("platform", "platforms"),
    ("stopsignal", "stop_signal"),
    ("artifact", "artifacts"),
];

/// The valid key closest to `key`, if any is close enough to be a typo.
pub(super) fn suggest(key: &str, valid: &'static [&'static str]) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase().replace('-', "_");
    if let Some(k) = valid.iter().find(|k| **k == lower) {
        return Some(k);
    }
    if let Some((_, k)) = ALIASES.iter().find(|(a, _)| *a == lower)
        && let Some(v) = valid.iter().find(|v| *v == k)
    {
        return Some(v);
    }
    valid
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, k), *k))
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

impl<'a, 'i> Table<'a, 'i> {
    /// Refuses any key not in `valid`, pointing at the key.
    pub(super) fn check_keys(&self, valid: &'static [&'static str]) -> Result<(), SpecError> {
        for (k, _) in self.t.iter() {
            if !valid.contains(&k.get_ref().as_ref()) {
                return Err(SpecError::UnknownKey {
                    at: self.ctx.at(&k.span()),
                    key: k.get_ref().to_string(),
                    section: self.name.clone(),
                    suggestion: suggest(k.get_ref(), valid),
                    valid,
                });
            }
        }
        Ok(())
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Val<'i>> {
        self.t.get(key)
    }

    /// Location of the table itself (for missing keys).
    pub(super) fn here(&self) -> Location {
        self.ctx.at(&self.span)
    }

    pub(super) fn key_path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(super) fn mismatch(
        &self,
        key: &str,
        v: &Val<'_>,
        expected: &'static str,
        hint: &'static str,
    ) -> SpecError {
        SpecError::TypeMismatch {
            at: self.ctx.at(&v.span()),
            key: self.key_path(key),
            expected,
            found: type_name(v.get_ref()),
            hint,
        }
    }

    pub(super) fn missing(&self, key: &str, example: &'static str) -> SpecError {
        SpecError::MissingKey {
            at: self.here(),
            key: key.to_string(),
            section: self.name.clone(),
            example,
        }
    }

    pub(super) fn str(&self, key: &str) -> Result<Option<(&'a str, Range<usize>)>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Ok(Some((s.as_ref(), v.span()))),
                _ => {
                    Err(self.mismatch(key, v, "a string", "Quote the value, e.g. key = \"value\""))
                }
            },
        }
    }

    pub(super) fn req_str(
        &self,
        key: &str,
        example: &'static str,
    ) -> Result<(&'a str, Range<usize>), SpecError> {
        self.str(key)?.ok_or_else(|| self.missing(key, example))
    }

    /// An integer together with its radix (so callers can insist on octal).
    pub(super) fn int(&self, key: &str) -> Result<Option<(i64, u32, Range<usize>)>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::Integer(i) => {
                    let n = i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                        SpecError::OutOfRange {
                            at: self.ctx.at(&v.span()),
                            key: self.key_path(key),
                            value: i.to_string(),
                            min: i64::MIN,
                            max: i64::MAX,
                            hint: "Use a smaller number",
                        }
                    })?;
                    Ok(Some((n, i.radix(), v.span())))
                }
                _ => Err(self.mismatch(key, v, "an integer", "Write a number without quotes")),
            },
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => Ok(Some(*b)),
                _ => Err(self.mismatch(key, v, "a boolean", "Write true or false without quotes")),
            },
        }
    }

    /// An array whose elements are all strings.
    #[allow(clippy::type_complexity)]
    pub(super) fn str_array(
        &self,
        key: &str,
        hint: &'static str,
    ) -> Result<Option<(Vec<(&'a str, Range<usize>)>, Range<usize>)>, SpecError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Array(a) = v.get_ref() else {
            return Err(self.mismatch(key, v, "an array of strings", hint));
        };
        let mut out = Vec::with_capacity(a.len());
        for e in a.iter() {
            match e.get_ref() {
                DeValue::String(s) => out.push((s.as_ref(), e.span())),
                _ => return Err(self.mismatch(key, e, "an array of strings", hint)),
            }
        }
        Ok(Some((out, v.span())))
    }

    /// A sub-table (`[config]`, or an inline `{ … }`).
    pub(super) fn table(&self, key: &str) -> Result<Option<Table<'a, 'i>>, SpecError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::Table(t) => Ok(Some(Table {
                ctx: self.ctx,
                t,
                span: v.span(),
                name: format!("[{}]", self.key_path(key)),
                prefix: format!("{}.", self.key_path(key)),
            })),
            _ => Err(self.mismatch(
                key,
                v,
                "a table",
                "Write it as a [section] or an inline table { key = value }",
            )),
        }
    }

    /// A table of string values: key → (value, key span, value span).
    #[allow(clippy::type_complexity)]
    pub(super) fn str_map(
        &self,
        key: &str,
    ) -> Result<Vec<(&'a str, Range<usize>, &'a str, Range<usize>)>, SpecError> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Table(t) = v.get_ref() else {
            return Err(self.mismatch(
                key,
                v,
                "a table of strings",
                "Write it as { KEY = \"value\" }",
            ));
        };
        let mut out = Vec::with_capacity(t.len());
        for (k, e) in t.iter() {
            match e.get_ref() {
                DeValue::String(s) => {
                    out.push((k.get_ref().as_ref(), k.span(), s.as_ref(), e.span()))
                }
                _ => {
                    return Err(self.mismatch(
                        &format!("{key}.{}", k.get_ref()),
                        e,
                        "a string",
                        "Quote the value, e.g. PORT = \"8080\"",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// An array of tables (`[[artifacts]]`).
    pub(super) fn tables(&self, key: &str) -> Result<Vec<Table<'a, 'i>>, SpecError> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Array(a) = v.get_ref() else {
            return Err(self.mismatch(
                key,
                v,
                "an array of tables",
                "Write each entry under its own [[section]] header",
            ));
        };
        let mut out = Vec::with_capacity(a.len());
        for (i, e) in a.iter().enumerate() {
            match e.get_ref() {
                DeValue::Table(t) => out.push(Table {
                    ctx: self.ctx,
                    t,
                    span: e.span(),
                    name: format!("[[{}]] #{}", self.key_path(key), i + 1),
                    prefix: format!("{}[{}].", self.key_path(key), i + 1),
                }),
                _ => {
                    return Err(self.mismatch(
                        key,
                        e,
                        "an array of tables",
                        "Write each entry under its own [[section]] header",
                    ));
                }
            }
        }
        Ok(out)
    }
}
