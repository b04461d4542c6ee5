//! The OpenAPI document's frame: what utoipa cannot derive from the handlers (the
//! title, the bearer scheme, the tags). Paths and schemas come from the handlers'
//! `#[utoipa::path]` and the wire types' `ToSchema` (`super::router::api`).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// The document before the routes are added.
pub(crate) fn document() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Vault API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A family's encrypted recordings. Media is encrypted before it leaves the client (AWS Encryption \
                     SDK message format v2, suite 0x0478); the server stores and serves ciphertext only. Every refusal \
                     is an RFC 9457 problem document whose `type` is `urn:vault:<code>`.",
                ))
                .build(),
        )
        .build()
}

/// Adds the bearer scheme (the paths that need a token name it).
pub(crate) fn finish(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("JWT".into());
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
}
