//! deb822 control stanzas: `Packages` indexes, `Release` files and
//! `dpkg/status` (deb822(5)). Paragraphs are separated by blank lines; a
//! field is `Name: value`, continued on lines that start with a space or a
//! tab. Hostile input gets an error with the line number, never a panic.

/// One paragraph, fields in order, with the line it starts on (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    pub line: usize,
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// The value of `name` (field names are case-insensitive); a
    /// multi-line value keeps its continuation lines, each after a `\n`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Why a control file does not parse: the line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ControlError {
    pub line: usize,
    pub why: String,
}

/// Parses every stanza. Lines starting with `#` are comments only where
/// deb822 allows them (control files); indexes do not carry any, and a
/// `#` line there is refused like any other malformed line.
pub fn parse(text: &str) -> Result<Vec<Stanza>, ControlError> {
    let mut out: Vec<Stanza> = Vec::new();
    let mut cur: Option<Stanza> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |why: &str| ControlError {
            line: n,
            why: why.to_string(),
        };
        if line.trim().is_empty() {
            if let Some(s) = cur.take() {
                out.push(s);
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(s) = cur.as_mut() else {
                return Err(err("a continuation line outside any field"));
            };
            let Some((_, v)) = s.fields.last_mut() else {
                return Err(err("a continuation line outside any field"));
            };
            v.push('\n');
            v.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(err("expected `Field: value`"));
        };
        if name.is_empty()
            || name.starts_with('#')
            || name.starts_with('-')
            || !name.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(err(&format!("{name:?} is not a field name")));
        }
        let s = cur.get_or_insert_with(|| Stanza {
            line: n,
            fields: Vec::new(),
        });
        if s.fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Err(err(&format!(
                "field {name:?} appears twice in the stanza that starts on line {}",
                s.line
            )));
        }
        s.fields.push((name.to_string(), value.trim().to_string()));
    }
    if let Some(s) = cur.take() {
        out.push(s);
    }
    Ok(out)
}

/// The line `name` starts on in the stanza `st` of `text` (for error
/// messages: found by scanning from the stanza's first line, so it costs
/// nothing until an error is reported); the stanza's line if not found.
pub fn field_line(text: &str, st: &Stanza, name: &str) -> usize {
    text.split('\n')
        .enumerate()
        .skip(st.line.saturating_sub(1))
        .take_while(|(i, l)| *i + 1 == st.line || !l.trim().is_empty())
        .find(|(_, l)| {
            !l.starts_with([' ', '\t'])
                && l.split_once(':')
                    .is_some_and(|(k, _)| k.eq_ignore_ascii_case(name))
        })
        .map_or(st.line, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_stanzas() {
        let text = "Package: tzdata\nVersion: 2024a-0+deb12u1\nDepends: debconf (>= 0.5) | debconf-2.0\nDescription: time zone data\n more text\n .\n end\n\n\nPackage: libc6\r\nVersion: 2.36-9\r\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("package"), Some("tzdata"));
        assert_eq!(
            s[0].get("Description"),
            Some("time zone data\nmore text\n.\nend")
        );
        assert_eq!(s[1].line, 10);
        assert_eq!(s[1].get("Version"), Some("2.36-9"));
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn hostile_input_names_the_line() {
        for (text, line, why) in [
            (" continued\n", 1, "continuation"),
            ("Package: a\nno colon here\n", 2, "Field: value"),
            ("Package: a\npackage: b\n", 2, "twice"),
            ("Package: a\n#x: y\n", 2, "not a field name"),
            ("Package: a\nbad name: y\n", 2, "not a field name"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(why), "{text:?}: {e}");
        }
    }
}
