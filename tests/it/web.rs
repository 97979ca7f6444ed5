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

    // Plain HTTP to the TLS port is told so, as Go's server tells it, and gets nothing else.
    let plain = http(exporter.address, "GET", "/metrics", &[], b"");
    assert_eq!(plain.status, 400, "{}", plain.headers);
    assert!(
        plain.body.contains("HTTP request to an HTTPS server"),
        "{}",
        plain.body
    );
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

/// Prometheus itself (Debian's 2.42 in CI) scrapes the example web config's exporter over
/// HTTPS with basic auth, as `deploy/prometheus/prometheus.yml`'s commented example does: the
/// target with the right password is up and its series arrive; the one with a wrong password
/// is down.
#[test]
fn a_real_prometheus_scrapes_over_tls_with_basic_auth() {
    let Some(prometheus_bin) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is required in CI (apt-get install prometheus)"
        );
        eprintln!("notice: prometheus not installed; skipping the TLS scrape test");
        return;
    };
    let dir = web_config_dir("");
    let exporter = start(dir.path(), &[]);
    let client = client_config(false);
    let authorization = basic(USER, PASSWORD);
    let pushed = https(
        exporter.address,
        &client,
        "POST",
        "/api/v1/push",
        &[("Authorization", &authorization)],
        br#"{"tps": 1000, "step": 1, "gpus": 1}"#,
    )
    .unwrap();
    assert_eq!(pushed.status, 200, "{}", pushed.body);

    let right = dir.path().join("password");
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&right, PASSWORD).unwrap();
    std::fs::write(&wrong, "dave124").unwrap();
    let job = |name: &str, password: &Path| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: localhost\n    basic_auth:\n      username: {USER}\n      password_file: {password}\n    static_configs:\n      - targets: [\"{target}\"]\n",
            ca = tls_fixture("ca.pem").display(),
            password = password.display(),
            target = exporter.address,
        )
    };
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n{}{}",
            job("secure", &right),
            job("wrong", &wrong)
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(prometheus_bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start prometheus");
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    // `query` is sent with its braces and quotes percent-encoded.
    let value = |query: &str| -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        let response = http(
            address,
            "GET",
            &format!("/api/v1/query?query={encoded}"),
            &[],
            b"",
        );
        let answer: serde_json::Value = serde_json::from_str(&response.body).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::support::wait_for(Duration::from_secs(30), "prometheus to be ready", || {
            TcpStream::connect(address).is_ok()
                && http(address, "GET", "/-/ready", &[], b"").status == 200
        });
        crate::support::wait_for(Duration::from_secs(60), "both targets scraped", || {
            value("up{job=\"secure\"}") == Some(1.0) && value("up{job=\"wrong\"}") == Some(0.0)
        });
        crate::support::wait_for(Duration::from_secs(30), "the pushed run's tokens", || {
            value("training_tokens_total{job=\"secure\",run=\"default\"}").is_some()
        });
        assert_eq!(
            value("training_tokens_total{job=\"wrong\"}"),
            None,
            "a scrape refused with 401 stores no series"
        );
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
