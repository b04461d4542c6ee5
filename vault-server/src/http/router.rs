//! Every route of the service, in one place; the OpenAPI document (`/openapi.json`)
//! is derived from the same handlers and the wire types (`crate::api`) with utoipa.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::routes::{
    audit, export, families, family_studios, health, invitations, library, members, playback, recordings, share_links,
    studios, trash, uploads, web,
};
use crate::api::ErrorCode;
use crate::metrics::RequestLabels;

/// The routes that answer quickly with small JSON bodies.
fn json_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(families::create))
        .routes(routes!(families::get, families::erase))
        .routes(routes!(families::set_sharing))
        .routes(routes!(export::start))
        .routes(routes!(members::list, members::invite))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(members::rename))
        .routes(routes!(invitations::create, invitations::list))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::accept))
        .routes(routes!(share_links::revoke))
        .routes(routes!(share_links::openings))
        .routes(routes!(share_links::open))
        .routes(routes!(audit::list))
        .routes(routes!(recordings::create, recordings::list))
        .routes(routes!(recordings::get, recordings::delete))
        .routes(routes!(trash::trash))
        .routes(routes!(trash::restore))
        .routes(routes!(trash::list))
        .routes(routes!(uploads::status))
        .routes(routes!(uploads::complete))
        .routes(routes!(playback::release_key))
        .routes(routes!(library::key))
        .routes(routes!(library::set_details))
        .routes(routes!(studios::create))
        .routes(routes!(studios::get, studios::erase_studio))
        .routes(routes!(studios::export))
        .routes(routes!(studios::set_policy))
        .routes(routes!(studios::staff, studios::add_staff))
        .routes(routes!(studios::remove_staff))
        .routes(routes!(studios::audit))
        .routes(routes!(studios::create_delivery, studios::deliveries))
        .routes(routes!(studios::invite))
        .routes(routes!(studios::erase))
        .routes(routes!(family_studios::create, family_studios::list))
        .routes(routes!(family_studios::revoke))
        .routes(routes!(family_studios::deliveries))
        .routes(routes!(family_studios::end))
        .routes(routes!(web::dev_token))
        .routes(routes!(web::dev_renew))
}

/// The routes that take a small binary body (an encrypted poster): larger than JSON's
/// limit, still bounded.
fn small_blobs_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(library::set_poster, library::poster))
}

/// Making a share link: JSON carrying up to 50 sealed items with their posters.
fn share_links_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(share_links::create, share_links::list))
}

/// The routes that stream large bodies: no overall timeout (the domain times out
/// idle bodies), no body limit (part sizes are checked against Content-Length and
/// counted while streaming).
fn streaming_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(uploads::put_part))
        .routes(routes!(uploads::put_plaintext))
        .routes(routes!(export::download))
        .routes(routes!(playback::content))
        .routes(routes!(share_links::content))
}

/// Operations and what the page needs before signing in.
fn ops_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(health::signing_key))
        .routes(routes!(web::config))
        .routes(routes!(web::jwks))
}

/// The routes and their OpenAPI document.
fn api(json_limit: usize, timeout: Duration) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let limit = move |router: OpenApiRouter<AppState>| {
        router.layer(middleware::from_fn(move |req, next| time_limit(timeout, req, next)))
    };
    let (router, mut document) = OpenApiRouter::with_openapi(super::openapi::document())
        .merge(limit(json_api().layer(DefaultBodyLimit::max(json_limit))))
        .merge(limit(small_blobs_api().layer(DefaultBodyLimit::max(crate::domain::library::MAX_POSTER + 1024))))
        .merge(limit(share_links_api().layer(DefaultBodyLimit::max(crate::domain::share_links::MAX_BODY))))
        .merge(streaming_api().layer(DefaultBodyLimit::disable()))
        .merge(limit(ops_api()))
        .split_for_parts();
    super::openapi::finish(&mut document);
    (router, document)
}

/// The whole application.
pub(crate) fn app(state: AppState) -> Router {
    let config = &state.services.config;
    let (router, document) = api(config.limits.max_json_bytes, Duration::from_secs(config.limits.request_timeout_secs));
    let document = serde_json::to_value(&document).unwrap_or_default();
    let mut router = router
        .route("/openapi.json", get(move || async move { axum::Json(document) }))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "this resource does not take that method",
            )
        });
    router = match &config.web_dir {
        Some(_) => router.fallback(web::static_file),
        None => router.fallback(|| async { ApiError::not_found() }),
    };
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = router
        .layer(middleware::from_fn(problem_documents))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(state.clone(), super::middleware::host::check_host))
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
    for (name, value) in security_headers(config.auth.refresh_url.as_deref()) {
        router = router.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    router = router.layer(middleware::from_fn(viewer_policy));
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::RANGE,
                    HeaderName::from_static("x-vault-sha256"),
                    HeaderName::from_static(super::middleware::caller::DELIVERY_HEADER),
                ])
                .expose_headers([header::CONTENT_RANGE, header::ETAG, HeaderName::from_static("x-request-id")]),
        );
    }
    router.with_state(state)
}

/// Headers every response carries. The page connects only to this origin, and to the
/// origin of `auth.refresh_url` when one is configured (where it renews its token).
fn security_headers(refresh_url: Option<&str>) -> [(HeaderName, HeaderValue); 4] {
    let refresh_origin = refresh_url
        .and_then(|u| reqwest::Url::parse(u).ok())
        .filter(|u| u.scheme() == "https" || u.host_str().is_some_and(|h| h == "localhost" || h == "127.0.0.1"))
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b','));
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob:; connect-src 'self'{}; worker-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'",
        refresh_origin.map(|o| format!(" {o}")).unwrap_or_default()
    );
    [
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
        (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
        // WASM needs 'wasm-unsafe-eval'; nothing is loaded from anywhere but here.
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        ),
    ]
}

/// The policy of the share link viewer (`/share.html`): it holds no session and talks
/// to nobody but this origin, so it gets less than the family page (no identity
/// provider's origin, no forms, nothing by default).
const VIEWER_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'none'";

/// Gives the share link viewer its own, narrower policy (the outermost layer: it has
/// the last word over `security_headers`).
async fn viewer_policy(request: Request, next: Next) -> Response {
    let viewer = request.uri().path() == "/share.html";
    let mut response = next.run(request).await;
    if viewer {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(VIEWER_CSP));
    }
    response
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
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout,
            "the service took too long to answer; try again",
        )
        .into_response(),
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
            ApiError::new(status, ErrorCode::MethodNotAllowed, "this resource does not take that method")
        }
        StatusCode::RANGE_NOT_SATISFIABLE => ApiError::new(status, ErrorCode::Range, "the range is outside the object"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::payload_too_large("the request body is larger than this operation accepts")
        }
        s if s.is_server_error() => ApiError::new(s, ErrorCode::Internal, "internal server error"),
        s => ApiError::new(s, ErrorCode::BadRequest, "the request was refused"),
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
    let metrics = &state.services.metrics;
    metrics.requests.get_or_create(&labels).inc();
    metrics.request_seconds.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::security_headers;

    fn csp(refresh_url: Option<&str>) -> String {
        let headers = security_headers(refresh_url);
        let (_, value) = headers.iter().find(|(name, _)| name == "content-security-policy").expect("a CSP");
        value.to_str().expect("ASCII").to_owned()
    }

    #[test]
    fn the_page_connects_only_here_and_to_the_refresh_origin() {
        assert!(csp(None).contains("connect-src 'self';"));
        assert!(
            csp(Some("https://accounts.example.com/v1/token?x=1"))
                .contains("connect-src 'self' https://accounts.example.com;")
        );
        // Plain HTTP elsewhere than this machine, and anything that is not a URL, add nothing.
        assert!(csp(Some("http://accounts.example.com/token")).contains("connect-src 'self';"));
        assert!(csp(Some("https://a.example; script-src *")).contains("connect-src 'self';"));
        assert!(!csp(Some("https://a.example/x;script-src *")).contains("script-src *"));
    }
}
