//! `gatehouse dev explain`: the database's plan for a user search, to check index use.

use crate::StartError;
use crate::config::ServeConfig;
use gatehouse_store::{Db, UserSearch, UserStore};

pub async fn explain(cfg: &ServeConfig, query: &str) -> Result<Vec<String>, StartError> {
    let filter =
        gatehouse_core::search::parse(query).map_err(|e| StartError::Query(e.to_string()))?;
    let db = Db::connect(&cfg.database_url).await?;
    db.migrate().await?;
    let search = UserSearch {
        filter: Some(filter),
        limit: 50,
        ..Default::default()
    };
    let plan = UserStore::new(db.clone())
        .explain(gatehouse_service::DEFAULT_TENANT, &search)
        .await?;
    db.close().await;
    Ok(plan)
}
