//! temporary
#[derive(Default)]
pub struct PgPools;
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PgFailure {
    pub message: String,
    pub code: Option<String>,
}
impl PgPools {
    pub fn new() -> Self {
        Self
    }
    pub async fn query(
        &self,
        _c: &str,
        _s: &str,
        _p: &[serde_json::Value],
    ) -> Result<serde_json::Value, PgFailure> {
        Err(PgFailure {
            message: "stub".into(),
            code: None,
        })
    }
}
