//! Tests of partition-table reading and config-drive partitions on disk images.

use super::*;

fn u32_at(b: &[u8], o: usize) -> u32 {
    le_u32(b, o).expect("u32 inside the buffer")
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    le_u64(b, o).expect("u64 inside the buffer")
}

/// A GPT disk image of `size` bytes with one partition from 1 MiB to `part_end` bytes,
/// built by hand (backup header at the image's own end).
pub fn gpt_image(size: u64, part_end: u64) -> Vec<u8> {
    let mut img = vec![0u8; size as usize];
    let last = size / 512 - 1;
    let mut entries = vec![0u8; 128 * 128];
    entries[..16].copy_from_slice(&LINUX_DATA);
    entries[16] = 7;
    entries[32..40].copy_from_slice(&2048u64.to_le_bytes());
    entries[40..48].copy_from_slice(&(part_end / 512 - 1).to_le_bytes());
    let mut h = vec![0u8; 92];
    h[..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x10000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&1u64.to_le_bytes());
    h[32..40].copy_from_slice(&last.to_le_bytes());
    h[40..48].copy_from_slice(&34u64.to_le_bytes());
    h[48..56].copy_from_slice(&(last - 33).to_le_bytes());
    h[72..80].copy_from_slice(&2u64.to_le_bytes());
    h[80..84].copy_from_slice(&128u32.to_le_bytes());
    h[84..88].copy_from_slice(&128u32.to_le_bytes());
    h[88..92].copy_from_slice(&crc32fast::hash(&entries).to_le_bytes());
    let mut b = h.clone();
    Gpt::header_crc(&mut h);
    b[24..32].copy_from_slice(&last.to_le_bytes());
    b[32..40].copy_from_slice(&1u64.to_le_bytes());
    b[72..80].copy_from_slice(&(last - 32).to_le_bytes());
    Gpt::header_crc(&mut b);
    img[512..604].copy_from_slice(&h);
    img[1024..1024 + entries.len()].copy_from_slice(&entries);
    let be = ((last - 32) * 512) as usize;
    img[be..be + entries.len()].copy_from_slice(&entries);
    img[(last * 512) as usize..(last * 512) as usize + 92].copy_from_slice(&b);
    img[446 + 4] = 0xEE;
    img[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    img[446 + 12..446 + 16].copy_from_slice(&((last) as u32).to_le_bytes());
    img[440..444].copy_from_slice(&0x1234abcdu32.to_le_bytes());
    img[510] = 0x55;
    img[511] = 0xAA;
    img
}

fn check_gpt(disk: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let h = disk[512..604].to_vec();
    let mut z = h.clone();
    z[16..20].fill(0);
    assert_eq!(crc32fast::hash(&z), u32_at(&h, 16), "primary header CRC");
    let alt = u64_at(&h, 32);
    assert_eq!(
        (alt + 1) * 512,
        disk.len() as u64,
        "backup at the disk's end"
    );
    let b = disk[(alt * 512) as usize..(alt * 512) as usize + 92].to_vec();
    assert_eq!(&b[..8], b"EFI PART");
    let mut z = b.clone();
    z[16..20].fill(0);
    assert_eq!(crc32fast::hash(&z), u32_at(&b, 16), "backup header CRC");
    let pe = (u64_at(&h, 72) * 512) as usize;
    let entries = disk[pe..pe + 128 * 128].to_vec();
    assert_eq!(crc32fast::hash(&entries), u32_at(&h, 88), "entries CRC");
    let be = (u64_at(&b, 72) * 512) as usize;
    assert_eq!(&disk[be..be + 128 * 128], &entries[..], "backup entries");
    (h, entries)
}

#[test]
fn gpt_config_drive_on_a_bigger_disk() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("disk");
    // An 8 MiB image on a 200 MiB disk: the backup GPT must move to the end.
    let mut img = gpt_image(8 * MIB, 7 * MIB);
    img.resize((200 * MIB) as usize, 0);
    std::fs::write(&p, &img).unwrap();
    let data = b"CD001 config drive bytes".repeat(1000);
    let part = add_config_drive(&p, 200 * MIB, &data).unwrap();
    assert_eq!(part.number, 2);
    assert_eq!(part.size, 64 * MIB);
    assert_eq!(part.start % MIB, 0);
    assert!(part.start + part.size <= 200 * MIB - 33 * 512);
    let disk = std::fs::read(&p).unwrap();
    let (_, entries) = check_gpt(&disk);
    let e = &entries[128..256];
    assert_eq!(&e[..16], &LINUX_DATA);
    assert_eq!(u64_at(e, 32) * 512, part.start);
    let s = part.start as usize;
    assert_eq!(&disk[s..s + data.len()], &data[..]);
    // The image's old backup header is gone; the protective MBR spans the disk.
    assert_ne!(&disk[(8 * MIB - 512) as usize..][..8], b"EFI PART");
    assert_eq!(u32_at(&disk, 446 + 12) as u64, 200 * MIB / 512 - 1);
    assert_eq!(partitions(&p).unwrap().len(), 2);
    assert_eq!(disk_identifier(&p).unwrap(), "0x1234abcd");
    // Writing again reuses the config-2 partition.
    let again = add_config_drive(&p, 200 * MIB, b"new").unwrap();
    assert_eq!(again, part);
}

#[test]
fn gpt_small_disk_gets_a_small_partition_or_a_clear_refusal() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("disk");
    let mut img = gpt_image(8 * MIB, 7 * MIB);
    img.resize((12 * MIB) as usize, 0);
    std::fs::write(&p, &img).unwrap();
    let part = add_config_drive(&p, 12 * MIB, &[1u8; 100_000]).unwrap();
    assert_eq!(part.size, MIB);
    check_gpt(&std::fs::read(&p).unwrap());

    let full = t.path().join("full");
    std::fs::write(&full, gpt_image(8 * MIB, 8 * MIB - 34 * 512)).unwrap();
    let e = add_config_drive(&full, 8 * MIB, &[1u8; 10]).unwrap_err();
    assert!(e.to_string().contains("no room"), "{e}");
    let e = add_config_drive(&full, 8 * MIB, &vec![0u8; 65 << 20]).unwrap_err();
    assert!(matches!(e, DiskError::ConfigDriveTooBig(_)));
}

#[test]
fn mbr_config_drive_and_no_table() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("disk");
    let mut img = vec![0u8; (100 * MIB) as usize];
    img[446 + 4] = 0x83;
    img[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    img[446 + 12..446 + 16].copy_from_slice(&(2048u32 * 10).to_le_bytes());
    img[510] = 0x55;
    img[511] = 0xAA;
    std::fs::write(&p, &img).unwrap();
    let part = add_config_drive(&p, 100 * MIB, b"iso").unwrap();
    assert_eq!(part.number, 2);
    assert_eq!(part.start + part.size, 100 * MIB);
    let disk = std::fs::read(&p).unwrap();
    let parts = mbr_parts(&disk);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].1, 0x83);
    assert_eq!(&disk[part.start as usize..part.start as usize + 3], b"iso");

    let bare = t.path().join("bare");
    std::fs::write(&bare, vec![0u8; MIB as usize]).unwrap();
    let e = add_config_drive(&bare, MIB, b"x").unwrap_err();
    assert!(matches!(e, DiskError::NoPartitionTable(_)), "{e}");
}

#[test]
fn wipe_removes_tables_and_signatures() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("disk");
    let mut img = gpt_image(8 * MIB, 7 * MIB);
    // An ext4-like superblock magic inside the partition, and data in the middle.
    img[(MIB + 1024 + 56) as usize] = 0x53;
    img[(MIB + 1024 + 57) as usize] = 0xEF;
    img[(4 * MIB) as usize] = 0x42;
    img.resize((16 * MIB) as usize, 0);
    std::fs::write(&p, &img).unwrap();
    wipe_metadata(&p, 16 * MIB).unwrap();
    let disk = std::fs::read(&p).unwrap();
    assert!(disk[..2 * MIB as usize].iter().all(|b| *b == 0));
    assert!(disk[(6 * MIB) as usize..(8 * MIB) as usize]
        .iter()
        .all(|b| *b == 0));
    assert!(disk[(15 * MIB) as usize..].iter().all(|b| *b == 0));
    assert_eq!(
        disk[(4 * MIB) as usize],
        0x42,
        "data outside metadata stays"
    );
    assert!(partitions(&p).unwrap().is_empty());
}
