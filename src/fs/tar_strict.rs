//! ironhull's own strict tar header parser: one interpretation of every layer.
//!
//! Container runtimes (Docker, containerd, podman, buildah, umoci) unpack
//! layers with Go's `archive/tar`. If ironhull read a layer differently, a
//! runtime would build a filesystem ironhull never judged. This parser
//! therefore reads each header block sequence (ustar, GNU and PAX extension
//! headers), merges it exactly as Go's reader does, and **refuses** every
//! construct where mainstream readers (Go, GNU tar, libarchive, tar-rs)
//! disagree or where the meaning is not plain: duplicate PAX keys, sparse
//! files, typeflag/name contradictions, sizes on header-only types, GNU long
//! names combined with PAX paths, unknown PAX keys, and so on. Every decision
//! (accept, refuse or normalize, and why) is written down in
//! [`TAR_DECISIONS.md`](https://github.com/ironhull/ironhull/blob/main/src/fs/TAR_DECISIONS.md)
//! next to this file; the differential test `tests/tar_oracle.rs` checks
//! every accepted archive against Go itself.
//!
//! The parser streams: headers and extension records are read into a small
//! buffer bounded by `max_ext` bytes per entry, content is never buffered.

use std::collections::BTreeMap;
use std::io::{self, Read};

/// Size of a tar block.
pub(crate) const BLOCK: u64 = 512;

/// Highest uid/gid accepted. `u32::MAX` is `(uid_t)-1`, which `chown(2)`
/// reads as "leave unchanged" (the extracting runtime's own uid: root), and
/// larger values are truncated to 32 bits by the kernel interface Go uses,
/// so `4294967296` would become uid 0 at unpack time.
pub(crate) const MAX_ID: u64 = 0xFFFF_FFFE;

/// PAX keys that are read and merged, like Go's `mergePAX`.
const PAX_PATH: &str = "path";
const PAX_LINKPATH: &str = "linkpath";
const PAX_SIZE: &str = "size";
const PAX_UID: &str = "uid";
const PAX_GID: &str = "gid";
const PAX_UNAME: &str = "uname";
const PAX_GNAME: &str = "gname";
const PAX_MTIME: &str = "mtime";
const PAX_XATTR: &str = "SCHILY.xattr.";

/// PAX keys that no mainstream reader turns into filesystem state: accepted
/// and ignored (Go keeps them in `PAXRecords` only).
const PAX_IGNORED: &[&str] = &[
    "atime",
    "ctime",
    "comment",
    "SCHILY.dev",
    "SCHILY.ino",
    "SCHILY.nlink",
    "LIBARCHIVE.creationtime",
];

/// One filesystem entry exactly as Go's `archive/tar` returns it, after the
/// extension headers before it were merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    /// Uncompressed offset of the first header block of this entry
    /// (extension headers included).
    pub offset: u64,
    /// `0 1 2 3 4 5 6` (the legacy `\0` is normalized as Go does).
    pub typeflag: u8,
    /// The name as stored, after PAX/GNU/prefix merging; not canonicalized.
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u64,
    pub uid: u64,
    pub gid: u64,
    /// Content bytes that follow the header (0 for header-only types).
    pub size: u64,
    pub mtime: u64,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub devmajor: u32,
    pub devminor: u32,
    /// `SCHILY.xattr.*` records, key without the prefix.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Why the parser stopped.
#[derive(Debug)]
pub(crate) enum TarError {
    /// Reading the stream failed, or it ended early (`UnexpectedEof`).
    Io(io::Error),
    /// A header is structurally broken (checksum, unparsable number).
    Corrupt {
        offset: u64,
        path: Option<String>,
        detail: String,
    },
    /// A header is well formed but ambiguous or outside what ironhull accepts.
    Refused {
        offset: u64,
        path: Option<String>,
        why: String,
    },
    /// An entry type outside the OCI layer types.
    Unsupported { path: String, flag: u8 },
    /// Extension headers of one entry exceed the budget.
    HeaderTooLarge { offset: u64 },
}

impl TarError {
    /// Names the entry a refusal is about, when it was not known yet.
    fn named(self, name: Option<String>) -> Self {
        match self {
            TarError::Refused {
                offset,
                path: None,
                why,
            } => TarError::Refused {
                offset,
                path: name,
                why,
            },
            e => e,
        }
    }
}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        TarError::Io(e)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Gnu,
}

/// Extension headers seen for the entry being assembled.
#[derive(Default)]
struct Pending {
    /// Offset and data of the PAX header.
    pax: Option<(u64, Vec<u8>)>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    bytes: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pax.is_none() && self.long_name.is_none() && self.long_link.is_none()
    }
}

/// The streaming strict reader. Call [`StrictTar::next`] for each entry and
/// read its content through [`StrictTar::content`].
pub(crate) struct StrictTar<R> {
    r: R,
    pos: u64,
    /// Content bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's content.
    pad: u64,
    done: bool,
    max_ext: u64,
}

impl<R: Read> StrictTar<R> {
    pub(crate) fn new(r: R, max_ext: u64) -> Self {
        Self {
            r,
            pos: 0,
            remaining: 0,
            pad: 0,
            done: false,
            max_ext,
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.r
    }

    /// The content of the entry last returned by `next`.
    pub(crate) fn content(&mut self) -> Content<'_, R> {
        Content { t: self }
    }

    /// Skips what is left of the current entry (content and padding) and
    /// parses the next one. `None` at the end of the archive, which is two
    /// zero blocks, one zero block and the end of the stream, or the end of
    /// the stream at a header boundary (Go accepts all three).
    pub(crate) fn next(&mut self) -> Result<Option<RawEntry>, TarError> {
        let skip = self.remaining + self.pad;
        self.remaining = 0;
        self.pad = 0;
        self.skip(skip)?;
        if self.done {
            return Ok(None);
        }
        let first = self.pos;
        let mut pending = Pending::default();
        loop {
            let at = self.pos;
            let mut blk = [0u8; BLOCK as usize];
            let n = self.read_block(&mut blk)?;
            if n == 0 {
                self.done = true;
                if !pending.is_empty() {
                    return Err(refused(
                        at,
                        None,
                        "the archive ends after an extension header (PAX or GNU long name) without the entry it describes",
                    ));
                }
                return Ok(None);
            }
            if n < blk.len() {
                return Err(eof());
            }
            if blk.iter().all(|b| *b == 0) {
                if !pending.is_empty() {
                    return Err(refused(
                        at,
                        None,
                        "an extension header (PAX or GNU long name) is followed by the end of the archive instead of its entry",
                    ));
                }
                let mut second = [0u8; BLOCK as usize];
                let n = self.read_block(&mut second)?;
                self.done = true;
                if n == 0 || (n == second.len() && second.iter().all(|b| *b == 0)) {
                    return Ok(None);
                }
                if n < second.len() {
                    return Err(eof());
                }
                return Err(refused(
                    at,
                    None,
                    "a zero block is followed by another header: readers that stop at the first zero block and Go (which rejects it) disagree on the entries",
                ));
            }
            let h = Header::parse(&blk, at)?;
            match h.typeflag {
                b'x' => {
                    if pending.pax.is_some() {
                        return Err(refused(
                            at,
                            h.shown(),
                            "two PAX extended headers describe the same entry (Go keeps only the last, other readers merge them)",
                        ));
                    }
                    // Parsed with the entry, so errors can name it.
                    pending.pax = Some((at, self.ext_data(&h, &mut pending, first)?));
                }
                b'g' => {
                    // umoci rejects them outright, Go returns them as an
                    // entry and ignores the records, GNU tar and libarchive
                    // apply them to every later entry.
                    return Err(refused(
                        at,
                        h.shown(),
                        "PAX global headers (typeflag 'g') are refused: umoci rejects them, Go ignores their records and GNU tar/libarchive apply them to every later entry",
                    ));
                }
                b'L' | b'K' => {
                    let data = self.ext_data(&h, &mut pending, first)?;
                    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
                    if data[end..].iter().any(|b| *b != 0) {
                        return Err(refused(
                            at,
                            h.shown(),
                            "a GNU long name or link record has bytes after its NUL terminator",
                        ));
                    }
                    if end == 0 {
                        return Err(refused(
                            at,
                            h.shown(),
                            "a GNU long name or link record is empty",
                        ));
                    }
                    let slot = if h.typeflag == b'L' {
                        &mut pending.long_name
                    } else {
                        &mut pending.long_link
                    };
                    if slot.is_some() {
                        return Err(refused(
                            at,
                            h.shown(),
                            "two GNU long name (or long link) records describe the same entry",
                        ));
                    }
                    *slot = Some(data[..end].to_vec());
                }
                _ => {
                    let e = merge(h, pending, first)?;
                    self.remaining = e.size;
                    self.pad = padding(e.size);
                    return Ok(Some(e));
                }
            }
        }
    }

    /// Reads the data of an extension header, within the budget.
    fn ext_data(
        &mut self,
        h: &Header,
        pending: &mut Pending,
        first: u64,
    ) -> Result<Vec<u8>, TarError> {
        pending.bytes = pending.bytes.saturating_add(h.size);
        if pending.bytes > self.max_ext {
            return Err(TarError::HeaderTooLarge { offset: first });
        }
        let len =
            usize::try_from(h.size).map_err(|_| TarError::HeaderTooLarge { offset: first })?;
        let mut data = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match self.r.read(&mut data[got..]) {
                Ok(0) => return Err(eof()),
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.pos += h.size;
        self.skip(padding(h.size))?;
        Ok(data)
    }

    /// Reads up to one block; returns how many bytes were read (short only at EOF).
    fn read_block(&mut self, blk: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < blk.len() {
            match self.r.read(&mut blk[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
        self.pos += got;
        if got < n {
            return Err(eof());
        }
        Ok(())
    }
}

/// The content of one entry: at most `size` bytes.
pub(crate) struct Content<'a, R> {
    t: &'a mut StrictTar<R>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.t.remaining;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let end = usize::try_from(left).unwrap_or(buf.len()).min(buf.len());
        let n = self.t.r.read(&mut buf[..end])?;
        if n == 0 {
            return Err(eof_io());
        }
        self.t.remaining -= n as u64;
        self.t.pos += n as u64;
        Ok(n)
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn eof_io() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the tar stream ends early")
}

fn eof() -> TarError {
    TarError::Io(eof_io())
}

fn refused(offset: u64, path: Option<String>, why: &str) -> TarError {
    TarError::Refused {
        offset,
        path,
        why: why.to_string(),
    }
}

fn corrupt(offset: u64, path: Option<String>, detail: &str) -> TarError {
    TarError::Corrupt {
        offset,
        path,
        detail: detail.to_string(),
    }
}

/// A raw tar name or link target for messages: lossy UTF-8, cut at 256
/// bytes so a hostile name cannot flood the error output.
pub(crate) fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 256 {
        let mut end = 256;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.into_owned()
    }
}

/// One header block, decoded exactly as Go's `readHeader` does.
struct Header {
    offset: u64,
    typeflag: u8,
    name: Vec<u8>,
    link: Vec<u8>,
    mode: u64,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    devmajor: u64,
    devminor: u64,
}

impl Header {
    fn shown(&self) -> Option<String> {
        Some(lossy(&self.name))
    }

    fn parse(b: &[u8; 512], offset: u64) -> Result<Header, TarError> {
        let name0 = string_field(&b[0..100], offset, None, "name")?;
        let at = Some(lossy(&name0));
        let stored = octal(&b[148..156]).ok_or_else(|| {
            corrupt(
                offset,
                at.clone(),
                "the header checksum field is not an octal number",
            )
        })?;
        let sum: u64 = b
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*c)
                }
            })
            .sum();
        if stored != sum {
            return Err(corrupt(
                offset,
                at,
                &format!("header checksum mismatch (stored {stored}, computed {sum})"),
            ));
        }
        let magic = &b[257..263];
        let version = &b[263..265];
        let format = if magic == b"ustar\0" && version == b"00" {
            if &b[508..512] == b"tar\0" {
                return Err(refused(
                    offset,
                    at,
                    "the header is in star format, whose prefix and time fields other readers read as a ustar prefix",
                ));
            }
            Format::Ustar
        } else if magic == b"ustar " && version == b" \0" {
            Format::Gnu
        } else if b[257..265].iter().all(|c| *c == 0) {
            Format::V7
        } else {
            return Err(refused(
                offset,
                at,
                "the header magic is neither ustar, GNU nor V7, so readers disagree on which fields it has",
            ));
        };
        let typeflag = b[156];
        let num = |r: std::ops::Range<usize>, what: &str| -> Result<u64, TarError> {
            numeric(&b[r], offset, &at, what)
        };
        let mut h = Header {
            offset,
            typeflag,
            name: name0.clone(),
            link: string_field(&b[157..257], offset, at.clone(), "linkname")?,
            mode: num(100..108, "mode")?,
            uid: num(108..116, "uid")?,
            gid: num(116..124, "gid")?,
            size: num(124..136, "size")?,
            mtime: num(136..148, "mtime")?,
            uname: Vec::new(),
            gname: Vec::new(),
            devmajor: 0,
            devminor: 0,
        };
        if format != Format::V7 {
            h.uname = string_field(&b[265..297], offset, at.clone(), "uname")?;
            h.gname = string_field(&b[297..329], offset, at.clone(), "gname")?;
            h.devmajor = num(329..337, "devmajor")?;
            h.devminor = num(337..345, "devminor")?;
        }
        match format {
            Format::Ustar => {
                let prefix = string_field(&b[345..500], offset, at.clone(), "prefix")?;
                if !prefix.is_empty() {
                    let mut full = prefix;
                    full.push(b'/');
                    full.extend_from_slice(&h.name);
                    h.name = full;
                }
            }
            Format::Gnu => {
                // Go falls back to reading a ustar prefix from a GNU header
                // whose atime/ctime do not parse (a Go 1.8 writer bug);
                // other readers never do. Refuse the ambiguity.
                for (r, what) in [(345..357, "atime"), (357..369, "ctime")] {
                    if b[r.start] != 0 {
                        num(r, what)?;
                    }
                }
            }
            Format::V7 => {}
        }
        Ok(h)
    }
}

/// A NUL-terminated string field; bytes after the first NUL must be NUL
/// (Go stops at the NUL, but a writer that leaves data there is hiding it).
fn string_field(
    f: &[u8],
    offset: u64,
    at: Option<String>,
    what: &str,
) -> Result<Vec<u8>, TarError> {
    let end = f.iter().position(|c| *c == 0).unwrap_or(f.len());
    if f[end..].iter().any(|c| *c != 0) {
        return Err(refused(
            offset,
            at,
            &format!("the {what} field has bytes after its NUL terminator"),
        ));
    }
    Ok(f[..end].to_vec())
}

/// Octal as Go's `parseOctal`, minus its leniency: leading and trailing
/// spaces/NULs are allowed, the rest must be octal digits (Go would stop at
/// an inner NUL). An all-blank field is 0.
fn octal(f: &[u8]) -> Option<u64> {
    let blank = |c: &u8| *c == b' ' || *c == 0;
    let start = f.iter().position(|c| !blank(c)).unwrap_or(f.len());
    let end = f.iter().rposition(|c| !blank(c)).map_or(start, |e| e + 1);
    let digits = &f[start..end];
    if digits.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for c in digits {
        if !(b'0'..=b'7').contains(c) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// A numeric field: octal, or GNU base-256 (first bit set). Negative
/// base-256 values are refused: Go returns them as negative ids, sizes and
/// times, which no filesystem has.
fn numeric(f: &[u8], offset: u64, at: &Option<String>, what: &str) -> Result<u64, TarError> {
    if f[0] & 0x80 != 0 {
        if f[0] & 0x40 != 0 {
            return Err(refused(
                offset,
                at.clone(),
                &format!("the {what} field is a negative base-256 number"),
            ));
        }
        let mut v: u64 = 0;
        for (i, c) in f.iter().enumerate() {
            let c = if i == 0 { c & 0x7f } else { *c };
            if v >> 55 != 0 {
                return Err(corrupt(
                    offset,
                    at.clone(),
                    &format!("the {what} field overflows 63 bits"),
                ));
            }
            v = (v << 8) | u64::from(c);
        }
        return Ok(v);
    }
    octal(f).ok_or_else(|| {
        corrupt(
            offset,
            at.clone(),
            &format!("the {what} field is not an octal number"),
        )
    })
}

/// Strict unsigned decimal: digits only, no sign, no leading zeros (but "0").
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || (v.len() > 1 && v[0] == b'0') || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Parses PAX records (`"<len> <key>=<value>\n"`) strictly: canonical
/// lengths, each key once, only known keys.
fn parse_pax(data: &[u8], offset: u64) -> Result<BTreeMap<String, Vec<u8>>, TarError> {
    let bad = |why: String| TarError::Refused {
        offset,
        path: None,
        why,
    };
    let mut out = BTreeMap::new();
    let mut rest = data;
    while !rest.is_empty() {
        let sp = rest
            .iter()
            .position(|c| *c == b' ')
            .ok_or_else(|| bad("a PAX record has no length field".into()))?;
        let len = decimal(&rest[..sp])
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| bad("a PAX record length is not a plain decimal number".into()))?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("a PAX record length does not match the record".into()));
        }
        let rec = &rest[sp + 1..len - 1];
        rest = &rest[len..];
        let eq = rec
            .iter()
            .position(|c| *c == b'=')
            .ok_or_else(|| bad("a PAX record has no '='".into()))?;
        let key = std::str::from_utf8(&rec[..eq])
            .ok()
            .filter(|k| !k.is_empty() && !k.contains('\0'))
            .ok_or_else(|| bad("a PAX record key is empty, not UTF-8 or contains NUL".into()))?
            .to_string();
        let value = rec[eq + 1..].to_vec();
        let xattr = key.strip_prefix(PAX_XATTR);
        let known = matches!(
            key.as_str(),
            PAX_PATH
                | PAX_LINKPATH
                | PAX_SIZE
                | PAX_UID
                | PAX_GID
                | PAX_UNAME
                | PAX_GNAME
                | PAX_MTIME
        ) || PAX_IGNORED.contains(&key.as_str());
        match xattr {
            Some("") => {
                return Err(bad(
                    "a PAX SCHILY.xattr record has an empty xattr name".into()
                ));
            }
            Some(_) => {}
            None if !known => {
                return Err(bad(format!(
                    "PAX key {key:?} is not one ironhull reads identically to Go's archive/tar \
                     (sparse files, hdrcharset, ACLs, LIBARCHIVE.xattr and vendor keys are refused)"
                )));
            }
            None => {}
        }
        if value.is_empty() {
            return Err(bad(format!(
                "PAX key {key:?} has an empty value (Go keeps the header field, other readers clear it)"
            )));
        }
        // Path and link values are checked (NUL, UTF-8) with the entry's
        // path rules; xattr values are binary by nature.
        if xattr.is_none()
            && key != PAX_PATH
            && key != PAX_LINKPATH
            && (value.contains(&0) || std::str::from_utf8(&value).is_err())
        {
            return Err(bad(format!(
                "PAX key {key:?} has a value that is not UTF-8 or contains NUL"
            )));
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(bad(format!(
                "PAX key {key:?} appears twice for one entry (Go takes the last, tar-rs the first)"
            )));
        }
    }
    Ok(out)
}

/// Merges the extension headers into the entry as Go's `next` does, and
/// refuses contradictions.
fn merge(h: Header, p: Pending, first: u64) -> Result<RawEntry, TarError> {
    let offset = h.offset;
    let mut name = h.name.clone();
    let mut link = h.link.clone();
    let at = |n: &[u8]| Some(lossy(n));
    let pax = match &p.pax {
        Some((o, data)) => parse_pax(data, *o)
            .map_err(|e| e.named(at(p.long_name.as_deref().unwrap_or(&h.name))))?,
        None => BTreeMap::new(),
    };
    if let Some(v) = pax.get(PAX_PATH) {
        name = v.clone();
    }
    if let Some(v) = p.long_name {
        if pax.contains_key(PAX_PATH) {
            return Err(refused(
                offset,
                at(&v),
                "the entry has both a GNU long name and a PAX path (Go uses the long name, other readers the PAX path)",
            ));
        }
        name = v;
    }
    if let Some(v) = pax.get(PAX_LINKPATH) {
        link = v.clone();
    }
    if let Some(v) = p.long_link {
        if pax.contains_key(PAX_LINKPATH) {
            return Err(refused(
                offset,
                at(&name),
                "the entry has both a GNU long link and a PAX linkpath (Go uses the long link, other readers the PAX linkpath)",
            ));
        }
        link = v;
    }
    let dir_slash = name.ends_with(b"/");
    let typeflag = match h.typeflag {
        0 if dir_slash => b'5',
        0 => b'0',
        b'0' if dir_slash => {
            return Err(refused(
                offset,
                at(&name),
                "a regular-file entry (typeflag '0') has a name ending in '/': Go creates a file, other readers a directory",
            ));
        }
        b'S' => {
            return Err(refused(
                offset,
                at(&name),
                "GNU sparse files (typeflag 'S') are refused: readers expand them differently",
            ));
        }
        b'7' => {
            return Err(refused(
                offset,
                at(&name),
                "contiguous files (typeflag '7') are refused: Docker rejects them, other readers extract a regular file",
            ));
        }
        t @ (b'0' | b'1' | b'2' | b'3' | b'4' | b'5' | b'6') => t,
        t => {
            return Err(TarError::Unsupported {
                path: lossy(&name),
                flag: t,
            });
        }
    };
    if dir_slash && typeflag != b'5' {
        return Err(refused(
            offset,
            at(&name),
            "a non-directory entry has a name ending in '/'",
        ));
    }
    if !link.is_empty() && typeflag != b'1' && typeflag != b'2' {
        return Err(refused(
            offset,
            at(&name),
            "an entry that is not a link has a link name",
        ));
    }
    let mut size = h.size;
    if let Some(v) = pax.get(PAX_SIZE) {
        let s = decimal(v).ok_or_else(|| {
            refused(
                offset,
                at(&name),
                "the PAX size is not a plain decimal number",
            )
        })?;
        // The header field is a placeholder (0) when the size does not fit
        // it; any other value that differs from PAX is a contradiction.
        if h.size != 0 && h.size != s {
            return Err(refused(
                offset,
                at(&name),
                &format!("the header size {} disagrees with the PAX size {s}", h.size),
            ));
        }
        size = s;
    }
    if typeflag != b'0' && size != 0 {
        return Err(refused(
            offset,
            at(&name),
            &format!(
                "a header-only entry (typeflag '{}') declares {size} content bytes: Go skips no content for it, other readers skip {size} bytes, so the entries that follow differ",
                char::from(typeflag)
            ),
        ));
    }
    let id = |key: &str, hv: u64| -> Result<u64, TarError> {
        let v = match pax.get(key) {
            Some(v) => decimal(v).ok_or_else(|| {
                refused(
                    offset,
                    at(&name),
                    &format!("the PAX {key} is not a plain decimal number"),
                )
            })?,
            None => hv,
        };
        if v > MAX_ID {
            return Err(refused(
                offset,
                at(&name),
                &format!(
                    "{key} {v} does not fit a 32-bit id (the kernel would truncate it, possibly to 0)"
                ),
            ));
        }
        Ok(v)
    };
    let uid = id(PAX_UID, h.uid)?;
    let gid = id(PAX_GID, h.gid)?;
    let mut mtime = h.mtime;
    if let Some(v) = pax.get(PAX_MTIME) {
        let (secs, frac) = match v.iter().position(|c| *c == b'.') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (&v[..], &b""[..]),
        };
        let ok_frac = frac.iter().all(u8::is_ascii_digit);
        mtime = secs
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(secs).ok()?.parse::<u64>().ok())
            .flatten()
            .filter(|_| ok_frac && !(v.contains(&b'.') && frac.is_empty()))
            .ok_or_else(|| {
                refused(
                    offset,
                    at(&name),
                    "the PAX mtime is not a non-negative decimal time",
                )
            })?;
    }
    let dev = |v: u64, what: &str| -> Result<u32, TarError> {
        u32::try_from(v).map_err(|_| {
            refused(
                offset,
                at(&name),
                &format!("the {what} number does not fit 32 bits"),
            )
        })
    };
    let mut xattrs = BTreeMap::new();
    for (k, v) in &pax {
        if let Some(x) = k.strip_prefix(PAX_XATTR) {
            xattrs.insert(x.to_string(), v.clone());
        }
    }
    Ok(RawEntry {
        offset: first,
        typeflag,
        link,
        mode: h.mode,
        uid,
        gid,
        size,
        mtime,
        uname: pax.get(PAX_UNAME).cloned().unwrap_or(h.uname),
        gname: pax.get(PAX_GNAME).cloned().unwrap_or(h.gname),
        devmajor: dev(h.devmajor, "device major")?,
        devminor: dev(h.devminor, "device minor")?,
        xattrs,
        name,
    })
}

/// The canonical form of an entry name, as a slice of `raw`: exactly one
/// leading `./` is dropped (real layers made with `tar -C dir .` start every
/// name with it, and Go-based runtimes clean it away identically), and a
/// directory may end in one `/`. `.` and `./` alone are the root (`""`).
/// Anything else that is not already canonical (`a//b`, `a/./b`, a leading
/// `/`, a trailing `/` on a non-directory) is refused with the reason; `..`
/// is reported separately by the caller.
pub(crate) fn canonical_name(
    raw: &[u8],
    allow_abs: bool,
    allow_slash: bool,
) -> Result<&[u8], &'static str> {
    let mut s = raw;
    if s == b"." || s == b"./" {
        return Ok(&s[..0]);
    }
    if let Some(r) = s.strip_prefix(b"./") {
        s = r;
    } else if allow_abs && let Some(r) = s.strip_prefix(b"/") {
        s = r;
    }
    if allow_slash && let Some(r) = s.strip_suffix(b"/") {
        s = r;
    }
    if s.is_empty() {
        return Err("the name is empty");
    }
    if s.starts_with(b"/") {
        return Err("the name is absolute or starts with several slashes");
    }
    for c in s.split(|b| *b == b'/') {
        match c {
            b"" => return Err("the name has an empty component ('//' or a doubled trailing '/')"),
            b"." => return Err("the name has a '.' component"),
            _ => {}
        }
    }
    Ok(s)
}
