//! What an apt client needs to use a published repository, as text for a file (e.g.
//! cloud-init `write_files`): a deb822 `.sources` stanza (sources.list(5)) with
//! `Signed-By`, and an apt_preferences(5) stanza pinning an origin and suite. Pure.

/// Why a field cannot go into a stanza.
fn field_problem(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{what} {value:?} holds a line break or control character"
        ));
    }
    Ok(())
}

fn word_list(what: &str, items: &[String]) -> Result<String, String> {
    if items.is_empty() {
        return Err(format!("{what} is empty"));
    }
    for i in items {
        field_problem(what, i)?;
        if i.chars().any(char::is_whitespace) {
            return Err(format!("{what} {i:?} holds whitespace"));
        }
    }
    Ok(items.join(" "))
}

/// A deb822 stanza for `/etc/apt/sources.list.d/NAME.sources`: `Types: deb`, the URI,
/// suites, components and `Signed-By`. `signed_by` is either the path of a keyring file
/// on the client, or an armored public key (`-----BEGIN PGP PUBLIC KEY BLOCK-----`),
/// which is embedded as a multi-line field (sources.list(5) supports both).
pub fn deb822_stanza(
    uri: &str,
    suites: &[String],
    components: &[String],
    signed_by: &str,
) -> Result<String, String> {
    field_problem("the URI", uri)?;
    if uri.chars().any(char::is_whitespace) {
        return Err(format!("the URI {uri:?} holds whitespace"));
    }
    let suites = word_list("suites", suites)?;
    let components = word_list("components", components)?;
    let key = signed_by.trim();
    let signed = if key.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        // A multi-line field: continuation lines start with a space, and an empty line is
        // written as ` .`.
        let folded: Vec<String> = key
            .lines()
            .map(|l| {
                let l = l.trim_end();
                if l.is_empty() {
                    " .".to_owned()
                } else {
                    format!(" {l}")
                }
            })
            .collect();
        format!("\n{}", folded.join("\n"))
    } else {
        field_problem("signed_by", key)?;
        if key.contains(char::is_whitespace) {
            return Err(format!(
                "signed_by {key:?} is neither a keyring path nor an armored public key"
            ));
        }
        format!(" {key}")
    };
    Ok(format!(
        "Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: {components}\nSigned-By:{signed}\n"
    ))
}

/// An apt_preferences(5) stanza pinning the packages `package` (`*` for every one) of
/// the release with origin `origin` and suite `suite` at `priority` (e.g. 940 for a main
/// distribution, -1 for one nothing installs from by accident).
pub fn pin_stanza(
    package: &str,
    origin: &str,
    suite: &str,
    priority: i64,
) -> Result<String, String> {
    field_problem("package", package)?;
    for (what, v) in [("origin", origin), ("suite", suite)] {
        field_problem(what, v)?;
        if v.contains(',') {
            return Err(format!(
                "{what} {v:?} holds a comma, which apt's pin syntax cannot express"
            ));
        }
    }
    if priority == 0 {
        return Err(
            "priority 0 is undefined in apt_preferences(5); use -1 to never install".into(),
        );
    }
    Ok(format!(
        "Package: {package}\nPin: release o={origin},a={suite}\nPin-Priority: {priority}\n"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sources_with_a_keyring_path() {
        let s = deb822_stanza(
            "https://apt.example/ops",
            &v(&["stable", "proposed-updates"]),
            &v(&["main", "profile/appserver"]),
            "/etc/apt/keyrings/ops.gpg",
        )
        .unwrap();
        assert_eq!(
            s,
            "Types: deb\nURIs: https://apt.example/ops\nSuites: stable proposed-updates\n\
             Components: main profile/appserver\nSigned-By: /etc/apt/keyrings/ops.gpg\n"
        );
    }

    #[test]
    fn sources_with_an_embedded_key() {
        let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";
        let s = deb822_stanza("http://x", &v(&["s"]), &v(&["main"]), key).unwrap();
        assert!(s.ends_with(
            "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mDMEZ\n =abcd\n -----END PGP PUBLIC KEY BLOCK-----\n"
        ), "{s}");
    }

    #[test]
    fn bad_fields_are_refused() {
        assert!(deb822_stanza("http://x", &v(&[]), &v(&["main"]), "/k").is_err());
        assert!(deb822_stanza("http://x", &v(&["s"]), &v(&["pro file"]), "/k").is_err());
        assert!(deb822_stanza("http://x y", &v(&["s"]), &v(&["main"]), "/k").is_err());
        assert!(deb822_stanza("http://x", &v(&["s"]), &v(&["main"]), "not a key").is_err());
        assert!(pin_stanza("*", "a,b", "s", 940).is_err());
        assert!(pin_stanza("*", "o", "s", 0).is_err());
    }

    #[test]
    fn pins() {
        assert_eq!(
            pin_stanza("*", "ops", "proposed-updates", -1).unwrap(),
            "Package: *\nPin: release o=ops,a=proposed-updates\nPin-Priority: -1\n"
        );
    }
}
