use super::*;

const TTL: Duration = Duration::from_secs(30);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn lease(holder: &str, acquired: i64, renewed: i64) -> Lease {
    Lease {
        holder: holder.into(),
        acquired: t(acquired),
        renewed: t(renewed),
        ttl: TTL,
    }
}

#[test]
fn take_when_free_or_expired_renew_when_mine_refuse_otherwise() {
    // (current lease, me, now, expected)
    type Case = (Option<Lease>, &'static str, i64, Result<Lease, Held>);
    let cases: Vec<Case> = vec![
        // none: mine from now
        (None, "a", 0, Ok(lease("a", 0, 0))),
        // someone else's, renewed 10s ago: held until renewed + ttl
        (
            Some(lease("b", -100, -10)),
            "a",
            0,
            Err(Held {
                holder: "b".into(),
                until: t(20),
            }),
        ),
        // one second before the expiry: still held
        (
            Some(lease("b", -100, -29)),
            "a",
            0,
            Err(Held {
                holder: "b".into(),
                until: t(1),
            }),
        ),
        // expiry exactly now: free, a new lease
        (Some(lease("b", -100, -30)), "a", 0, Ok(lease("a", 0, 0))),
        // long expired
        (Some(lease("b", -100, -90)), "a", 0, Ok(lease("a", 0, 0))),
        // mine: renewed, acquisition kept
        (Some(lease("a", -100, -10)), "a", 0, Ok(lease("a", -100, 0))),
        // mine and expired (the console paused): still mine, renewed
        (Some(lease("a", -100, -90)), "a", 0, Ok(lease("a", -100, 0))),
        // the holder's clock ahead of mine: held until its renewal + ttl, by my clock
        (
            Some(lease("b", 5, 5)),
            "a",
            0,
            Err(Held {
                holder: "b".into(),
                until: t(35),
            }),
        ),
        // holder ids are compared whole: another console of the same person is someone else
        (
            Some(lease("alice@h/1", -5, -5)),
            "alice@h/2",
            0,
            Err(Held {
                holder: "alice@h/1".into(),
                until: t(25),
            }),
        ),
    ];
    for (i, (current, me, now, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            decide_lease(current.as_ref(), me, t(now), TTL),
            want,
            "case {i}"
        );
    }
}

#[test]
fn a_new_ttl_applies_from_the_renewal() {
    let l = decide_lease(Some(&lease("a", 0, 0)), "a", t(10), Duration::from_secs(5)).unwrap();
    assert_eq!(l.expires(), t(15));
    assert!(l.held_at(t(14)));
    assert!(!l.held_at(t(15)));
}

#[test]
fn an_expiry_past_the_end_of_time_never_comes() {
    let l = Lease {
        ttl: Duration::from_secs(u64::MAX / 4),
        ..lease("b", 0, 0)
    };
    assert_eq!(l.expires(), Timestamp::MAX);
    assert!(decide_lease(Some(&l), "a", t(1_000_000), TTL).is_err());
}

#[test]
fn a_person_takes_over_and_the_broken_lease_is_named() {
    let theirs = lease("b", -100, -10);
    let forced = take_over(Some(&theirs), "a", t(0), TTL);
    assert_eq!(forced.lease, lease("a", 0, 0));
    assert_eq!(forced.broke, Some(theirs));
    // nothing broken when it was free or mine
    assert_eq!(take_over(None, "a", t(0), TTL).broke, None);
    let expired = lease("b", -100, -60);
    assert_eq!(take_over(Some(&expired), "a", t(0), TTL).broke, None);
    let mine = take_over(Some(&lease("a", -100, -10)), "a", t(0), TTL);
    assert_eq!((mine.lease, mine.broke), (lease("a", -100, 0), None));
}

#[test]
fn the_lease_round_trips_through_its_annotation_and_a_bad_one_is_an_error() {
    let l = lease("alice@host/4242", -100, -10);
    let (key, value) = l.annotation().unwrap();
    assert_eq!(key, LEASE_ANNOTATION);
    assert_eq!(
        value,
        r#"{"holder":"alice@host/4242","acquired":"2027-01-15T07:58:20Z","renewed":"2027-01-15T07:59:50Z","ttl":"30s"}"#
    );
    let annotations = BTreeMap::from([(key, value)]);
    assert_eq!(Lease::decode(&annotations), Ok(Some(l)));
    assert_eq!(Lease::decode(&BTreeMap::new()), Ok(None));
    let bad = BTreeMap::from([(LEASE_ANNOTATION.to_string(), "{\"holder\":1}".to_string())]);
    assert!(matches!(
        Lease::decode(&bad),
        Err(StateError::Malformed {
            key: LEASE_ANNOTATION,
            ..
        })
    ));
}
