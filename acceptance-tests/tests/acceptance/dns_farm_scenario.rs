//! `examples/scenarios/farm-dns` applied as its README says, against a real BIND holding
//! `farm.` and `60.10.10.in-addr.arpa.`: every host answers forward and reverse, the plan
//! after apply is empty, destroy empties both zones.

use rack_acceptance_tests::{Workdir, workspace_root};

use crate::dns_common::{Server, add_bind_zone};
use rack_lab::Named;

const REVERSE_ZONE: &str = "60.10.10.in-addr.arpa.";

#[test]
fn farm_dns_scenario_applies() {
    let named = Named::start().expect("start named");
    add_bind_zone(&named, REVERSE_ZONE);
    let server = Server::of_named(&named);

    let mut wd = Workdir::new();
    wd.copy_files_from(&workspace_root().join("examples/scenarios/farm-dns"));
    wd.set_env("TF_VAR_dns_address", named.dns_addr.to_string());
    wd.set_env("TF_VAR_tsig_key_name", named.tsig.name.clone());
    wd.set_env("TF_VAR_tsig_key_algorithm", named.tsig.algorithm.clone());
    wd.set_env("TF_VAR_tsig_key_secret", named.tsig.secret.clone());
    let text = wd.apply().stdout;
    assert!(
        !text.contains(&named.tsig.secret),
        "the secret was printed:\n{text}"
    );

    for (host, ip) in [
        ("gw", "10.10.60.1"),
        ("web1", "10.10.60.11"),
        ("web2", "10.10.60.12"),
        ("mail", "10.10.60.25"),
        ("ldap1", "10.10.60.31"),
        ("ldap2", "10.10.60.32"),
    ] {
        assert_eq!(server.dig(&format!("{host}.farm."), "A"), [ip]);
        assert_eq!(server.dig_args(&["-x", ip]), [format!("{host}.farm.")]);
    }
    server.assert_answers(&[
        ("web.farm.", "A", &["10.10.60.11", "10.10.60.12"]),
        ("www.farm.", "CNAME", &["web.farm."]),
        ("farm.", "MX", &["10 mail.farm."]),
        ("farm.", "TXT", &[r#""v=spf1 mx -all""#]),
        (
            "_ldap._tcp.farm.",
            "SRV",
            &["0 50 389 ldap1.farm.", "0 50 389 ldap2.farm."],
        ),
    ]);
    assert_eq!(wd.output("reverse_zone"), REVERSE_ZONE);
    assert_eq!(wd.output("hosts")["web1.farm."], "10.10.60.11");
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    for zone in ["farm.", REVERSE_ZONE] {
        let left = server.axfr_data(zone);
        assert!(left.is_empty(), "left behind in {zone}: {left:#?}");
    }
}
