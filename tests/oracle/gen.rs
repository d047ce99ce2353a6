//! Raw tar bytes for the oracle test: a header writer that can express
//! anything (odd magics, base-256 numbers, junk after NULs, bad checksums)
//! and a seeded generator of archives mixing normal entries with every
//! hostile class of issue 12 section 1.

#![allow(dead_code)]

/// splitmix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// How a numeric field is written.
#[derive(Clone, Debug)]
pub enum Num {
    Octal(u64),
    /// GNU base-256 (first bit set).
    B256(u64),
    /// Base-256 -1.
    Neg,
    /// All NUL.
    Blank,
    Raw(Vec<u8>),
}

#[derive(Clone, Copy, Debug)]
pub enum Magic {
    Ustar,
    Gnu,
    V7,
    Odd,
}

/// One header block, every field as given.
#[derive(Clone, Debug)]
pub struct H {
    pub name: Vec<u8>,
    pub prefix: Vec<u8>,
    pub mode: Num,
    pub uid: Num,
    pub gid: Num,
    pub size: Num,
    pub mtime: Num,
    pub typeflag: u8,
    pub link: Vec<u8>,
    pub magic: Magic,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub devmajor: Num,
    pub devminor: Num,
    pub bad_cksum: bool,
    pub star_trailer: bool,
}

impl H {
    pub fn new(typeflag: u8, name: &str, size: u64) -> Self {
        H {
            name: name.as_bytes().to_vec(),
            prefix: Vec::new(),
            mode: Num::Octal(0o644),
            uid: Num::Octal(0),
            gid: Num::Octal(0),
            size: Num::Octal(size),
            mtime: Num::Octal(1_700_000_000),
            typeflag,
            link: Vec::new(),
            magic: Magic::Ustar,
            uname: Vec::new(),
            gname: Vec::new(),
            devmajor: Num::Octal(0),
            devminor: Num::Octal(0),
            bad_cksum: false,
            star_trailer: false,
        }
    }
    pub fn file(name: &str, size: u64) -> Self {
        H::new(b'0', name, size)
    }
    pub fn dir(name: &str) -> Self {
        let mut h = H::new(b'5', name, 0);
        h.mode = Num::Octal(0o755);
        h
    }
    pub fn link(typeflag: u8, name: &str, target: &str) -> Self {
        let mut h = H::new(typeflag, name, 0);
        h.link = target.as_bytes().to_vec();
        h
    }

    pub fn block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        put(&mut b[0..100], &self.name);
        put_num(&mut b[100..108], &self.mode);
        put_num(&mut b[108..116], &self.uid);
        put_num(&mut b[116..124], &self.gid);
        put_num(&mut b[124..136], &self.size);
        put_num(&mut b[136..148], &self.mtime);
        b[156] = self.typeflag;
        put(&mut b[157..257], &self.link);
        match self.magic {
            Magic::Ustar => {
                b[257..263].copy_from_slice(b"ustar\0");
                b[263..265].copy_from_slice(b"00");
            }
            Magic::Gnu => {
                b[257..263].copy_from_slice(b"ustar ");
                b[263..265].copy_from_slice(b" \0");
            }
            Magic::V7 => {}
            Magic::Odd => {
                b[257..263].copy_from_slice(b"ustar\0");
                b[263..265].copy_from_slice(b"  ");
            }
        }
        if !matches!(self.magic, Magic::V7) {
            put(&mut b[265..297], &self.uname);
            put(&mut b[297..329], &self.gname);
            put_num(&mut b[329..337], &self.devmajor);
            put_num(&mut b[337..345], &self.devminor);
        }
        if matches!(self.magic, Magic::Ustar | Magic::Odd) {
            put(&mut b[345..500], &self.prefix);
        }
        if self.star_trailer {
            b[508..512].copy_from_slice(b"tar\0");
        }
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|c| u64::from(*c)).sum();
        let sum = if self.bad_cksum { sum + 1 } else { sum };
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        b
    }
}

fn put(f: &mut [u8], v: &[u8]) {
    let n = v.len().min(f.len());
    f[..n].copy_from_slice(&v[..n]);
}

fn put_num(f: &mut [u8], n: &Num) {
    let w = f.len();
    match n {
        Num::Octal(v) => {
            let s = format!("{:0width$o}\0", v, width = w - 1);
            if s.len() == w {
                f.copy_from_slice(s.as_bytes());
            } else {
                put_num(f, &Num::B256(*v));
            }
        }
        Num::B256(v) => {
            f.fill(0);
            let bytes = v.to_be_bytes();
            let n = bytes.len().min(w);
            f[w - n..].copy_from_slice(&bytes[8 - n..]);
            f[0] |= 0x80;
        }
        Num::Neg => f.fill(0xff),
        Num::Blank => f.fill(0),
        Num::Raw(r) => put(f, r),
    }
}

fn pad(v: &mut Vec<u8>) {
    let n = v.len().div_ceil(512) * 512;
    v.resize(n, 0);
}

/// A header followed by `data`, padded.
pub fn entry(h: &H, data: &[u8]) -> Vec<u8> {
    let mut v = h.block().to_vec();
    v.extend_from_slice(data);
    pad(&mut v);
    v
}

/// An extension header (`x`, `g`, `L`, `K`) carrying `data`.
pub fn ext(typeflag: u8, data: &[u8]) -> Vec<u8> {
    let name = if matches!(typeflag, b'L' | b'K') {
        "././@LongLink"
    } else {
        "PaxHeaders.0/x"
    };
    let mut h = H::new(typeflag, name, data.len() as u64);
    if matches!(typeflag, b'L' | b'K') {
        h.magic = Magic::Gnu;
    }
    entry(&h, data)
}

/// One PAX record with a correct length.
pub fn pax_record(k: &[u8], v: &[u8]) -> Vec<u8> {
    let body = k.len() + v.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while format!("{len}").len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} ").into_bytes();
    r.extend_from_slice(k);
    r.push(b'=');
    r.extend_from_slice(v);
    r.push(b'\n');
    r
}

pub fn pax_data(recs: &[(&[u8], &[u8])]) -> Vec<u8> {
    recs.iter().flat_map(|(k, v)| pax_record(k, v)).collect()
}

/// `n` zero blocks.
pub fn end(n: usize) -> Vec<u8> {
    vec![0u8; 512 * n]
}

/// The archive generator.
pub struct Gen<'a> {
    r: &'a mut Rng,
    /// Half of the archives get the hostile classes; the other half only
    /// legitimate (if unusual) encodings, so that many are accepted.
    hostile: bool,
    files: Vec<String>,
    dot: bool,
}

const DIRS: &[&str] = &["d", "d/e", "usr", "usr/bin"];

impl<'a> Gen<'a> {
    pub fn new(r: &'a mut Rng) -> Self {
        let dot = r.chance(30);
        let hostile = r.chance(50);
        Gen {
            r,
            hostile,
            files: Vec::new(),
            dot,
        }
    }

    /// A hostile choice: only in hostile archives.
    fn bad(&mut self, pct: u64) -> bool {
        self.hostile && self.r.chance(pct)
    }

    fn num(&mut self, v: u64) -> Num {
        let neg = self.bad(2);
        if neg {
            return Num::Neg;
        }
        match self.r.below(100) {
            0..=4 => Num::B256(v),
            5..=6 if v == 0 => Num::Blank,
            7 => Num::Raw(format!(" {v:o} ").into_bytes()),
            _ => Num::Octal(v),
        }
    }

    fn name(&mut self, i: usize) -> String {
        let dir = *self.r.pick(DIRS);
        let base = match self.r.below(20) {
            0 => "x".repeat(120),
            1 => format!(".wh.f{}", self.r.below(3)),
            _ => format!("f{}", self.r.below(4 + i as u64)),
        };
        let mut n = if self.r.chance(25) {
            base
        } else {
            format!("{dir}/{base}")
        };
        let pick = if self.hostile {
            self.r.below(30)
        } else {
            5 + self.r.below(55)
        };
        match pick {
            0 => n = format!("{n}/"),
            1 => n = n.replacen('/', "//", 1),
            2 => n = n.replacen('/', "/./", 1),
            3 => n = format!("../{n}"),
            4 => n = format!("/{n}"),
            5 => n = format!("{}/{n}", "p".repeat(90)),
            _ => {}
        }
        if self.dot { format!("./{n}") } else { n }
    }

    /// Places a (possibly long) name: plainly, through the ustar prefix, a
    /// PAX path or a GNU long name.
    fn place_name(
        &mut self,
        h: &mut H,
        name: &str,
        pax: &mut Vec<(Vec<u8>, Vec<u8>)>,
        pre: &mut Vec<u8>,
    ) {
        let bytes = name.as_bytes();
        let way = self.r.below(10);
        if bytes.len() > 100 || way == 0 {
            match self.r.below(3) {
                0 if matches!(h.magic, Magic::Ustar) => {
                    if let Some(cut) = name[..name.len().min(155)]
                        .rfind('/')
                        .filter(|c| name.len() - c - 1 <= 100)
                    {
                        h.prefix = bytes[..cut].to_vec();
                        h.name = bytes[cut + 1..].to_vec();
                        return;
                    }
                    pax.push((b"path".to_vec(), bytes.to_vec()));
                }
                1 => pax.push((b"path".to_vec(), bytes.to_vec())),
                _ => pre.extend(ext(b'L', &[bytes, b"\0"].concat())),
            }
            h.name = b"placeholder".to_vec();
            if self.bad(10) {
                pax.push((b"path".to_vec(), b"other".to_vec()));
            }
        } else {
            h.name = bytes.to_vec();
        }
    }

    fn one(&mut self, i: usize) -> Vec<u8> {
        let r = if self.hostile {
            self.r.below(100)
        } else {
            self.r.below(90)
        };
        let mut name = self.name(i);
        let mut content: Vec<u8> = Vec::new();
        let mut h = match r {
            0..=39 => {
                let len = match self.r.below(4) {
                    0 => 0,
                    1 => 512,
                    _ => self.r.below(1500),
                };
                content = (0..len).map(|_| self.r.next() as u8).collect();
                H::file("", len)
            }
            40..=54 => {
                name = format!("{}/", self.r.pick(DIRS));
                if self.dot {
                    name = format!("./{name}");
                }
                H::dir("")
            }
            55..=64 => {
                let t = if self.r.chance(50) {
                    "/bin/busybox"
                } else {
                    "../x"
                };
                H::link(b'2', "", t)
            }
            65..=74 if self.files.is_empty() && !self.hostile => H::link(b'2', "", "/bin/busybox"),
            65..=74 => {
                let t = if self.files.is_empty() || self.bad(5) {
                    "nothing".to_string()
                } else {
                    let f = self.r.pick(&self.files).clone();
                    match self.r.below(4) {
                        0 => format!("/{f}"),
                        1 => format!("./{f}"),
                        _ => f,
                    }
                };
                H::link(b'1', "", &t)
            }
            75..=79 => {
                let ty = *self.r.pick(b"346");
                let mut h = H::new(ty, "", 0);
                h.devmajor = Num::Octal(self.r.below(300));
                h.devminor = Num::Octal(self.r.below(300));
                h
            }
            80..=84 => {
                name = format!("{}/.wh..wh..opq", self.r.pick(DIRS));
                H::file("", 0)
            }
            85..=89 => {
                let len = self.r.below(10);
                content = vec![b'a'; len as usize];
                H::new(0, "", len)
            }
            _ => {
                let ty = *self.r.pick(b"7SVM9Z");
                H::new(ty, "", 0)
            }
        };
        h.magic = match self.r.below(100) {
            0..=44 => Magic::Ustar,
            45..=91 => Magic::Gnu,
            92..=97 => Magic::V7,
            _ if self.hostile => Magic::Odd,
            _ => Magic::Gnu,
        };
        let mode = *self
            .r
            .pick(&[0o644, 0o755, 0o4755, 0o2711, 0o1777, 0o100644, 0o600]);
        h.mode = self.num(mode);
        let big = self.bad(20);
        let uid = if big {
            4_294_967_296
        } else {
            *self
                .r
                .pick(&[0, 0, 1000, 65534, 10001, 3_000_000, 4_294_967_294])
        };
        h.uid = self.num(uid);
        let gid = *self.r.pick(&[0, 1000, 42]);
        h.gid = self.num(gid);
        let mtime = *self.r.pick(&[0, 1_700_000_000, 1]);
        h.mtime = self.num(mtime);
        h.uname = self.r.pick(&[&b""[..], b"root", b"app"]).to_vec();
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut pre = Vec::new();
        self.place_name(&mut h, &name, &mut pax, &mut pre);
        if h.typeflag == b'1' || h.typeflag == b'2' {
            let link = h.link.clone();
            if self.r.chance(8) {
                pax.push((b"linkpath".to_vec(), link.clone()));
            }
            if self.r.chance(4) && (self.hostile || !pax.iter().any(|(k, _)| k == b"linkpath")) {
                pre.extend(ext(b'K', &[&link[..], b"\0"].concat()));
            }
        }
        // PAX overrides and hostile records, each rare.
        let size = content.len() as u64;
        if self.r.chance(6) {
            pax.push((b"size".to_vec(), size.to_string().into_bytes()));
            if self.r.chance(50) {
                h.size = Num::Octal(0);
            } else if self.bad(30) {
                h.size = Num::Octal(size + 1);
            }
        }
        if self.r.chance(5) {
            let v = if self.hostile {
                self.r
                    .pick(&[&b"0"[..], b"1000", b"4294967296", b"+5", b"07"])
                    .to_vec()
            } else {
                self.r.pick(&[&b"0"[..], b"1000", b"4294967294"]).to_vec()
            };
            pax.push((b"uid".to_vec(), v));
        }
        if self.r.chance(5) {
            let v = if self.hostile {
                self.r
                    .pick(&[&b"1234.5"[..], b"1700000000", b"-1", b"12."])
                    .to_vec()
            } else {
                self.r
                    .pick(&[&b"1234.5"[..], b"1700000000", b"7.000000001"])
                    .to_vec()
            };
            pax.push((b"mtime".to_vec(), v));
        }
        if self.r.chance(6) {
            pax.push((b"SCHILY.xattr.user.note".to_vec(), b"v".to_vec()));
        }
        if self.r.chance(4) {
            pax.push((
                b"SCHILY.xattr.security.capability".to_vec(),
                vec![1, 0, 0, 2, 0x80, 0, 0, 0],
            ));
        }
        if self.r.chance(3) {
            pax.push((b"atime".to_vec(), b"1.25".to_vec()));
        }
        if self.bad(8) {
            let k = self
                .r
                .pick(&[
                    &b"GNU.sparse.major"[..],
                    b"hdrcharset",
                    b"LIBARCHIVE.xattr.user.x",
                    b"SCHILY.acl.access",
                    b"comment",
                    b"path",
                ])
                .to_vec();
            let v = self.r.pick(&[&b""[..], b"1", b"BINARY"]).to_vec();
            pax.push((k, v));
        }
        if self.bad(8) && !pax.is_empty() {
            let dup = pax[0].clone();
            pax.push(dup);
        }
        let mut out = Vec::new();
        if !pax.is_empty() {
            let data: Vec<u8> = pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            out.extend(ext(b'x', &data));
            if self.bad(5) {
                out.extend(ext(b'x', &pax_record(b"gid", b"7")));
            }
        }
        out.extend(pre);
        if h.typeflag == b'2'
            || h.typeflag == b'1'
            || h.typeflag == b'5'
            || matches!(h.typeflag, b'3' | b'4' | b'6')
        {
            // Header-only types sometimes claim content: the hidden-entry trick.
            if self.bad(8) {
                content = entry(&H::file("usr/bin/hidden", 1), b"x");
                h.size = Num::Octal(content.len() as u64);
            }
        } else if !pax.iter().any(|(k, _)| k == b"size") {
            h.size = self.num(content.len() as u64);
        }
        if self.bad(3) {
            h.bad_cksum = true;
        }
        if self.bad(3) {
            h.name.extend_from_slice(b"\0junk");
        }
        if h.typeflag == b'0' || h.typeflag == 0 {
            self.files.push(name.trim_start_matches("./").to_string());
        }
        out.extend(entry(&h, &content));
        out
    }

    pub fn archive(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.r.chance(5) {
            let k = if !self.bad(50) {
                &b"comment"[..]
            } else {
                b"uid"
            };
            out.extend(ext(b'g', &pax_record(k, b"1")));
        }
        if self.r.chance(30) {
            out.extend(entry(&H::dir(if self.dot { "./" } else { "." }), &[]));
        }
        for i in 0..=self.r.below(7) as usize {
            let e = self.one(i);
            out.extend(e);
        }
        let last = if self.hostile {
            self.r.below(100)
        } else {
            self.r.below(95)
        };
        match last {
            0..=84 => out.extend(end(2)),
            85..=89 => out.extend(end(1)),
            90..=94 => {}
            _ => {
                out.extend(end(1));
                out.extend(entry(&H::file("after", 0), &[]));
                out.extend(end(2));
            }
        }
        if self.r.chance(5) {
            out.extend_from_slice(b"trailing garbage");
        }
        out
    }
}
