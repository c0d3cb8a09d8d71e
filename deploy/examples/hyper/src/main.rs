//! The Axum example's twin on hyper 0.14 + tokio, which Debian 12 packages: an app that
//! listens on 127.0.0.1 only and reads the identity certgate verified from the request headers.
use hyper::header::HeaderMap;
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server, StatusCode};
use std::convert::Infallible;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let headers = req.headers();
    // certgate sends X-SSL-Client-Verify on every request it forwards; SUCCESS means verified.
    if header(headers, "x-ssl-client-verify") != Some("SUCCESS") {
        return Ok(Response::builder()
            .status(StatusCode::FORBIDDEN)
            .body(Body::from("client certificate required\n"))
            .unwrap());
    }
    // Every header that could carry an identity, as the app received it (for the tests).
    let seen: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.as_str().replace('_', "-").starts_with("x-ssl-client"))
        .map(|(k, v)| format!("{}: {}", json_string(k.as_str()), json_string(v.to_str().unwrap_or("?"))))
        .collect();
    let body = format!(
        "{{\"app\": \"hyper\", \"verify\": \"SUCCESS\", \"dn\": {}, \"identity_headers\": {{{}}}}}\n",
        json_string(header(headers, "x-ssl-client-dn").unwrap_or("")),
        seen.join(", ")
    );
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap())
}

#[tokio::main]
async fn main() {
    // Loopback only: the identity headers are trustworthy because nothing but certgate can connect.
    let addr = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let addr: std::net::SocketAddr = addr.parse().expect("BIND must be host:port");
    let make = make_service_fn(|_| async { Ok::<_, Infallible>(service_fn(handle)) });
    println!("listening on http://{}", addr);
    if let Err(e) = Server::bind(&addr).serve(make).await {
        eprintln!("server error: {}", e);
        std::process::exit(1);
    }
}
