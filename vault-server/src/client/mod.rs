//! `vault client`: the API from a terminal, for people without a browser. It
//! encrypts and decrypts locally with vault-core: the server sees ciphertext only.

mod deliver;
mod download;
mod share;
mod upload;

pub(crate) use deliver::{DeliveryRequest, deliver};
pub(crate) use download::download;
pub(crate) use share::{ShareRequest, share};
pub(crate) use upload::{UploadOptions, materials, upload};

use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An authenticated connection to a Vault server.
#[derive(Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
    /// The studio delivery this client works in (`x-vault-delivery`), if any.
    delivery: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl ApiClient {
    pub(crate) fn new(server: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("vault-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base: server.trim_end_matches('/').to_owned(), token: token.trim().to_owned(), delivery: None })
    }

    /// The same studio staff member, working in delivery `id` as its contributor.
    pub(crate) fn in_delivery(&self, id: &str) -> Self {
        Self { delivery: Some(id.to_owned()), ..self.clone() }
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        match &self.delivery {
            Some(id) => request.header("x-vault-delivery", id),
            None => request,
        }
    }

    /// Sends a request and decodes its JSON answer, or turns a problem document into an error.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> anyhow::Result<T> {
        let response = checked(req.send().await.context("cannot reach the server")?).await?;
        response.json().await.context("the server's answer is not the JSON expected")
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    pub(crate) async fn send_empty(&self, req: RequestBuilder) -> anyhow::Result<()> {
        checked(req.send().await.context("cannot reach the server")?).await.map(drop)
    }
}

/// A refusal from the server: its status and its problem document's stable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server answered {status}{}{detail}", if detail.is_empty() { "" } else { ": " })]
pub(crate) struct ClientError {
    pub status: StatusCode,
    /// The problem's code (`urn:vault:<code>`), empty if the answer had none.
    pub code: String,
    pub detail: String,
}

impl ClientError {
    /// Whether sending the same request again later may succeed: the server or a
    /// dependency was away, it was too busy, or another request held the upload.
    pub(crate) fn is_retryable(&self) -> bool {
        self.status.is_server_error()
            || matches!(self.status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS)
            || self.code == "upload-busy"
    }
}

/// Whether an error of a client call is worth retrying: a refusal that says so, or
/// no answer at all (the connection failed or broke).
pub(crate) fn is_retryable(err: &anyhow::Error) -> bool {
    match err.downcast_ref::<ClientError>() {
        Some(refusal) => refusal.is_retryable(),
        None => err.chain().any(|cause| cause.is::<reqwest::Error>()),
    }
}

/// An error status becomes a [`ClientError`] with the server's code and detail.
pub(crate) async fn checked(response: Response) -> anyhow::Result<Response> {
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(response);
    }
    let problem = response.json::<Value>().await.unwrap_or_default();
    let text = |field: &str| problem.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let code = text("type").strip_prefix("urn:vault:").unwrap_or_default().to_owned();
    Err(ClientError { status, code, detail: text("detail") }.into())
}
