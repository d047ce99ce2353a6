//! Registry client auth against the real Distribution registry:
//! htpasswd Basic auth over TLS (a CA made here with openssl), and token
//! auth with a small RS256 token server started by the test.

mod common;
#[path = "common/registry.rs"]
mod reg;

use ironhull::image::{Descriptor, Platform, PlatformImage, media};
use ironhull::reference::Reference;
use ironhull::registry::{self, Client, Progress, RegistryError, RegistryOptions};
use ironhull::store::BlobStore;
use std::path::Path;
use std::sync::OnceLock;

fn tools() -> bool {
    common::require_tool("docker-registry").is_some()
        && common::require_tool("openssl").is_some()
        && common::require_tool("htpasswd").is_some()
}

fn opts(config_dir: &Path, ca: Option<&Path>) -> RegistryOptions {
    RegistryOptions {
        progress: Progress::Quiet,
        max_concurrency: 2,
        docker_config_dir: Some(config_dir.to_path_buf()),
        ca_file: ca.map(Path::to_path_buf),
        ..Default::default()
    }
}

fn one_image(marker: &str) -> (tempfile::TempDir, BlobStore, PlatformImage, Descriptor) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = reg::image(&store, &Platform::linux("amd64", None), marker.as_bytes());
    let top = Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    (dir, store, img, top)
}

fn push(client: &Client, r: &str, marker: &str) -> Result<ironhull::digest::Digest, RegistryError> {
    let (_d, store, img, top) = one_image(marker);
    let r = Reference::parse(r).unwrap();
    client.push(
        &r,
        &["1".into()],
        &top,
        &img.manifest_bytes,
        std::slice::from_ref(&img),
        &store,
        None,
    )
}

// ---------------------------------------------------------------------------
// htpasswd + TLS
// ---------------------------------------------------------------------------

struct TlsEnv {
    registry: reg::Registry,
    pki: reg::Pki,
    _dir: tempfile::TempDir,
}

fn tls_env() -> Option<&'static TlsEnv> {
    static ENV: OnceLock<TlsEnv> = OnceLock::new();
    if !tools() {
        return None;
    }
    Some(ENV.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pki = reg::make_pki(dir.path());
        let registry = reg::Registry::start(
            reg::Auth::Htpasswd(vec![("alice".into(), "wonderland".into())]),
            Some((&pki.server_cert, &pki.server_key)),
        );
        TlsEnv {
            registry,
            pki,
            _dir: dir,
        }
    }))
}

#[test]
fn tls_htpasswd_login_push_and_errors() {
    let Some(env) = tls_env() else { return };
    let host = &env.registry.host;
    let cfg = tempfile::tempdir().unwrap();
    let o = opts(cfg.path(), Some(&env.pki.ca_cert));

    // Without the CA: a TLS verification error, not a silent downgrade.
    let untrusted = Client::new(opts(cfg.path(), None)).unwrap();
    let e = push(&untrusted, &format!("{host}/tls/app:1"), "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("cannot reach registry {host}")), "{e}");

    // No credentials: unauthorized, with the login advice.
    let client = Client::new(o.clone()).unwrap();
    let e = push(&client, &format!("{host}/tls/app:1"), "x").unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("run `ironhull login {host}`")),
        "{e}"
    );

    // Wrong password: login fails, nothing is written.
    let e = registry::login(host, "alice", "wrong-password-123", &o).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{msg}");
    assert!(!msg.contains("wrong-password-123"), "secret leaked: {msg}");
    assert!(
        !cfg.path().join("config.json").exists(),
        "failed login must not write the config"
    );

    // Right password: config.json holds the base64 auth; push then works.
    registry::login(host, "alice", "wonderland", &o).unwrap();
    let text = std::fs::read_to_string(cfg.path().join("config.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["auths"][host.as_str()]["auth"],
        "YWxpY2U6d29uZGVybGFuZA=="
    );
    let client = Client::new(o.clone()).unwrap();
    let d = push(&client, &format!("{host}/tls/app:1"), "tls").unwrap();

    // skopeo (with the CA and the same creds) sees the pushed manifest.
    if common::require_tool("skopeo").is_some() {
        let certs = tempfile::tempdir().unwrap();
        std::fs::copy(&env.pki.ca_cert, certs.path().join("ca.crt")).unwrap();
        let r = common::skopeo([
            "inspect",
            "--raw",
            "--creds",
            "alice:wonderland",
            "--cert-dir",
            certs.path().to_str().unwrap(),
            &format!("docker://{host}/tls/app:1"),
        ]);
        r.assert_success();
        assert_eq!(ironhull::digest::Digest::of(r.stdout.as_bytes()), d);
    }

    // Pull back over TLS with stored credentials.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = client
        .pull(
            &Reference::parse(&format!("{host}/tls/app:1")).unwrap(),
            &[],
            &cache,
        )
        .unwrap();
    assert_eq!(set.images[0].manifest_digest, d);

    // Logout removes the entry; pushes are unauthorized again.
    registry::logout(host, &o).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cfg.path().join("config.json")).unwrap())
            .unwrap();
    assert!(v["auths"].get(host.as_str()).is_none());
    let e = push(&Client::new(o).unwrap(), &format!("{host}/tls/app:2"), "y").unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{e}");
}

#[test]
fn credentials_from_helper_script_on_path() {
    let Some(env) = tls_env() else { return };
    use std::os::unix::fs::PermissionsExt;
    let host = &env.registry.host;
    let cfg = tempfile::tempdir().unwrap();
    let bin = cfg.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-test");
    let log = cfg.path().join("helper.log");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$1 $server\" >> {}\nif [ \"$1\" = get ] && [ \"$server\" = {host} ]; then printf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"wonderland\"}}' \"$server\"; exit 0; fi\necho 'credentials not found in native keychain'; exit 1\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(cfg.path().join("config.json"), r#"{"credsStore":"test"}"#).unwrap();
    let client = Client::new(opts(cfg.path(), Some(&env.pki.ca_cert)))
        .unwrap()
        .with_credential_helper_path(registry::credentials::prepend_path(&bin));
    push(&client, &format!("{host}/helper/app:1"), "helper").unwrap();
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.lines().any(|l| l == format!("get {host}")), "{calls}");
    assert_eq!(
        calls.lines().count(),
        1,
        "credentials are looked up once per client: {calls}"
    );
}

// ---------------------------------------------------------------------------
// Token auth
// ---------------------------------------------------------------------------

struct TokenEnv {
    registry: reg::Registry,
    tokens: reg::TokenServer,
    key: reg::SigningKey,
    _dir: tempfile::TempDir,
}

fn policy() -> reg::TokenPolicy {
    reg::TokenPolicy {
        users: vec![
            (
                "pusher".into(),
                "push-pw".into(),
                vec!["pull".into(), "push".into()],
            ),
            ("reader".into(), "read-pw".into(), vec!["pull".into()]),
        ],
        anon_actions: vec!["pull".into()],
        service: "ironhull-test-registry".into(),
        issuer: "ironhull-test-issuer".into(),
    }
}

fn token_env() -> Option<&'static TokenEnv> {
    static ENV: OnceLock<TokenEnv> = OnceLock::new();
    if !tools() {
        return None;
    }
    Some(ENV.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = reg::make_signing_key(dir.path());
        let tokens = reg::TokenServer::start(&key, policy());
        let registry = reg::Registry::start(
            reg::Auth::Token {
                realm: tokens.realm(),
                service: "ironhull-test-registry".into(),
                issuer: "ironhull-test-issuer".into(),
                cert: key.cert.clone(),
            },
            None,
        );
        TokenEnv {
            registry,
            tokens,
            key,
            _dir: dir,
        }
    }))
}

fn config_with(dir: &Path, host: &str, user: &str, pw: &str) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

#[test]
fn token_auth_push_pull_scope_and_wrong_password() {
    let Some(env) = token_env() else { return };
    let host = &env.registry.host;

    // The pusher may push; tokens are cached per scope.
    let cfg = tempfile::tempdir().unwrap();
    config_with(cfg.path(), host, "pusher", "push-pw");
    let client = Client::new(opts(cfg.path(), None)).unwrap();
    let before = env.tokens.count();
    let d = push(&client, &format!("{host}/tok/app:1"), "token").unwrap();
    let fetched = env.tokens.count() - before;
    assert!(
        (1..=2).contains(&fetched),
        "expected the token to be cached, fetched {fetched} tokens"
    );

    // Anonymous pull is allowed by the token server's policy.
    let anon_cfg = tempfile::tempdir().unwrap();
    let anon = Client::new(opts(anon_cfg.path(), None)).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = anon
        .pull(
            &Reference::parse(&format!("{host}/tok/app:1")).unwrap(),
            &[],
            &cache,
        )
        .unwrap();
    assert_eq!(set.images[0].manifest_digest, d);
    // ... but anonymous push is unauthorized, with login advice.
    let e = push(&anon, &format!("{host}/tok/app:2"), "anon").unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{e}");
    assert!(e.to_string().contains("ironhull login"), "{e}");

    // The reader has credentials but no push scope: denied.
    let rcfg = tempfile::tempdir().unwrap();
    config_with(rcfg.path(), host, "reader", "read-pw");
    let e = push(
        &Client::new(opts(rcfg.path(), None)).unwrap(),
        &format!("{host}/tok/app:3"),
        "reader",
    )
    .unwrap_err();
    assert!(matches!(e, RegistryError::Denied { .. }), "{e}");
    assert!(
        e.to_string().contains("may not push repository tok/app"),
        "{e}"
    );

    // Wrong password: the token server refuses; the message names the
    // registry and never the password.
    let wcfg = tempfile::tempdir().unwrap();
    config_with(wcfg.path(), host, "pusher", "not-the-password");
    let e = push(
        &Client::new(opts(wcfg.path(), None)).unwrap(),
        &format!("{host}/tok/app:4"),
        "wrong",
    )
    .unwrap_err();
    let msg = format!("{e} {e:?}");
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains(host.as_str()) && !msg.contains("not-the-password"),
        "{msg}"
    );

    // login() against a token registry verifies through the token server.
    let lcfg = tempfile::tempdir().unwrap();
    assert!(registry::login(host, "pusher", "bad", &opts(lcfg.path(), None)).is_err());
    registry::login(host, "pusher", "push-pw", &opts(lcfg.path(), None)).unwrap();
    assert!(lcfg.path().join("config.json").is_file());
}

#[test]
fn token_server_down_is_a_clear_error() {
    let Some(env) = token_env() else { return };
    // A second registry whose realm points at a closed port.
    let dead = reg::free_port();
    let registry = reg::Registry::start(
        reg::Auth::Token {
            realm: format!("http://127.0.0.1:{dead}/token"),
            service: "ironhull-test-registry".into(),
            issuer: "ironhull-test-issuer".into(),
            cert: env.key.cert.clone(),
        },
        None,
    );
    let cfg = tempfile::tempdir().unwrap();
    let client = Client::new(opts(cfg.path(), None)).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let e = client
        .pull(
            &Reference::parse(&format!("{}/x/y:1", registry.host)).unwrap(),
            &[],
            &cache,
        )
        .unwrap_err();
    assert!(matches!(e, RegistryError::TokenServer { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{dead}/token")) && msg.contains("cannot connect"),
        "{msg}"
    );
    assert_eq!(reg::blob_count(cache_dir.path()), 0);
}
