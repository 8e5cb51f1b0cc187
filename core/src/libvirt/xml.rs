//! A small element tree over `quick-xml`, enough for libvirt's object XML: elements,
//! attributes and text, no namespaces, no mixed content. Reading and writing, no I/O.

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// One element: its name, attributes in document order, child elements and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own text, trimmed (libvirt never uses mixed content).
    pub text: String,
}

impl Element {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, name: &str, value: impl ToString) -> Self {
        self.attrs.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a child (builder style).
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// Sets the text (builder style).
    pub fn with_text(mut self, text: &str) -> Self {
        self.text = text.to_owned();
        self
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    pub fn first(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Serialises the element, indented by two spaces.
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing into a Vec cannot fail.
        let _ = self.write(&mut writer);
        String::from_utf8_lossy(&writer.into_inner()).into_owned()
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name.as_str());
        for (k, v) in &self.attrs {
            start.push_attribute((k.as_str(), v.as_str()));
        }
        if self.children.is_empty() && self.text.is_empty() {
            return w.write_event(Event::Empty(start));
        }
        w.write_event(Event::Start(start))?;
        if !self.text.is_empty() {
            w.write_event(Event::Text(BytesText::new(&self.text)))?;
        }
        for c in &self.children {
            c.write(w)?;
        }
        w.write_event(Event::End(BytesEnd::new(self.name.as_str())))
    }

    /// Parses a document and returns its root element.
    pub fn parse(xml: &str) -> Result<Element, String> {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
            match event {
                Event::Start(start) => stack.push(open(&start)?),
                Event::Empty(start) => {
                    let element = open(&start)?;
                    close(&mut stack, &mut root, element)?;
                }
                Event::End(_) => {
                    let element = stack
                        .pop()
                        .ok_or_else(|| "closing tag without an opening one".to_owned())?;
                    close(&mut stack, &mut root, element)?;
                }
                Event::Text(text) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&text.xml10_content());
                    }
                }
                Event::CData(data) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&data.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(top) = stack.last_mut() {
                        let reference = format!("&{};", &*r);
                        let resolved = quick_xml::escape::unescape(&reference)
                            .map_err(|e| format!("reference {reference} in <{}>: {e}", top.name))?;
                        top.text.push_str(&resolved);
                    }
                }
                Event::Eof => break,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if !stack.is_empty() {
            return Err("the document ends inside an element".to_owned());
        }
        let mut root = root.ok_or_else(|| "the document holds no element".to_owned())?;
        trim(&mut root);
        Ok(root)
    }
}

/// Whether `value` may go into libvirt XML as a name, address, path or word: no
/// control characters and none of `<`, `>`, `&`, `'`, `"`.
///
/// rack's own writer escapes everything, but libvirt (9.0) writes some values back into
/// its saved definitions without escaping them (a network's `<domain name>`, a graphics
/// `listen`), so markup in a value would come back as elements the next time libvirt
/// reads its own files. No name, address or path needs these characters.
pub(crate) fn is_plain(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '&' | '\'' | '"'))
}

/// Whether `name` is a DNS name: labels of 1 to 63 letters, digits and hyphens (no hyphen
/// at either end) joined by dots, at most 253 characters, optionally ending in a dot.
pub(crate) fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn open(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = start.name().as_ref().to_owned();
    let mut element = Element::new(&name);
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("attribute of <{name}>: {e}"))?;
        let key = attr.key.as_ref().to_owned();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key} of <{name}>: {e}"))?
            .into_owned();
        element.attrs.push((key, value));
    }
    Ok(element)
}

fn close(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("more than one root element".to_owned()),
    }
    Ok(())
}

fn trim(element: &mut Element) {
    let trimmed = element.text.trim();
    if trimmed.len() != element.text.len() {
        element.text = trimmed.to_owned();
    }
    for c in &mut element.children {
        trim(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_attributes_children_and_escaped_text() {
        let e = Element::new("network")
            .child(Element::new("name").with_text("a<b&c"))
            .child(
                Element::new("ip")
                    .attr("address", "10.0.0.1")
                    .attr("q", "'\""),
            );
        let xml = e.to_xml();
        assert!(xml.contains("a&lt;b&amp;c"), "{xml}");
        assert_eq!(Element::parse(&xml).unwrap(), e);
    }

    #[test]
    fn parses_references_comments_and_declarations() {
        let doc = "<?xml version='1.0'?><!-- c --><a x='1&amp;2'>\n  <b>x&#65;&lt;y</b>\n</a>";
        let a = Element::parse(doc).unwrap();
        assert_eq!(a.get("x"), Some("1&2"));
        assert_eq!(a.first("b").unwrap().text, "xA<y");
        assert_eq!(a.text, "");
    }

    #[test]
    fn plain_values_and_dns_names() {
        assert!(is_plain("/var/lib/rack/images"));
        assert!(is_plain("web-1.example"));
        for bad in [
            "a'b", "a\"b", "a<b", "a>b", "a&b", "a\nb", "a\tb", "a\u{7f}b",
        ] {
            assert!(!is_plain(bad), "{bad:?}");
        }
        assert!(is_dns_name("farm.test"));
        assert!(is_dns_name("farm.test."));
        assert!(is_dns_name("a-1"));
        for bad in [
            "",
            ".",
            "a..b",
            "-a",
            "a-",
            "a_b",
            "a b",
            "rel'/><x/>",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(Element::parse("").is_err());
        assert!(Element::parse("<a><b></a>").is_err());
        assert!(Element::parse("<a/><b/>").is_err());
        assert!(Element::parse("<a>").is_err());
    }
}
