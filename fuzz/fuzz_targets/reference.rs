//! Image references and transports: parse → display → parse is the identity,
//! and the displayed form is a fixed point.
#![no_main]
use ironhull::reference::{Reference, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Reference::parse(s) {
        let shown = r.to_string();
        let back = Reference::parse(&shown)
            .unwrap_or_else(|e| panic!("{s:?} parsed, but its display {shown:?} does not: {e}"));
        assert_eq!(back, r, "{s:?} -> {shown:?}");
        assert_eq!(back.to_string(), shown);
        let fam = r.familiar();
        let fam_back = Reference::parse(&fam)
            .unwrap_or_else(|e| panic!("{s:?}: familiar form {fam:?} does not parse: {e}"));
        assert_eq!(fam_back, r, "{s:?} -> familiar {fam:?}");
        let _ = (r.api_host(), r.name());
    }
    for parsed in [Transport::parse(s), Transport::parse_base(s)] {
        if let Ok(t) = parsed {
            let shown = t.to_string();
            let _ = t.kind();
            if let Transport::Docker(r) = &t {
                assert_eq!(Reference::parse(&r.to_string()).as_ref(), Ok(r));
            }
            if let Ok(back) = Transport::parse(&shown) {
                assert_eq!(back.to_string(), shown, "{s:?}");
            }
        } else if let Err(e) = parsed {
            let _ = e.to_string();
        }
    }
});
