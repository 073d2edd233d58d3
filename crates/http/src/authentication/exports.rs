//! `GET /exports/{job}/{file}`: a completed users export, behind the signed, short-lived
//! link `GET /api/v2/jobs/{id}` hands out (like Auth0's signed storage URL, no token needed).

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn download(
    State(s): State<AppState>,
    Path((job_id, _file)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Response> {
    q.allow_only(&["expires", "sig"])?;
    let expires = q.int("expires", 0, i64::MAX)?.unwrap_or(0);
    let sig = q.str("sig").unwrap_or_default();
    let download = s.gatehouse.export_download(&job_id, expires, sig).await?;
    let disposition = format!("attachment; filename=\"{}\"", download.file_name);
    let parts = futures_util::stream::try_unfold(download, |mut d| async move {
        match d.next_part().await {
            Ok(Some(bytes)) => Ok(Some((axum::body::Bytes::from(bytes), d))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "export download interrupted");
                Err(std::io::Error::other("export unavailable"))
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(parts),
    )
        .into_response())
}
