//! The HTTP server: routes `/metrics`, `/api/v1/push`, `/-/healthy`, `/-/ready` and `/` to a [`Backend`].
//!
//! [`handle`] routes one request and is generic over the body, so every route and every push error is tested
//! without a socket. [`serve`] runs hyper's HTTP/1.1 server on an accepted-connection loop with keep-alive,
//! bounded request heads, a read timeout, a write timeout, a cap on open connections and a graceful shutdown
//! (the limits are in [`limits`]).
//!
//! A push is checked in a fixed order, and the first failing check answers:
//! method (405), bearer token (401), remote peer without a token (403), declared `Content-Length` over the cap
//! (413, before any body byte is read), declared length beyond what is left of the in-flight budget (503),
//! streamed body over the cap (413), streamed body beyond the in-flight budget (503), body not complete in time
//! (408), then the backend's verdict (400, 429 or 200). Every push response, whatever its status, is counted through
//! [`Backend::count_push_response`].
//!
//! The module knows nothing about metrics or push schemas: it moves bytes between sockets and the [`Backend`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

pub mod basic_auth;
pub mod exposition;
pub mod limits;
pub mod malformed;
pub mod web_config;

use limits::{Admission, ConnectionTable, InflightBytes, Reservation, WriteDeadline};
use malformed::AnswerMalformed;

/// The path of the push endpoint.
pub const PUSH_PATH: &str = "/api/v1/push";
/// The liveness probe's path.
pub const HEALTHY_PATH: &str = "/-/healthy";
/// The readiness probe's path.
pub const READY_PATH: &str = "/-/ready";
/// The landing page's path.
pub const LANDING_PATH: &str = "/";

/// The content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
const JSON_CONTENT_TYPE: &str = "application/json";

/// How long [`serve`] waits for in-flight requests once shutdown begins; connections still open then are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The largest read buffer of one connection. It bounds the request line plus headers (hyper answers 431 beyond
/// it) while a body streams through it in pieces, so it does not limit push size.
const MAX_CONNECTION_BUFFER_BYTES: usize = 16 * 1024;

/// The most buffer reserved up front for a push body from its declared length, so that requests that declare
/// a large body without sending it cannot make the server reserve memory they never fill.
const MAX_PREALLOCATED_BODY_BYTES: usize = 64 * 1024;

/// How long the accept loop pauses after an error such as EMFILE, so that it does not spin while descriptors
/// are exhausted.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What the HTTP layer needs from the daemon.
pub trait Backend: Send + Sync + 'static {
    /// The Prometheus text exposition (format 0.0.4) of every metric, built at scrape time.
    fn render_metrics(&self) -> String;
    /// The landing page's HTML.
    fn landing_page(&self) -> String;
    /// Validates and applies a push body. Ok(number of samples accepted).
    fn push(&self, body: &[u8]) -> Result<usize, PushRejection>;
    /// Counts a push response by status code (the `mfu_exporter_push_requests_total{code}` counter).
    fn count_push_response(&self, code: u16);
    /// Counts a request that could not be parsed as HTTP (answered 400 by
    /// [`malformed::AnswerMalformed`]).
    fn count_malformed_request(&self) {}
    /// Why the daemon can no longer do its job (its tailer stopped), if it cannot: `/-/healthy`
    /// and `/-/ready` then answer 503 with the reason.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Why the daemon is not ready (no log it tails can be read), if it is not: `/-/ready`
    /// answers 503 with the reason.
    fn not_ready(&self) -> Option<String> {
        None
    }
}

/// Why the backend refused a push; the message goes back to the client as `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRejection {
    /// 400: the body is wrong; the message says what is wrong.
    BadRequest(String),
    /// 429: accepting it would create a run beyond the configured maximum.
    TooManyRuns(String),
}

/// How the HTTP layer behaves; resolved from the command line by the caller.
#[derive(Clone)]
pub struct HttpOptions {
    /// The path that serves the metrics, `/metrics` by default.
    pub telemetry_path: String,
    /// The largest push body accepted, in bytes.
    pub max_body_bytes: u64,
    /// The bearer token a push must present, read from `--push.token-file` and trimmed. When set, pushes are
    /// accepted from any peer that presents it. It must not be empty (the caller rejects an empty token
    /// file), since `Authorization: Bearer ` would match an empty token.
    pub push_token: Option<String>,
    /// Accept pushes without a token from peers other than loopback (`--push.allow-remote`).
    pub allow_remote_push: bool,
    /// Bounds reading a request's headers (and waiting for them on an idle keep-alive connection), reading a
    /// push's body, and writing a response once a write would block.
    pub request_timeout: Duration,
    /// The most connections served at once (`--web.max-connections`); past it a new connection evicts the
    /// oldest idle one.
    pub max_connections: usize,
    /// The most push body bytes held at once, over all pushes (`--push.max-inflight-bytes`); past it a push
    /// gets 503.
    pub max_inflight_bytes: u64,
    /// TLS, basic auth and response headers from `--web.config.file`.
    pub web: web_config::WebConfig,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            telemetry_path: "/metrics".to_owned(),
            max_body_bytes: 1024 * 1024,
            push_token: None,
            allow_remote_push: false,
            request_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_inflight_bytes: 16 * 1024 * 1024,
            web: web_config::WebConfig::default(),
        }
    }
}

/// Written by hand so that the push token never reaches a log line.
impl fmt::Debug for HttpOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HttpOptions")
            .field("telemetry_path", &self.telemetry_path)
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "push_token",
                &self.push_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_remote_push", &self.allow_remote_push)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_inflight_bytes", &self.max_inflight_bytes)
            .field("tls", &self.web.tls.is_some())
            .field("basic_auth", &self.web.basic_auth)
            .finish()
    }
}

/// Answers one request: basic auth first when the web config asks for it (a push that presents the
/// push token passes without it), then the route, then the web config's response headers. Generic over
/// the body so tests need no socket. `push_budget` is shared by every connection and holds the bytes of
/// the push bodies being read.
pub async fn handle<B>(
    backend: &dyn Backend,
    options: &HttpOptions,
    push_budget: &InflightBytes,
    peer: SocketAddr,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: fmt::Display,
{
    let mut response = match &options.web.basic_auth {
        Some(users) if !passes_basic_auth(users, options, &request).await => {
            let response = unauthorized();
            if request.uri().path() == PUSH_PATH {
                backend.count_push_response(response.status().as_u16());
            }
            response
        }
        _ => route(backend, options, push_budget, peer, request).await,
    };
    for (name, value) in &options.web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Whether a request may pass the web config's basic auth: it presents one of its users, or it is a
/// push that presents the push token (the pusher's own credential, which takes the one `Authorization`
/// header a request has).
async fn passes_basic_auth<B>(
    users: &Arc<basic_auth::BasicAuth>,
    options: &HttpOptions,
    request: &Request<B>,
) -> bool {
    let authorization = request.headers().get(AUTHORIZATION);
    if request.uri().path() == PUSH_PATH {
        if let Some(token) = &options.push_token {
            if presents_token(authorization, token) {
                return true;
            }
        }
    }
    users.allows(authorization.map(HeaderValue::as_bytes)).await
}

/// 401 with `WWW-Authenticate: Basic`, so that a browser asks for a user and password.
fn unauthorized() -> Response<Full<Bytes>> {
    let mut response = text_response(
        StatusCode::UNAUTHORIZED,
        TEXT_CONTENT_TYPE,
        "Unauthorized: give a user and password of the web config's basic_auth_users\n",
    );
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mfu-exporter\", charset=\"UTF-8\""),
    );
    response
}

/// Routes one request.
async fn route<B>(
    backend: &dyn Backend,
    options: &HttpOptions,
    push_budget: &InflightBytes,
    peer: SocketAddr,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: fmt::Display,
{
    let path = request.uri().path();
    let method = request.method();
    // The telemetry path is checked first so that it wins even if it is configured as one of the fixed paths.
    if path == options.telemetry_path {
        return read_only(method, || {
            exposition::respond(request.headers(), backend.render_metrics())
        });
    }
    match path {
        PUSH_PATH => {
            let response = handle_push(backend, options, push_budget, peer, request).await;
            backend.count_push_response(response.status().as_u16());
            response
        }
        HEALTHY_PATH | READY_PATH if backend.failure().is_some() => read_only(method, || {
            let reason = backend.failure().unwrap_or_default();
            text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT_CONTENT_TYPE,
                format!("Unavailable: {reason}\n"),
            )
        }),
        READY_PATH if backend.not_ready().is_some() => read_only(method, || {
            let reason = backend.not_ready().unwrap_or_default();
            text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT_CONTENT_TYPE,
                format!("Not ready: {reason}\n"),
            )
        }),
        HEALTHY_PATH => read_only(method, || {
            text_response(StatusCode::OK, TEXT_CONTENT_TYPE, "Healthy\n")
        }),
        // Requests are only routed once the listener is bound, so answering at all means ready.
        READY_PATH => read_only(method, || {
            text_response(StatusCode::OK, TEXT_CONTENT_TYPE, "Ready\n")
        }),
        LANDING_PATH => read_only(method, || {
            text_response(StatusCode::OK, HTML_CONTENT_TYPE, backend.landing_page())
        }),
        _ => not_found(options),
    }
}

/// Accepts connections until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// (for at most [`SHUTDOWN_GRACE`]).
///
/// Each connection runs in its own task. Idle keep-alive connections are closed at shutdown, and also once they
/// have waited `request_timeout` for the next request's headers; a response not written out within
/// `request_timeout` of the first write that would block closes its connection. At most `max_connections` are
/// served at once: past that a new connection evicts the oldest idle one (or the oldest of all), so that a
/// scraper is answered while others hold every connection. Accept errors (such as EMFILE) are logged and
/// retried, never returned: the result is `Ok(())` once the server has stopped.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    options: Arc<HttpOptions>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(options.request_timeout)
        .max_buf_size(MAX_CONNECTION_BUFFER_BYTES);
    let connections = Mutex::new(ConnectionTable::new(options.max_connections));
    let push_budget = InflightBytes::new(options.max_inflight_bytes);
    let shared = Arc::new(Shared {
        backend,
        options,
        push_budget,
        connections,
        connection_closed: Notify::new(),
    });
    let (stopping_sender, stopping_receiver) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);

    loop {
        // While the connections being evicted still hold their descriptors, new ones wait in the listen
        // backlog instead of being accepted and closed.
        let has_room = shared.lock_connections().has_room();
        tokio::select! {
            () = &mut shutdown => break,
            () = shared.connection_closed.notified(), if !has_room => {}
            accepted = listener.accept(), if has_room => match accepted {
                Ok((stream, peer)) => {
                    let evicted = Arc::new(Notify::new());
                    let admission = shared.lock_connections().admit(Arc::clone(&evicted));
                    let Admission::Admitted { id, evict } = admission else {
                        tracing::debug!(%peer, "too many connections are closing; closed a new one at once");
                        continue;
                    };
                    if let Some(victim) = evict {
                        victim.notify_one();
                    }
                    let registration = Registration { shared: Arc::clone(&shared), id };
                    let connection = serve_connection(
                        builder.clone(),
                        stream,
                        peer,
                        registration,
                        evicted,
                        stopping_receiver.clone(),
                    );
                    connections.spawn(connection);
                }
                Err(error) if is_per_connection_error(&error) => {
                    tracing::debug!(%error, "a connection failed before it was accepted");
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed; retrying shortly");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    }
                }
            },
            // Reaps finished connection tasks so that the set stays as large as the open connections.
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = joined {
                    tracing::warn!(%error, "a connection task failed");
                }
            }
        }
    }

    drop(listener);
    stopping_sender.send_replace(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open_connections = connections.len(),
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "connections still open after the shutdown grace period are dropped"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// What every connection task shares, behind one reference count.
struct Shared {
    backend: Arc<dyn Backend>,
    options: Arc<HttpOptions>,
    push_budget: InflightBytes,
    /// Locked only for bookkeeping, never across an await.
    connections: Mutex<ConnectionTable<Arc<Notify>>>,
    /// Woken whenever a connection's task ends.
    connection_closed: Notify,
}

impl Shared {
    fn lock_connections(&self) -> MutexGuard<'_, ConnectionTable<Arc<Notify>>> {
        // The table stays consistent whatever panicked while holding it, so a poisoned lock is still usable.
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's entry in the table, removed when the connection's task ends.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Registration {
    fn set_idle(&self, idle: bool) {
        self.shared.lock_connections().set_idle(self.id, idle);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let flood_ended = self.shared.lock_connections().remove(self.id);
        self.shared.connection_closed.notify_one();
        if flood_ended {
            limits::release_freed_memory();
        }
    }
}

async fn serve_connection(
    builder: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    registration: Registration,
    evicted: Arc<Notify>,
    mut stopping: watch::Receiver<bool>,
) {
    // Responses are written in one go, so Nagle's algorithm would only delay them.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, %peer, "could not set TCP_NODELAY");
    }
    let registration = Arc::new(registration);
    let request_timeout = registration.shared.options.request_timeout;
    let service = {
        let registration = Arc::clone(&registration);
        hyper::service::service_fn(move |request| {
            let registration = Arc::clone(&registration);
            async move {
                registration.set_idle(false);
                let shared = &registration.shared;
                let response = handle(
                    shared.backend.as_ref(),
                    &shared.options,
                    &shared.push_budget,
                    peer,
                    request,
                )
                .await;
                registration.set_idle(true);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let Some(tls) = registration.shared.options.web.tls.clone() else {
        let stream = WriteDeadline::new(stream, request_timeout);
        drive_connection(
            builder,
            TokioIo::new(AnswerMalformed::new(stream)),
            service,
            peer,
            (evicted, stopping),
            || registration.shared.backend.count_malformed_request(),
        )
        .await;
        return;
    };
    // The first byte and the handshake are bounded together like a request head, so that a
    // client that opens a connection and says nothing holds it no longer than an idle
    // plain-HTTP one; stopping and eviction end the wait.
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let opening = async {
        let mut first = [0_u8; 1];
        // Plain HTTP opens with a method's capital letters, TLS with a record type (0x16).
        if matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase()) {
            return Opening::PlainHttp(stream);
        }
        Opening::Tls(
            acceptor
                .accept(WriteDeadline::new(stream, request_timeout))
                .await
                .map(Box::new),
        )
    };
    let opening = tokio::select! {
        biased;
        () = until_stopping(&mut stopping) => return,
        () = evicted.notified() => return,
        opening = tokio::time::timeout(request_timeout, opening) => opening,
    };
    match opening {
        Ok(Opening::Tls(Ok(stream))) => {
            drive_connection(
                builder,
                TokioIo::new(AnswerMalformed::new(*stream)),
                service,
                peer,
                (evicted, stopping),
                || registration.shared.backend.count_malformed_request(),
            )
            .await;
        }
        Ok(Opening::PlainHttp(mut stream)) => {
            // As Go's server answers, so that `curl http://` says what is wrong instead of
            // failing with a handshake error.
            let _ = tokio::time::timeout(
                request_timeout,
                tokio::io::AsyncWriteExt::write_all(&mut stream, PLAIN_HTTP_TO_TLS_RESPONSE),
            )
            .await;
        }
        Ok(Opening::Tls(Err(error))) => tracing::debug!(%error, %peer, "TLS handshake failed"),
        Err(_elapsed) => {
            tracing::debug!(%peer, "TLS handshake did not finish within the request timeout")
        }
    }
}

/// How a connection to the TLS server opened.
enum Opening {
    /// With plain HTTP: it gets [`PLAIN_HTTP_TO_TLS_RESPONSE`].
    PlainHttp(TcpStream),
    /// With a TLS handshake, and how it ended (boxed: a TLS connection is far larger).
    Tls(io::Result<Box<tokio_rustls::server::TlsStream<WriteDeadline<TcpStream>>>>),
}

/// The answer to plain HTTP on the TLS port, Go's words.
const PLAIN_HTTP_TO_TLS_RESPONSE: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Serves HTTP/1.1 on one connection (plain or TLS) until it ends, is evicted or the server stops.
async fn drive_connection<I, S>(
    builder: hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    peer: SocketAddr,
    (evicted, mut stopping): (Arc<Notify>, watch::Receiver<bool>),
    count_malformed: impl FnOnce(),
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = Full<Bytes>>,
    S::Future: Send,
{
    let mut connection = pin!(builder.serve_connection(io, service));
    let result = tokio::select! {
        // Stopping is checked first, so that a connection woken by both a request and the signal answers
        // that request with `Connection: close` and then ends.
        biased;
        () = until_stopping(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = evicted.notified() => {
            tracing::debug!(%peer, "closed to make room for a new connection");
            Ok(())
        }
        result = connection.as_mut() => result,
    };
    if let Err(error) = result {
        if error.is_parse() {
            count_malformed();
        }
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
}

/// Resolves once the server begins to stop.
async fn until_stopping(stopping: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means the server is stopping. The guard that `wait_for`
    // returns is dropped here because it must not be held across an await.
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

/// Errors that concern only the connection being accepted, after which the next accept can follow at once.
fn is_per_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

async fn handle_push<B>(
    backend: &dyn Backend,
    options: &HttpOptions,
    push_budget: &InflightBytes,
    peer: SocketAddr,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: fmt::Display,
{
    if request.method() != Method::POST {
        let mut response = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed; send the push with POST",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    match &options.push_token {
        Some(token) => {
            if !presents_token(request.headers().get(AUTHORIZATION), token) {
                let mut response = json_error(
                    StatusCode::UNAUTHORIZED,
                    "missing or wrong bearer token; send the header `Authorization: Bearer <token>` \
                     with the token from --push.token-file",
                );
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        }
        None => {
            if !options.allow_remote_push && !is_loopback(peer.ip()) {
                return json_error(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "pushes from {} are refused because only loopback may push without a token; \
                         start the exporter with --push.token-file to require a token, \
                         or with --push.allow-remote to accept pushes from anywhere",
                        peer.ip()
                    ),
                );
            }
        }
    }
    let max_body_bytes = usize::try_from(options.max_body_bytes).unwrap_or(usize::MAX);
    let declared_bytes = declared_content_length(&request);
    if declared_bytes.is_some_and(|bytes| bytes > options.max_body_bytes) {
        return body_too_large(options.max_body_bytes);
    }
    // The declared length is reserved before any body byte is read, so that pushes that declare a body and
    // stall hold the budget they would fill; a chunked body reserves each piece as it arrives.
    let Some(mut reservation) = push_budget.try_reserve(declared_bytes.unwrap_or(0)) else {
        return push_budget_exhausted(push_budget);
    };
    // The declared length (already known to be within the cap) sizes the buffer up to a bound; the buffer
    // grows past it, or for a chunked body, only as bytes arrive.
    let capacity_bytes = declared_bytes
        .and_then(|bytes| usize::try_from(bytes).ok())
        .unwrap_or(0)
        .min(MAX_PREALLOCATED_BODY_BYTES);
    let read = tokio::time::timeout(
        options.request_timeout,
        read_body(
            request.into_body(),
            max_body_bytes,
            capacity_bytes,
            &mut reservation,
        ),
    )
    .await;
    let body = match read {
        Err(_elapsed) => {
            let mut response = json_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request body did not arrive within {} seconds",
                    options.request_timeout.as_secs_f64()
                ),
            );
            close_connection(&mut response);
            return response;
        }
        Ok(Err(BodyReadError::TooLarge)) => return body_too_large(options.max_body_bytes),
        Ok(Err(BodyReadError::OverBudget)) => return push_budget_exhausted(push_budget),
        Ok(Err(BodyReadError::Stream(detail))) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {detail}"),
            );
        }
        Ok(Ok(body)) => body,
    };
    let pushed = backend.push(&body);
    // The budget covers the body until the backend is done with it.
    drop(body);
    drop(reservation);
    match pushed {
        Ok(accepted) => {
            let body = serde_json::json!({ "accepted": accepted }).to_string();
            text_response(StatusCode::OK, JSON_CONTENT_TYPE, body)
        }
        Err(PushRejection::BadRequest(message)) => json_error(StatusCode::BAD_REQUEST, &message),
        Err(PushRejection::TooManyRuns(message)) => {
            json_error(StatusCode::TOO_MANY_REQUESTS, &message)
        }
    }
}

enum BodyReadError {
    TooLarge,
    OverBudget,
    Stream(String),
}

/// Reads the whole body into a buffer that starts with `capacity_bytes`, failing as soon as it passes
/// `max_body_bytes`, or as soon as it holds more than `reservation` and the budget cannot grow it.
async fn read_body<B>(
    body: B,
    max_body_bytes: usize,
    capacity_bytes: usize,
    reservation: &mut Reservation<'_>,
) -> Result<Vec<u8>, BodyReadError>
where
    B: Body<Data = Bytes>,
    B::Error: fmt::Display,
{
    let mut body = pin!(body);
    let mut collected = Vec::with_capacity(capacity_bytes);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| BodyReadError::Stream(error.to_string()))?;
        // Trailers carry nothing a push needs, so only data frames count.
        if let Ok(data) = frame.into_data() {
            if data.len() > max_body_bytes.saturating_sub(collected.len()) {
                return Err(BodyReadError::TooLarge);
            }
            let held_bytes =
                u64::try_from(collected.len().saturating_add(data.len())).unwrap_or(u64::MAX);
            if !reservation.try_grow(held_bytes.saturating_sub(reservation.bytes())) {
                return Err(BodyReadError::OverBudget);
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected)
}

/// The body length the client declared, if it declared a valid one.
fn declared_content_length<B>(request: &Request<B>) -> Option<u64> {
    request
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the `Authorization` header is `Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn presents_token(authorization: Option<&HeaderValue>, token: &str) -> bool {
    let Some(authorization) = authorization else {
        return false;
    };
    let value = authorization.as_bytes();
    let scheme = b"bearer ";
    let Some((given_scheme, credentials)) = value.split_at_checked(scheme.len()) else {
        return false;
    };
    if !given_scheme.eq_ignore_ascii_case(scheme) {
        return false;
    }
    constant_time_eq(credentials.trim_ascii(), token.as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths, so that a wrong token's timing does
/// not reveal how much of it was right.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given
        .iter()
        .zip(expected)
        .fold(0_u8, |difference, (a, b)| difference | (a ^ b));
    // Keeps the optimizer from turning the fold into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

/// Loopback in IPv4 (127.0.0.0/8), IPv6 (::1) and IPv4-mapped IPv6 (::ffff:127.0.0.0/104).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|mapped| mapped.is_loopback())
        }
    }
}

/// Answers GET and HEAD with `respond` (hyper leaves out the body of a HEAD response) and any other method
/// with 405.
fn read_only(
    method: &Method,
    respond: impl FnOnce() -> Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    if method == Method::GET || method == Method::HEAD {
        return respond();
    }
    let mut response = text_response(
        StatusCode::METHOD_NOT_ALLOWED,
        TEXT_CONTENT_TYPE,
        "method not allowed; use GET or HEAD\n",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn not_found(options: &HttpOptions) -> Response<Full<Bytes>> {
    let body = format!(
        "not found; the routes are:\n\
         GET {telemetry}\n\
         POST {PUSH_PATH}\n\
         GET {HEALTHY_PATH}\n\
         GET {READY_PATH}\n\
         GET {LANDING_PATH}\n",
        telemetry = options.telemetry_path
    );
    text_response(StatusCode::NOT_FOUND, TEXT_CONTENT_TYPE, body)
}

fn body_too_large(max_body_bytes: u64) -> Response<Full<Bytes>> {
    let mut response = json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than {max_body_bytes} bytes; send fewer samples per push"),
    );
    close_connection(&mut response);
    response
}

/// 503 with `Retry-After`: the pushes being read hold the whole in-flight budget. The connection closes,
/// because the body is left unread.
fn push_budget_exhausted(push_budget: &InflightBytes) -> Response<Full<Bytes>> {
    let mut response = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "pushes being received hold the whole --push.max-inflight-bytes budget of {} bytes; \
             retry after a second",
            push_budget.limit_bytes()
        ),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    close_connection(&mut response);
    response
}

/// Asks hyper to close the connection after the response, because the unread rest of the body would otherwise
/// be taken for the next request's head.
fn close_connection(response: &mut Response<Full<Bytes>>) {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
}

/// `{"error": "<message>"}` with the message escaped by serde_json.
fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    text_response(status, JSON_CONTENT_TYPE, body)
}

fn text_response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use hyper::body::Frame;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::*;

    const METRICS_BODY: &str = "# TYPE test_metric gauge\ntest_metric 1\n";
    const LOCAL: &str = "127.0.0.1:40000";
    const REMOTE: &str = "10.1.2.3:40000";
    const TOKEN: &str = "s3cret-token";
    /// Bounds every loopback test, so that a hang fails instead of blocking the suite.
    const DEADLINE: Duration = Duration::from_secs(10);

    /// Request headers as (name, value) pairs.
    type Headers<'a> = &'a [(&'a str, &'a str)];
    /// The status, content type and a piece of the body that a response must have.
    type Expected<'a> = (u16, &'a str, &'a str);

    /// Records pushes and counted push responses; a push body of `bad` or `many` is rejected as 400 or 429.
    #[derive(Default)]
    struct FakeBackend {
        pushes: Mutex<Vec<Vec<u8>>>,
        push_response_counts: Mutex<BTreeMap<u16, u64>>,
    }

    impl FakeBackend {
        fn pushes(&self) -> Vec<Vec<u8>> {
            self.pushes.lock().unwrap().clone()
        }

        fn push_response_counts(&self) -> BTreeMap<u16, u64> {
            self.push_response_counts.lock().unwrap().clone()
        }
    }

    impl Backend for FakeBackend {
        fn render_metrics(&self) -> String {
            METRICS_BODY.to_owned()
        }

        fn landing_page(&self) -> String {
            "<html><body>mfu-exporter</body></html>".to_owned()
        }

        fn push(&self, body: &[u8]) -> Result<usize, PushRejection> {
            self.pushes.lock().unwrap().push(body.to_vec());
            match body {
                b"bad" => Err(PushRejection::BadRequest(
                    "malformed json: \"quoted\"\nand a new line".to_owned(),
                )),
                b"many" => Err(PushRejection::TooManyRuns(
                    "run \"r9\" would exceed --runs.max 8".to_owned(),
                )),
                _ => Ok(body.split(|byte| *byte == b'\n').count()),
            }
        }

        fn count_push_response(&self, code: u16) {
            *self
                .push_response_counts
                .lock()
                .unwrap()
                .entry(code)
                .or_default() += 1;
        }
    }

    /// Yields its chunks one frame at a time, like a chunked transfer.
    struct ChunkedBody(VecDeque<Bytes>);

    impl Body for ChunkedBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _context: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    /// Fails when read and remembers that it was, to prove a response came without reading the body.
    #[derive(Default)]
    struct FailingBody(Arc<AtomicBool>);

    impl Body for FailingBody {
        type Data = Bytes;
        type Error = String;

        fn poll_frame(
            self: Pin<&mut Self>,
            _context: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, String>>> {
            self.0.store(true, Ordering::SeqCst);
            Poll::Ready(Some(Err("connection reset by peer".to_owned())))
        }
    }

    /// Never delivers a byte, like a client that stalls after its headers.
    struct StalledBody;

    impl Body for StalledBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _context: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Pending
        }
    }

    /// The parts of a response the tests look at.
    #[derive(Debug)]
    struct Outcome {
        status: u16,
        content_type: String,
        body: String,
        headers: hyper::HeaderMap,
    }

    fn request<B>(method: &str, path: &str, headers: &[(&str, &str)], body: B) -> Request<B> {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(body).unwrap()
    }

    async fn respond<B>(
        backend: &FakeBackend,
        options: &HttpOptions,
        peer: &str,
        request: Request<B>,
    ) -> Outcome
    where
        B: Body<Data = Bytes> + Send,
        B::Error: fmt::Display,
    {
        let push_budget = InflightBytes::new(options.max_inflight_bytes);
        let response = handle(
            backend,
            options,
            &push_budget,
            peer.parse().unwrap(),
            request,
        )
        .await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        Outcome {
            status,
            content_type,
            body,
            headers,
        }
    }

    /// Sends one request with a complete body and checks status, content type and a piece of the body.
    async fn check(
        options: &HttpOptions,
        (method, path, headers, body, peer): (&str, &str, Headers<'_>, &str, &str),
        (status, content_type, body_contains): Expected<'_>,
    ) -> Outcome {
        let backend = FakeBackend::default();
        let full = Full::new(Bytes::copy_from_slice(body.as_bytes()));
        let outcome = respond(
            &backend,
            options,
            peer,
            request(method, path, headers, full),
        )
        .await;
        let case = format!("{method} {path} {headers:?} {body:?} from {peer}");
        assert_eq!(outcome.status, status, "{case}: {outcome:?}");
        assert_eq!(outcome.content_type, content_type, "{case}: {outcome:?}");
        assert!(outcome.body.contains(body_contains), "{case}: {outcome:?}");
        if content_type == JSON_CONTENT_TYPE {
            let json: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
            assert!(json.is_object(), "{case}: {outcome:?}");
        }
        outcome
    }

    fn header<'a>(outcome: &'a Outcome, name: &str) -> &'a str {
        outcome
            .headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or("")
    }

    fn with_token() -> HttpOptions {
        HttpOptions {
            push_token: Some(TOKEN.to_owned()),
            ..HttpOptions::default()
        }
    }

    #[tokio::test]
    async fn read_only_routes() {
        let options = HttpOptions::default();
        let none: &[(&str, &str)] = &[];
        let metrics = (200, METRICS_CONTENT_TYPE, METRICS_BODY);
        check(&options, ("GET", "/metrics", none, "", LOCAL), metrics).await;
        check(&options, ("HEAD", "/metrics", none, "", LOCAL), metrics).await;
        check(
            &options,
            ("GET", "/metrics?name[]=x", none, "", REMOTE),
            metrics,
        )
        .await;
        let healthy = (200, TEXT_CONTENT_TYPE, "Healthy\n");
        check(&options, ("GET", "/-/healthy", none, "", LOCAL), healthy).await;
        check(&options, ("HEAD", "/-/healthy", none, "", LOCAL), healthy).await;
        let ready = (200, TEXT_CONTENT_TYPE, "Ready\n");
        check(&options, ("GET", "/-/ready", none, "", REMOTE), ready).await;
        let landing = (200, HTML_CONTENT_TYPE, "mfu-exporter");
        check(&options, ("GET", "/", none, "", LOCAL), landing).await;
        let not_found = (404, TEXT_CONTENT_TYPE, "POST /api/v1/push");
        check(&options, ("GET", "/nope", none, "", LOCAL), not_found).await;
        check(&options, ("GET", "/metrics/", none, "", LOCAL), not_found).await;
        check(
            &options,
            ("GET", "/api/v1/push/", none, "", LOCAL),
            not_found,
        )
        .await;
    }

    #[tokio::test]
    async fn other_methods_on_read_only_routes_are_405_with_allow() {
        let options = HttpOptions::default();
        let none: &[(&str, &str)] = &[];
        for (method, path) in [
            ("POST", "/metrics"),
            ("PUT", "/-/healthy"),
            ("DELETE", "/-/ready"),
            ("POST", "/"),
            ("OPTIONS", "/metrics"),
        ] {
            let expected = (405, TEXT_CONTENT_TYPE, "use GET or HEAD");
            let outcome = check(&options, (method, path, none, "", LOCAL), expected).await;
            assert_eq!(header(&outcome, "allow"), "GET, HEAD", "{method} {path}");
        }
    }

    #[tokio::test]
    async fn telemetry_path_is_configurable() {
        let options = HttpOptions {
            telemetry_path: "/custom".to_owned(),
            ..HttpOptions::default()
        };
        let none: &[(&str, &str)] = &[];
        check(
            &options,
            ("GET", "/custom", none, "", LOCAL),
            (200, METRICS_CONTENT_TYPE, "test_metric"),
        )
        .await;
        check(
            &options,
            ("GET", "/metrics", none, "", LOCAL),
            (404, TEXT_CONTENT_TYPE, "GET /custom"),
        )
        .await;
    }

    #[tokio::test]
    async fn push_without_token() {
        let options = HttpOptions::default();
        let allow_remote = HttpOptions {
            allow_remote_push: true,
            ..HttpOptions::default()
        };
        let none: &[(&str, &str)] = &[];
        let json = JSON_CONTENT_TYPE;
        let push = "/api/v1/push";
        let forbidden = (403, json, "--push.token-file");
        check(
            &options,
            ("POST", push, none, "a\nb", LOCAL),
            (200, json, r#"{"accepted":2}"#),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "a", "127.9.8.7:1"),
            (200, json, "accepted"),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "a", "[::1]:1"),
            (200, json, "accepted"),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "a", "[::ffff:127.0.0.1]:1"),
            (200, json, "accepted"),
        )
        .await;
        check(&options, ("POST", push, none, "a", REMOTE), forbidden).await;
        check(
            &options,
            ("POST", push, none, "a", REMOTE),
            (403, json, "--push.allow-remote"),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "a", "[::ffff:10.0.0.1]:1"),
            forbidden,
        )
        .await;
        check(
            &options,
            ("POST", push, none, "a", "[2001:db8::1]:1"),
            forbidden,
        )
        .await;
        check(&options, ("POST", push, none, "a", "0.0.0.0:1"), forbidden).await;
        check(
            &allow_remote,
            ("POST", push, none, "a", REMOTE),
            (200, json, "accepted"),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "bad", LOCAL),
            (400, json, "malformed json"),
        )
        .await;
        check(
            &options,
            ("POST", push, none, "many", LOCAL),
            (429, json, "--runs.max"),
        )
        .await;
    }

    #[tokio::test]
    async fn push_with_token() {
        let options = with_token();
        let json = JSON_CONTENT_TYPE;
        let push = "/api/v1/push";
        let ok = (200, json, "accepted");
        let unauthorized = (401, json, "bearer token");
        let cases: &[(Headers<'_>, Expected<'_>)] = &[
            (&[("authorization", "Bearer s3cret-token")], ok),
            (&[("authorization", "bearer s3cret-token")], ok),
            (&[("authorization", "BEARER   s3cret-token  ")], ok),
            (&[], unauthorized),
            (&[("authorization", "Bearer s3cret-tokeN")], unauthorized),
            (
                &[("authorization", "Bearer s3cret-token-and-more")],
                unauthorized,
            ),
            (&[("authorization", "Bearer s3cret")], unauthorized),
            (&[("authorization", "Bearer ")], unauthorized),
            (&[("authorization", "Bearer")], unauthorized),
            (&[("authorization", "Basic czNjcmV0LXRva2Vu")], unauthorized),
            (&[("authorization", "s3cret-token")], unauthorized),
        ];
        for (headers, expected) in cases {
            // A token admits remote peers too, so the peer does not matter here.
            for peer in [LOCAL, REMOTE] {
                let outcome = check(&options, ("POST", push, headers, "a", peer), *expected).await;
                let challenge = if outcome.status == 401 { "Bearer" } else { "" };
                assert_eq!(
                    header(&outcome, "www-authenticate"),
                    challenge,
                    "{headers:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn push_with_another_method_is_405_before_any_other_check() {
        let none: &[(&str, &str)] = &[];
        for options in [HttpOptions::default(), with_token()] {
            for method in ["GET", "HEAD", "PUT", "DELETE"] {
                let expected = (405, JSON_CONTENT_TYPE, "POST");
                let outcome = check(
                    &options,
                    (method, "/api/v1/push", none, "a", REMOTE),
                    expected,
                )
                .await;
                assert_eq!(header(&outcome, "allow"), "POST", "{method}");
            }
        }
    }

    #[tokio::test]
    async fn push_over_declared_content_length_is_413_without_reading_the_body() {
        let backend = FakeBackend::default();
        let options = HttpOptions {
            max_body_bytes: 10,
            ..HttpOptions::default()
        };
        let body = FailingBody::default();
        let read = Arc::clone(&body.0);
        let headers = [("content-length", "11")];
        let request = request("POST", "/api/v1/push", &headers, body);
        let outcome = respond(&backend, &options, LOCAL, request).await;
        assert_eq!(outcome.status, 413, "{outcome:?}");
        assert_eq!(outcome.content_type, JSON_CONTENT_TYPE);
        assert!(outcome.body.contains("larger than 10 bytes"), "{outcome:?}");
        assert_eq!(header(&outcome, "connection"), "close");
        assert!(!read.load(Ordering::SeqCst), "the body was read");
        assert!(backend.pushes().is_empty());
        assert_eq!(backend.push_response_counts(), BTreeMap::from([(413, 1)]));
    }

    #[tokio::test]
    async fn push_streamed_past_the_cap_is_413() {
        let options = HttpOptions {
            max_body_bytes: 10,
            ..HttpOptions::default()
        };
        let chunks = |sizes: &[usize]| {
            ChunkedBody(
                sizes
                    .iter()
                    .map(|size| Bytes::from(vec![b'x'; *size]))
                    .collect(),
            )
        };
        for (sizes, status) in [
            (&[4, 4, 3][..], 413),
            (&[11][..], 413),
            (&[4, 4, 2][..], 200),
            (&[10, 0][..], 200),
            (&[][..], 200),
        ] {
            let backend = FakeBackend::default();
            let request = request("POST", "/api/v1/push", &[], chunks(sizes));
            let outcome = respond(&backend, &options, LOCAL, request).await;
            assert_eq!(outcome.status, status, "{sizes:?}: {outcome:?}");
            let pushed: Vec<usize> = backend.pushes().iter().map(Vec::len).collect();
            let expected: Vec<usize> = if status == 200 {
                vec![sizes.iter().sum()]
            } else {
                Vec::new()
            };
            assert_eq!(pushed, expected, "{sizes:?}");
        }
    }

    #[tokio::test]
    async fn push_whose_body_stalls_is_408() {
        let backend = FakeBackend::default();
        let options = HttpOptions {
            request_timeout: Duration::from_millis(20),
            ..HttpOptions::default()
        };
        let request = request(
            "POST",
            "/api/v1/push",
            &[("content-length", "5")],
            StalledBody,
        );
        let outcome = respond(&backend, &options, LOCAL, request).await;
        assert_eq!(outcome.status, 408, "{outcome:?}");
        assert!(
            outcome.body.contains("did not arrive within 0.02 seconds"),
            "{outcome:?}"
        );
        assert_eq!(header(&outcome, "connection"), "close");
        assert!(backend.pushes().is_empty());
        assert_eq!(backend.push_response_counts(), BTreeMap::from([(408, 1)]));
    }

    #[tokio::test]
    async fn push_beyond_the_inflight_budget_is_503_with_retry_after() {
        let options = HttpOptions {
            max_inflight_bytes: 10,
            ..HttpOptions::default()
        };
        let budget = InflightBytes::new(options.max_inflight_bytes);
        let held = budget.try_reserve(6).unwrap();
        let peer = LOCAL.parse().unwrap();
        let chunked = |sizes: &[usize]| {
            ChunkedBody(
                sizes
                    .iter()
                    .map(|size| Bytes::from(vec![b'x'; *size]))
                    .collect(),
            )
        };
        for (headers, body, status) in [
            (&[("content-length", "5")][..], chunked(&[5]), 503),
            (&[("content-length", "4")][..], chunked(&[4]), 200),
            (&[][..], chunked(&[2, 2, 1]), 503),
            (&[][..], chunked(&[2, 2]), 200),
        ] {
            let backend = FakeBackend::default();
            let request = request("POST", "/api/v1/push", headers, body);
            let response = handle(&backend, &options, &budget, peer, request).await;
            assert_eq!(response.status().as_u16(), status, "{headers:?}");
            assert_eq!(
                backend.push_response_counts(),
                BTreeMap::from([(status, 1)])
            );
            if status == 503 {
                assert_eq!(response.headers()[RETRY_AFTER], "1");
                assert_eq!(response.headers()[CONNECTION], "close");
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let message = json["error"].as_str().unwrap();
                assert!(message.contains("--push.max-inflight-bytes"), "{message}");
                assert!(backend.pushes().is_empty());
            }
            assert_eq!(budget.used_bytes(), 6, "a finished push returns its bytes");
        }
        drop(held);
        assert_eq!(budget.used_bytes(), 0);
    }

    #[tokio::test]
    async fn push_whose_body_fails_to_arrive_is_400() {
        let backend = FakeBackend::default();
        let options = HttpOptions::default();
        let request = request("POST", "/api/v1/push", &[], FailingBody::default());
        let outcome = respond(&backend, &options, LOCAL, request).await;
        assert_eq!(outcome.status, 400, "{outcome:?}");
        assert!(
            outcome.body.contains("connection reset by peer"),
            "{outcome:?}"
        );
        assert!(backend.pushes().is_empty());
    }

    #[tokio::test]
    async fn error_messages_are_escaped_json() {
        let backend = FakeBackend::default();
        let request = request(
            "POST",
            "/api/v1/push",
            &[],
            Full::new(Bytes::from_static(b"bad")),
        );
        let outcome = respond(&backend, &HttpOptions::default(), LOCAL, request).await;
        let json: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
        let expected = serde_json::json!({ "error": "malformed json: \"quoted\"\nand a new line" });
        assert_eq!(json, expected);
    }

    #[tokio::test]
    async fn every_push_response_is_counted_by_code_and_nothing_else_is() {
        let backend = FakeBackend::default();
        let options = HttpOptions {
            max_body_bytes: 8,
            ..with_token()
        };
        let bearer = [("authorization", "Bearer s3cret-token")];
        let too_long = [
            ("authorization", "Bearer s3cret-token"),
            ("content-length", "9"),
        ];
        let requests: Vec<(&str, &str, Headers<'_>, &str)> = vec![
            ("POST", "/api/v1/push", &bearer, "a"),
            ("POST", "/api/v1/push", &bearer, "a\nb"),
            ("POST", "/api/v1/push", &bearer, "bad"),
            ("POST", "/api/v1/push", &bearer, "many"),
            ("POST", "/api/v1/push", &[], "a"),
            ("GET", "/api/v1/push", &bearer, ""),
            ("POST", "/api/v1/push", &too_long, "123456789"),
            ("POST", "/api/v1/push", &bearer, "123456789"),
            ("GET", "/metrics", &[], ""),
            ("GET", "/-/healthy", &[], ""),
            ("POST", "/nope", &[], ""),
        ];
        for (method, path, headers, body) in requests {
            let full = Full::new(Bytes::copy_from_slice(body.as_bytes()));
            respond(
                &backend,
                &options,
                LOCAL,
                request(method, path, headers, full),
            )
            .await;
        }
        let counts = BTreeMap::from([(200, 2), (400, 1), (401, 1), (405, 1), (413, 2), (429, 1)]);
        assert_eq!(backend.push_response_counts(), counts);
        assert_eq!(backend.pushes().len(), 4);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn options_debug_hides_the_token() {
        let debug = format!("{:?}", with_token());
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    /// A minimal HTTP/1.1 client over one kept-alive connection.
    struct Client {
        stream: BufReader<TcpStream>,
    }

    /// A parsed response; `headers` keeps lower-cased names.
    #[derive(Debug)]
    struct RawResponse {
        status: u16,
        headers: BTreeMap<String, String>,
        body: String,
    }

    impl Client {
        async fn connect(address: SocketAddr) -> Client {
            Client {
                stream: BufReader::new(TcpStream::connect(address).await.unwrap()),
            }
        }

        async fn send(&mut self, bytes: &[u8]) {
            self.stream.get_mut().write_all(bytes).await.unwrap();
        }

        /// Reads a status line and headers, then a `Content-Length` body unless `has_body` is false.
        async fn read_response(&mut self, has_body: bool) -> RawResponse {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.unwrap();
            let status = line.split(' ').nth(1).unwrap().parse().unwrap();
            let mut headers = BTreeMap::new();
            loop {
                line.clear();
                self.stream.read_line(&mut line).await.unwrap();
                if line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
            }
            let length: usize = headers
                .get("content-length")
                .map_or(0, |length| length.parse().unwrap());
            let mut body = vec![0; if has_body { length } else { 0 }];
            self.stream.read_exact(&mut body).await.unwrap();
            RawResponse {
                status,
                headers,
                body: String::from_utf8(body).unwrap(),
            }
        }

        async fn request(&mut self, head: &str, body: &str) -> RawResponse {
            let length = body.len();
            let message = format!("{head}\r\nHost: test\r\nContent-Length: {length}\r\n\r\n{body}");
            self.send(message.as_bytes()).await;
            self.read_response(!head.starts_with("HEAD ")).await
        }

        /// Whether the server has closed the connection (end of file or a reset).
        async fn is_closed(&mut self) -> bool {
            let mut byte = [0; 1];
            matches!(self.stream.read(&mut byte).await, Ok(0) | Err(_))
        }
    }

    struct RunningServer {
        address: SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<io::Result<()>>,
    }

    async fn start(backend: Arc<FakeBackend>, options: HttpOptions) -> RunningServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, backend, Arc::new(options), shutdown));
        RunningServer {
            address,
            stop,
            task,
        }
    }

    impl RunningServer {
        /// Signals shutdown and waits for `serve` to return.
        async fn stop(self) {
            self.stop.send(()).unwrap();
            self.task.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn loopback_keep_alive_then_clean_shutdown() {
        tokio::time::timeout(DEADLINE, async {
            let backend = Arc::new(FakeBackend::default());
            let server = start(Arc::clone(&backend), HttpOptions::default()).await;
            let mut client = Client::connect(server.address).await;

            let metrics = client.request("GET /metrics HTTP/1.1", "").await;
            assert_eq!(metrics.status, 200, "{metrics:?}");
            assert_eq!(metrics.headers["content-type"], METRICS_CONTENT_TYPE);
            assert_eq!(metrics.body, METRICS_BODY);
            // HEAD declares the length but sends no body; the next response on the connection proves it.
            let head = client.request("HEAD /metrics HTTP/1.1", "").await;
            assert_eq!(head.status, 200, "{head:?}");
            assert_eq!(
                head.headers["content-length"],
                METRICS_BODY.len().to_string()
            );
            let push = client
                .request("POST /api/v1/push HTTP/1.1", "a\nb\nc")
                .await;
            assert_eq!(
                (push.status, push.body.as_str()),
                (200, r#"{"accepted":3}"#)
            );
            let healthy = client.request("GET /-/healthy HTTP/1.1", "").await;
            assert_eq!((healthy.status, healthy.body.as_str()), (200, "Healthy\n"));
            let missing = client.request("GET /missing HTTP/1.1", "").await;
            assert_eq!(missing.status, 404);
            assert_eq!(backend.pushes(), vec![b"a\nb\nc".to_vec()]);
            assert_eq!(backend.push_response_counts(), BTreeMap::from([(200, 1)]));

            let address = server.address;
            server.stop().await;
            assert!(
                client.is_closed().await,
                "the idle keep-alive connection stays open"
            );
            assert!(
                TcpStream::connect(address).await.is_err(),
                "still accepting"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn loopback_in_flight_push_finishes_during_shutdown() {
        tokio::time::timeout(DEADLINE, async {
            let backend = Arc::new(FakeBackend::default());
            let server = start(Arc::clone(&backend), HttpOptions::default()).await;
            let mut client = Client::connect(server.address).await;
            let head = "POST /api/v1/push HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\
                        Expect: 100-continue\r\n\r\n";
            client.send(head.as_bytes()).await;
            // hyper answers 100 Continue when the handler first reads the body, so the request is in flight.
            let proceed = client.read_response(false).await;
            assert_eq!(proceed.status, 100, "{proceed:?}");

            let address = server.address;
            let server_task = tokio::spawn(server.stop());
            // The listener closes just before connections are told to stop, so a refused connection means
            // shutdown has begun.
            while TcpStream::connect(address).await.is_ok() {
                tokio::task::yield_now().await;
            }
            client.send(b"a\nb").await;
            let push = client.read_response(true).await;
            assert_eq!(
                (push.status, push.body.as_str()),
                (200, r#"{"accepted":2}"#)
            );
            assert_eq!(
                push.headers.get("connection").map(String::as_str),
                Some("close")
            );
            assert!(client.is_closed().await);
            server_task.await.unwrap();
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn loopback_slow_request_head_is_closed_after_the_request_timeout() {
        tokio::time::timeout(DEADLINE, async {
            let options = HttpOptions {
                request_timeout: Duration::from_millis(100),
                ..HttpOptions::default()
            };
            let server = start(Arc::new(FakeBackend::default()), options).await;
            let mut client = Client::connect(server.address).await;
            client.send(b"GET /metrics HTTP/1.1\r\nHo").await;
            assert!(client.is_closed().await);
            server.stop().await;
        })
        .await
        .unwrap();
    }
}
