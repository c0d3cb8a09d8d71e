//! An Axum app behind certgate: it listens on 127.0.0.1 only and reads the client identity
//! certgate verified from the request headers (`HeaderMap`).
use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap, http::StatusCode};
use axum::{routing::get, Json, Router};
use serde_json::{json, Value};

/// The verified client, taken from certgate's headers. Extracting it fails with 403 unless
/// certgate said SUCCESS; certgate removes any copy of these headers a client sent.
struct ClientCert {
    subject: String,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[axum::async_trait]
impl<S: Send + Sync> FromRequestParts<S> for ClientCert {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match (header(&parts.headers, "x-ssl-client-verify").as_deref(), header(&parts.headers, "x-ssl-client-dn")) {
            (Some("SUCCESS"), Some(subject)) if !subject.is_empty() => Ok(ClientCert { subject }),
            _ => Err((StatusCode::FORBIDDEN, "client certificate required\n")),
        }
    }
}

async fn whoami(cert: ClientCert, headers: HeaderMap) -> Json<Value> {
    let identity: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| k.as_str().replace('_', "-").starts_with("x-ssl-client"))
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
        .collect();
    Json(json!({"app": "axum", "verify": "SUCCESS", "dn": cert.subject, "identity_headers": identity}))
}

#[tokio::main]
async fn main() {
    let app = Router::new().route("/whoami", get(whoami));
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    println!("listening on http://{bind}");
    axum::serve(listener, app).await.expect("serve");
}
