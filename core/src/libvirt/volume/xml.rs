//! A volume's XML in both directions. Pure: no I/O.

use super::spec::{VolumeFormat, VolumeSpecError};
use crate::libvirt::xml::Element;
use crate::size::ByteSize;

/// What libvirt needs to create a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewVolume<'a> {
    pub name: &'a str,
    pub format: VolumeFormat,
    pub capacity: u64,
    /// Allocate nothing up front (sparse file); otherwise allocate it all.
    pub sparse: bool,
    /// The backing volume's path and format.
    pub backing: Option<(&'a str, &'a str)>,
}

/// libvirt's volume XML for a new volume.
pub(crate) fn volume_xml(v: &NewVolume<'_>) -> String {
    let allocation = if v.sparse { 0 } else { v.capacity };
    let mut root = Element::new("volume")
        .child(Element::new("name").with_text(v.name))
        .child(
            Element::new("capacity")
                .attr("unit", "bytes")
                .with_text(&v.capacity.to_string()),
        )
        .child(
            Element::new("allocation")
                .attr("unit", "bytes")
                .with_text(&allocation.to_string()),
        )
        .child(
            Element::new("target").child(Element::new("format").attr("type", v.format.as_str())),
        );
    if let Some((path, format)) = v.backing {
        root = root.child(
            Element::new("backingStore")
                .child(Element::new("path").with_text(path))
                .child(Element::new("format").attr("type", format)),
        );
    }
    root.to_xml()
}

/// A volume's backing file, as libvirt reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingStore {
    /// Its path on the hypervisor.
    pub path: String,
    /// Its format, if libvirt reports one.
    pub format: Option<String>,
}

/// A volume as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeState {
    /// The pool it is in.
    pub pool: String,
    /// Its name.
    pub name: String,
    /// libvirt's key (for file pools, the path).
    pub key: String,
    /// The path on the hypervisor.
    pub path: String,
    /// The format libvirt reports, if any (`raw`, `qcow2`, ...).
    pub format: Option<String>,
    /// Capacity in bytes (the size the guest sees).
    pub capacity: u64,
    /// Bytes allocated on the storage.
    pub allocation: u64,
    /// The backing file, for an overlay.
    pub backing: Option<BackingStore>,
    /// The XML libvirt reports.
    pub xml: String,
}

fn unsupported(msg: impl Into<String>) -> VolumeSpecError {
    VolumeSpecError::Unsupported(msg.into())
}

/// A `<capacity>`/`<allocation>` element in bytes (libvirt writes `unit='bytes'`, older
/// or hand-written XML may use any of libvirt's units).
fn parse_amount(e: &Element) -> Result<u64, VolumeSpecError> {
    let unit = match e.get("unit") {
        None | Some("bytes") => "",
        Some(u) => u,
    };
    format!("{}{unit}", e.text)
        .parse::<ByteSize>()
        .map(ByteSize::bytes)
        .map_err(|err| unsupported(format!("<{}>: {err}", e.name)))
}

/// Reads libvirt's XML of a volume in `pool`.
pub fn parse_volume_xml(pool: &str, xml: &str) -> Result<VolumeState, VolumeSpecError> {
    let root = Element::parse(xml).map_err(VolumeSpecError::Syntax)?;
    if root.name != "volume" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <volume>",
            root.name
        )));
    }
    let text = |name: &str| root.first(name).map(|e| e.text.clone()).unwrap_or_default();
    let name = text("name");
    if name.is_empty() {
        return Err(unsupported("the volume has no <name>"));
    }
    let amount = |name: &str| match root.first(name) {
        Some(e) => parse_amount(e),
        None => Ok(0),
    };
    let target = root.first("target");
    let path = target
        .and_then(|t| t.first("path"))
        .map(|p| p.text.clone())
        .unwrap_or_default();
    let format = target
        .and_then(|t| t.first("format"))
        .and_then(|f| f.get("type"))
        .map(str::to_owned);
    let backing = root
        .first("backingStore")
        .and_then(|b| {
            let path = b.first("path")?.text.clone();
            Some(BackingStore {
                path,
                format: b
                    .first("format")
                    .and_then(|f| f.get("type"))
                    .map(str::to_owned),
            })
        })
        .filter(|b| !b.path.is_empty());
    Ok(VolumeState {
        pool: pool.to_owned(),
        xml: xml.to_owned(),
        key: text("key"),
        capacity: amount("capacity")?,
        allocation: amount("allocation")?,
        name,
        path,
        format,
        backing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libvirt 9.0 answers for an overlay in a dir pool (`virsh vol-dumpxml`).
    const LIBVIRT_OVERLAY: &str = "<volume type='file'>
  <name>vm1.qcow2</name>
  <key>/srv/pool/vm1.qcow2</key>
  <capacity unit='bytes'>10737418240</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196928</physical>
  <target>
    <path>/srv/pool/vm1.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <compat>1.1</compat>
    <clusterSize unit='B'>65536</clusterSize>
    <features/>
  </target>
  <backingStore>
    <path>/srv/pool/base.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0644</mode>
    </permissions>
  </backingStore>
</volume>
";

    #[test]
    fn builds_the_xml_libvirt_expects() {
        assert_eq!(
            volume_xml(&NewVolume {
                name: "vm1.qcow2",
                format: VolumeFormat::Qcow2,
                capacity: 10 << 30,
                sparse: true,
                backing: Some(("/srv/pool/base.qcow2", "qcow2")),
            }),
            "<volume>\n  <name>vm1.qcow2</name>\n  \
             <capacity unit=\"bytes\">10737418240</capacity>\n  \
             <allocation unit=\"bytes\">0</allocation>\n  <target>\n    \
             <format type=\"qcow2\"/>\n  </target>\n  <backingStore>\n    \
             <path>/srv/pool/base.qcow2</path>\n    <format type=\"qcow2\"/>\n  \
             </backingStore>\n</volume>"
        );
        let raw = volume_xml(&NewVolume {
            name: "lv",
            format: VolumeFormat::Raw,
            capacity: 4096,
            sparse: false,
            backing: None,
        });
        assert!(
            raw.contains("<allocation unit=\"bytes\">4096</allocation>"),
            "{raw}"
        );
        assert!(!raw.contains("backingStore"), "{raw}");
    }

    #[test]
    fn parses_what_libvirt_answers() {
        let v = parse_volume_xml("pool", LIBVIRT_OVERLAY).unwrap();
        assert_eq!(
            v,
            VolumeState {
                pool: "pool".into(),
                xml: LIBVIRT_OVERLAY.into(),
                name: "vm1.qcow2".into(),
                key: "/srv/pool/vm1.qcow2".into(),
                path: "/srv/pool/vm1.qcow2".into(),
                format: Some("qcow2".into()),
                capacity: 10 << 30,
                allocation: 200704,
                backing: Some(BackingStore {
                    path: "/srv/pool/base.qcow2".into(),
                    format: Some("qcow2".into()),
                }),
            }
        );
        let lv = "<volume type='block'><name>lv1</name><key>abc</key>\
                  <capacity unit='MiB'>8</capacity><allocation>8388608</allocation>\
                  <target><path>/dev/vg/lv1</path></target></volume>";
        let v = parse_volume_xml("vg", lv).unwrap();
        assert_eq!(v.capacity, 8 << 20);
        assert_eq!(v.allocation, 8 << 20);
        assert_eq!(v.format, None);
        assert_eq!(v.backing, None);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for xml in [
            "<pool><name>x</name></pool>",
            "<volume><capacity>1</capacity></volume>",
            "<volume><name>x</name><capacity unit='parsecs'>1</capacity></volume>",
        ] {
            assert!(
                matches!(
                    parse_volume_xml("pool", xml),
                    Err(VolumeSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_volume_xml("pool", "<volume"),
            Err(VolumeSpecError::Syntax(_))
        ));
    }
}
