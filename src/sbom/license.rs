//! SPDX license expressions from package-database license fields.
//!
//! apk's `L:` field is usually already an SPDX expression (`MPL-2.0 AND MIT`)
//! but not always (`GPL2+`, `custom`, `MIT BSD`). An SBOM must not claim an
//! SPDX identifier it cannot vouch for, so a field is accepted as an SPDX
//! expression only when it parses with the SPDX grammar AND every identifier
//! is on the (embedded, deliberately conservative) list below; anything else
//! becomes a `LicenseRef-` carrying the original text.

/// SPDX license identifiers ironhull recognises (canonical case). Not the
/// whole SPDX list: the common licenses of distribution packages. A missing
/// identifier costs precision (a LicenseRef instead), never correctness.
const LICENSES: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "APSL-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "Beerware",
    "blessing",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSD-4-Clause-UC",
    "BSD-Source-Code",
    "BSL-1.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "CECILL-2.1",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "FSFAP",
    "FSFUL",
    "FSFULLR",
    "FTL",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "IJG",
    "Info-ZIP",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "Libpng",
    "libpng-2.0",
    "libtiff",
    "LPPL-1.3c",
    "MirOS",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MPL-1.1",
    "MPL-2.0",
    "MPL-2.0-no-copyleft-exception",
    "MS-PL",
    "NCSA",
    "NTP",
    "OFL-1.1",
    "OLDAP-2.8",
    "OpenSSL",
    "PHP-3.01",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "Sendmail",
    "Sleepycat",
    "Spencer-94",
    "TCL",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "XFree86-1.1",
    "Zlib",
    "zlib-acknowledgement",
    "ZPL-2.1",
];

/// SPDX license exception identifiers recognised after `WITH`.
const EXCEPTIONS: &[&str] = &[
    "Autoconf-exception-2.0",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Classpath-exception-2.0",
    "Font-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-3.1",
    "Libtool-exception",
    "Linux-syscall-note",
    "LLVM-exception",
    "Qt-LGPL-exception-1.1",
    "WxWindows-exception-3.1",
];

fn lookup(list: &[&'static str], id: &str) -> Option<&'static str> {
    list.iter().copied().find(|l| l.eq_ignore_ascii_case(id))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open,
    Close,
    Word(&'a str),
}

fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == '(' || c == ')' || c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push(Tok::Word(&s[st..i]));
            }
            if c == '(' {
                out.push(Tok::Open);
            } else if c == ')' {
                out.push(Tok::Close);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Tok::Word(&s[st..]));
    }
    out
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("AND") => Some("AND"),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("OR") => Some("OR"),
            _ => None,
        }
    }

    fn expr(&mut self) -> Option<String> {
        let mut out = self.term()?;
        while let Some(op) = self.peek_op() {
            self.pos += 1;
            let rhs = self.term()?;
            out = format!("{out} {op} {rhs}");
        }
        Some(out)
    }

    fn term(&mut self) -> Option<String> {
        match self.toks.get(self.pos)?.clone() {
            Tok::Open => {
                self.pos += 1;
                self.depth += 1;
                if self.depth > 32 {
                    return None;
                }
                let inner = self.expr()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return None;
                }
                self.pos += 1;
                self.depth -= 1;
                Some(format!("({inner})"))
            }
            Tok::Close => None,
            Tok::Word(w) => {
                self.pos += 1;
                let id = lookup(LICENSES, w)?;
                if let Some(Tok::Word(kw)) = self.toks.get(self.pos)
                    && kw.eq_ignore_ascii_case("WITH")
                {
                    let Some(Tok::Word(ex)) = self.toks.get(self.pos + 1) else {
                        return None;
                    };
                    let ex = lookup(EXCEPTIONS, ex)?;
                    self.pos += 2;
                    return Some(format!("{id} WITH {ex}"));
                }
                Some(id.to_string())
            }
        }
    }
}

/// The field as a canonical SPDX expression, when it is one made only of
/// recognised identifiers; `None` otherwise.
pub fn spdx_expression(field: &str) -> Option<String> {
    let toks = tokenize(field);
    if toks.is_empty() || toks.len() > 256 {
        return None;
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    (p.pos == p.toks.len()).then_some(e)
}

/// A `LicenseRef-` identifier for free text: the idstring alphabet is
/// letters, digits, `.` and `-`, so everything else becomes `-`.
pub fn license_ref(text: &str) -> String {
    let mut id: String = text
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() {
        id.push_str("unknown");
    }
    format!("LicenseRef-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions_are_canonicalised() {
        assert_eq!(
            spdx_expression("GPL-2.0-only").as_deref(),
            Some("GPL-2.0-only")
        );
        assert_eq!(
            spdx_expression("MPL-2.0 AND MIT").as_deref(),
            Some("MPL-2.0 AND MIT")
        );
        assert_eq!(
            spdx_expression("mit and bsd-2-clause or (gpl-2.0-or-later)").as_deref(),
            Some("MIT AND BSD-2-Clause OR (GPL-2.0-or-later)")
        );
        assert_eq!(
            spdx_expression("GPL-3.0-or-later WITH GCC-exception-3.1").as_deref(),
            Some("GPL-3.0-or-later WITH GCC-exception-3.1")
        );
        assert_eq!(spdx_expression("Zlib").as_deref(), Some("Zlib"));
    }

    #[test]
    fn everything_else_is_rejected() {
        for bad in [
            "",
            "custom",
            "MIT BSD",
            "GPL2+",
            "GPL-2.0+",
            "MIT AND",
            "(MIT",
            "MIT)",
            "AND MIT",
            "MIT WITH",
            "MIT WITH Nonsense",
            "Made-Up-1.0",
            "MIT OR OR MIT",
        ] {
            assert_eq!(spdx_expression(bad), None, "{bad:?}");
        }
        let deep = format!("{}MIT{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(spdx_expression(&deep), None);
    }

    #[test]
    fn license_refs_are_valid_idstrings() {
        assert_eq!(license_ref("MIT BSD"), "LicenseRef-MIT-BSD");
        assert_eq!(license_ref("GPL2+"), "LicenseRef-GPL2-");
        assert_eq!(license_ref("  "), "LicenseRef-unknown");
    }
}
