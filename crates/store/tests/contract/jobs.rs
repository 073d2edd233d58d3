//! Background jobs: one worker holds a job's lease; progress (cursor, counters, blocks,
//! errors) commits only while the lease is held; housekeeping by the times given.

use crate::harness::{T0, TENANT, connection, contract, hex, user};
use gatehouse_store::{ImportBatch, JobBlock, JobError, JobStore, UserStore};
use std::sync::Arc;

const LEASE: i64 = 60_000;

fn block(seq: i64, first_row: i64, rows: i64) -> JobBlock {
    JobBlock {
        seq,
        first_row,
        row_count: rows,
        data: format!("block {seq}: ünïcödé ✓").into_bytes(),
    }
}

contract!(a_job_is_leased_to_one_worker_at_a_time, |db| {
    let jobs = JobStore::new(db.clone());
    let id = format!("job_{}", hex(8));
    jobs.create(TENANT, &id, "users_export", "pending", "{}", T0, &[])
        .await
        .unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (jobs, barrier) = (jobs.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let owner = format!("worker-{i}");
                jobs.claim(&owner, T0 + 1, LEASE)
                    .await
                    .unwrap()
                    .map(|j| (owner, j))
            })
        })
        .collect();
    let mut holders = vec![];
    for t in tasks {
        holders.extend(t.await.unwrap());
    }
    assert_eq!(holders.len(), 1, "one worker leases the job");
    let (owner, job) = holders.pop().unwrap();
    assert_eq!(
        (job.id.as_str(), job.status.as_str(), job.started_at),
        (id.as_str(), "processing", Some(T0 + 1))
    );

    assert!(
        !jobs.renew(&id, "worker-x", T0 + 10 * LEASE).await.unwrap(),
        "only the holder renews"
    );
    assert!(
        jobs.claim("worker-x", T0 + 1 + LEASE, LEASE)
            .await
            .unwrap()
            .is_none(),
        "held until the lease has passed"
    );
    // The holder stalls past its lease; another worker takes over.
    let taken = jobs
        .claim("worker-x", T0 + 2 + LEASE, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.started_at, Some(T0 + 1), "started once");
    assert!(
        !jobs
            .commit_export_block(&id, &owner, T0 + 3 + LEASE, LEASE, &block(0, 0, 10), "10")
            .await
            .unwrap()
    );
    assert!(!jobs.renew(&id, &owner, T0 + 10 * LEASE).await.unwrap());
    assert!(
        !jobs
            .finish(&id, &owner, "completed", None, false, T0 + 4 + LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        jobs.block_count(&id).await.unwrap(),
        0,
        "the stale worker wrote nothing"
    );
    let job = jobs.get(TENANT, &id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.processed), ("processing", 0));
    assert!(
        jobs.commit_export_block(
            &id,
            "worker-x",
            T0 + 5 + LEASE,
            LEASE,
            &block(0, 0, 10),
            "10"
        )
        .await
        .unwrap()
    );
    assert!(
        jobs.finish(
            &id,
            "worker-x",
            "completed",
            Some("done"),
            false,
            T0 + 6 + LEASE
        )
        .await
        .unwrap()
    );
    assert!(
        jobs.claim("worker-y", T0 + 100 * LEASE, LEASE)
            .await
            .unwrap()
            .is_none(),
        "a finished job is not leased"
    );
});

contract!(an_import_batch_commits_with_its_cursor_and_errors, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let jobs = JobStore::new(db.clone());
    let id = format!("job_{}", hex(8));
    jobs.create(TENANT, &id, "users_import", "receiving", "{}", T0, &[])
        .await
        .unwrap();
    for (seq, first) in [(0, 0), (1, 3)] {
        jobs.append_block(&id, &block(seq, first, 3), T0 + seq)
            .await
            .unwrap();
    }
    jobs.mark_pending(&id, r#"{"connection_id":"con_main000000001"}"#, 6, T0 + 2)
        .await
        .unwrap();
    assert_eq!(jobs.active_count(TENANT, "users_import").await.unwrap(), 1);
    let job = jobs
        .claim("worker-1", T0 + 3, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.cursor.as_deref(), job.total), (Some("0"), Some(6)));
    let first = jobs.block(&id, 0).await.unwrap().unwrap();
    assert_eq!(first.data, block(0, 0, 3).data);
    assert_eq!(jobs.block(&id, 1).await.unwrap().unwrap().first_row, 3);
    assert!(jobs.block(&id, 2).await.unwrap().is_none());

    let inserts = vec![
        user(&main, "jose@exämple.com", T0),
        user(&main, "李@example.cn", T0),
    ];
    let errors = vec![
        JobError {
            row_index: 2,
            user_row: r#"{"email":"zwei"}"#.into(),
            errors: "[]".into(),
        },
        JobError {
            row_index: 0,
            user_row: r#"{"email":"null"}"#.into(),
            errors: "[]".into(),
        },
    ];
    let batch = ImportBatch {
        insert_hashes: vec![Some("$2b$10$imported".into()), None],
        inserts: inserts.clone(),
        errors,
        rows: 4,
        next_cursor: "1:1".into(),
        ..Default::default()
    };
    assert!(
        !jobs
            .commit_import_batch(TENANT, &id, "worker-2", T0 + 4, LEASE, &batch)
            .await
            .unwrap()
    );
    let users = UserStore::new(db.clone());
    assert!(
        users
            .get(TENANT, &inserts[0].user_id)
            .await
            .unwrap()
            .is_none(),
        "nothing written without the lease"
    );
    assert!(
        jobs.commit_import_batch(TENANT, &id, "worker-1", T0 + 4, LEASE, &batch)
            .await
            .unwrap()
    );

    let job = jobs.get(TENANT, &id).await.unwrap().unwrap();
    assert_eq!(
        (
            job.cursor.as_deref(),
            job.processed,
            job.inserted,
            job.updated,
            job.failed
        ),
        (Some("1:1"), 4, 2, 0, 2)
    );
    assert_eq!(
        users
            .password_hash(TENANT, &inserts[0].user_id)
            .await
            .unwrap()
            .as_deref(),
        Some("$2b$10$imported")
    );
    assert_eq!(
        users
            .get(TENANT, &inserts[1].user_id)
            .await
            .unwrap()
            .unwrap()
            .user
            .email
            .as_deref(),
        Some("李@example.cn")
    );
    let rows: Vec<i64> = jobs
        .errors(&id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.row_index)
        .collect();
    assert_eq!(rows, [0, 2], "in file order");

    // A batch that conflicts writes nothing, progress included.
    let clash = ImportBatch {
        inserts: vec![user(&main, "jose@exämple.com", T0)],
        insert_hashes: vec![None],
        rows: 1,
        next_cursor: "1:2".into(),
        ..Default::default()
    };
    assert!(
        jobs.commit_import_batch(TENANT, &id, "worker-1", T0 + 5, LEASE, &clash)
            .await
            .is_err()
    );
    assert_eq!(
        jobs.get(TENANT, &id)
            .await
            .unwrap()
            .unwrap()
            .cursor
            .as_deref(),
        Some("1:1")
    );

    assert!(
        jobs.finish(&id, "worker-1", "completed", None, true, T0 + 6)
            .await
            .unwrap()
    );
    assert_eq!(
        jobs.block_count(&id).await.unwrap(),
        0,
        "an import's upload is dropped"
    );
    assert_eq!(jobs.active_count(TENANT, "users_import").await.unwrap(), 0);
    assert_eq!(
        jobs.get(TENANT, &id).await.unwrap().unwrap().finished_at,
        Some(T0 + 6)
    );
});

contract!(housekeeping_removes_old_jobs_and_abandoned_uploads, |db| {
    let jobs = JobStore::new(db.clone());
    let done = format!("job_{}", hex(8));
    let recent = format!("job_{}", hex(8));
    let abandoned = format!("job_{}", hex(8));
    let uploading = format!("job_{}", hex(8));
    jobs.create(
        TENANT,
        &done,
        "verification_email",
        "completed",
        "{}",
        T0,
        &[],
    )
    .await
    .unwrap();
    jobs.create(
        TENANT,
        &recent,
        "verification_email",
        "completed",
        "{}",
        T0 + 10,
        &[],
    )
    .await
    .unwrap();
    jobs.create(
        TENANT,
        &abandoned,
        "users_import",
        "receiving",
        "{}",
        T0,
        &[],
    )
    .await
    .unwrap();
    jobs.append_block(&abandoned, &block(0, 0, 1), T0 + 1)
        .await
        .unwrap();
    jobs.create(
        TENANT,
        &uploading,
        "users_import",
        "receiving",
        "{}",
        T0,
        &[],
    )
    .await
    .unwrap();
    jobs.append_block(&uploading, &block(0, 0, 1), T0 + 20)
        .await
        .unwrap();

    assert_eq!(
        jobs.sweep(T0, T0 + 1).await.unwrap(),
        0,
        "strictly before the given times"
    );
    assert_eq!(jobs.sweep(T0 + 1, T0 + 2).await.unwrap(), 2);
    assert!(jobs.get(TENANT, &done).await.unwrap().is_none());
    assert!(jobs.get(TENANT, &abandoned).await.unwrap().is_none());
    assert_eq!(
        jobs.block_count(&abandoned).await.unwrap(),
        0,
        "with its data"
    );
    assert!(jobs.get(TENANT, &recent).await.unwrap().is_some());
    assert_eq!(
        jobs.block_count(&uploading).await.unwrap(),
        1,
        "an upload still moving stays"
    );
});
