//! The protobuf wire format, read-only: tags, varints, fixed-width and length-delimited values.
//!
//! Every read checks its bounds and reports [`WireError`] instead of panicking, so arbitrary
//! network bytes are safe to feed in. Groups (wire types 3 and 4) are refused: proto2 allows
//! them, but no Kubernetes type uses them.

/// How a field's value is laid out on the wire (the low three bits of its tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// A base-128 varint: int32, int64, uint*, bool, enum.
    Varint,
    /// Eight little-endian bytes: fixed64, sfixed64, double.
    Fixed64,
    /// A varint length, then that many bytes: string, bytes, messages, packed repeated.
    Len,
    /// Four little-endian bytes: fixed32, sfixed32, float.
    Fixed32,
}

impl WireType {
    fn from_tag_bits(bits: u64) -> Result<WireType, WireError> {
        match bits {
            0 => Ok(WireType::Varint),
            1 => Ok(WireType::Fixed64),
            2 => Ok(WireType::Len),
            5 => Ok(WireType::Fixed32),
            3 | 4 => Err(WireError::Group),
            // The mask leaves only 0..=7.
            other => Err(WireError::UnknownWireType(other)),
        }
    }
}

impl std::fmt::Display for WireType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WireType::Varint => "varint",
            WireType::Fixed64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::Fixed32 => "fixed32",
        })
    }
}

/// Malformed wire data. None of these is retryable: the same bytes fail the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a tag or value.
    #[error("unexpected end of input")]
    Truncated,
    /// A varint ran past ten bytes or past 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A tag named field 0 or a number above the protobuf maximum (2^29 - 1).
    #[error("invalid field number {0}")]
    InvalidFieldNumber(u64),
    /// A tag carried wire type 6 or 7.
    #[error("unknown wire type {0}")]
    UnknownWireType(u64),
    /// A tag carried a group wire type (3 or 4), which Kubernetes never produces.
    #[error("groups are not supported")]
    Group,
}

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// A varint is at most ten bytes (7 payload bits each, 64 bits in all).
const MAX_VARINT_BYTES: usize = 10;

/// A cursor over one message's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next field's number and wire type, or `None` at the end of the message.
    pub fn tag(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(WireError::InvalidFieldNumber(number));
        }
        let wire_type = WireType::from_tag_bits(tag & 0b111)?;
        // `number` fits: it was checked against MAX_FIELD_NUMBER above.
        Ok(Some((number as u32, wire_type)))
    }

    /// A base-128 varint, least significant group first.
    pub fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (index, &byte) in self.rest.iter().enumerate().take(MAX_VARINT_BYTES) {
            let payload = u64::from(byte & 0x7f);
            // The tenth byte may only carry the 64th bit.
            if index == MAX_VARINT_BYTES - 1 && payload > 1 {
                return Err(WireError::VarintOverflow);
            }
            value |= payload << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                return Ok(value);
            }
        }
        if self.rest.len() >= MAX_VARINT_BYTES {
            Err(WireError::VarintOverflow)
        } else {
            Err(WireError::Truncated)
        }
    }

    /// Four little-endian bytes.
    pub fn fixed32(&mut self) -> Result<u32, WireError> {
        let bytes = self.take(4)?;
        let mut array = [0u8; 4];
        array.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(array))
    }

    /// Eight little-endian bytes.
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    /// A length-delimited value: a varint length, then that many bytes.
    pub fn len_delimited(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        self.take(len)
    }

    /// Skips a value of `wire_type` (an unknown field).
    pub fn skip(&mut self, wire_type: WireType) -> Result<(), WireError> {
        match wire_type {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::Fixed32 => self.fixed32().map(drop),
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        if len > self.rest.len() {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_one_to_ten_bytes() {
        let cases: &[(&[u8], u64)] = &[
            (&[0x00], 0),
            (&[0x01], 1),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0xac, 0x02], 300),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], u64::from(u32::MAX)),
            // -1 as an int64 (and as an int32, which protobuf sign-extends).
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], u64::MAX),
        ];
        for (bytes, want) in cases {
            let mut reader = Reader::new(bytes);
            assert_eq!(reader.varint(), Ok(*want), "{bytes:02x?}");
            assert!(reader.is_empty(), "{bytes:02x?} left bytes behind");
        }
    }

    #[test]
    fn varints_longer_than_64_bits_overflow() {
        let eleven = [0xff; 10].iter().copied().chain([0x01]).collect::<Vec<_>>();
        assert_eq!(Reader::new(&eleven).varint(), Err(WireError::VarintOverflow));
        let tenth_too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(Reader::new(&tenth_too_big).varint(), Err(WireError::VarintOverflow));
    }

    #[test]
    fn truncated_values_are_errors() {
        assert_eq!(Reader::new(&[0x80]).varint(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[]).varint(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[1, 2, 3]).fixed32(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[1, 2, 3, 4, 5, 6, 7]).fixed64(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[0x05, b'a', b'b']).len_delimited(), Err(WireError::Truncated));
        // A length larger than any buffer.
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&huge).len_delimited(), Err(WireError::Truncated));
    }

    #[test]
    fn fixed_width_values_are_little_endian() {
        let mut reader = Reader::new(&[1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(reader.fixed32(), Ok(1));
        assert_eq!(reader.fixed64(), Ok(2 | (0x80 << 56)));
        assert!(reader.is_empty());
    }

    #[test]
    fn tags_split_into_field_number_and_wire_type() {
        // Field 1 varint, field 2 length-delimited, field 17 (two-byte tag) fixed32, field 3 fixed64.
        let mut reader = Reader::new(&[0x08, 0x12, 0x8d, 0x01, 0x19]);
        assert_eq!(reader.tag(), Ok(Some((1, WireType::Varint))));
        assert_eq!(reader.tag(), Ok(Some((2, WireType::Len))));
        assert_eq!(reader.tag(), Ok(Some((17, WireType::Fixed32))));
        assert_eq!(reader.tag(), Ok(Some((3, WireType::Fixed64))));
        assert_eq!(reader.tag(), Ok(None));
    }

    #[test]
    fn field_zero_groups_and_reserved_wire_types_are_refused() {
        assert_eq!(Reader::new(&[0x02]).tag(), Err(WireError::InvalidFieldNumber(0)));
        assert_eq!(Reader::new(&[0x0b]).tag(), Err(WireError::Group));
        assert_eq!(Reader::new(&[0x0c]).tag(), Err(WireError::Group));
        assert_eq!(Reader::new(&[0x0e]).tag(), Err(WireError::UnknownWireType(6)));
        assert_eq!(Reader::new(&[0x0f]).tag(), Err(WireError::UnknownWireType(7)));
        // Field number 2^29 is one past the maximum.
        let too_big = [0x80, 0x80, 0x80, 0x80, 0x10];
        assert_eq!(Reader::new(&too_big).tag(), Err(WireError::InvalidFieldNumber(1 << 29)));
    }

    #[test]
    fn skip_steps_over_each_wire_type() {
        let mut reader = Reader::new(&[0x96, 0x01, 0x02, b'h', b'i', 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8]);
        reader.skip(WireType::Varint).unwrap();
        reader.skip(WireType::Len).unwrap();
        reader.skip(WireType::Fixed32).unwrap();
        reader.skip(WireType::Fixed64).unwrap();
        assert!(reader.is_empty());
    }
}
