//! `--web.config.file`: the Prometheus exporter-toolkit's web configuration file (TLS, basic
//! auth, response headers), read once at start-up into a rustls server config and the users.
//!
//! The format is the toolkit's (`docs/web-configuration.md` in prometheus/exporter-toolkit), so
//! that the file of a node_exporter or a dcgm-exporter beside this one works here too. What
//! rustls cannot do the Go server's way is refused by name rather than ignored: TLS 1.0 and 1.1,
//! the client-auth types that accept a certificate without checking it, P-521, SAN allow-lists
//! and rate limits. Every problem names its field; all of them are reported at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::crypto::{ring as provider, CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use serde::Deserialize;

use super::basic_auth::{self, BasicAuth};

/// The file as written; unknown keys are errors, as the toolkit's strict YAML reading makes them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    tls_server_config: Option<TlsSchema>,
    http_server_config: Option<HttpSchema>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSchema {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSchema {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// The response headers the toolkit lets a web config set.
const SETTABLE_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// A loaded web config: what the HTTP server applies to every connection and response.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Serve TLS with this config; plain HTTP when `None`.
    pub tls: Option<Arc<ServerConfig>>,
    /// Ask every request for one of these users; none asked when `None`.
    pub basic_auth: Option<Arc<BasicAuth>>,
    /// Added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Reads and checks the file at `path`; each problem names the file and its field.
pub fn load(path: &Path) -> Result<WebConfig, Vec<String>> {
    let name = format!("web.config.file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|error| {
        vec![format!(
            "{name}: {error}; point --web.config.file at a readable YAML file"
        )]
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, base).map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| format!("{name}: {problem}"))
            .collect()
    })
}

/// Checks a web config's text; relative file names are taken from `base`, the directory of the
/// file, as the toolkit takes them.
pub fn parse(text: &str, base: &Path) -> Result<WebConfig, Vec<String>> {
    let schema: FileSchema = if is_empty_yaml(text) {
        FileSchema::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|error| {
            vec![format!(
                "{error}; the keys are tls_server_config, http_server_config and basic_auth_users \
                 (prometheus/exporter-toolkit docs/web-configuration.md)"
            )]
        })?
    };
    let mut problems = Vec::new();
    if schema.rate_limit.is_some() {
        problems.push(
            "rate_limit: not supported by mfu-exporter (its scrapes and pushes are bounded by \
             --web.max-connections and --push.max-inflight-bytes); remove it"
                .to_owned(),
        );
    }
    let tls = schema
        .tls_server_config
        .and_then(|tls| tls_config(tls, base, &mut problems));
    let basic_auth = schema.basic_auth_users.and_then(|users| {
        let before = problems.len();
        for (user, hash) in &users {
            if user.contains(':') {
                problems.push(format!(
                    "basic_auth_users.{user}: a user name cannot hold ':' (basic auth splits on it)"
                ));
            }
            if let Err(problem) = basic_auth::check_hash(hash) {
                problems.push(format!("basic_auth_users.{user}: {problem}"));
            }
        }
        (problems.len() == before && !users.is_empty()).then(|| Arc::new(BasicAuth::new(users)))
    });
    let mut headers = Vec::new();
    if let Some(http) = schema.http_server_config {
        // HTTP/2 is not served (the server speaks HTTP/1.1, which every scraper speaks), so
        // `http2` has nothing to turn on or off; it is accepted for files shared with Go exporters.
        let _ = http.http2;
        for (name, value) in http.headers.unwrap_or_default() {
            if !SETTABLE_HEADERS
                .iter()
                .any(|settable| settable.eq_ignore_ascii_case(&name))
            {
                problems.push(format!(
                    "http_server_config.headers.{name}: this header cannot be set; the settable ones are {}",
                    SETTABLE_HEADERS.join(", ")
                ));
                continue;
            }
            if value.is_empty() {
                continue;
            }
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(header), Ok(value)) => headers.push((header, value)),
                _ => problems.push(format!(
                    "http_server_config.headers.{name} = {value:?}: not a valid header value"
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(WebConfig {
            tls,
            basic_auth,
            headers,
        })
    } else {
        Err(problems)
    }
}

/// Whether a YAML text holds no document (only blank lines and comments): an empty web config,
/// which the toolkit accepts as "no TLS, no auth".
fn is_empty_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---")
}

/// The rustls config, or `None` when the section turns nothing on (as the toolkit, which serves
/// plain HTTP when no certificate, key, client CA or client-auth type is given).
fn tls_config(
    tls: TlsSchema,
    base: &Path,
    problems: &mut Vec<String>,
) -> Option<Arc<ServerConfig>> {
    let field = |name: &str| format!("tls_server_config.{name}");
    let wanted = tls.cert.is_some()
        || tls.cert_file.is_some()
        || tls.key.is_some()
        || tls.key_file.is_some()
        || tls.client_ca.is_some()
        || tls.client_ca_file.is_some()
        || tls.client_auth_type.is_some();
    if !wanted {
        return None;
    }
    let before = problems.len();
    let certificates = pem_source(
        "cert",
        tls.cert.as_deref(),
        tls.cert_file.as_deref(),
        base,
        problems,
    )
    .and_then(|(name, pem)| {
        let chain: Result<Vec<CertificateDer<'static>>, _> =
            CertificateDer::pem_slice_iter(&pem).collect();
        match chain {
            Ok(chain) if !chain.is_empty() => Some(chain),
            Ok(_) => {
                problems.push(format!(
                    "{name}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                ));
                None
            }
            Err(error) => {
                problems.push(format!("{name}: not a PEM certificate chain ({error})"));
                None
            }
        }
    });
    let key = pem_source(
        "key",
        tls.key.as_deref(),
        tls.key_file.as_deref(),
        base,
        problems,
    )
    .and_then(|(name, pem)| match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Some(key),
        Err(error) => {
            problems.push(format!(
                "{name}: holds no PEM private key (PKCS#8, PKCS#1 or SEC1) ({error})"
            ));
            None
        }
    });
    let client_auth = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let verify_clients = match client_auth {
        "NoClientCert" => None,
        "VerifyClientCertIfGiven" => Some(false),
        "RequireAndVerifyClientCert" => Some(true),
        "RequestClientCert" | "RequireAnyClientCert" => {
            problems.push(format!(
                "{} = {client_auth:?}: not supported, because it accepts any client certificate \
                 without checking it; use RequireAndVerifyClientCert with client_ca_file",
                field("client_auth_type")
            ));
            None
        }
        other => {
            problems.push(format!(
                "{} = {other:?}: use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert",
                field("client_auth_type")
            ));
            None
        }
    };
    let has_client_ca = tls.client_ca.is_some() || tls.client_ca_file.is_some();
    let client_roots = if has_client_ca {
        pem_source(
            "client_ca",
            tls.client_ca.as_deref(),
            tls.client_ca_file.as_deref(),
            base,
            problems,
        )
        .and_then(|(name, pem)| {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                match certificate.map(|c| roots.add(c)) {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => problems.push(format!(
                        "{name}: a certificate is not a usable CA ({error})"
                    )),
                    Err(error) => problems.push(format!("{name}: not PEM certificates ({error})")),
                }
            }
            if roots.is_empty() {
                problems.push(format!("{name}: holds no CA certificate"));
                return None;
            }
            Some(Arc::new(roots))
        })
    } else {
        None
    };
    if has_client_ca && client_auth == "NoClientCert" {
        problems.push(format!(
            "{}: a client CA is configured without a client_auth_type; set client_auth_type: \
             RequireAndVerifyClientCert, or remove the client CA",
            field("client_auth_type")
        ));
    }
    if verify_clients.is_some() && !has_client_ca {
        problems.push(format!(
            "{} = {client_auth:?}: needs client_ca_file (or client_ca), the CA that signs client certificates",
            field("client_auth_type")
        ));
    }
    if tls.client_allowed_sans.is_some() {
        problems.push(format!(
            "{}: not supported by mfu-exporter; issue client certificates from a CA of their own instead",
            field("client_allowed_sans")
        ));
    }
    let versions = protocol_versions(
        tls.min_version.as_deref(),
        tls.max_version.as_deref(),
        problems,
    );
    let mut crypto = provider::default_provider();
    if let Some(names) = &tls.cipher_suites {
        match cipher_suites(names, &crypto.cipher_suites) {
            Ok(suites) => crypto.cipher_suites = suites,
            Err(problem) => problems.push(format!("{}: {problem}", field("cipher_suites"))),
        }
    }
    if let Some(names) = &tls.curve_preferences {
        match key_exchange_groups(names) {
            Ok(groups) => crypto.kx_groups = groups,
            Err(problem) => problems.push(format!("{}: {problem}", field("curve_preferences"))),
        }
    }
    if problems.len() > before {
        return None;
    }
    let (Some(certificates), Some(key), Some(versions)) = (certificates, key, versions) else {
        return None;
    };
    let builder = match ServerConfig::builder_with_provider(Arc::new(crypto))
        .with_protocol_versions(&versions)
    {
        Ok(builder) => builder,
        Err(error) => {
            problems.push(format!(
                "tls_server_config: {error}; widen min_version..max_version or the cipher_suites"
            ));
            return None;
        }
    };
    let builder = match (verify_clients, client_roots) {
        (Some(required), Some(roots)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                roots,
                Arc::new(provider::default_provider()),
            );
            let verifier = if required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            match verifier.build() {
                Ok(verifier) => builder.with_client_cert_verifier(verifier),
                Err(error) => {
                    problems.push(format!("{}: {error}", field("client_ca_file")));
                    return None;
                }
            }
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = match builder.with_single_cert(certificates, key) {
        Ok(config) => config,
        Err(error) => {
            problems.push(format!(
                "{}: the key does not go with the certificate, or is of a kind rustls cannot use ({error})",
                field("key_file")
            ));
            return None;
        }
    };
    config.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// The PEM bytes of `name` (inline) or `name_file`, and the field they came from; exactly one
/// of the two must be given.
fn pem_source(
    name: &str,
    inline: Option<&str>,
    file: Option<&Path>,
    base: &Path,
    problems: &mut Vec<String>,
) -> Option<(String, Vec<u8>)> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "tls_server_config.{name} and tls_server_config.{name}_file: both are set; keep one"
            ));
            None
        }
        (Some(text), None) => Some((
            format!("tls_server_config.{name}"),
            text.as_bytes().to_vec(),
        )),
        (None, Some(path)) => {
            let field = format!("tls_server_config.{name}_file");
            let found = base.join(path);
            match std::fs::read(&found) {
                Ok(bytes) => Some((format!("{field} {}", path.display()), bytes)),
                Err(error) => {
                    problems.push(format!(
                        "{field} {}: {error}; point it at a readable PEM file",
                        path.display()
                    ));
                    None
                }
            }
        }
        (None, None) => {
            problems.push(format!(
                "tls_server_config: missing one of {name} or {name}_file; give the PEM {} for TLS",
                if name == "cert" {
                    "certificate"
                } else {
                    "private key"
                }
            ));
            None
        }
    }
}

fn protocol_version(
    field: &str,
    text: &str,
    problems: &mut Vec<String>,
) -> Option<&'static SupportedProtocolVersion> {
    match text {
        "TLS13" => Some(&rustls::version::TLS13),
        "TLS12" => Some(&rustls::version::TLS12),
        "TLS10" | "TLS11" => {
            problems.push(format!(
                "tls_server_config.{field} = {text:?}: TLS 1.0 and 1.1 are not supported (rustls serves TLS12 and TLS13)"
            ));
            None
        }
        other => {
            problems.push(format!(
                "tls_server_config.{field} = {other:?}: unknown TLS version; use TLS12 or TLS13"
            ));
            None
        }
    }
}

/// The protocol versions from `min_version` (default TLS12) to `max_version` (default TLS13).
fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
    problems: &mut Vec<String>,
) -> Option<Vec<&'static SupportedProtocolVersion>> {
    let min = protocol_version("min_version", min.unwrap_or("TLS12"), problems);
    let max = protocol_version("max_version", max.unwrap_or("TLS13"), problems);
    let (min, max) = (min?, max?);
    let all = [&rustls::version::TLS12, &rustls::version::TLS13];
    let rank = |v: &SupportedProtocolVersion| all.iter().position(|a| a.version == v.version);
    let versions: Vec<_> = all
        .into_iter()
        .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
        .collect();
    if versions.is_empty() {
        problems.push(
            "tls_server_config.min_version: above max_version; no TLS version is left".to_owned(),
        );
        return None;
    }
    Some(versions)
}

/// The named TLS 1.2 suites (Go's names are the IANA ones rustls uses), with every TLS 1.3
/// suite kept: as in Go, `cipher_suites` does not apply to TLS 1.3.
fn cipher_suites(
    names: &[String],
    available: &[SupportedCipherSuite],
) -> Result<Vec<SupportedCipherSuite>, String> {
    let tls12: Vec<(&str, SupportedCipherSuite)> = available
        .iter()
        .filter(|suite| suite.version() == &rustls::version::TLS12)
        .filter_map(|suite| Some((suite.suite().as_str()?, *suite)))
        .collect();
    let mut chosen: Vec<SupportedCipherSuite> = available
        .iter()
        .filter(|suite| suite.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    for name in names {
        match tls12.iter().find(|(known, _)| known == name) {
            Some((_, suite)) => chosen.push(*suite),
            None => {
                return Err(format!(
                    "unknown or unsupported cipher suite {name:?}; the TLS 1.2 suites are {}",
                    tls12
                        .iter()
                        .map(|(known, _)| *known)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
    Ok(chosen)
}

/// The key-exchange groups of Go's curve names, in the order given.
fn key_exchange_groups(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    names
        .iter()
        .map(|name| match name.as_str() {
            "X25519" => Ok(provider::kx_group::X25519),
            "CurveP256" => Ok(provider::kx_group::SECP256R1),
            "CurveP384" => Ok(provider::kx_group::SECP384R1),
            "CurveP521" => Err(format!(
                "{name:?} is not supported by rustls; use X25519, CurveP256 or CurveP384"
            )),
            other => Err(format!(
                "unknown curve {other:?}; use X25519, CurveP256 or CurveP384"
            )),
        })
        .collect()
}

/// The crypto provider the server uses, for tests that build a matching client.
pub fn crypto_provider() -> CryptoProvider {
    provider::default_provider()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
    }

    fn problems(yaml: &str) -> String {
        parse(yaml, &fixtures()).unwrap_err().join("\n")
    }

    fn check_refused(yaml: &str, needles: &[&str]) {
        let message = problems(yaml);
        for needle in needles {
            assert!(message.contains(needle), "lacks {needle:?}:\n{message}");
        }
    }

    #[test]
    fn an_empty_file_turns_nothing_on() {
        for text in ["", "# nothing\n", "---\n"] {
            let config = parse(text, &fixtures()).unwrap();
            assert!(config.tls.is_none() && config.basic_auth.is_none());
        }
    }

    #[test]
    fn a_certificate_and_key_turn_tls_on() {
        let config = parse(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n",
            &fixtures(),
        )
        .unwrap();
        let tls = config.tls.expect("tls");
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_field() {
        check_refused(
            "tls_server_config:\n  cert_fil: server.pem\n",
            &["unknown field `cert_fil`", "line 2"],
        );
        check_refused("basic_auth: {}\n", &["unknown field `basic_auth`"]);
        check_refused(
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n  min_version: TLS11\n  client_auth_type: RequireAnyClientCert\n  curve_preferences: [CurveP521]\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\nbasic_auth_users:\n  dave: dave123\nrate_limit:\n  burst: 1\n",
            &[
                "tls_server_config.cert_file missing.pem: No such file",
                "tls_server_config.min_version = \"TLS11\": TLS 1.0 and 1.1 are not supported",
                "tls_server_config.client_auth_type = \"RequireAnyClientCert\": not supported",
                "tls_server_config.curve_preferences: \"CurveP521\" is not supported",
                "tls_server_config.cipher_suites: unknown or unsupported cipher suite \"TLS_RSA_WITH_RC4_128_SHA\"",
                "basic_auth_users.dave: not a bcrypt hash",
                "rate_limit: not supported",
            ],
        );
        check_refused(
            "tls_server_config:\n  cert_file: server.pem\n",
            &["missing one of key or key_file"],
        );
        check_refused(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n",
            &["a client CA is configured without a client_auth_type"],
        );
        check_refused(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: client.key\n",
            &["the key does not go with the certificate"],
        );
        check_refused(
            "tls_server_config:\n  cert_file: server.key\n  key_file: server.pem\n",
            &["tls_server_config.cert_file server.key: holds no PEM certificate"],
        );
        check_refused(
            "http_server_config:\n  headers:\n    Server: x\n",
            &["http_server_config.headers.Server: this header cannot be set"],
        );
    }

    #[test]
    fn supported_options_load() {
        let config = parse(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n",
            &fixtures(),
        )
        .unwrap();
        let tls = config.tls.expect("tls");
        assert!(!tls.ignore_client_order);
        assert_eq!(config.headers.len(), 1);
    }
}
