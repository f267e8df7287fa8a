//! One frame: a 44-byte header then the (possibly zstd-compressed) payload. The byte
//! layout is documented in the parent module; this file is its only encoder and decoder.

use super::error::Damage;

/// The four bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"OOMR";
/// Major format version written and read. A reader refuses a larger one.
pub const MAJOR: u8 = 1;
/// Minor format version written. Minor versions only add what an older reader of the
/// same major version may ignore (longer headers, ancillary flag bits).
pub const MINOR: u8 = 0;
/// Header length written by this version (a reader of major 1 accepts longer ones).
pub const HEADER_LEN: usize = 44;
/// Longest header any version may write; bounds what a reader reads before the CRC check.
pub const MAX_HEADER_LEN: usize = 1024;
/// Flag: the payload is one zstd frame.
pub const FLAG_ZSTD: u16 = 0x0001;
/// Flags this reader understands; bits 0–7 that it does not know make a frame
/// unreadable, bits 8–15 are ancillary and ignored.
const KNOWN_CRITICAL: u16 = FLAG_ZSTD;
/// Largest payload (stored or raw) a frame may carry: 64 MiB.
pub const MAX_PAYLOAD: u32 = 64 << 20;

/// A decoded, CRC-checked frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Minor version of the writer.
    pub minor: u8,
    /// Header length in bytes (44 for 1.0).
    pub header_len: u16,
    /// Flag bits ([`FLAG_ZSTD`]).
    pub flags: u16,
    /// Record kind (opaque to the store).
    pub kind: u16,
    /// Payload bytes on disk.
    pub stored_len: u32,
    /// Payload bytes once decompressed.
    pub raw_len: u32,
    /// Record id (sequence number).
    pub id: u64,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// crc32c of the stored payload.
    pub payload_crc: u32,
}

/// Why bytes at a frame position are not a readable v1 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Fewer bytes than a header needs before the end of the file.
    Short,
    /// No magic, an impossible header length, a CRC mismatch or impossible lengths.
    Invalid,
    /// A valid header of a newer major version.
    Newer {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
}

impl Header {
    /// Total frame length: header then payload.
    pub fn frame_len(&self) -> u64 {
        u64::from(self.header_len) + u64::from(self.stored_len)
    }

    /// True when a critical flag bit is set that this reader does not know.
    pub fn unknown_flags(&self) -> bool {
        self.flags & 0x00ff & !KNOWN_CRITICAL != 0
    }

    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = MAJOR;
        b[5] = self.minor;
        b[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[8..10].copy_from_slice(&self.flags.to_le_bytes());
        b[10..12].copy_from_slice(&self.kind.to_le_bytes());
        b[12..16].copy_from_slice(&self.stored_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.raw_len.to_le_bytes());
        b[20..28].copy_from_slice(&self.id.to_le_bytes());
        b[28..36].copy_from_slice(&self.time_ns.to_le_bytes());
        b[36..40].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..HEADER_LEN - 4]);
        b[40..44].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// How many header bytes `b` (which starts at a frame position) announces, if it
    /// starts with the magic and a plausible length. Every version keeps bytes 0–7.
    pub fn announced_len(b: &[u8]) -> Option<usize> {
        if b.len() < 8 || b[0..4] != MAGIC {
            return None;
        }
        let n = usize::from(u16::from_le_bytes([b[6], b[7]]));
        (12..=MAX_HEADER_LEN).contains(&n).then_some(n)
    }

    /// Decodes the header at the start of `b`; `b` may be longer than the header.
    /// The CRC is checked before the version so that a flipped version byte reads as
    /// damage, not as a newer format.
    pub fn decode(b: &[u8]) -> Result<Header, Bad> {
        if b.len() < 8 {
            return if MAGIC.starts_with(&b[..b.len().min(4)]) {
                Err(Bad::Short)
            } else {
                Err(Bad::Invalid)
            };
        }
        let n = Header::announced_len(b).ok_or(Bad::Invalid)?;
        if b.len() < n {
            return Err(Bad::Short);
        }
        let crc = u32::from_le_bytes(b[n - 4..n].try_into().expect("4 bytes"));
        if crc32c::crc32c(&b[..n - 4]) != crc {
            return Err(Bad::Invalid);
        }
        let (major, minor) = (b[4], b[5]);
        if major > MAJOR {
            return Err(Bad::Newer { major, minor });
        }
        if major != MAJOR || n < HEADER_LEN {
            return Err(Bad::Invalid);
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let h = Header {
            minor,
            header_len: n as u16,
            flags: u16_at(8),
            kind: u16_at(10),
            stored_len: u32_at(12),
            raw_len: u32_at(16),
            id: u64_at(20),
            time_ns: u64_at(28),
            payload_crc: u32_at(36),
        };
        if h.stored_len > MAX_PAYLOAD || h.raw_len > MAX_PAYLOAD {
            return Err(Bad::Invalid);
        }
        Ok(h)
    }
}

/// Encodes a whole frame (header and payload) into one buffer, so that it reaches the
/// file in one `write`. The payload is stored compressed only when that is smaller.
pub fn encode(id: u64, time_ns: u64, kind: u16, payload: &[u8], level: i32) -> Vec<u8> {
    let packed = zstd::bulk::compress(payload, level)
        .ok()
        .filter(|c| c.len() < payload.len());
    let (flags, stored) = match &packed {
        Some(c) => (FLAG_ZSTD, c.as_slice()),
        None => (0, payload),
    };
    let h = Header {
        minor: MINOR,
        header_len: HEADER_LEN as u16,
        flags,
        kind,
        stored_len: stored.len() as u32,
        raw_len: payload.len() as u32,
        id,
        time_ns,
        payload_crc: crc32c::crc32c(stored),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + stored.len());
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(stored);
    out
}

/// Checks the stored payload against its header and returns the raw payload.
pub fn decode_payload(h: &Header, stored: &[u8]) -> Result<Vec<u8>, Damage> {
    if crc32c::crc32c(stored) != h.payload_crc {
        return Err(Damage::PayloadCrc);
    }
    if h.flags & FLAG_ZSTD == 0 {
        return Ok(stored.to_vec());
    }
    match zstd::bulk::decompress(stored, h.raw_len as usize) {
        Ok(raw) if raw.len() == h.raw_len as usize => Ok(raw),
        _ => Err(Damage::Decompress),
    }
}
