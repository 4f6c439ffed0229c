use super::*;

fn record(action: &str, key: Option<&str>) -> AuditRecord {
    AuditRecord {
        at: DateTime::<Utc>::UNIX_EPOCH,
        actor: "bob".into(),
        action: action.into(),
        target: "us-east".into(),
        reason: "test".into(),
        idempotency_key: key.map(Into::into),
        outcome: AuditOutcome::Accepted,
        detail: None,
        preflight: None,
    }
}

fn ids(page: &AuditPage) -> Vec<u64> {
    page.entries.iter().map(|e| e.id).collect()
}

fn query(limit: usize, before: Option<u64>, key: Option<&str>) -> AuditQuery {
    AuditQuery {
        limit,
        before,
        idempotency_key: key.map(Into::into),
    }
}

#[test]
fn pages_go_newest_first_until_the_oldest() {
    let mut log = AuditLog::new(100);
    for i in 0..5 {
        let entry = log.append(record("drain", Some(&format!("k{}", i % 2))));
        assert_eq!(entry.id, i + 1);
    }
    let first = log.page(&query(2, None, None));
    assert_eq!((ids(&first), first.next_before), (vec![5, 4], Some(4)));
    let second = log.page(&query(2, first.next_before, None));
    assert_eq!((ids(&second), second.next_before), (vec![3, 2], Some(2)));
    let last = log.page(&query(2, second.next_before, None));
    assert_eq!((ids(&last), last.next_before), (vec![1], None));
    let exact = log.page(&query(5, None, None));
    assert_eq!(exact.next_before, None, "nothing older remains");

    let keyed = log.page(&query(10, None, Some("k1")));
    assert_eq!((ids(&keyed), keyed.next_before), (vec![4, 2], None));
    let keyed = log.page(&query(1, None, Some("k0")));
    assert_eq!((ids(&keyed), keyed.next_before), (vec![5], Some(5)));
}

#[test]
fn the_oldest_entries_go_first_and_ids_keep_rising() {
    let mut log = AuditLog::new(3);
    for _ in 0..5 {
        log.append(record("drain", None));
    }
    assert_eq!(ids(&log.page(&query(10, None, None))), [5, 4, 3]);
    assert_eq!(log.append(record("undrain", None)).id, 6);
}
