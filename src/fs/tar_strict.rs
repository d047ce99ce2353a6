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
//!
//! Files: this one holds the stream state machine and the Go-style merge of
//! extension headers into a [`RawEntry`]; `tar_header.rs` decodes one header
//! block and PAX records, `tar_error.rs` holds [`TarError`].

use std::collections::BTreeMap;
use std::io::{self, Read};

pub(crate) use super::tar_error::{TarError, lossy};
use super::tar_error::{eof, eof_io, refused};
use super::tar_header::{
    Header, PAX_APK_SHA1, PAX_GID, PAX_GNAME, PAX_LINKPATH, PAX_MTIME, PAX_PATH, PAX_SIZE, PAX_UID,
    PAX_UNAME, PAX_XATTR, decimal, parse_pax,
};

/// Size of a tar block.
pub(crate) const BLOCK: u64 = 512;

/// Highest uid/gid accepted. `u32::MAX` is `(uid_t)-1`, which `chown(2)`
/// reads as "leave unchanged" (the extracting runtime's own uid: root), and
/// larger values are truncated to 32 bits by the kernel interface Go uses,
/// so `4294967296` would become uid 0 at unpack time.
pub(crate) const MAX_ID: u64 = 0xFFFF_FFFE;

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
    /// The `APK-TOOLS.checksum.SHA1` record, decoded (apk tars only).
    pub apk_sha1: Option<[u8; 20]>,
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
    /// Read as apk does (see [`StrictTar::apk`]).
    apk: bool,
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
            apk: false,
        }
    }

    /// Reads an apk package's tar: `APK-TOOLS.checksum.SHA1` records are
    /// accepted and returned in [`RawEntry::apk_sha1`], abuild's legacy
    /// linkname checksum is accepted, and what apk reads differently from
    /// Go (PAX size/ids/names/mtime, GNU long links, V7 headers) is refused.
    pub(crate) fn apk(mut self, on: bool) -> Self {
        self.apk = on;
        self
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
            let h = Header::parse(&blk, at, self.apk)?;
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
                b'K' if self.apk => {
                    return Err(refused(
                        at,
                        h.shown(),
                        "a GNU long link record in an apk package: apk ignores it and uses the header's linkname",
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
                    let e = merge(h, pending, first, self.apk)?;
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

/// Merges the extension headers into the entry as Go's `next` does, and
/// refuses contradictions.
fn merge(h: Header, p: Pending, first: u64, apk: bool) -> Result<RawEntry, TarError> {
    let offset = h.offset;
    let mut name = h.name.clone();
    let mut link = h.link.clone();
    let at = |n: &[u8]| Some(lossy(n));
    let pax = match &p.pax {
        Some((o, data)) => parse_pax(data, *o, apk)
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
    if apk && (name.starts_with(b"./") || name.starts_with(b"/") || name == b".") {
        return Err(refused(
            offset,
            at(&name),
            "an apk package entry name starts with '.' or '/': apk skips such entries (or calls them malicious) while other readers install them",
        ));
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
    let apk_sha1 = match pax.get(PAX_APK_SHA1) {
        Some(v) => Some(hex20(v).ok_or_else(|| {
            refused(
                offset,
                at(&name),
                "the PAX APK-TOOLS.checksum.SHA1 is not 40 hex digits",
            )
        })?),
        None => None,
    };
    if apk_sha1.is_some() && typeflag != b'0' && typeflag != b'2' {
        return Err(refused(
            offset,
            at(&name),
            "an apk checksum record is on an entry that is neither a regular file nor a symlink",
        ));
    }
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
        apk_sha1,
        name,
    })
}

/// 40 hex digits (either case, as apk's `apk_blob_pull_hexdump` reads them).
fn hex20(v: &[u8]) -> Option<[u8; 20]> {
    if v.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in v.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
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
