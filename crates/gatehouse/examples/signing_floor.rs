//! The ceiling under the token path's bound (issue 20, `bench/token_path.sh`): an HTTP server
//! on the same stack as Gatehouse (tokio, hyper through axum, keep-alive, `TCP_NODELAY`) whose
//! `POST /oauth/token` does nothing but sign one RS256 access token with Gatehouse's signer
//! and answer it as JSON. No client, no database, no log, no middleware: whatever rate this
//! reaches against the criterion bound is the most any token endpoint can reach on this
//! machine, so Gatehouse's client-credentials rate is read against both.
//!
//!   cargo run --release -p gatehouse --example signing_floor -- 127.0.0.1:3929

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use gatehouse_crypto::jwt;
use gatehouse_crypto::keys::SigningKey;
use serde_json::json;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

// The runtime Gatehouse's `main` starts (multi-threaded; a current-thread runtime measured
// the same here).
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3929".into());
    let key = Arc::new(SigningKey::generate()?);
    let token = move |form: Bytes| {
        let key = key.clone();
        async move {
            // A client-credentials token's claims, as Gatehouse mints them (same size).
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let claims = json!({
                "iss": "http://127.0.0.1:3927/",
                "sub": format!("{}@clients", form.len()),
                "aud": "https://bench-api.example.com/",
                "iat": now,
                "exp": now + 86400,
                "scope": "read:things",
                "gty": "client-credentials",
                "azp": "wSvuqEHDwfXJRrRsOzyfbNvHbEC7Ppb2",
                "jti": format!("{now:032x}"),
            });
            match jwt::sign(key.as_ref(), &claims) {
                Ok(t) => (
                    [(header::CONTENT_TYPE, "application/json")],
                    json!({"access_token": t, "token_type": "Bearer", "expires_in": 86400})
                        .to_string(),
                )
                    .into_response(),
                Err(e) => {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
                }
            }
        }
    };
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("signing floor on http://{listen}");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
