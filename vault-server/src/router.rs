//! Every route of the service, in one table that also writes `/openapi.json`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::{Value, json};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::ApiError;
use crate::metrics::RequestLabels;
use crate::routes::{audit, export, families, health, members, playback, recordings, uploads, web};

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// Needs a bearer token.
    pub authenticated: bool,
}

/// The route table: the router and its documentation come from the same calls.
struct Api {
    router: Router<AppState>,
    operations: Vec<Operation>,
}

impl Api {
    fn new() -> Self {
        Self { router: Router::new(), operations: Vec::new() }
    }

    fn route(
        mut self,
        method: Method,
        path: &'static str,
        summary: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let authenticated = path.starts_with("/v1/") && !PUBLIC_V1.contains(&path);
        self.operations.push(Operation { method, path, summary, authenticated });
        self.router = self.router.route(path, handler);
        self
    }
}

/// API routes without a bearer token: the public signing key, and export links
/// (the unguessable link is the credential).
const PUBLIC_V1: [&str; 2] = ["/v1/signing-key", "/v1/exports/{token}"];

/// The API routes that answer quickly with small JSON bodies.
fn json_api() -> Api {
    use axum::routing::{delete, patch, post};
    Api::new()
        .route(
            Method::POST,
            "/v1/families",
            "Create the family your token names; you become its owner",
            post(families::create),
        )
        .route(Method::GET, "/v1/family", "Your family and your role in it", get(families::get))
        .route(
            Method::DELETE,
            "/v1/family",
            "Erase the family: keys destroyed at once, objects purged after retention (owner; body {confirm})",
            delete(families::erase),
        )
        .route(
            Method::POST,
            "/v1/family/export",
            "Start an export: the recovery key (shown once) and a one-time download link (owner)",
            post(export::start),
        )
        .route(Method::GET, "/v1/family/members", "List the family's members", get(members::list))
        .route(Method::POST, "/v1/family/members", "Invite a member (owner/admin)", post(members::invite))
        .route(
            Method::PATCH,
            "/v1/family/members/{user_id}",
            "Change a member's role (owner/admin)",
            patch(members::change_role),
        )
        .route(
            Method::DELETE,
            "/v1/family/members/{user_id}",
            "Remove a member (owner/admin, or yourself)",
            delete(members::remove),
        )
        .route(Method::GET, "/v1/family/audit", "Page through the family's audit log (owner/admin)", get(audit::list))
        .route(
            Method::POST,
            "/v1/recordings",
            "Create a recording; returns its data key for client-side encryption",
            post(recordings::create),
        )
        .route(Method::GET, "/v1/recordings", "List committed recordings, newest first", get(recordings::list))
        .route(Method::GET, "/v1/recordings/{id}", "A recording's metadata", get(recordings::get))
        .route(
            Method::DELETE,
            "/v1/recordings/{id}",
            "Erase a recording (access and keys revoked at once); returns the signed receipt",
            delete(recordings::delete),
        )
        .route(
            Method::GET,
            "/v1/recordings/{id}/upload",
            "Upload progress: stored parts and the next one",
            get(uploads::status),
        )
        .route(
            Method::POST,
            "/v1/recordings/{id}/complete",
            "Commit the uploaded parts write-once",
            post(uploads::complete),
        )
        .route(
            Method::POST,
            "/v1/recordings/{id}/key",
            "Release the data key for playback (audited, rate-limited)",
            post(playback::release_key),
        )
}

/// The routes that stream large bodies: no overall timeout (the handlers time out idle bodies).
fn streaming_api() -> Api {
    use axum::routing::put;
    Api::new()
        .route(
            Method::PUT,
            "/v1/recordings/{id}/parts/{part}",
            "Upload one ciphertext part (x-vault-sha256 header)",
            put(uploads::put_part),
        )
        .route(
            Method::PUT,
            "/v1/recordings/{id}/plaintext",
            "Upload plaintext for server-side encryption",
            put(uploads::put_plaintext),
        )
        .route(
            Method::GET,
            "/v1/exports/{token}",
            "Download an export archive (the one-time link is the credential)",
            get(export::download),
        )
        .route(
            Method::GET,
            "/v1/recordings/{id}/content",
            "Download ciphertext (HTTP Range supported)",
            get(playback::content),
        )
}

fn ops_api() -> Api {
    Api::new()
        .route(Method::GET, "/healthz", "Liveness", get(health::healthz))
        .route(Method::GET, "/readyz", "Readiness: database and key service", get(health::readyz))
        .route(Method::GET, "/metrics", "Prometheus metrics", get(health::metrics))
        .route(Method::GET, "/web-config.json", "How the web page signs in", get(web::config))
        .route(
            Method::GET,
            "/v1/signing-key",
            "The public key that signs erasure receipts, scrub reports and audit anchors",
            get(health::signing_key),
        )
        .route(
            Method::POST,
            "/dev/token",
            "Development sign-in (embedded mode on loopback only)",
            axum::routing::post(web::dev_token),
        )
}

/// Every documented operation.
pub fn operations() -> Vec<Operation> {
    let mut ops = Vec::new();
    for api in [json_api(), streaming_api(), ops_api()] {
        ops.extend(api.operations);
    }
    ops.push(Operation { method: Method::GET, path: "/openapi.json", summary: "This document", authenticated: false });
    ops
}

/// The OpenAPI 3.1 document of [`operations`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for op in operations() {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{}{}", op.method.as_str().to_lowercase(), op.path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            "responses": { "default": { "description": "application/json, or application/problem+json on error" } },
        });
        if op.authenticated {
            operation["security"] = json!([{ "bearer": [] }]);
        }
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Vault API", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } } },
        "paths": paths,
    })
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let json_limit = state.config.limits.max_json_bytes;
    let timeout = Duration::from_secs(state.config.limits.request_timeout_secs);
    let document = openapi();
    let limit = move |router: Router<AppState>| {
        router.layer(middleware::from_fn(move |req, next| time_limit(timeout, req, next)))
    };
    let mut router = Router::new()
        .merge(limit(json_api().router.layer(DefaultBodyLimit::max(json_limit))))
        // Part sizes are checked against Content-Length and counted while streaming.
        .merge(streaming_api().router.layer(DefaultBodyLimit::disable()))
        .merge(limit(ops_api().router))
        .route("/openapi.json", get(move || async move { axum::Json(document) }))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this resource does not take that method",
            )
        });
    if let Some(dev) = &state.dev_issuer {
        let jwks = dev.jwks();
        router = router.route("/.well-known/jwks.json", get(move || async move { axum::Json(jwks) }));
    }
    router = match &state.config.web_dir {
        Some(_) => router.fallback(web::static_file),
        None => router.fallback(|| async { ApiError::not_found() }),
    };
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = router
        .layer(middleware::from_fn(problem_documents))
        .layer(middleware::from_fn_with_state(state.clone(), crate::middleware::host::check_host))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The path template only, and the request id: never a token or body.
            let route = req.extensions().get::<MatchedPath>().map_or("-", MatchedPath::as_str).to_owned();
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
            tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(keep_only_plain_request_ids))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    for (name, value) in security_headers() {
        router = router.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::RANGE,
                    HeaderName::from_static("x-vault-sha256"),
                ])
                .expose_headers([header::CONTENT_RANGE, header::ETAG, HeaderName::from_static("x-request-id")]),
        );
    }
    router.with_state(state)
}

/// Headers every response carries.
fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
        (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
        // WASM needs 'wasm-unsafe-eval'; nothing is loaded from anywhere but here.
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; \
                 media-src 'self' blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        ),
    ]
}

/// A client's `x-request-id` is kept only if it is a short plain token (it ends up in
/// logs and permanent audit rows); otherwise the server makes one.
async fn keep_only_plain_request_ids(mut request: Request, next: Next) -> Response {
    let plain = |v: &HeaderValue| {
        (1..=64).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
    };
    if request.headers().get("x-request-id").is_some_and(|v| !plain(v)) {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Ends a request that takes longer than `limit` with a problem document (503: the
/// service, not the client, was slow).
async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the service took too long to answer; try again")
                .into_response()
        }
    }
}

/// Every refusal is a problem document, also those made below the handlers (static
/// files, body limits, panics caught): an error answer of another type gets a
/// problem body with a fixed message for its status, its other headers kept.
async fn problem_documents(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let problem = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method-not-allowed", "this resource does not take that method")
        }
        StatusCode::RANGE_NOT_SATISFIABLE => ApiError::new(status, "range", "the range is outside the object"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::payload_too_large("the request body is larger than this operation accepts")
        }
        s if s.is_server_error() => ApiError::new(s, "internal", "internal server error"),
        s => ApiError::new(s, "bad-request", "the request was refused"),
    }
    .into_response();
    let (problem_parts, body) = problem.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(req).await;
    let labels = RequestLabels { method, route, status: response.status().as_u16() };
    state.metrics.requests.get_or_create(&labels).inc();
    state.metrics.request_seconds.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    response.into_response()
}
