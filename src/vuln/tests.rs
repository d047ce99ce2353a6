use super::*;
use crate::sbom::{OsInfo, Package};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv")
}

fn pkg(
    eco: Ecosystem,
    name: &str,
    version: &str,
    source: &str,
    source_version: Option<&str>,
) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        arch: None,
        source: source.into(),
        source_version: source_version.map(String::from),
        license: None,
        ecosystem: eco,
        files: vec![],
    }
}

fn alpine_inv() -> Inventory {
    let a = |n: &str, v: &str, o: &str| pkg(Ecosystem::Apk, n, v, o, None);
    Inventory {
        os: Some(OsInfo {
            id: "alpine".into(),
            version_id: Some("3.20.3".into()),
            pretty_name: None,
            release: Some("3.20.3".into()),
        }),
        packages: vec![
            a("busybox", "1.36.1-r29", "busybox"),
            a("libcrypto3", "3.3.2-r0", "openssl"),
            a("libssl3", "3.3.2-r0", "openssl"),
            a("musl", "1.2.5-r0", "musl"),
            a("zlib", "1.3.1-r1", "zlib"),
        ],
        ..Inventory::default()
    }
}

fn debian_inv() -> Inventory {
    let d = |n: &str, v: &str, s: &str, sv: Option<&str>| pkg(Ecosystem::Deb, n, v, s, sv);
    Inventory {
        os: Some(OsInfo {
            id: "debian".into(),
            version_id: Some("12".into()),
            pretty_name: None,
            release: Some("12.5".into()),
        }),
        packages: vec![
            d(
                "libc6",
                "2.36-9+deb12u3+b1",
                "glibc",
                Some("2.36-9+deb12u3"),
            ),
            d("libssl3", "3.0.11-1~deb12u2", "openssl", None),
            d(
                "passwd",
                "1:4.13+dfsg1-1+b1",
                "shadow",
                Some("1:4.13+dfsg1-1"),
            ),
            d("tzdata", "2024a-0+deb12u1", "tzdata", None),
        ],
        ..Inventory::default()
    }
}

fn summary(r: &ScanResult) -> Vec<(String, String, VulnSeverity, Option<String>)> {
    r.findings
        .iter()
        .map(|f| (f.id.clone(), f.package.clone(), f.severity, f.fixed.clone()))
        .collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn alpine_records_give_exactly_the_expected_findings() {
    let db = osv::Database::load(&data(), None).unwrap();
    assert!(db.warnings.is_empty(), "{:?}", db.warnings);
    let r = scan(&alpine_inv(), &db);
    assert_eq!(
        summary(&r),
        [
            (
                s("TEST-ALPINE-0008"),
                s("musl"),
                VulnSeverity::Critical,
                None
            ),
            (
                s("TEST-ALPINE-0003"),
                s("busybox"),
                VulnSeverity::High,
                None
            ),
            (
                s("TEST-ALPINE-0001"),
                s("libcrypto3"),
                VulnSeverity::Medium,
                Some(s("3.3.2-r1"))
            ),
            (
                s("TEST-ALPINE-0001"),
                s("libssl3"),
                VulnSeverity::Medium,
                Some(s("3.3.2-r1"))
            ),
        ]
    );
    assert_eq!(r.findings[2].aliases, ["CVE-2099-0001"]);
    assert_eq!(r.findings[2].source, "openssl");
    assert_eq!(r.findings[2].ecosystem, "Alpine:v3.20");
}

#[test]
fn debian_records_with_epochs_and_tildes() {
    let db = osv::Database::load(&data(), None).unwrap();
    let r = scan(&debian_inv(), &db);
    assert_eq!(
        summary(&r),
        [
            (
                s("TEST-DEBIAN-0001"),
                s("libc6"),
                VulnSeverity::High,
                Some(s("2.36-9+deb12u4"))
            ),
            (
                s("TEST-DEBIAN-0003"),
                s("libssl3"),
                VulnSeverity::High,
                Some(s("3.0.13-1~deb12u1"))
            ),
            (
                s("TEST-DEBIAN-0004"),
                s("passwd"),
                VulnSeverity::Unknown,
                Some(s("1:4.13+dfsg1-1+deb12u1"))
            ),
        ]
    );
}

#[test]
fn ecosystem_filter_and_zip_give_the_same_records() {
    let want: BTreeSet<String> = [s("Alpine:v3.20")].into();
    let db = osv::Database::load(&data(), Some(&want)).unwrap();
    assert!(db.records.iter().all(|r| r.id.starts_with("TEST-ALPINE")));
    assert_eq!(db.len(), 6, "v3.19 and the withdrawn record are dropped");

    // An all.zip as osv.dev publishes it: flat JSON files, deflated.
    let dir = tempfile::tempdir().unwrap();
    let zpath = dir.path().join("all.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zpath).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for sub in ["alpine", "debian"] {
        let mut names: Vec<_> = std::fs::read_dir(data().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            z.start_file(p.file_name().unwrap().to_str().unwrap(), opts)
                .unwrap();
            std::io::Write::write_all(&mut z, &std::fs::read(&p).unwrap()).unwrap();
        }
    }
    z.start_file("broken.json", opts).unwrap();
    std::io::Write::write_all(&mut z, b"{not json").unwrap();
    z.finish().unwrap();
    let zdb = osv::Database::load(&zpath, None).unwrap();
    assert_eq!(zdb.warnings.len(), 1, "{:?}", zdb.warnings);
    assert!(zdb.warnings[0].contains("broken.json"));
    let ddb = osv::Database::load(&data(), None).unwrap();
    assert_eq!(
        summary(&scan(&alpine_inv(), &zdb)),
        summary(&scan(&alpine_inv(), &ddb))
    );
    assert_eq!(
        summary(&scan(&debian_inv(), &zdb)),
        summary(&scan(&debian_inv(), &ddb))
    );

    let e = osv::Database::load(&dir.path().join("missing"), None).unwrap_err();
    assert!(e.to_string().contains("--db"), "{e}");
    std::fs::write(dir.path().join("notzip"), b"hello").unwrap();
    assert!(matches!(
        osv::Database::load(&dir.path().join("notzip"), None),
        Err(osv::OsvError::Zip { .. })
    ));
}

#[test]
fn range_evaluation() {
    use osv::Event::*;
    let ev = |v: &[osv::Event]| v.to_vec();
    let two = ev(&[
        Introduced(s("0")),
        Fixed(s("2.0-r0")),
        Introduced(s("3.0-r0")),
        Fixed(s("4.0-r0")),
    ]);
    let apk = Ecosystem::Apk;
    assert_eq!(in_range(apk, "1.0-r0", &two), (true, Some(s("2.0-r0"))));
    assert_eq!(in_range(apk, "2.0-r0", &two), (false, None));
    assert_eq!(in_range(apk, "2.5-r0", &two), (false, None));
    assert_eq!(in_range(apk, "3.0-r0", &two), (true, Some(s("4.0-r0"))));
    assert_eq!(in_range(apk, "4.1-r0", &two), (false, None));
    // Unsorted events are sorted first.
    let shuffled = ev(&[
        Fixed(s("4.0-r0")),
        Introduced(s("3.0-r0")),
        Fixed(s("2.0-r0")),
        Introduced(s("0")),
    ]);
    assert_eq!(
        in_range(apk, "3.5-r0", &shuffled),
        (true, Some(s("4.0-r0")))
    );
    assert_eq!(in_range(apk, "2.5-r0", &shuffled), (false, None));
    let la = ev(&[Introduced(s("1.0")), LastAffected(s("1.5"))]);
    assert_eq!(in_range(apk, "1.5", &la), (true, None));
    assert_eq!(in_range(apk, "1.5-r1", &la), (false, None));
    assert_eq!(in_range(apk, "0.9", &la), (false, None));
    let deb = ev(&[Introduced(s("1:1.0")), Fixed(s("1:1.2~rc1"))]);
    assert_eq!(
        in_range(Ecosystem::Deb, "1:1.1", &deb),
        (true, Some(s("1:1.2~rc1")))
    );
    assert_eq!(
        in_range(Ecosystem::Deb, "2.0", &deb),
        (false, None),
        "no epoch is older"
    );
    assert_eq!(in_range(Ecosystem::Deb, "1:1.2", &deb), (false, None));
    assert_eq!(in_range(apk, "1.0", &[]), (false, None));
}

#[test]
fn fail_on_and_ignore_unfixed_change_the_verdict() {
    let db = osv::Database::load(&data(), None).unwrap();
    let r = scan(&alpine_inv(), &db);
    let judge_with = |fail_on, ignore_unfixed| {
        judge(
            &r,
            &Policy {
                fail_on,
                ignore_unfixed,
                ignores: vec![],
                today: s("2025-01-01"),
            },
        )
    };
    assert!(!judge_with(None, false).failed, "no --fail-on never fails");
    let v = judge_with(Some(VulnSeverity::High), false);
    assert!(v.failed);
    assert_eq!(v.failing, 2);
    assert!(judge_with(Some(VulnSeverity::Critical), false).failed);
    // The critical and high findings have no fix: --ignore-unfixed drops them.
    let v = judge_with(Some(VulnSeverity::High), true);
    assert!(!v.failed);
    assert_eq!(v.findings.len(), 2);
    assert_eq!(v.suppressed.len(), 2);
    assert!(judge_with(Some(VulnSeverity::Medium), true).failed);
    assert!(!judge_with(Some(VulnSeverity::Critical), true).failed);

    // Unknown-severity findings only fail `--fail-on unknown`.
    let d = scan(&debian_inv(), &db);
    let only_unknown = ScanResult {
        findings: d
            .findings
            .into_iter()
            .filter(|f| f.severity == VulnSeverity::Unknown)
            .collect(),
        ..ScanResult::default()
    };
    let p = |t| Policy {
        fail_on: Some(t),
        ..Policy::default()
    };
    assert!(!judge(&only_unknown, &p(VulnSeverity::Low)).failed);
    assert!(judge(&only_unknown, &p(VulnSeverity::Unknown)).failed);
}

#[test]
fn ignore_rules_by_id_alias_package_and_expiry() {
    let db = osv::Database::load(&data(), None).unwrap();
    let r = scan(&alpine_inv(), &db);
    let rules = ignore::parse(
        "[[ignore]]\nid = \"TEST-ALPINE-0008\"\nreason = \"musl not used\"\n\n\
         [[ignore]]\nid = \"cve-2099-0001\"\nreason = \"no TLS\"\npackage = \"libssl3\"\n\n\
         [[ignore]]\nid = \"TEST-ALPINE-0003\"\nreason = \"old\"\nexpires = \"2024-12-31\"\n",
        Path::new("ignore.toml"),
    )
    .unwrap();
    let v = judge(
        &r,
        &Policy {
            fail_on: Some(VulnSeverity::Critical),
            ignore_unfixed: false,
            ignores: rules,
            today: s("2025-01-01"),
        },
    );
    let kept: Vec<_> = v
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.package.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("TEST-ALPINE-0003", "busybox"),
            ("TEST-ALPINE-0001", "libcrypto3")
        ]
    );
    assert!(!v.failed, "the critical one is ignored");
    assert_eq!(v.warnings.len(), 1);
    assert!(
        v.warnings[0].contains("expired on 2024-12-31"),
        "{:?}",
        v.warnings
    );
    assert!(
        v.suppressed
            .iter()
            .all(|s| s.reason.starts_with("ignored: "))
    );
}

#[test]
fn unknown_os_is_a_warning() {
    let mut inv = alpine_inv();
    inv.os = None;
    let db = osv::Database::load(&data(), None).unwrap();
    let r = scan(&inv, &db);
    assert!(r.findings.is_empty());
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.packages_scanned, 0);
}

#[test]
fn severity_sources() {
    use serde_json::json;
    let rec = |v: serde_json::Value| osv::parse_record(&v, "t").unwrap().unwrap();
    let base = |extra: serde_json::Value| {
        let mut v = json!({"id": "X", "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "a"}}]});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    assert_eq!(rec(base(json!({}))).severity, VulnSeverity::Unknown);
    assert_eq!(
        rec(base(json!({"database_specific": {"severity": "MODERATE"}}))).severity,
        VulnSeverity::Medium
    );
    assert_eq!(
        rec(base(json!({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}))).severity,
        VulnSeverity::Critical
    );
    assert_eq!(
        rec(base(
            json!({"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:M/Au:N/C:N/I:P/A:N"}]})
        ))
        .severity,
        VulnSeverity::Medium
    );
    assert_eq!(
        rec(base(
            json!({"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}]})
        ))
        .severity,
        VulnSeverity::Unknown
    );
    assert!(osv::parse_record(&json!({"affected": []}), "t").is_err());
    assert!(
        osv::parse_record(
            &json!({"id": "X", "affected": [{"package": {"name": "a"}}]}),
            "t"
        )
        .is_err()
    );
    assert_eq!("High".parse::<VulnSeverity>(), Ok(VulnSeverity::High));
    assert!("severe".parse::<VulnSeverity>().is_err());
}

#[test]
fn reports_render() {
    let db = osv::Database::load(&data(), None).unwrap();
    let r = scan(&alpine_inv(), &db);
    let v = judge(
        &r,
        &Policy {
            fail_on: Some(VulnSeverity::High),
            ..Policy::default()
        },
    );
    let t = report::text(&v, "img", Some(VulnSeverity::High));
    assert!(t.contains("FAIL: 2 finding(s) at or above high"), "{t}");
    assert!(
        t.contains("summary: 1 critical 1 high 2 medium 0 low 0 unknown"),
        "{t}"
    );
    let j = report::json(&v, "img", Some(VulnSeverity::High));
    assert_eq!(j["failed"], true);
    assert_eq!(j["findings"][0]["severity"], "CRITICAL");
    let sarif = report::sarif(&v, "img");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
