//! PostgreSQL only: the pool hands out a connection without pinging it when it was given back
//! a moment ago (a round trip saved before every statement), so a restart of the server that
//! ends every connection at once must cost, for statements coming one after another, at most
//! the one that finds out; the connections ended with it are pinged, found dead and replaced.
//! (Six of the eight statements below fail when the failure is not noted.)

use crate::harness::{T0, hex, on_postgres};
use gatehouse_store::{Db, TenantStore};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_the_server_ended_cost_one_failed_statement() {
    on_postgres(
        "connections_the_server_ended_cost_one_failed_statement",
        |db| async move {
            let Db::Postgres(pool) = &db else {
                panic!("on_postgres gives a PostgreSQL pool");
            };
            // Six connections open at once, then given back: six idle connections.
            let mut held = Vec::new();
            for _ in 0..6 {
                held.push(pool.acquire().await.expect("a connection"));
            }
            drop(held);
            for _ in 0..100 {
                if pool.num_idle() >= 6 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(pool.num_idle() >= 6, "idle: {}", pool.num_idle());
            // The server ends them all (what a restart does), behind the pool's back.
            let name: String = sqlx::query_scalar("SELECT current_database()")
                .fetch_one(pool)
                .await
                .expect("database name");
            let admin_url = std::env::var("GATEHOUSE_TEST_DATABASE_URL").expect("set");
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("admin connection");
            let ended: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&name)
            .fetch_all(&mut admin)
            .await
            .expect("end the pool's connections");
            assert!(
                ended.len() >= 6 && ended.iter().all(|e| *e),
                "ended the pool's connections: {ended:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Statements one after another, as requests arriving after the restart make them.
            let tenants = TenantStore::new(db.clone());
            let mut failed = 0;
            for i in 0..8 {
                let id = format!("tenant-after-restart-{i}-{}", hex(4));
                if tenants.ensure(&id, "Café Ünïcode", T0 + i).await.is_err() {
                    failed += 1;
                }
            }
            assert!(
                failed <= 1,
                "{failed} of 8 statements failed after the restart; only the first may"
            );
            let last = format!("tenant-last-{}", hex(4));
            tenants
                .ensure(&last, "Café", T0)
                .await
                .expect("the pool works again");
        },
    )
    .await;
}
