//! Which web pages may call the Authentication API from a browser (CORS): an origin listed
//! in any application's `allowed_origins` or `web_origins`. A preflight names no
//! application, so the answer is the tenant's: the union of every application's lists,
//! kept in memory and re-read after [`ORIGINS_TTL_MS`] or at once after an application
//! changes on this node (another node's change shows here within that time).

use crate::Gatehouse;
use crate::error::ServiceError;
use std::sync::{Arc, Mutex};

/// How long the union of origins is used before it is read again.
pub const ORIGINS_TTL_MS: i64 = 5_000;
/// Applications read per page while building the union.
const PAGE: i64 = 100;

/// The tenant's allowed origins and when they were read.
#[derive(Default)]
pub(crate) struct OriginCache(Mutex<Option<(i64, Arc<Vec<String>>)>>);

impl OriginCache {
    fn fresh(&self, now: i64) -> Option<Arc<Vec<String>>> {
        let slot = self.0.lock().ok()?;
        slot.as_ref()
            .filter(|(at, _)| now - at < ORIGINS_TTL_MS && now >= *at)
            .map(|(_, o)| o.clone())
    }

    fn keep(&self, now: i64, origins: Arc<Vec<String>>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((now, origins));
        }
    }

    /// Forgets the union: the next request reads it again.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
    }
}

impl Gatehouse {
    /// Whether a page at `origin` (an `Origin` header) may read the Authentication API's
    /// answers: listed by some application (wildcard subdomains as for callbacks).
    pub async fn cors_allows(&self, origin: &str) -> Result<bool, ServiceError> {
        let origins = self.cors_origins().await?;
        Ok(gatehouse_core::redirect::is_allowed(origin, &origins))
    }

    async fn cors_origins(&self) -> Result<Arc<Vec<String>>, ServiceError> {
        let now = self.now();
        if let Some(o) = self.inner.cors_origins.fresh(now) {
            return Ok(o);
        }
        let mut origins = Vec::new();
        let mut offset = 0;
        loop {
            let (page, total) = self.inner.clients.list(self.tenant(), offset, PAGE).await?;
            let read = page.len() as i64;
            for c in page {
                origins.extend(c.settings.allowed_origins);
                origins.extend(c.settings.web_origins);
            }
            offset += read;
            if read == 0 || offset >= total {
                break;
            }
        }
        origins.sort_unstable();
        origins.dedup();
        let origins = Arc::new(origins);
        self.inner.cors_origins.keep(now, origins.clone());
        Ok(origins)
    }
}
