//! `DnsClient` against the named fixture: transfers, single-flight, coalesced updates,
//! conflicts, and the errors users meet (bad key, unknown zone, nothing listening).

use rack_core::dns::{
    DnsClient, DnsError, Name, RData, RecordType, RrsetChange, ServerConfig, Transport, TsigKey,
};
use rack_lab::{Named, process};
use std::net::Ipv4Addr;
use std::time::Duration;

fn start() -> Named {
    Named::started()
}

fn key(named: &Named) -> TsigKey {
    let k = &named.tsig;
    TsigKey::from_base64(&k.name, &k.algorithm, &k.secret)
        .unwrap_or_else(|e| panic!("fixture key: {e}"))
}

fn config(named: &Named) -> ServerConfig {
    let mut c = ServerConfig::new(named.dns_addr.to_string());
    c.tsig = Some(key(named));
    c.timeout = Duration::from_secs(5);
    c.retries = 1;
    c
}

pub(crate) fn client(named: &Named) -> DnsClient {
    DnsClient::new(config(named))
}

pub(crate) fn name(s: &str) -> Name {
    Name::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub(crate) fn farm() -> Name {
    name("farm.")
}

fn a(ip: Ipv4Addr) -> RData {
    RData::A(ip)
}

fn add(n: &str, ip: Ipv4Addr) -> RrsetChange {
    RrsetChange {
        name: name(n),
        rtype: RecordType::A,
        prior: vec![],
        new: Some((300, vec![a(ip)])),
    }
}

#[tokio::test]
async fn transfers_the_fixture_zone() {
    let named = start();
    let c = client(&named);
    let z = c.zone(&farm()).await.unwrap();
    assert_eq!(z.serial, 1);
    assert_eq!(z.soa().rtype, RecordType::Soa);
    let ns = z.rrset(&farm(), RecordType::Ns).unwrap();
    assert_eq!(ns.rdata, vec![RData::Ns(name("ns1.farm."))]);
    let ns1 = z.rrset(&name("ns1.farm."), RecordType::A).unwrap();
    assert_eq!(ns1.rdata, vec![a(Ipv4Addr::LOCALHOST)]);
    assert_eq!(ns1.ttl, 300);
    assert_eq!(z.rrsets().count(), 3);
    assert_eq!(c.messages_sent(), 1);
    // Served from the cache from now on.
    c.zone(&farm()).await.unwrap();
    assert_eq!(c.messages_sent(), 1);
}

#[tokio::test]
async fn concurrent_first_readers_share_one_transfer() {
    let named = start();
    let c = client(&named);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.zone(&farm()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().serial, 1);
    }
    eprintln!(
        "20 concurrent zone() calls sent {} message(s)",
        c.messages_sent()
    );
    assert_eq!(c.messages_sent(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_changes_coalesce() {
    let named = start();
    let c = client(&named);
    c.zone(&farm()).await.unwrap();
    let before = c.messages_sent();
    let tasks: Vec<_> = (0..1000u32)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let ip = Ipv4Addr::new(10, 0, (i / 256) as u8, (i % 256) as u8);
                c.change(&farm(), add(&format!("host{i}.farm."), ip)).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Every change is read back with one query after its UPDATE.
    let updates = c.messages_sent() - before - 1000;
    eprintln!("1000 concurrent changes were sent as {updates} UPDATE message(s)");
    assert!(updates <= 20, "{updates} UPDATE messages for 1000 changes");

    // The snapshot was kept in step with what was read back, without a transfer.
    let sent = c.messages_sent();
    let z = c.zone(&farm()).await.unwrap();
    assert_eq!(c.messages_sent(), sent);
    assert_eq!(z.rrsets().count(), 1003);

    // The server has them all: a fresh client transfers the zone.
    let fresh = client(&named);
    let z = fresh.zone(&farm()).await.unwrap();
    assert_eq!(z.rrsets().count(), 1003);
    // What a no-change plan does: one read per record set, all from one transfer.
    for i in 0..1000u32 {
        let z = fresh.zone(&farm()).await.unwrap();
        assert!(
            z.rrset(&name(&format!("host{i}.farm.")), RecordType::A)
                .is_some()
        );
    }
    eprintln!(
        "1000 record-set reads sent {} message(s)",
        fresh.messages_sent()
    );
    assert_eq!(fresh.messages_sent(), 1);
    for i in [0u32, 1, 511, 999] {
        let ip = Ipv4Addr::new(10, 0, (i / 256) as u8, (i % 256) as u8);
        let set = z
            .rrset(&name(&format!("host{i}.farm.")), RecordType::A)
            .unwrap();
        assert_eq!(set.rdata, vec![a(ip)]);
        let asked = fresh
            .query(&name(&format!("host{i}.farm.")), RecordType::A)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(asked.rdata, vec![a(ip)]);
    }
    // zone_fresh sees the serial moved and transfers again: SOA query + AXFR.
    let sent = c.messages_sent();
    let z = c.zone_fresh(&farm()).await.unwrap();
    assert_eq!(c.messages_sent() - sent, 2);
    assert!(z.serial > 1);
    // Nothing moved since: one SOA query only.
    let sent = c.messages_sent();
    c.zone_fresh(&farm()).await.unwrap();
    assert_eq!(c.messages_sent() - sent, 1);
}

#[tokio::test]
async fn replace_and_delete() {
    let named = start();
    let c = client(&named);
    let www = name("www.farm.");
    let one = a(Ipv4Addr::new(192, 0, 2, 1));
    let two = a(Ipv4Addr::new(192, 0, 2, 2));
    let three = a(Ipv4Addr::new(192, 0, 2, 3));
    c.change(&farm(), add("www.farm.", Ipv4Addr::new(192, 0, 2, 1)))
        .await
        .unwrap();
    c.change(
        &farm(),
        RrsetChange {
            name: www.clone(),
            rtype: RecordType::A,
            prior: vec![one.clone()],
            new: Some((60, vec![two.clone(), three.clone()])),
        },
    )
    .await
    .unwrap();
    let set = c.query(&www, RecordType::A).await.unwrap().unwrap();
    assert_eq!(set.ttl, 60);
    let mut got = set.rdata.clone();
    got.sort_by_key(|r| r.to_string());
    assert_eq!(got, vec![two.clone(), three.clone()]);
    let z = c.zone(&farm()).await.unwrap();
    assert_eq!(z.rrset(&www, RecordType::A).unwrap().ttl, 60);

    c.change(
        &farm(),
        RrsetChange {
            name: www.clone(),
            rtype: RecordType::A,
            prior: vec![three, two],
            new: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(c.query(&www, RecordType::A).await.unwrap(), None);
    let z = c.zone(&farm()).await.unwrap();
    assert!(z.rrset(&www, RecordType::A).is_none());
    assert!(z.types_at(&www).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_change_fails_only_its_own_record() {
    let named = start();
    let c = client(&named);
    c.change(&farm(), add("db.farm.", Ipv4Addr::new(192, 0, 2, 10)))
        .await
        .unwrap();
    let z = c.zone(&farm()).await.unwrap();
    let prior = z
        .rrset(&name("db.farm."), RecordType::A)
        .unwrap()
        .rdata
        .clone();

    // Someone else changes db.farm. behind our back.
    let other = client(&named);
    other
        .change(
            &farm(),
            RrsetChange {
                name: name("db.farm."),
                rtype: RecordType::A,
                prior: prior.clone(),
                new: Some((300, vec![a(Ipv4Addr::new(192, 0, 2, 99))])),
            },
        )
        .await
        .unwrap();

    let before = c.messages_sent();
    let mut tasks = Vec::new();
    for i in 0..9u8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.change(
                &farm(),
                add(&format!("app{i}.farm."), Ipv4Addr::new(192, 0, 2, 20 + i)),
            )
            .await
        }));
    }
    let stale = {
        let c = c.clone();
        tokio::spawn(async move {
            c.change(
                &farm(),
                RrsetChange {
                    name: name("db.farm."),
                    rtype: RecordType::A,
                    prior,
                    new: Some((300, vec![a(Ipv4Addr::new(192, 0, 2, 11))])),
                },
            )
            .await
        })
    };
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let err = stale.await.unwrap().unwrap_err();
    eprintln!(
        "conflict among 10 changes took {} message(s): {err}",
        c.messages_sent() - before
    );
    assert!(
        matches!(&err, DnsError::Conflict { name: n, rtype: RecordType::A } if *n == name("db.farm.")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("db.farm. A was changed by someone else"),
        "{err}"
    );
    // The out-of-band value survived; the others were applied.
    let db = c
        .query(&name("db.farm."), RecordType::A)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.rdata, vec![a(Ipv4Addr::new(192, 0, 2, 99))]);
    for i in 0..9u8 {
        let set = c
            .query(&name(&format!("app{i}.farm.")), RecordType::A)
            .await
            .unwrap();
        assert!(set.is_some(), "app{i}.farm. missing");
    }
}

/// A client of the fixture that signs with `tsig` (`None`: unsigned).
fn client_signing_with(named: &Named, tsig: Option<TsigKey>) -> DnsClient {
    let mut cfg = config(named);
    cfg.tsig = tsig;
    DnsClient::new(cfg)
}

/// An UPDATE adding `x.farm. A 192.0.2.1`, which must fail; its error, printed.
async fn update_error(c: &DnsClient) -> DnsError {
    match c
        .change(&farm(), add("x.farm.", Ipv4Addr::new(192, 0, 2, 1)))
        .await
    {
        Ok(()) => panic!("the UPDATE succeeded"),
        Err(err) => {
            eprintln!("UPDATE: {err}");
            err
        }
    }
}

#[tokio::test]
async fn wrong_secret_is_badsig() {
    let named = start();
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let key = TsigKey::from_base64(&named.tsig.name, "hmac-sha256", wrong).unwrap();
    let c = client_signing_with(&named, Some(key));
    let err = c.zone(&farm()).await.unwrap_err();
    eprintln!("AXFR: {err}");
    assert!(matches!(err, DnsError::BadSig { .. }), "{err:?}");
    assert!(err.to_string().contains("secret"), "{err}");
    let err = update_error(&c).await;
    assert!(matches!(err, DnsError::BadSig { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_key_is_badkey() {
    let named = start();
    let key = TsigKey::from_base64("no-such-key", "hmac-sha256", &named.tsig.secret).unwrap();
    let c = client_signing_with(&named, Some(key));
    let err = update_error(&c).await;
    assert!(matches!(err, DnsError::BadKey { .. }), "{err:?}");
    assert!(err.to_string().contains("key name"), "{err}");
}

#[tokio::test]
async fn unsigned_requests_are_refused_with_a_hint() {
    let named = start();
    let c = client_signing_with(&named, None);
    let err = c.zone(&farm()).await.unwrap_err();
    eprintln!("AXFR: {err}");
    assert!(matches!(err, DnsError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("allow-transfer"), "{err}");
    let err = update_error(&c).await;
    assert!(matches!(err, DnsError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("update-policy"), "{err}");
}

#[tokio::test]
async fn unknown_zone_is_named() {
    let named = start();
    let c = client(&named);
    let nope = name("nope.example.");
    let err = c.zone(&nope).await.unwrap_err();
    eprintln!("AXFR: {err}");
    assert!(err.to_string().contains("nope.example."), "{err}");
    assert!(
        matches!(
            err,
            DnsError::ZoneNotFound { .. } | DnsError::NotAuth { .. }
        ),
        "{err:?}"
    );
    let err = c.soa_serial(&nope).await.unwrap_err();
    eprintln!("SOA: {err}");
    assert!(matches!(err, DnsError::ZoneNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.example."), "{err}");
    let err = c
        .change(&nope, add("x.nope.example.", Ipv4Addr::new(192, 0, 2, 1)))
        .await
        .unwrap_err();
    eprintln!("UPDATE: {err}");
    assert!(matches!(err, DnsError::NotAuth { .. }), "{err:?}");
    // A name outside the zone never reaches the server.
    let err = c
        .change(&farm(), add("x.other.", Ipv4Addr::new(192, 0, 2, 1)))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Build { .. }), "{err:?}");
}

#[tokio::test]
async fn closed_port_is_reported() {
    let port = process::free_port().unwrap();
    for transport in [Transport::UdpWithTcpFallback, Transport::Tcp] {
        let mut cfg = ServerConfig::new(format!("127.0.0.1:{port}"));
        cfg.transport = transport;
        cfg.timeout = Duration::from_millis(300);
        cfg.retries = 1;
        let c = DnsClient::new(cfg);
        let err = c.soa_serial(&farm()).await.unwrap_err();
        eprintln!("{transport:?}: {err}");
        assert!(
            matches!(
                err,
                DnsError::ConnectionRefused { .. } | DnsError::Timeout { .. }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        let err = c.zone(&farm()).await.unwrap_err();
        assert!(matches!(err, DnsError::ConnectionRefused { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn unanswered_queries_time_out_after_retries() {
    // A bound UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cfg = ServerConfig::new(silent.local_addr().unwrap().to_string());
    cfg.timeout = Duration::from_millis(200);
    cfg.retries = 2;
    let c = DnsClient::new(cfg);
    let err = c.soa_serial(&farm()).await.unwrap_err();
    assert!(
        matches!(err, DnsError::Timeout { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not answer"), "{err}");
    assert_eq!(c.messages_sent(), 3);
}

#[tokio::test]
async fn tcp_transport_works() {
    let named = start();
    let mut cfg = config(&named);
    cfg.transport = Transport::Tcp;
    let c = DnsClient::new(cfg);
    c.change(&farm(), add("tcp.farm.", Ipv4Addr::new(192, 0, 2, 5)))
        .await
        .unwrap();
    let set = c
        .query(&name("tcp.farm."), RecordType::A)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.rdata, vec![a(Ipv4Addr::new(192, 0, 2, 5))]);
    assert_eq!(c.soa_serial(&farm()).await.unwrap(), 2);
    // UPDATE, the query reading it back, the query and the SOA query.
    assert_eq!(c.messages_sent(), 4);
}

#[tokio::test]
async fn large_udp_answer_falls_back_to_tcp() {
    let named = start();
    let c = client(&named);
    let big = name("big.farm.");
    let strings: Vec<RData> = (0..12u8)
        .map(|i| RData::Txt(vec![vec![b'a' + i; 200]]))
        .collect();
    c.change(
        &farm(),
        RrsetChange {
            name: big.clone(),
            rtype: RecordType::Txt,
            prior: vec![],
            new: Some((300, strings.clone())),
        },
    )
    .await
    .unwrap();
    let before = c.messages_sent();
    let set = c.query(&big, RecordType::Txt).await.unwrap().unwrap();
    let sent = c.messages_sent() - before;
    eprintln!("a 2.4 kB answer took {sent} message(s) (UDP, then TCP)");
    assert_eq!(sent, 2);
    assert_eq!(set.rdata.len(), 12);
    for s in &strings {
        assert!(set.rdata.contains(s));
    }
}
