//! `ConfigVersions` reads the version every token request checks. On a SQLite file it reads
//! on a connection of its own, outside sqlx's pool: it must still see at once what another
//! pool (another server on the same file) committed, per tenant, and 0 for a tenant never
//! written.

use crate::harness::{OTHER, T0, TENANT, hex, on_postgres};
use gatehouse_store::{ConfigVersions, Db, TenantStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Writes the tenant's settings through `writer` (a trigger moves its version forward) and
/// checks that a reader on `reader` sees each new version at once, while requests in flight
/// together (sharing reads on PostgreSQL) never get a version older than one committed
/// before they started; the other tenant's is unchanged, and a tenant never written is 0.
async fn every_write_is_seen_at_once(writer: &Db, reader: &Db) {
    let tenants = TenantStore::new(writer.clone());
    let versions = Arc::new(ConfigVersions::new(reader.clone(), TENANT));
    let other = ConfigVersions::new(reader.clone(), OTHER);
    readers_racing_commits_never_go_back(writer, versions.clone()).await;
    let other_before = other.read().await.expect("read");
    let mut last = versions.read().await.expect("read");
    for round in 0..25 {
        let settings = format!(r#"{{"friendly_name":"Boutique Ærø №{round}"}}"#);
        tenants
            .put_settings(TENANT, &settings)
            .await
            .expect("settings");
        // Sixteen requests released together after the commit: each sees it.
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let reads: Vec<_> = (0..16)
            .map(|_| {
                let (v, b) = (versions.clone(), barrier.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    v.read().await
                })
            })
            .collect();
        let mut seen = Vec::new();
        for r in reads {
            seen.push(r.await.expect("task").expect("read"));
        }
        assert!(
            seen.iter().all(|v| *v > last),
            "round {round}: {seen:?} after {last}"
        );
        last = versions.read().await.expect("read");
    }
    assert_eq!(other.read().await.expect("read"), other_before);
    let nobody = ConfigVersions::new(reader.clone(), &format!("nobody-{}", hex(4)));
    assert_eq!(nobody.read().await.expect("read"), 0);
}

/// Readers read without pause while the writer commits, so reads are under way when commits
/// land: a read that started before a request arrived must not answer it. Each reader takes
/// the newest version known committed before it asks, and must get at least that.
async fn readers_racing_commits_never_go_back(writer: &Db, versions: Arc<ConfigVersions>) {
    let committed = Arc::new(AtomicI64::new(versions.read().await.expect("read")));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (v, committed, done) = (versions.clone(), committed.clone(), done.clone());
            tokio::spawn(async move {
                let mut reads = 0u32;
                while !done.load(Ordering::SeqCst) {
                    let floor = committed.load(Ordering::SeqCst);
                    let got = v.read().await.expect("read");
                    assert!(got >= floor, "read {got} after {floor} was committed");
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();
    let tenants = TenantStore::new(writer.clone());
    // The writer learns each committed version through a reader of its own.
    let own = ConfigVersions::new(writer.clone(), TENANT);
    for round in 0..40 {
        let settings = format!(r#"{{"friendly_name":"Kafé Þór {round}"}}"#);
        tenants
            .put_settings(TENANT, &settings)
            .await
            .expect("settings");
        committed.fetch_max(own.read().await.expect("read"), Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        assert!(r.await.expect("reader") > 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_file_written_through_another_pool() {
    let dir = std::env::temp_dir().join(format!("gatehouse-versions-{}", hex(6)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let reader = Db::connect(&url).await.expect("open SQLite");
    reader.migrate().await.expect("migrate");
    let tenants = TenantStore::new(reader.clone());
    for t in [TENANT, OTHER] {
        tenants.ensure(t, t, T0).await.expect("tenant");
    }
    assert!(ConfigVersions::new(reader.clone(), TENANT).reads_the_file_directly());
    // A second server on the same file: its own pool, its own connections.
    let writer = Db::connect(&url).await.expect("open SQLite again");
    every_write_is_seen_at_once(&writer, &reader).await;
    writer.close().await;
    reader.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_in_memory_sqlite_database_reads_through_its_pool() {
    let db = Db::connect("sqlite::memory:").await.expect("open");
    db.migrate().await.expect("migrate");
    let tenants = TenantStore::new(db.clone());
    for t in [TENANT, OTHER] {
        tenants.ensure(t, t, T0).await.expect("tenant");
    }
    assert!(!ConfigVersions::new(db.clone(), TENANT).reads_the_file_directly());
    every_write_is_seen_at_once(&db, &db).await;
    // The database gone: requests waiting together for one read all fail with its cause,
    // an outage (a 503 at the HTTP edge), not a version.
    let versions = Arc::new(ConfigVersions::new(db.clone(), TENANT));
    db.close().await;
    let reads: Vec<_> = (0..16)
        .map(|_| {
            let v = versions.clone();
            tokio::spawn(async move { v.read().await })
        })
        .collect();
    for r in reads {
        let e = r.await.expect("task").expect_err("no database, no version");
        assert!(e.is_outage(), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres() {
    on_postgres("config_versions", |db| async move {
        assert!(!ConfigVersions::new(db.clone(), TENANT).reads_the_file_directly());
        every_write_is_seen_at_once(&db, &db).await;
    })
    .await;
}
