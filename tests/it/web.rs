//! `--web.config.file` with a real TLS client on loopback: the handshake, basic auth on every
//! route (401 with `WWW-Authenticate`, the right password 200, a wrong one 401), the push token
//! beside it, mutual TLS; and the OpenMetrics and gzip expositions through `promtool`.
//!
//! The certificates are `tests/fixtures/tls/` (made by its `generate.sh` with openssl); the user
//! and password are the exporter-toolkit's own test user (see `configs/web-config.yml`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::support::{http, repo_path, Exporter, Response};

/// exporter-toolkit web/tls_config_test.go (commit 01a6720935e1ea6af3ccc0eee4ffcbea8d8d317f)
/// logs in with these against the hash in `configs/web-config.yml`.
const USER: &str = "dave";
const PASSWORD: &str = "dave123";

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn tls_fixture(name: &str) -> std::path::PathBuf {
    repo_path(&format!("tests/fixtures/tls/{name}"))
}

/// A rustls client that trusts the test CA, with the test client certificate when `with_cert`.
fn client_config(with_cert: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(tls_fixture("ca.pem")).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        let chain: Vec<_> = CertificateDer::pem_file_iter(tls_fixture("client.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(tls_fixture("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

/// One HTTP/1.1 request over TLS to `localhost` at `address`; `Err` when the handshake (or the
/// connection) fails.
fn https(
    address: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let server_name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::clone(config), server_name)
        .map_err(|e| e.to_string())?;
    let socket = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server closes without close_notify after `Connection: close`, which rustls reports.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(error) => return Err(error.to_string()),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    Ok(Response {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    })
}

/// `configs/web-config.yml` beside a `tls/` holding the test server certificate, as its
/// relative paths expect, plus `extra` appended to the file.
fn web_config_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    for name in ["server.pem", "server.key", "ca.pem"] {
        std::fs::copy(tls_fixture(name), dir.path().join("tls").join(name)).unwrap();
    }
    let example = std::fs::read_to_string(repo_path("configs/web-config.yml")).unwrap();
    std::fs::write(dir.path().join("web-config.yml"), example + extra).unwrap();
    dir
}

fn start(dir: &Path, extra_args: &[&str]) -> Exporter {
    let config = dir.join("web-config.yml");
    let mut args = vec![
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--web.config.file",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra_args);
    Exporter::start(&args)
}

#[test]
fn the_example_web_config_serves_tls_with_basic_auth_on_every_route() {
    let dir = web_config_dir("");
    let token_file = dir.path().join("push-token");
    std::fs::write(&token_file, "push-secret\n").unwrap();
    let exporter = start(
        dir.path(),
        &["--push.token-file", token_file.to_str().unwrap()],
    );
    let client = client_config(false);
    let right = basic(USER, PASSWORD);
    let wrong = basic(USER, "dave124");
    let get = |path: &str, authorization: Option<&str>| {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        https(exporter.address, &client, "GET", path, &headers, b"").unwrap()
    };

    for path in ["/metrics", "/", "/-/healthy", "/-/ready", "/nowhere"] {
        let response = get(path, None);
        assert_eq!(response.status, 401, "{path}: {}", response.body);
        assert!(
            response
                .headers
                .to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{path}: {}",
            response.headers
        );
        assert_eq!(get(path, Some(&wrong)).status, 401, "{path}");
    }
    // Twice: the second check is the remembered one.
    for _ in 0..2 {
        let metrics = get("/metrics", Some(&right));
        assert_eq!(metrics.status, 200, "{}", metrics.body);
        assert!(
            metrics.body.contains("mfu_exporter_build_info"),
            "{}",
            metrics.body
        );
    }
    assert_eq!(get("/-/healthy", Some(&right)).status, 200);
    assert_eq!(get("/", Some(&right)).status, 200);
    assert_eq!(get("/nowhere", Some(&right)).status, 404);

    // Pushes: the push token alone passes; neither user nor token is 401.
    let body = br#"{"tokens_per_second": 1000, "step": 1}"#;
    let push = |headers: &[(&str, &str)]| {
        https(
            exporter.address,
            &client,
            "POST",
            "/api/v1/push",
            headers,
            body,
        )
        .unwrap()
    };
    assert_eq!(push(&[("Authorization", "Bearer push-secret")]).status, 200);
    assert_eq!(push(&[]).status, 401);
    assert_eq!(push(&[("Authorization", "Bearer wrong")]).status, 401);
    // A user passes basic auth, and then the push still needs its token.
    assert_eq!(push(&[("Authorization", &right)]).status, 401);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = http(exporter.address, "GET", "/metrics", &[], b"");
    assert_eq!(plain.status, 0, "{}", plain.headers);
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate() {
    let dir = web_config_dir("");
    let config = dir.path().join("web-config.yml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("  # client_auth_type:", "  client_auth_type:")
        .replace("  # client_ca_file:", "  client_ca_file:");
    std::fs::write(&config, text).unwrap();
    let exporter = start(dir.path(), &[]);
    let authorization = basic(USER, PASSWORD);
    let headers = [("Authorization", authorization.as_str())];
    let refused = https(
        exporter.address,
        &client_config(false),
        "GET",
        "/metrics",
        &headers,
        b"",
    );
    assert!(refused.is_err(), "{:?}", refused.map(|r| r.status));
    let accepted = https(
        exporter.address,
        &client_config(true),
        "GET",
        "/metrics",
        &headers,
        b"",
    )
    .unwrap();
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

#[test]
fn a_bad_web_config_stops_start_up_naming_each_field() {
    let dir = web_config_dir("rate_limit:\n  burst: 2\n");
    let config = dir.path().join("web-config.yml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("tls/server.key", "tls/missing.key")
        .replace("min_version: TLS12", "min_version: TLS10");
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = crate::support::run(&[
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--web.config.file",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    for needle in [
        "tls_server_config.key_file tls/missing.key: No such file",
        "tls_server_config.min_version = \"TLS10\": TLS 1.0 and 1.1 are not supported",
        "rate_limit: not supported",
    ] {
        assert!(stderr.contains(needle), "lacks {needle:?}:\n{stderr}");
    }
    std::fs::write(&config, "tls_server_config:\n  cert_fle: x\n").unwrap();
    let (ok, _, stderr) = crate::support::run(&[
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--web.config.file",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("unknown field `cert_fle`, expected one of"),
        "{stderr}"
    );
}
