//! `vault client`: the API from a terminal, for people without a browser. It
//! encrypts and decrypts locally with vault-core: the server sees ciphertext only.

mod download;
mod upload;

pub use download::download;
pub use upload::{UploadOptions, upload};

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An authenticated connection to a Vault server.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(server: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("vault-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base: server.trim_end_matches('/').to_owned(), token: token.trim().to_owned() })
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    /// Sends a request and decodes its JSON answer, or turns a problem document into an error.
    pub async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> anyhow::Result<T> {
        let response = checked(req.send().await.context("cannot reach the server")?).await?;
        response.json().await.context("the server's answer is not the JSON expected")
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    pub async fn send_empty(&self, req: RequestBuilder) -> anyhow::Result<()> {
        checked(req.send().await.context("cannot reach the server")?).await.map(drop)
    }
}

/// An error status becomes an error with the server's `detail`.
pub async fn checked(response: Response) -> anyhow::Result<Response> {
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(response);
    }
    let detail = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    bail!("server answered {status}{}{detail}", if detail.is_empty() { "" } else { ": " })
}
