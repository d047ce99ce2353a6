//! ELF facts: what a binary is built for and how it is linked, read from its
//! header and program headers. One reader, so `ironhull init` (which template
//! fits an artifact) and the multi-platform architecture check (is an
//! artifact built for the platform it ships in) cannot disagree about a file.
//!
//! The bytes are untrusted (an artifact, or anything in a base image): every
//! offset and size is bounds-checked, nothing here panics or allocates more
//! than the interpreter path, and a header that does not add up is simply not
//! a fact (`None`), never a guess.

/// The ELF magic, `\x7fELF`.
pub const MAGIC: &[u8; 4] = b"\x7fELF";

/// How many leading bytes [`parse`] needs for the machine (`e_ident` plus
/// `e_type` and `e_machine`); the linkage needs the program headers too.
pub const MACHINE_BYTES: usize = 20;

/// `EI_CLASS`: 32- or 64-bit layout of the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Elf32,
    Elf64,
}

/// `EI_DATA`: the byte order of every multi-byte field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// How an ELF file is linked, from its program headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linkage {
    /// No PT_INTERP: nothing to load before the program (static or static-pie).
    Static,
    /// The PT_INTERP path, e.g. `/lib/ld-musl-x86_64.so.1`.
    Dynamic(String),
}

impl Linkage {
    /// The interpreter is musl's dynamic loader (`ld-musl-<arch>.so.1`).
    pub fn is_musl(&self) -> bool {
        match self {
            Linkage::Static => false,
            Linkage::Dynamic(interp) => interp
                .rsplit('/')
                .next()
                .is_some_and(|base| base.starts_with("ld-musl-")),
        }
    }
}

/// What one parse of an ELF file's start tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elf {
    /// `None` for an `EI_CLASS` byte that is neither 32- nor 64-bit: the
    /// machine is still known (it sits at the same offset in both layouts),
    /// the program headers are not.
    pub class: Option<Class>,
    pub endian: Endian,
    /// `e_machine`.
    pub machine: u16,
    /// `None` when the program headers or the interpreter path lie outside
    /// the bytes given, or do not add up.
    pub linkage: Option<Linkage>,
}

impl Elf {
    /// The OCI architecture (`amd64`, `arm64`, …) and a human name for the
    /// machine, when ironhull knows it.
    pub fn arch(&self) -> Option<(&'static str, &'static str)> {
        machine_arch(self.machine)
    }
}

/// The ELF machines ironhull knows, by `e_machine` value, with the OCI
/// architecture each belongs to and a name for messages.
const MACHINES: &[(u16, &str, &str)] = &[
    (3, "386", "x86 (i386)"),
    (8, "mips", "MIPS"),
    (20, "ppc", "PowerPC"),
    (21, "ppc64le", "PowerPC 64"),
    (22, "s390x", "s390x"),
    (40, "arm", "32-bit ARM"),
    (62, "amd64", "x86_64"),
    (183, "arm64", "aarch64"),
    (243, "riscv64", "RISC-V"),
    (258, "loong64", "LoongArch"),
];

/// The OCI architecture and a human name for an `e_machine` value.
pub fn machine_arch(machine: u16) -> Option<(&'static str, &'static str)> {
    MACHINES
        .iter()
        .find(|(m, _, _)| *m == machine)
        .map(|(_, arch, name)| (*arch, *name))
}

/// `PT_INTERP`, the program header naming the dynamic loader.
const PT_INTERP: u64 = 3;
/// The longest interpreter path read; real ones are a few dozen bytes.
const INTERP_MAX: usize = 4096;

/// Parses the start of a file (`bytes`). `None` when it is not ELF: no magic,
/// fewer than [`MACHINE_BYTES`] bytes, or an unknown byte order.
pub fn parse(bytes: &[u8]) -> Option<Elf> {
    let ident = bytes.get(..MACHINE_BYTES)?;
    if &ident[..4] != MAGIC {
        return None;
    }
    let endian = match ident[5] {
        1 => Endian::Little,
        2 => Endian::Big,
        _ => return None,
    };
    let class = match ident[4] {
        1 => Some(Class::Elf32),
        2 => Some(Class::Elf64),
        _ => None,
    };
    let r = Reader { bytes, endian };
    let machine = u16::try_from(r.uint(18, 2)?).ok()?;
    let linkage = class.and_then(|c| r.linkage(c));
    Some(Elf {
        class,
        endian,
        machine,
        linkage,
    })
}

/// Bounds-checked field reads in the file's byte order.
struct Reader<'a> {
    bytes: &'a [u8],
    endian: Endian,
}

impl Reader<'_> {
    /// The `n`-byte (at most 8) unsigned field at `off`.
    fn uint(&self, off: usize, n: usize) -> Option<u64> {
        let s = self.bytes.get(off..off.checked_add(n)?)?;
        let mut v: u64 = 0;
        for i in 0..n {
            let b = match self.endian {
                Endian::Little => s.get(n - 1 - i)?,
                Endian::Big => s.get(i)?,
            };
            v = (v << 8) | u64::from(*b);
        }
        Some(v)
    }

    /// Walks the program headers for PT_INTERP.
    fn linkage(&self, class: Class) -> Option<Linkage> {
        // The 32-bit header's size: shorter is no ELF header at all.
        if self.bytes.len() < 52 {
            return None;
        }
        let phdr_len = match class {
            Class::Elf32 => 32,
            Class::Elf64 => 56,
        };
        let (phoff, phentsize, phnum) = match class {
            Class::Elf64 => (self.uint(32, 8)?, self.uint(54, 2)?, self.uint(56, 2)?),
            Class::Elf32 => (self.uint(28, 4)?, self.uint(42, 2)?, self.uint(44, 2)?),
        };
        if phnum == 0 {
            return Some(Linkage::Static);
        }
        if phentsize < phdr_len {
            return None;
        }
        for i in 0..phnum {
            let at = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
            if self.uint(at, 4)? != PT_INTERP {
                continue;
            }
            let (off, size) = match class {
                Class::Elf64 => (self.uint(at + 8, 8)?, self.uint(at + 32, 8)?),
                Class::Elf32 => (self.uint(at + 4, 4)?, self.uint(at + 16, 4)?),
            };
            let start = usize::try_from(off).ok()?;
            let len = usize::try_from(size).ok()?.min(INTERP_MAX);
            let raw = self.bytes.get(start..start.checked_add(len)?)?;
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let path = raw.get(..end)?;
            return Some(Linkage::Dynamic(String::from_utf8_lossy(path).into_owned()));
        }
        Some(Linkage::Static)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 executable header for `machine` in byte order `le`,
    /// with program headers (p_type, offset, filesz) and trailing bytes.
    fn elf64(le: bool, machine: u16, phdrs: &[(u32, u64, u64)], tail: &[u8]) -> Vec<u8> {
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u64b = |v: u64| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&[2, if le { 1 } else { 2 }, 1, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&u16b(2)); // e_type
        b.extend_from_slice(&u16b(machine));
        b.extend_from_slice(&u32b(1));
        b.extend_from_slice(&u64b(0x400000)); // entry
        b.extend_from_slice(&u64b(64)); // phoff
        b.extend_from_slice(&u64b(0)); // shoff
        b.extend_from_slice(&u32b(0)); // flags
        b.extend_from_slice(&u16b(64)); // ehsize
        b.extend_from_slice(&u16b(56)); // phentsize
        b.extend_from_slice(&u16b(phdrs.len() as u16));
        b.extend_from_slice(&[0; 6]);
        for (t, off, sz) in phdrs {
            b.extend_from_slice(&u32b(*t));
            b.extend_from_slice(&u32b(4));
            b.extend_from_slice(&u64b(*off));
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&u64b(*sz));
            b.extend_from_slice(&u64b(*sz));
            b.extend_from_slice(&u64b(1));
        }
        b.extend_from_slice(tail);
        b
    }

    /// A minimal ELF32 little-endian header with one PT_INTERP.
    fn elf32_interp(machine: u16, interp: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&[1, 1, 1, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0x8048000u32.to_le_bytes()); // entry
        b.extend_from_slice(&52u32.to_le_bytes()); // phoff
        b.extend_from_slice(&0u32.to_le_bytes()); // shoff
        b.extend_from_slice(&0u32.to_le_bytes()); // flags
        b.extend_from_slice(&52u16.to_le_bytes()); // ehsize
        b.extend_from_slice(&32u16.to_le_bytes()); // phentsize
        b.extend_from_slice(&1u16.to_le_bytes()); // phnum
        b.extend_from_slice(&[0; 6]);
        assert_eq!(b.len(), 52);
        let off = 52 + 32;
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&(off as u32).to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(interp.len() as u32 + 1).to_le_bytes());
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(interp.as_bytes());
        b.push(0);
        b
    }

    fn with_interp(le: bool, machine: u16, interp: &str) -> Vec<u8> {
        let off = 64 + 2 * 56;
        let mut s = interp.as_bytes().to_vec();
        s.push(0);
        elf64(le, machine, &[(6, 64, 112), (3, off, s.len() as u64)], &s)
    }

    #[test]
    fn static_and_dynamic_64_bit() {
        let e = parse(&elf64(true, 62, &[(1, 0, 0)], &[])).unwrap();
        assert_eq!(e.class, Some(Class::Elf64));
        assert_eq!(e.endian, Endian::Little);
        assert_eq!(e.arch(), Some(("amd64", "x86_64")));
        assert_eq!(e.linkage, Some(Linkage::Static));
        let e = parse(&with_interp(true, 183, "/lib/ld-musl-aarch64.so.1")).unwrap();
        assert_eq!(e.arch(), Some(("arm64", "aarch64")));
        let l = e.linkage.unwrap();
        assert_eq!(l, Linkage::Dynamic("/lib/ld-musl-aarch64.so.1".into()));
        assert!(l.is_musl());
        let glibc = parse(&with_interp(true, 62, "/lib64/ld-linux-x86-64.so.2")).unwrap();
        assert!(!glibc.linkage.unwrap().is_musl());
        assert!(!Linkage::Static.is_musl());
    }

    #[test]
    fn big_endian_and_32_bit() {
        let e = parse(&with_interp(false, 22, "/lib/ld64.so.1")).unwrap();
        assert_eq!(e.endian, Endian::Big);
        assert_eq!(e.machine, 22);
        assert_eq!(e.arch(), Some(("s390x", "s390x")));
        assert_eq!(e.linkage, Some(Linkage::Dynamic("/lib/ld64.so.1".into())));
        let e = parse(&elf32_interp(40, "/lib/ld-linux-armhf.so.3")).unwrap();
        assert_eq!(e.class, Some(Class::Elf32));
        assert_eq!(e.arch(), Some(("arm", "32-bit ARM")));
        assert_eq!(
            e.linkage,
            Some(Linkage::Dynamic("/lib/ld-linux-armhf.so.3".into()))
        );
    }

    #[test]
    fn machine_from_the_identification_bytes_alone() {
        let full = elf64(true, 243, &[(1, 0, 0)], &[]);
        let e = parse(&full[..MACHINE_BYTES]).unwrap();
        assert_eq!(e.arch(), Some(("riscv64", "RISC-V")));
        assert_eq!(e.linkage, None, "no program headers in 20 bytes");
        assert_eq!(parse(&full[..MACHINE_BYTES - 1]), None);
        // An unknown class still names the machine, not the linkage.
        let mut odd = full.clone();
        odd[4] = 7;
        let e = parse(&odd).unwrap();
        assert_eq!((e.class, e.machine, e.linkage), (None, 243, None));
        // Unknown machines are facts without an OCI architecture.
        assert_eq!(parse(&elf64(true, 0x9999, &[], &[])).unwrap().arch(), None);
    }

    #[test]
    fn not_elf() {
        assert_eq!(
            parse(b"not an elf file at all, no no no no no no no no"),
            None
        );
        let mut bad_order = elf64(true, 62, &[], &[]);
        bad_order[5] = 0;
        assert_eq!(parse(&bad_order), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        // Interpreter offset far out of range.
        let b = elf64(true, 62, &[(3, u64::MAX - 3, 100)], &[]);
        assert_eq!(parse(&b).unwrap().linkage, None);
        // Interpreter size that overflows offset + size.
        let b = elf64(true, 62, &[(3, 64, u64::MAX)], &[]);
        assert_eq!(parse(&b).unwrap().linkage, None);
        // Program header table beyond the buffer, and overflowing it.
        let mut b = elf64(true, 62, &[(1, 0, 0)], &[]);
        b[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(parse(&b).unwrap().linkage, None);
        b[32..40].copy_from_slice(&(u64::MAX - 100).to_le_bytes());
        assert_eq!(parse(&b).unwrap().linkage, None);
        // Tiny phentsize.
        let mut b = elf64(true, 62, &[(3, 0, 4)], &[]);
        b[54..56].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(parse(&b).unwrap().linkage, None);
        // A huge phnum over a short buffer stops at the buffer's end.
        let mut b = elf64(true, 62, &[(1, 0, 0)], &[]);
        b[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse(&b).unwrap().linkage, None);
        // An interpreter longer than the cap is cut, not read whole.
        let long = "x".repeat(INTERP_MAX + 10);
        let b = with_interp(true, 62, &long);
        match parse(&b).unwrap().linkage {
            Some(Linkage::Dynamic(p)) => assert_eq!(p.len(), INTERP_MAX),
            other => panic!("{other:?}"),
        }
        // Every truncation of valid files, both classes and byte orders.
        for full in [
            with_interp(true, 62, "/lib64/ld-linux-x86-64.so.2"),
            with_interp(false, 21, "/lib64/ld64.so.2"),
            elf32_interp(3, "/lib/ld-linux.so.2"),
        ] {
            for n in 0..full.len() {
                let _ = parse(&full[..n]);
            }
            assert!(parse(&full).unwrap().linkage.is_some());
        }
    }
}
