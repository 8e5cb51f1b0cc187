//! A minimal ISO 9660 image writer: one root directory of regular files, with a Joliet
//! supplementary volume descriptor so that names such as `user-data` keep their case and
//! their hyphen. Built in memory, byte for byte the same for the same input (no clock,
//! no randomness), no I/O.
//!
//! Layout, in 2048-byte logical sectors (ECMA-119, 2nd edition, 1987):
//!
//! | sector | content                                                     |
//! |--------|-------------------------------------------------------------|
//! | 0-15   | system area, zeros (6.2.1)                                  |
//! | 16     | primary volume descriptor (8.4)                             |
//! | 17     | Joliet supplementary volume descriptor (8.5, Joliet spec)   |
//! | 18     | volume descriptor set terminator (8.3)                      |
//! | 19-22  | path tables: primary L and M, Joliet L and M (9.4)          |
//! | 23     | primary root directory (6.8, 9.1)                           |
//! | 24     | Joliet root directory                                       |
//! | 25-    | file contents, each from a sector boundary (both trees share them) |
//! | last 150 | zeros (padding for readers that read ahead)                |
//!
//! The primary tree uses ISO 9660 level 2 names (upper-case d-characters, `NAME.;1`);
//! Linux, Windows and blkid read the Joliet tree when it is there, which holds the
//! names as given, in UCS-2 big-endian ("%/E", level 3).

/// The logical sector (and block) size (ECMA-119 6.1.2: 2048 for CD-ROM).
pub const SECTOR: usize = 2048;

/// Sectors before the first volume descriptor (ECMA-119 6.2.1: the system area).
const SYSTEM_AREA: usize = 16;
const PVD_SECTOR: usize = SYSTEM_AREA;
const SVD_SECTOR: usize = SYSTEM_AREA + 1;
const TERMINATOR_SECTOR: usize = SYSTEM_AREA + 2;
const PATH_TABLES_SECTOR: usize = SYSTEM_AREA + 3;
const PRIMARY_ROOT_SECTOR: usize = PATH_TABLES_SECTOR + 4;
const JOLIET_ROOT_SECTOR: usize = PRIMARY_ROOT_SECTOR + 1;
const FIRST_FILE_SECTOR: usize = JOLIET_ROOT_SECTOR + 1;

/// Zero sectors after the last file, as `mkisofs -pad` writes them: readers read ahead
/// of what the directory says (busybox's and udev's volume_id read the first 68 KiB
/// whatever the image's size, and Linux's CD-ROM driver reads past the last file), and
/// fail on an image shorter than that.
const PADDING_SECTORS: usize = 150;

/// A directory record without its file identifier (ECMA-119 9.1).
const DIR_RECORD_FIXED: usize = 33;
/// Longest Joliet name, in UCS-2 characters (Joliet specification, 64 characters).
pub const MAX_NAME_CHARS: usize = 64;
/// Longest volume label: 32 bytes in the primary descriptor, 16 UCS-2 characters in Joliet.
pub const MAX_LABEL_CHARS: usize = 16;

/// The recording date of every file and descriptor, so that images are reproducible:
/// 2000-01-01 00:00:00 UTC.
const DIR_DATE: [u8; 7] = [100, 1, 1, 0, 0, 0, 0];
const VOLUME_DATE: &[u8; 16] = b"2000010100000000";

/// Why an image cannot be built from the given files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IsoError {
    /// A file name is empty, too long, or has characters a directory entry cannot hold.
    #[error(
        "File name {0:?} cannot be stored on the image; use 1 to 64 characters without '/', ';', '\\\\' or control characters"
    )]
    Name(String),
    /// Two files have the same name.
    #[error("File name {0:?} is given twice; every file on the image needs its own name")]
    Duplicate(String),
    /// The volume label is empty, too long or not plain ASCII.
    #[error("Volume label {0:?} cannot be used; use 1 to 16 ASCII letters, digits or '_'")]
    Label(String),
    /// The files do not fit into one sector of directory entries, or the image would be
    /// larger than ISO 9660's 32-bit sizes allow.
    #[error("The files do not fit on a single-directory image; use fewer or smaller files")]
    TooLarge,
}

/// One file for the root directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoFile<'a> {
    /// The name as Linux will show it (through Joliet).
    pub name: &'a str,
    /// The contents.
    pub data: &'a [u8],
}

/// Builds an image holding `files` in its root directory, labelled `label`.
pub fn build(label: &str, files: &[IsoFile<'_>]) -> Result<Vec<u8>, IsoError> {
    check_label(label)?;
    let mut names = Vec::with_capacity(files.len());
    for f in files {
        check_name(f.name)?;
        if names.contains(&f.name) {
            return Err(IsoError::Duplicate(f.name.to_owned()));
        }
        names.push(f.name);
    }

    // Where each file's contents go (in the order given), and the image's size.
    let mut extents = Vec::with_capacity(files.len());
    let mut next = FIRST_FILE_SECTOR;
    for f in files {
        let len = u32::try_from(f.data.len()).map_err(|_| IsoError::TooLarge)?;
        extents.push((next, len));
        next += f.data.len().div_ceil(SECTOR).max(1);
    }
    let total = next + PADDING_SECTORS;
    let total_u32 = u32::try_from(total).map_err(|_| IsoError::TooLarge)?;
    if total.checked_mul(SECTOR).is_none() {
        return Err(IsoError::TooLarge);
    }

    // Directory records, sorted by identifier as ECMA-119 9.3 asks.
    let mut primary: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut joliet: Vec<(Vec<u8>, usize)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        primary.push((primary_name(f.name), i));
        joliet.push((ucs2(f.name), i));
    }
    primary.sort();
    joliet.sort();
    if primary.windows(2).any(|w| w[0].0 == w[1].0) {
        // Two names that differ only where ISO 9660 cannot tell (case, '-' vs '_').
        let dup = primary
            .windows(2)
            .find(|w| w[0].0 == w[1].0)
            .map(|w| files[w[1].1].name.to_owned())
            .unwrap_or_default();
        return Err(IsoError::Duplicate(dup));
    }
    let primary_dir = directory(PRIMARY_ROOT_SECTOR, &primary, &extents)?;
    let joliet_dir = directory(JOLIET_ROOT_SECTOR, &joliet, &extents)?;

    let mut image = vec![0u8; total * SECTOR];
    let mut put = |sector: usize, bytes: &[u8]| {
        let at = sector * SECTOR;
        image[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(
        PVD_SECTOR,
        &volume_descriptor(false, label, total_u32, PATH_TABLES_SECTOR),
    );
    put(
        SVD_SECTOR,
        &volume_descriptor(true, label, total_u32, PATH_TABLES_SECTOR + 2),
    );
    put(TERMINATOR_SECTOR, &terminator());
    put(PATH_TABLES_SECTOR, &path_table(PRIMARY_ROOT_SECTOR, false));
    put(
        PATH_TABLES_SECTOR + 1,
        &path_table(PRIMARY_ROOT_SECTOR, true),
    );
    put(
        PATH_TABLES_SECTOR + 2,
        &path_table(JOLIET_ROOT_SECTOR, false),
    );
    put(
        PATH_TABLES_SECTOR + 3,
        &path_table(JOLIET_ROOT_SECTOR, true),
    );
    put(PRIMARY_ROOT_SECTOR, &primary_dir);
    put(JOLIET_ROOT_SECTOR, &joliet_dir);
    for (f, (sector, _)) in files.iter().zip(&extents) {
        put(*sector, f.data);
    }
    Ok(image)
}

fn check_label(label: &str) -> Result<(), IsoError> {
    let ok = !label.is_empty()
        && label.len() <= MAX_LABEL_CHARS
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(IsoError::Label(label.to_owned()))
    }
}

fn check_name(name: &str) -> Result<(), IsoError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.encode_utf16().count() > MAX_NAME_CHARS
        || name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ';' | '*' | '?' | ':') || c.is_control())
        || name.chars().any(|c| u32::from(c) > 0xFFFF);
    if bad {
        Err(IsoError::Name(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Both-endian 32-bit field (ECMA-119 7.3.3).
fn both32(v: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&v.to_le_bytes());
    b[4..].copy_from_slice(&v.to_be_bytes());
    b
}

/// Both-endian 16-bit field (ECMA-119 7.2.3).
fn both16(v: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    b[..2].copy_from_slice(&v.to_le_bytes());
    b[2..].copy_from_slice(&v.to_be_bytes());
    b
}

/// UCS-2 big-endian, as Joliet stores names and identifiers.
fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A level 2 primary name: upper-case d-characters (ECMA-119 7.4.1), at most 30 of
/// them with the dot, then the version ";1".
fn primary_name(name: &str) -> Vec<u8> {
    let mapped: String = name
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            u @ ('A'..='Z' | '0'..='9' | '_' | '.') => u,
            _ => '_',
        })
        .collect();
    let (stem, ext) = match mapped.rsplit_once('.') {
        Some((s, e)) => (s.replace('.', "_"), e.to_owned()),
        None => (mapped, String::new()),
    };
    let ext: String = ext.chars().take(3).collect();
    let stem: String = stem.chars().take(30 - 1 - ext.len()).collect();
    format!("{stem}.{ext};1").into_bytes()
}

/// One directory record (ECMA-119 9.1). `id` is the file identifier.
fn dir_record(id: &[u8], extent: usize, len: u32, directory: bool) -> Vec<u8> {
    let pad = usize::from(id.len().is_multiple_of(2));
    let total = DIR_RECORD_FIXED + id.len() + pad;
    let mut r = vec![0u8; total];
    // Callers keep identifiers at most 128 bytes (64 UCS-2 characters), so this fits.
    r[0] = u8::try_from(total).unwrap_or(u8::MAX);
    r[2..10].copy_from_slice(&both32(u32::try_from(extent).unwrap_or(u32::MAX)));
    r[10..18].copy_from_slice(&both32(len));
    r[18..25].copy_from_slice(&DIR_DATE);
    r[25] = if directory { 0x02 } else { 0x00 };
    r[28..32].copy_from_slice(&both16(1));
    r[32] = u8::try_from(id.len()).unwrap_or(u8::MAX);
    r[33..33 + id.len()].copy_from_slice(id);
    r
}

/// The root directory's single sector: "." and ".." (both the root itself), then the
/// files in identifier order.
fn directory(
    sector: usize,
    sorted: &[(Vec<u8>, usize)],
    extents: &[(usize, u32)],
) -> Result<Vec<u8>, IsoError> {
    let size = u32::try_from(SECTOR).unwrap_or(u32::MAX);
    let mut d = dir_record(&[0], sector, size, true);
    d.extend(dir_record(&[1], sector, size, true));
    for (id, i) in sorted {
        let (extent, len) = extents[*i];
        d.extend(dir_record(id, extent, len, false));
    }
    if d.len() > SECTOR {
        return Err(IsoError::TooLarge);
    }
    Ok(d)
}

/// A path table holding only the root (ECMA-119 9.4); `msb` for the M (big-endian) one.
fn path_table(root: usize, msb: bool) -> [u8; 10] {
    let root = u32::try_from(root).unwrap_or(u32::MAX);
    let mut t = [0u8; 10];
    t[0] = 1; // length of the directory identifier
    if msb {
        t[2..6].copy_from_slice(&root.to_be_bytes());
        t[6..8].copy_from_slice(&1u16.to_be_bytes());
    } else {
        t[2..6].copy_from_slice(&root.to_le_bytes());
        t[6..8].copy_from_slice(&1u16.to_le_bytes());
    }
    // t[8] = 0: the root's identifier; t[9]: padding.
    t
}

/// A text field: ASCII padded with spaces, or for Joliet UCS-2 padded with UCS-2 spaces.
fn text_field(out: &mut [u8], text: &str, joliet: bool) {
    if joliet {
        for pair in out.chunks_mut(2) {
            pair.copy_from_slice(&[0x00, 0x20][..pair.len()]);
        }
        let bytes = ucs2(text);
        let n = bytes.len().min(out.len());
        out[..n].copy_from_slice(&bytes[..n]);
    } else {
        out.fill(b' ');
        let n = text.len().min(out.len());
        out[..n].copy_from_slice(&text.as_bytes()[..n]);
    }
}

/// The primary (ECMA-119 8.4) or the Joliet supplementary (8.5) volume descriptor.
fn volume_descriptor(joliet: bool, label: &str, total: u32, l_table: usize) -> Vec<u8> {
    let mut v = vec![0u8; SECTOR];
    v[0] = if joliet { 2 } else { 1 };
    v[1..6].copy_from_slice(b"CD001");
    v[6] = 1;
    text_field(&mut v[8..40], "", joliet); // system identifier
    text_field(&mut v[40..72], label, joliet); // volume identifier
    v[80..88].copy_from_slice(&both32(total));
    if joliet {
        // Escape sequence for UCS-2 level 3 (Joliet specification).
        v[88..91].copy_from_slice(b"%/E");
    }
    v[120..124].copy_from_slice(&both16(1)); // volume set size
    v[124..128].copy_from_slice(&both16(1)); // volume sequence number
    v[128..132].copy_from_slice(&both16(2048)); // logical block size
    v[132..140].copy_from_slice(&both32(10)); // path table size
    let l = u32::try_from(l_table).unwrap_or(u32::MAX);
    v[140..144].copy_from_slice(&l.to_le_bytes());
    v[148..152].copy_from_slice(&(l + 1).to_be_bytes());
    let root = if joliet {
        JOLIET_ROOT_SECTOR
    } else {
        PRIMARY_ROOT_SECTOR
    };
    let size = u32::try_from(SECTOR).unwrap_or(u32::MAX);
    v[156..190].copy_from_slice(&dir_record(&[0], root, size, true));
    for range in [190..318, 318..446, 446..574, 574..702] {
        text_field(&mut v[range], "", joliet); // set, publisher, preparer, application
    }
    for range in [702..739, 739..776, 776..813] {
        text_field(&mut v[range], "", joliet); // copyright, abstract, bibliographic files
    }
    v[813..829].copy_from_slice(VOLUME_DATE); // creation
    v[830..846].copy_from_slice(VOLUME_DATE); // modification
    v[847..863].copy_from_slice(b"0000000000000000"); // expiration: not specified
    v[864..880].copy_from_slice(b"0000000000000000"); // effective: not specified
    v[881] = 1; // file structure version
    v
}

/// The volume descriptor set terminator (ECMA-119 8.3).
fn terminator() -> Vec<u8> {
    let mut v = vec![0u8; SECTOR];
    v[0] = 255;
    v[1..6].copy_from_slice(b"CD001");
    v[6] = 1;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        build(
            "cidata",
            &[
                IsoFile {
                    name: "user-data",
                    data: b"#cloud-config\n",
                },
                IsoFile {
                    name: "meta-data",
                    data: b"instance-id: i-1\nlocal-hostname: web1\n",
                },
                IsoFile {
                    name: "empty",
                    data: b"",
                },
            ],
        )
        .unwrap()
    }

    fn sector(image: &[u8], n: usize) -> &[u8] {
        &image[n * SECTOR..(n + 1) * SECTOR]
    }

    fn le32(b: &[u8]) -> u32 {
        u32::from_le_bytes(b[..4].try_into().unwrap())
    }

    /// Reads a directory sector back: (identifier, extent, length) of every record.
    fn records(dir: &[u8]) -> Vec<(Vec<u8>, u32, u32)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < dir.len() && dir[at] != 0 {
            let len = usize::from(dir[at]);
            let r = &dir[at..at + len];
            assert_eq!(
                &r[2..6],
                &r[6..10].iter().rev().copied().collect::<Vec<_>>()[..]
            );
            let id_len = usize::from(r[32]);
            out.push((
                r[33..33 + id_len].to_vec(),
                le32(&r[2..6]),
                le32(&r[10..14]),
            ));
            at += len;
        }
        out
    }

    #[test]
    fn descriptors_and_size() {
        let image = sample();
        // 25 sectors of metadata, one sector per file (the empty one too), padding.
        assert_eq!(image.len(), (28 + 150) * SECTOR);
        assert!(image[..16 * SECTOR].iter().all(|b| *b == 0));
        let pvd = sector(&image, 16);
        assert_eq!(&pvd[..7], b"\x01CD001\x01");
        assert_eq!(&pvd[40..72], format!("{:<32}", "cidata").as_bytes());
        assert_eq!(le32(&pvd[80..84]), 178);
        assert_eq!(&pvd[84..88], &178u32.to_be_bytes());
        let svd = sector(&image, 17);
        assert_eq!(&svd[..7], b"\x02CD001\x01");
        assert_eq!(&svd[88..91], b"%/E");
        assert_eq!(&svd[40..52], &ucs2("cidata")[..]);
        assert_eq!(&svd[52..54], &[0, 0x20]);
        assert_eq!(&sector(&image, 18)[..7], b"\xffCD001\x01");
        // Root records point at the two directories.
        assert_eq!(le32(&pvd[158..162]), 23);
        assert_eq!(le32(&svd[158..162]), 24);
        // Path tables: L little-endian, M big-endian, each naming its root.
        assert_eq!(le32(&pvd[140..144]), 19);
        assert_eq!(u32::from_be_bytes(pvd[148..152].try_into().unwrap()), 20);
        assert_eq!(le32(&sector(&image, 19)[2..6]), 23);
        assert_eq!(&sector(&image, 20)[2..6], &23u32.to_be_bytes());
        assert_eq!(le32(&sector(&image, 21)[2..6]), 24);
    }

    #[test]
    fn both_trees_list_the_files_sorted_and_share_contents() {
        let image = sample();
        let primary = records(sector(&image, 23));
        let joliet = records(sector(&image, 24));
        let ids: Vec<&[u8]> = primary.iter().map(|r| &r.0[..]).collect();
        assert_eq!(
            ids,
            [
                &b"\0"[..],
                b"\x01",
                b"EMPTY.;1",
                b"META_DATA.;1",
                b"USER_DATA.;1"
            ]
        );
        let names: Vec<String> = joliet[2..]
            .iter()
            .map(|r| {
                let units: Vec<u16> =
                    r.0.chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                String::from_utf16(&units).unwrap()
            })
            .collect();
        assert_eq!(names, ["empty", "meta-data", "user-data"]);
        for (p, j) in primary[2..].iter().zip(&joliet[2..]) {
            assert_eq!((p.1, p.2), (j.1, j.2), "same extent in both trees");
        }
        let (_, extent, len) = &joliet[4];
        let at = *extent as usize * SECTOR;
        assert_eq!(&image[at..at + *len as usize], b"#cloud-config\n");
        // Files in the order given: user-data first.
        assert_eq!(*extent, 25);
    }

    #[test]
    fn deterministic() {
        assert_eq!(sample(), sample());
    }

    #[test]
    fn refuses_bad_names_and_labels() {
        fn f(name: &str) -> IsoFile<'_> {
            IsoFile { name, data: b"" }
        }
        let long = "x".repeat(65);
        assert_eq!(
            build("cidata", &[f("a/b")]),
            Err(IsoError::Name("a/b".into()))
        );
        assert_eq!(build("cidata", &[f("")]), Err(IsoError::Name("".into())));
        assert!(matches!(
            build("cidata", &[f(&long)]),
            Err(IsoError::Name(_))
        ));
        assert_eq!(
            build("cidata", &[f("a"), f("a")]),
            Err(IsoError::Duplicate("a".into()))
        );
        assert!(matches!(
            build("cidata", &[f("a-b"), f("a_b")]),
            Err(IsoError::Duplicate(_))
        ));
        assert!(matches!(build("", &[]), Err(IsoError::Label(_))));
        assert!(matches!(build("ci data", &[]), Err(IsoError::Label(_))));
        assert!(matches!(
            build("a-very-long-volume-label", &[]),
            Err(IsoError::Label(_))
        ));
    }

    #[test]
    fn too_many_files_for_one_directory_sector() {
        let names: Vec<String> = (0..40).map(|i| format!("file-number-{i:03}")).collect();
        let files: Vec<IsoFile<'_>> = names
            .iter()
            .map(|n| IsoFile { name: n, data: b"" })
            .collect();
        assert_eq!(build("cidata", &files), Err(IsoError::TooLarge));
    }

    #[test]
    fn primary_names() {
        assert_eq!(primary_name("user-data"), b"USER_DATA.;1");
        assert_eq!(primary_name("a.tar.gz"), b"A_TAR.GZ;1");
        assert_eq!(primary_name(&"n".repeat(40)).len(), 30 + 2);
    }
}
