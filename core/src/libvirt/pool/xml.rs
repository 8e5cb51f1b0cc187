//! A storage pool's XML in both directions. Pure: no I/O.

use super::spec::{PoolKind, PoolSpec, PoolSpecError};
use crate::libvirt::xml::Element;

/// libvirt's storage pool XML for `spec` (`autostart` is not part of it). Call
/// [`PoolSpec::validate`] first: this builds whatever it is given.
pub fn pool_xml(spec: &PoolSpec) -> String {
    let mut root = Element::new("pool")
        .attr("type", spec.kind.as_str())
        .child(Element::new("name").with_text(&spec.name));
    if let PoolKind::Logical {
        volume_group,
        devices,
    } = &spec.kind
    {
        let mut source = Element::new("source");
        for d in devices {
            source = source.child(Element::new("device").attr("path", d));
        }
        source = source
            .child(Element::new("name").with_text(volume_group))
            .child(Element::new("format").attr("type", "lvm2"));
        root = root.child(source);
    }
    root.child(
        Element::new("target").child(Element::new("path").with_text(&spec.kind.target_path())),
    )
    .to_xml()
}

fn unsupported(msg: impl Into<String>) -> PoolSpecError {
    PoolSpecError::Unsupported(msg.into())
}

/// Reads libvirt's XML of a pool into a [`PoolSpec`], with `autostart` as given. What
/// rack does not model (uuid, sizes, permissions) is ignored; other pool types are an
/// error.
pub fn parse_pool_xml(xml: &str, autostart: bool) -> Result<PoolSpec, PoolSpecError> {
    let root = Element::parse(xml).map_err(PoolSpecError::Syntax)?;
    if root.name != "pool" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <pool>",
            root.name
        )));
    }
    let name = root
        .first("name")
        .map(|n| n.text.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unsupported("the pool has no <name>"))?;
    let target = root
        .first("target")
        .and_then(|t| t.first("path"))
        .map(|p| p.text.clone());
    let kind = match root.get("type") {
        Some("dir") => PoolKind::Dir {
            path: target.ok_or_else(|| unsupported("a dir pool has no <target><path>"))?,
        },
        Some("logical") => {
            let source = root.first("source");
            let volume_group = source
                .and_then(|s| s.first("name"))
                .map(|n| n.text.clone())
                .filter(|n| !n.is_empty())
                // libvirt's default: the volume group is named like the pool.
                .unwrap_or_else(|| name.clone());
            let devices = source
                .map(|s| {
                    s.all("device")
                        .filter_map(|d| d.get("path").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            PoolKind::Logical {
                volume_group,
                devices,
            }
        }
        Some(other) => {
            return Err(unsupported(format!(
                "pool type {other:?} is not one rack manages (dir, logical)"
            )));
        }
        None => return Err(unsupported("the pool has no type")),
    };
    Ok(PoolSpec {
        name,
        kind,
        autostart,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libvirt 9.0 answers for a dir pool (`virsh pool-dumpxml`).
    const LIBVIRT_DIR: &str = "<pool type='dir'>
  <name>images</name>
  <uuid>4c4a3b37-0d1c-4c3b-9b7e-6f0b8e7d4a11</uuid>
  <capacity unit='bytes'>270465425408</capacity>
  <allocation unit='bytes'>41608081408</allocation>
  <available unit='bytes'>228857344000</available>
  <source>
  </source>
  <target>
    <path>/var/lib/rack/images</path>
    <permissions>
      <mode>0711</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </target>
</pool>
";

    /// What libvirt 9.0 answers for a logical pool built on a loop device.
    const LIBVIRT_LOGICAL: &str = "<pool type='logical'>
  <name>fast</name>
  <uuid>0e3a2f9b-7f0b-4f7e-9d1a-2b7c9c1f0d22</uuid>
  <capacity unit='bytes'>62914560</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>62914560</available>
  <source>
    <device path='/dev/loop3'/>
    <name>rackvg</name>
    <format type='lvm2'/>
  </source>
  <target>
    <path>/dev/rackvg</path>
  </target>
</pool>
";

    #[test]
    fn builds_the_xml_libvirt_expects() {
        assert_eq!(
            pool_xml(&PoolSpec::dir("images", "/var/lib/rack/images")),
            "<pool type=\"dir\">\n  <name>images</name>\n  <target>\n    \
             <path>/var/lib/rack/images</path>\n  </target>\n</pool>"
        );
        assert_eq!(
            pool_xml(&PoolSpec::logical(
                "fast",
                "rackvg",
                vec!["/dev/loop3".into()]
            )),
            "<pool type=\"logical\">\n  <name>fast</name>\n  <source>\n    \
             <device path=\"/dev/loop3\"/>\n    <name>rackvg</name>\n    \
             <format type=\"lvm2\"/>\n  </source>\n  <target>\n    \
             <path>/dev/rackvg</path>\n  </target>\n</pool>"
        );
    }

    #[test]
    fn parses_what_libvirt_answers() {
        assert_eq!(
            parse_pool_xml(LIBVIRT_DIR, true).unwrap(),
            PoolSpec::dir("images", "/var/lib/rack/images")
        );
        let mut logical = PoolSpec::logical("fast", "rackvg", vec!["/dev/loop3".into()]);
        logical.autostart = false;
        assert_eq!(parse_pool_xml(LIBVIRT_LOGICAL, false).unwrap(), logical);
    }

    #[test]
    fn round_trips() {
        for spec in [
            PoolSpec::dir("a", "/srv/a"),
            PoolSpec::logical("b", "vg_b", vec![]),
            PoolSpec::logical("c", "vg-c", vec!["/dev/sdb".into(), "/dev/sdc".into()]),
        ] {
            spec.validate().unwrap();
            assert_eq!(parse_pool_xml(&pool_xml(&spec), true).unwrap(), spec);
        }
        // A logical pool without <source><name> uses the pool's name as the group.
        let xml = "<pool type='logical'><name>vg9</name><target><path>/dev/vg9</path>\
                   </target></pool>";
        let mut expected = PoolSpec::logical("vg9", "vg9", vec![]);
        expected.autostart = false;
        assert_eq!(parse_pool_xml(xml, false).unwrap(), expected);
    }

    #[test]
    fn refuses_what_it_cannot_model() {
        for xml in [
            "<pool type='netfs'><name>n</name></pool>",
            "<pool><name>n</name></pool>",
            "<pool type='dir'><name>n</name></pool>",
            "<pool type='dir'><target><path>/x</path></target></pool>",
            "<network><name>n</name></network>",
        ] {
            assert!(
                matches!(
                    parse_pool_xml(xml, false),
                    Err(PoolSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_pool_xml("<pool", false),
            Err(PoolSpecError::Syntax(_))
        ));
    }
}
