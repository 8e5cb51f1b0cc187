use super::*;

fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// The zone these attributes describe.
fn model(v: &Value) -> ZoneModel {
    typed::from_value::<ZoneAttrs>(v)
        .unwrap()
        .model()
        .unwrap()
        .unwrap()
}

fn config(ns: &[&str]) -> Value {
    Value::object([
        ("server", Value::Null),
        ("name", Value::from("Lab.Farm")),
        (
            "soa",
            Value::object([
                ("mname", Value::from("ns1.example.")),
                ("rname", Value::from("hostmaster.example.")),
                ("refresh", num(7200)),
                ("retry", Value::Null),
                ("expire", Value::Null),
                ("minimum", Value::Null),
            ]),
        ),
        (
            "nameservers",
            Value::Set(ns.iter().map(|s| Value::from(*s)).collect()),
        ),
        ("ttl", Value::Null),
        ("force_destroy", Value::Null),
        ("serial", Value::Null),
    ])
}

#[test]
fn model_normalises_and_fills_defaults() {
    let m = model(&config(&["NS2.example", "ns1.example."]));
    assert_eq!(m.name, n("lab.farm."));
    assert_eq!(m.nameservers, vec![n("ns1.example."), n("ns2.example.")]);
    assert_eq!(
        (m.refresh, m.retry, m.ttl),
        (7200, DEFAULT_RETRY, DEFAULT_TTL)
    );
    let other = model(&config(&["ns1.example", "ns2.EXAMPLE."]));
    assert!(m.same_ns(&other) && m.same_soa(&other));
}

#[tokio::test]
async fn in_zone_nameservers_and_mail_rnames_are_refused() {
    let mut diags = Diagnostics::new();
    DnsZone
        .validate(&config(&["ns1.lab.farm.", "ns1.example."]), &mut diags)
        .await;
    let all: Vec<String> = diags.iter().map(|d| d.summary.clone()).collect();
    assert_eq!(all, ["Name server ns1.lab.farm. is inside zone lab.farm."]);

    let e = parse_name("hostmaster@farm", "rname", &AttributePath::attr("soa")).unwrap_err();
    assert!(e.detail.contains("hostmaster.farm"), "{}", e.detail);
}

#[test]
fn state_keeps_equivalent_spellings() {
    let served = Served {
        soa: Soa {
            mname: n("ns1.example."),
            rname: n("hostmaster.example."),
            serial: 7,
            refresh: 7200,
            retry: 600,
            expire: 1_209_600,
            minimum: 300,
        },
        soa_ttl: 3600,
        nameservers: vec![n("ns1.example."), n("ns2.example.")],
        ns_ttl: Some(3600),
    };
    let mut prior = config(&["NS2.example", "ns1.example."]);
    obj_set(&mut prior, "ttl", num(3600));
    let prior: ZoneAttrs = typed::from_value(&prior).unwrap();
    let state = served.state("default", "Lab.Farm", Some(&prior)).unwrap();
    let nameservers = typed::from_value::<ZoneAttrs>(&state).unwrap().nameservers;
    assert_eq!(
        nameservers.value().unwrap(),
        &["NS2.example", "ns1.example."]
    );
    assert_eq!(state.attr("serial"), Some(&num(7)));
    // A drifted NS TTL shows as a change of `ttl`.
    let drifted = Served {
        ns_ttl: Some(60),
        ..served
    };
    let state = drifted.state("default", "Lab.Farm", Some(&prior)).unwrap();
    assert_eq!(state.attr("ttl"), Some(&num(60)));
}
