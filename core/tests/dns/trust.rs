//! What an accepted UPDATE promises: a change the server answered NOERROR to but did not
//! carry out (RFC 2136 §3.4.2.2: a CNAME beside other data) is reported as not written,
//! alone, while the changes sent with it succeed; and the client's snapshot follows its
//! own writes, so a delete then a create of one RRset works in one process.

use crate::client::{client, farm, name};
use rack_core::dns::{DnsClient, RData, RecordType, RrsetChange};
use rack_lab::Named;
use std::net::Ipv4Addr;

fn create(n: &str, rtype: RecordType, text: &str) -> RrsetChange {
    RrsetChange {
        name: name(n),
        rtype,
        prior: vec![],
        new: Some((
            300,
            vec![RData::parse(rtype, text, &farm()).unwrap_or_else(|e| panic!("{text}: {e}"))],
        )),
    }
}

/// Creates `n` `rtype` `text` in `farm.`; must succeed.
async fn create_ok(c: &DnsClient, n: &str, rtype: RecordType, text: &str) {
    c.change(&farm(), create(n, rtype, text))
        .await
        .unwrap_or_else(|e| panic!("create {n} {rtype:?}: {e}"));
}

#[tokio::test]
async fn a_cname_beside_other_data_is_reported_not_written() {
    let named = Named::started();
    let c = client(&named);
    create_ok(&c, "www.farm.", RecordType::A, "10.10.60.2").await;
    let err = c
        .change(&farm(), create("www.farm.", RecordType::Cname, "web.farm."))
        .await
        .expect_err("named ignores a CNAME beside an A; the client must not report it written");
    let text = err.to_string();
    assert!(
        text.contains("www.farm. CNAME was not written") && text.contains("A records"),
        "the error should name the record set and what blocks it: {text}"
    );
    // The snapshot holds what the server holds.
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(z.types_at(&name("www.farm.")), vec![RecordType::A]);

    // The reverse: an A beside an existing CNAME.
    create_ok(&c, "alias.farm.", RecordType::Cname, "web.farm.").await;
    let err = c
        .change(&farm(), create("alias.farm.", RecordType::A, "10.10.60.3"))
        .await
        .expect_err("named ignores an A beside a CNAME");
    assert!(err.to_string().contains("holds a CNAME"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_one_update_only_the_cname_fails_and_the_rest_is_written() {
    let named = Named::started();
    let c = client(&named);
    // Sent together, so they share one UPDATE.
    let changes = [
        create("both.farm.", RecordType::Cname, "web.farm."),
        create("both.farm.", RecordType::A, "10.10.60.2"),
        create("other.farm.", RecordType::A, "10.10.60.4"),
    ];
    let tasks: Vec<_> = changes
        .into_iter()
        .map(|change| {
            let c = c.clone();
            tokio::spawn(async move { c.change(&farm(), change).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    assert!(
        matches!(&results[0], Err(e) if e.to_string().contains("both.farm. CNAME was not written")),
        "the CNAME must fail: {:?}",
        results[0]
    );
    assert!(
        results[1].is_ok(),
        "the A must be written: {:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    let fresh = client(&named);
    let z = fresh.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(z.types_at(&name("both.farm.")), vec![RecordType::A]);
    assert!(z.rrset(&name("other.farm."), RecordType::A).is_some());
}

#[tokio::test]
async fn delete_then_create_in_one_process_uses_the_snapshot_of_its_own_writes() {
    let named = Named::started();
    let c = client(&named);
    let www = create("www.farm.", RecordType::A, "10.10.60.2");
    c.change(&farm(), www.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A plan's refresh fills the snapshot.
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(z.rrset(&name("www.farm."), RecordType::A).is_some());
    // -replace: delete, then create again.
    let rdata = www.new.clone().map(|(_, r)| r).unwrap_or_default();
    c.change(
        &farm(),
        RrsetChange {
            name: name("www.farm."),
            rtype: RecordType::A,
            prior: rdata,
            new: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("delete: {e}"));
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(z.rrset(&name("www.farm."), RecordType::A).is_none());
    create_ok(&c, "www.farm.", RecordType::A, "10.10.60.9").await;
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    let set = z
        .rrset(&name("www.farm."), RecordType::A)
        .unwrap_or_else(|| panic!("www.farm. A missing from the snapshot"));
    assert_eq!(set.rdata, vec![RData::A(Ipv4Addr::new(10, 10, 60, 9))]);
}

#[tokio::test]
async fn an_ignored_apex_ns_deletion_is_reported_not_written() {
    let named = Named::started();
    let c = client(&named);
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    let ns = z
        .rrset(&farm(), RecordType::Ns)
        .unwrap_or_else(|| panic!("the fixture zone has no apex NS"))
        .rdata
        .clone();
    // RFC 2136 §3.4.2.3: the apex NS RRset is never deleted as a whole.
    let err = c
        .change(
            &farm(),
            RrsetChange {
                name: farm(),
                rtype: RecordType::Ns,
                prior: ns,
                new: None,
            },
        )
        .await
        .expect_err("named keeps the apex NS; the delete must not be reported done");
    assert!(
        err.to_string().contains("farm. NS was not written"),
        "{err}"
    );
}

#[tokio::test]
async fn a_delegation_and_its_glue_are_confirmed_although_queries_answer_a_referral() {
    let named = Named::started();
    let c = client(&named);
    create_ok(&c, "sub.farm.", RecordType::Ns, "ns.sub.farm.").await;
    create_ok(&c, "ns.sub.farm.", RecordType::A, "10.10.60.53").await;
    let z = c.zone(&farm()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(z.rrset(&name("sub.farm."), RecordType::Ns).is_some());
    assert!(z.rrset(&name("ns.sub.farm."), RecordType::A).is_some());
}
