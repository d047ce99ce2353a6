//! Unit tests of the merged view: whiteouts, opaque directories, implicit
//! parents, symlink resolution, captures and hard-link detaching.

use super::*;
use crate::fs::load::load_tree;
use crate::fs::read::ReadOptions;
use crate::fs::read::tests::T;

fn p(s: &str) -> ImagePath {
    ImagePath::parse(s).unwrap()
}

fn ent(path: &str, kind: EntryKind) -> LayerEvent {
    let mode = if kind == EntryKind::Dir { 0o755 } else { 0o644 };
    LayerEvent::Entry(Entry::new(p(path), kind, mode))
}

fn file(path: &str) -> LayerEvent {
    ent(path, EntryKind::File)
}

fn dir(path: &str) -> LayerEvent {
    ent(path, EntryKind::Dir)
}

fn link(path: &str, target: &str) -> LayerEvent {
    ent(
        path,
        EntryKind::Symlink {
            target: target.into(),
        },
    )
}

fn apply(t: &mut MergedTree, layer: usize, evs: &[LayerEvent]) {
    for ev in evs {
        t.apply(layer, ev, &mut io::empty()).unwrap();
    }
}

fn paths(t: &MergedTree) -> Vec<&str> {
    t.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn whiteout_hides_lower_layers_only() {
    let mut t = MergedTree::new();
    apply(
        &mut t,
        0,
        &[
            dir("etc"),
            file("etc/shadow"),
            dir("etc/ssl"),
            file("etc/ssl/cert"),
        ],
    );
    apply(
        &mut t,
        1,
        &[
            LayerEvent::Whiteout(p("etc/ssl")),
            LayerEvent::Whiteout(p("etc/shadow")),
        ],
    );
    assert_eq!(paths(&t), ["etc"]);
    // A whiteout does not remove an entry of its own layer.
    apply(
        &mut t,
        2,
        &[file("etc/motd"), LayerEvent::Whiteout(p("etc/motd"))],
    );
    assert!(t.get(&p("etc/motd")).is_some());
    // Re-adding in a later layer works.
    apply(&mut t, 3, &[file("etc/shadow")]);
    assert_eq!(t.get(&p("etc/shadow")).map(|n| n.layer), Some(3));
}

#[test]
fn opaque_hides_lower_children_but_keeps_same_layer_entries() {
    let mut t = MergedTree::new();
    apply(
        &mut t,
        0,
        &[
            dir("var"),
            dir("var/cache"),
            file("var/cache/a"),
            dir("var/cache/d"),
            file("var/cache/d/x"),
            file("var/keep"),
        ],
    );
    apply(
        &mut t,
        1,
        &[
            file("var/cache/before"),
            file("var/cache/d/new"),
            LayerEvent::Opaque(p("var/cache")),
            file("var/cache/after"),
        ],
    );
    assert_eq!(
        paths(&t),
        [
            "var",
            "var/cache",
            "var/cache/after",
            "var/cache/before",
            "var/cache/d",
            "var/cache/d/new",
            "var/keep"
        ]
    );
    // The lower `d` was hidden; the new one is implicit, from layer 1.
    let d = t.get(&p("var/cache/d")).unwrap();
    assert!(d.implicit);
    assert_eq!(d.layer, 1);
    // The opaque directory itself stays.
    assert!(t.get(&p("var/cache")).unwrap().entry.is_dir());
}

#[test]
fn opaque_on_a_missing_dir_creates_it() {
    let mut t = MergedTree::new();
    apply(&mut t, 0, &[file("x")]);
    apply(&mut t, 1, &[LayerEvent::Opaque(p("x"))]);
    let n = t.get(&p("x")).unwrap();
    assert!(n.entry.is_dir() && n.implicit);
}

#[test]
fn non_dir_replacing_dir_removes_subtree_and_dir_over_dir_merges() {
    let mut t = MergedTree::new();
    apply(
        &mut t,
        0,
        &[
            dir("a"),
            file("a/b"),
            dir("a/c"),
            file("a/c/d"),
            file("a-b"),
        ],
    );
    apply(&mut t, 1, &[dir("a"), file("a/e")]);
    assert_eq!(paths(&t), ["a", "a-b", "a/b", "a/c", "a/c/d", "a/e"]);
    apply(&mut t, 2, &[link("a", "elsewhere")]);
    assert_eq!(paths(&t), ["a", "a-b"]);
    // A lower file that an upper layer uses as a directory becomes one.
    apply(&mut t, 3, &[file("a/new")]);
    assert!(t.get(&p("a")).unwrap().entry.is_dir());
    assert!(t.get(&p("a")).unwrap().implicit);
}

#[test]
fn implicit_parents_and_children() {
    let mut t = MergedTree::new();
    apply(
        &mut t,
        0,
        &[
            file("usr/lib/libc.so"),
            file("usr/bin/env"),
            file("usr/bin/x/y"),
        ],
    );
    let u = t.get(&p("usr")).unwrap();
    assert!(u.implicit && u.entry.is_dir() && u.entry.mode == 0o755 && u.entry.uid == 0);
    let kids: Vec<_> = t.children(&p("usr")).map(|(k, _)| k.as_str()).collect();
    assert_eq!(kids, ["usr/bin", "usr/lib"]);
    apply(&mut t, 0, &[file("usr-x"), file("usr/bin-y"), file("usr0")]);
    let kids: Vec<_> = t.children(&p("usr")).map(|(k, _)| k.as_str()).collect();
    assert_eq!(kids, ["usr/bin", "usr/bin-y", "usr/lib"]);
    assert_eq!(t.children(&p("usr/bin/env")).count(), 0);
    assert_eq!(t.children(&p("nope")).count(), 0);
    for x in ["usr-x", "usr/bin-y", "usr0"] {
        t.remove(&p(x));
    }
    let top: Vec<_> = t
        .children(&ImagePath::root())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(top, ["usr"]);
    assert_eq!(t.len(), 7);
    assert!(!t.is_empty());
    // The root exists even when no layer carried it.
    assert!(t.get(&ImagePath::root()).unwrap().entry.is_dir());
    t.remove(&p("usr/bin"));
    assert_eq!(paths(&t), ["usr", "usr/lib", "usr/lib/libc.so"]);
    t.remove(&ImagePath::root());
    assert!(t.is_empty());
}

#[test]
fn resolves_symlinks_like_a_chroot() {
    let mut t = MergedTree::new();
    apply(
        &mut t,
        0,
        &[
            dir("bin"),
            file("bin/busybox"),
            link("bin/sh", "/bin/busybox"),
            link("bin/ash", "busybox"),
            dir("usr"),
            dir("usr/lib"),
            file("usr/lib/libz.so"),
            link("lib", "usr/lib"),
            link("esc", "../../../../usr/lib/libz.so"),
            link("loop1", "loop2"),
            link("loop2", "/loop1"),
            link("self", "self"),
            link("dangling", "nowhere"),
            link("via_file", "bin/busybox/x"),
            link("up", "usr/lib/../../bin/./sh"),
        ],
    );
    let r = |s: &str| t.resolve(&p(s)).map(|(k, _)| k.as_str().to_string());
    assert_eq!(r("bin/sh").as_deref(), Some("bin/busybox"));
    assert_eq!(r("bin/ash").as_deref(), Some("bin/busybox"));
    assert_eq!(r("lib/libz.so").as_deref(), Some("usr/lib/libz.so"));
    assert_eq!(r("esc").as_deref(), Some("usr/lib/libz.so"));
    assert_eq!(r("up").as_deref(), Some("bin/busybox"));
    assert_eq!(r("lib").as_deref(), Some("usr/lib"));
    assert_eq!(r("").as_deref(), Some(""));
    assert_eq!(r("loop1"), None);
    assert_eq!(r("self"), None);
    assert_eq!(r("dangling"), None);
    assert_eq!(r("via_file"), None);
    assert_eq!(r("bin/busybox/x"), None);
    let (_, n) = t.resolve(&p("bin/sh")).unwrap();
    assert!(n.entry.is_file());
}

#[test]
fn resolve_gives_up_after_forty_hops() {
    let mut t = MergedTree::new();
    let mut evs = vec![file("l40")];
    for i in 0..40 {
        evs.push(link(&format!("l{i}"), &format!("l{}", i + 1)));
    }
    apply(&mut t, 0, &evs);
    assert_eq!(t.resolve(&p("l0")).map(|(k, _)| k), Some(p("l40")));
    apply(&mut t, 0, &[link("m", "l0")]);
    assert_eq!(t.resolve(&p("m")), None);
}

#[test]
fn captures_the_topmost_passwd() {
    let mut t = MergedTree::with_capture(CaptureSet::standard());
    let lower = b"root:x:0:0:root:/root:/bin/sh\n".to_vec();
    let upper = b"root:x:0:0:root:/root:/sbin/nologin\n".to_vec();
    let mut e = Entry::new(p("etc/passwd"), EntryKind::File, 0o644);
    e.size = lower.len() as u64;
    t.apply(0, &LayerEvent::Entry(e.clone()), &mut &lower[..])
        .unwrap();
    assert_eq!(t.content(&p("etc/passwd")), Some(&lower[..]));
    e.size = upper.len() as u64;
    t.apply(1, &LayerEvent::Entry(e), &mut &upper[..]).unwrap();
    assert_eq!(t.content(&p("etc/passwd")), Some(&upper[..]));
    // Files outside the set are not captured.
    let mut other = Entry::new(p("etc/motd"), EntryKind::File, 0o644);
    other.size = 2;
    t.apply(1, &LayerEvent::Entry(other), &mut &b"hi"[..])
        .unwrap();
    assert_eq!(t.content(&p("etc/motd")), None);
    // status.d files are captured by directory.
    let mut s = Entry::new(p("var/lib/dpkg/status.d/base"), EntryKind::File, 0o644);
    s.size = 3;
    t.apply(1, &LayerEvent::Entry(s), &mut &b"P:x"[..]).unwrap();
    assert_eq!(
        t.content(&p("var/lib/dpkg/status.d/base")),
        Some(&b"P:x"[..])
    );
    // A hard link shows its target's content.
    t.insert(
        2,
        Entry::new(
            p("etc/passwd-"),
            EntryKind::Hardlink {
                target: p("etc/passwd"),
            },
            0o644,
        ),
    );
    assert_eq!(t.content(&p("etc/passwd-")), Some(&upper[..]));
    // A whiteout drops the content with the file.
    apply(&mut t, 3, &[LayerEvent::Whiteout(p("etc/passwd"))]);
    assert_eq!(t.content(&p("etc/passwd")), None);
    assert!(t.get(&p("etc/passwd")).is_none());
    // set_content only for paths in the tree.
    t.set_content(&p("etc/passwd"), b"x".to_vec());
    assert_eq!(t.content(&p("etc/passwd")), None);
    t.set_content(&p("etc/motd"), b"x".to_vec());
    assert_eq!(t.content(&p("etc/motd")), Some(&b"x"[..]));
    // Replacing the entry drops stale content.
    apply(&mut t, 4, &[file("etc/motd")]);
    assert_eq!(t.content(&p("etc/motd")), None);
}

/// What a runtime keeps when a later layer replaces or deletes a hard
/// link's target: the link still names the old inode.
#[test]
fn later_layers_detach_hard_links_from_their_targets() {
    let base = || {
        T::new()
            .dir("opt/")
            .file_mode("opt/helper", 0o4755, b"old")
            .hardlink_owned("tool", "opt/helper", 0o4755, 0)
            .hardlink_owned("tool2", "tool", 0o4755, 0)
            .finish()
    };
    let cap = CaptureSet::none()
        .with_path("opt/helper")
        .with_path("tool")
        .with_path("tool2");
    let load = |upper: Vec<u8>| {
        let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![
            (0, Box::new(io::Cursor::new(base()))),
            (1, Box::new(io::Cursor::new(upper))),
        ];
        load_tree(layers, &ReadOptions::default(), cap.clone())
            .unwrap()
            .0
    };
    let uppers = [
        (
            "replaced",
            T::new().file_mode("opt/helper", 0o755, b"new").finish(),
        ),
        ("whited out", T::new().file("opt/.wh.helper", b"").finish()),
        (
            "opaque dir",
            T::new().dir("opt/").file("opt/.wh..wh..opq", b"").finish(),
        ),
        ("parent replaced", T::new().file("opt", b"").finish()),
    ];
    for (how, upper) in uppers {
        let t = load(upper);
        let n = t.get(&p("tool")).unwrap();
        assert_eq!(
            n.entry.kind,
            EntryKind::File,
            "{how}: tool must be a file now"
        );
        assert_eq!(n.entry.mode, 0o4755, "{how}: tool keeps the setuid inode");
        assert_eq!(n.layer, 0, "{how}: tool ships in layer 0");
        // `tool2` still names the same inode, now through `tool`.
        for l in ["tool", "tool2"] {
            assert_eq!(t.content(&p(l)), Some(&b"old"[..]), "{how}: {l}");
        }
    }
    // Without a later change the links stay links, sharing the content.
    let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![(0, Box::new(io::Cursor::new(base())))];
    let t = load_tree(layers, &ReadOptions::default(), cap.clone())
        .unwrap()
        .0;
    assert!(matches!(
        t.get(&p("tool2")).unwrap().entry.kind,
        EntryKind::Hardlink { .. }
    ));
    assert_eq!(t.content(&p("tool2")), Some(&b"old"[..]));
    // Replacing the middle link detaches the one behind it into a link
    // to the file itself, which in turn detaches when that one goes.
    let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![
        (0, Box::new(io::Cursor::new(base()))),
        (
            1,
            Box::new(io::Cursor::new(T::new().file("tool", b"x").finish())),
        ),
        (
            2,
            Box::new(io::Cursor::new(
                T::new().file("opt/.wh.helper", b"").finish(),
            )),
        ),
    ];
    let t = load_tree(layers, &ReadOptions::default(), cap).unwrap().0;
    assert_eq!(t.content(&p("tool")), Some(&b"x"[..]));
    assert_eq!(t.get(&p("tool2")).unwrap().entry.kind, EntryKind::File);
    assert_eq!(t.content(&p("tool2")), Some(&b"old"[..]));
}

#[test]
fn oversized_captures_are_recorded_not_kept() {
    let cap = CaptureSet::none().with_path("etc/group").with_limit(4);
    let mut t = MergedTree::with_capture(cap);
    let mut e = Entry::new(p("etc/group"), EntryKind::File, 0o644);
    e.size = 10;
    t.apply(0, &LayerEvent::Entry(e.clone()), &mut &b"0123456789"[..])
        .unwrap();
    assert_eq!(t.content(&p("etc/group")), None);
    assert_eq!(t.capture_too_big(&p("etc/group")), Some(10));
    // A lying size field does not get past the limit either.
    e.size = 2;
    t.apply(1, &LayerEvent::Entry(e), &mut &b"0123456789"[..])
        .unwrap();
    assert_eq!(t.content(&p("etc/group")), None);
    assert_eq!(t.capture_too_big(&p("etc/group")), Some(5));
    assert!(!CaptureSet::none().with_path("../x").matches(&p("x")));
}
