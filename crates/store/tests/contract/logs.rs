//! Tenant logs: checkpoint paging in `log_id` order (`from`/`take`), newest-first pages,
//! filters, and retention.

use crate::harness::{OTHER, T0, TENANT, contract, hex};
use gatehouse_core::log_event::{LogEvent, LogFilter, log_id};
use gatehouse_store::{LogQuery, LogStore};

fn event(date: i64, seq: u32, user: &str) -> LogEvent {
    LogEvent {
        log_id: log_id(date, seq, &hex(4)),
        date,
        kind: if seq.is_multiple_of(2) {
            "s".into()
        } else {
            "f".into()
        },
        description: Some("Anmeldung – erfolgreich ✓".into()),
        user_id: Some(user.into()),
        user_name: Some("søren@example.dk".into()),
        ip: Some("2001:db8::1".into()),
        ..Default::default()
    }
}

/// 75 events over 25 milliseconds, three per millisecond, inserted in a shuffled order.
fn events() -> Vec<LogEvent> {
    let mut all: Vec<(String, LogEvent)> = (0..75u32)
        .map(|i| {
            let user = if i.is_multiple_of(5) {
                "auth0|needle"
            } else {
                "auth0|hay"
            };
            (hex(4), event(T0 + i64::from(i / 3), i % 3, user))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().map(|(_, e)| e).collect()
}

contract!(checkpoint_paging_visits_every_event_once_in_order, |db| {
    let logs = LogStore::new(db.clone());
    let all = events();
    for e in &all {
        logs.insert(TENANT, e).await.unwrap();
    }
    logs.insert(OTHER, &event(T0 + 3, 7, "auth0|hay"))
        .await
        .unwrap();
    let mut expected: Vec<String> = all.iter().map(|e| e.log_id.clone()).collect();
    expected.sort_unstable();

    let mut seen = vec![];
    let mut from = None;
    loop {
        let q = LogQuery {
            from: from.clone(),
            limit: 8,
            ascending: true,
            ..Default::default()
        };
        let (page, _) = logs.list(TENANT, &q).await.unwrap();
        let Some(last) = page.last() else { break };
        from = Some(last.log_id.clone());
        seen.extend(page.into_iter().map(|e| e.log_id));
    }
    assert_eq!(
        seen, expected,
        "oldest first, each once, only this tenant's"
    );

    // A checkpoint taken now sees exactly the events written after it.
    let later = event(T0 + 500, 0, "auth0|late");
    logs.insert(TENANT, &later).await.unwrap();
    let q = LogQuery {
        from: from.clone(),
        limit: 8,
        ascending: true,
        ..Default::default()
    };
    let (page, _) = logs.list(TENANT, &q).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.log_id.as_str()).collect::<Vec<_>>(),
        [later.log_id.as_str()]
    );
    let stored = logs.get(TENANT, &later.log_id).await.unwrap().unwrap();
    assert_eq!(
        stored.description.as_deref(),
        Some("Anmeldung – erfolgreich ✓")
    );
    assert!(logs.get(OTHER, &later.log_id).await.unwrap().is_none());
});

contract!(newest_first_pages_filters_and_totals, |db| {
    let logs = LogStore::new(db.clone());
    let all = events();
    for e in &all {
        logs.insert(TENANT, e).await.unwrap();
    }
    let mut newest_first: Vec<String> = all.iter().map(|e| e.log_id.clone()).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut seen = vec![];
    for page in 0..10 {
        let q = LogQuery {
            offset: page * 10,
            limit: 10,
            with_total: true,
            ..Default::default()
        };
        let (events, total) = logs.list(TENANT, &q).await.unwrap();
        assert_eq!(total, Some(75));
        seen.extend(events.into_iter().map(|e| e.log_id));
    }
    assert_eq!(seen, newest_first);

    let needle = LogQuery {
        filter: LogFilter {
            user_id: Some("auth0|needle".into()),
            kind: Some("s".into()),
            ..Default::default()
        },
        limit: 100,
        with_total: true,
        ..Default::default()
    };
    let (events, total) = logs.list(TENANT, &needle).await.unwrap();
    let expected = all
        .iter()
        .filter(|e| e.user_id.as_deref() == Some("auth0|needle") && e.kind == "s")
        .count();
    assert!(expected > 0);
    assert_eq!((events.len(), total), (expected, Some(expected as i64)));
    let window = LogQuery {
        filter: LogFilter {
            date_from: Some(T0 + 10),
            date_to: Some(T0 + 11),
            ..Default::default()
        },
        limit: 100,
        ..Default::default()
    };
    let (events, _) = logs.list(TENANT, &window).await.unwrap();
    assert_eq!(
        events.len(),
        6,
        "three events in each of the two milliseconds"
    );

    // Delegated administrators' view: the Management API's operations left out.
    for kind in ["sapi", "fapi"] {
        let mut e = event(T0 + 900, 0, "auth0|admin");
        e.kind = kind.into();
        logs.insert(TENANT, &e).await.unwrap();
    }
    let without_api = LogQuery {
        filter: LogFilter {
            exclude_api_operations: true,
            ..Default::default()
        },
        limit: 100,
        with_total: true,
        ..Default::default()
    };
    let (events, total) = logs.list(TENANT, &without_api).await.unwrap();
    assert_eq!((events.len(), total), (75, Some(75)));
    assert!(events.iter().all(|e| e.kind != "sapi" && e.kind != "fapi"));
    let (_, everything) = logs
        .list(
            TENANT,
            &LogQuery {
                with_total: true,
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(everything, Some(77));
});

contract!(retention_deletes_only_older_events, |db| {
    let logs = LogStore::new(db.clone());
    for (tenant, date) in [
        (TENANT, T0 - 1),
        (TENANT, T0),
        (OTHER, T0 - 5),
        (TENANT, T0 + 1),
    ] {
        logs.insert(tenant, &event(date, 0, "auth0|x"))
            .await
            .unwrap();
    }
    assert_eq!(
        logs.delete_before(T0).await.unwrap(),
        2,
        "every tenant's, strictly older"
    );
    let (left, _) = logs
        .list(
            TENANT,
            &LogQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|e| e.date).collect::<Vec<_>>(),
        [T0 + 1, T0]
    );
});
