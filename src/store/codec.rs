//! Record encoding: every value in every tree is `[version tag][postcard bytes]`. The tag lets a
//! later release read a record written by an older one and migrate it (see [`Record::upgrade`]);
//! a record with a tag newer than this build understands is an error, never a guess.

use serde::{de::DeserializeOwned, Serialize};

use super::StoreError;

/// A type stored in a tree. Bump `VERSION` when the encoding changes and teach `upgrade` to read
/// the older tags.
pub trait Record: Serialize + DeserializeOwned {
    /// Tag written in front of every encoded record of this type.
    const VERSION: u8 = 1;
    /// Short name used in error messages ("product", "stock move" …).
    const NAME: &'static str;

    /// Decodes a record written with an older tag. The default knows no older versions.
    fn upgrade(version: u8, _bytes: &[u8]) -> Result<Self, StoreError> {
        Err(StoreError::Corrupt(format!(
            "{} record has version tag {version}, this build reads version {}",
            Self::NAME,
            Self::VERSION
        )))
    }
}

/// Encodes a record with its version tag.
pub fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![T::VERSION];
    let body = postcard::to_allocvec(value)
        .map_err(|e| StoreError::Encode(format!("{}: {e}", T::NAME)))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Encodes `value`, which serialises exactly like a `T` (a borrowed twin of it), with `T`'s tag.
pub fn encode_as<T: Record, S: Serialize>(value: &S) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![T::VERSION];
    let body = postcard::to_allocvec(value)
        .map_err(|e| StoreError::Encode(format!("{}: {e}", T::NAME)))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a record, opening it first when it is sealed (`privacy`), upgrading older tags.
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    if bytes.first() == Some(&crate::privacy::SEALED_TAG) {
        let plain = crate::privacy::open(bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", T::NAME)))?;
        return decode_plain(&plain);
    }
    decode_plain(bytes)
}

/// Decodes a record that is not sealed.
fn decode_plain<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt(format!("empty {} record", T::NAME)))?;
    if version == T::VERSION {
        postcard::from_bytes(body)
            .map_err(|e| StoreError::Corrupt(format!("{} record does not decode: {e}", T::NAME)))
    } else if version < T::VERSION {
        T::upgrade(version, body)
    } else {
        Err(StoreError::Corrupt(format!(
            "{} record has version tag {version}, newer than this build's {}; upgrade storehub",
            T::NAME,
            T::VERSION
        )))
    }
}

/// Upgrades a record whose newer version only appended fields: the old body followed by the
/// encoding of the new fields' values (`tail`, a tuple in field order) is the new encoding,
/// because postcard writes a struct as its fields one after another.
pub fn upgrade_by_appending<T: Record, Tail: Serialize>(body: &[u8], tail: &Tail) -> Result<T, StoreError> {
    let mut bytes = body.to_vec();
    let extra = postcard::to_allocvec(tail).map_err(|e| StoreError::Encode(format!("{}: {e}", T::NAME)))?;
    bytes.extend_from_slice(&extra);
    postcard::from_bytes(&bytes)
        .map_err(|e| StoreError::Corrupt(format!("{} record (older version) does not decode: {e}", T::NAME)))
}

/// Big-endian key for a u64 id, so sled's byte order is numeric order.
pub fn u64_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Reads a big-endian u64 key.
pub fn key_u64(key: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected an 8-byte key, found {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V2 {
        a: u32,
        b: String,
    }
    impl Record for V2 {
        const VERSION: u8 = 2;
        const NAME: &'static str = "test";
        fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
            assert_eq!(version, 1);
            let a: u32 = postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(V2 { a, b: "migrated".into() })
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Grown {
        a: u32,
        b: String,
        c: Option<u64>,
        d: bool,
    }
    impl Record for Grown {
        const VERSION: u8 = 2;
        const NAME: &'static str = "grown";
        fn upgrade(_version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
            upgrade_by_appending(bytes, &(None::<u64>, true))
        }
    }

    /// A version-1 record of (a, b) reads as version 2 with the appended fields' defaults, and a
    /// truncated old body is an error, not a guess.
    #[test]
    fn upgrade_by_appending_reads_an_older_shorter_record() {
        let mut old = vec![1u8];
        old.extend(postcard::to_allocvec(&(7u32, "x".to_string())).unwrap());
        assert_eq!(decode::<Grown>(&old).unwrap(), Grown { a: 7, b: "x".into(), c: None, d: true });
        let err = decode::<Grown>(&old[..2]).unwrap_err().to_string();
        assert!(err.contains("grown record (older version) does not decode"), "{err}");
    }

    #[test]
    fn older_tag_is_upgraded_newer_tag_is_refused() {
        let mut old = vec![1u8];
        old.extend(postcard::to_allocvec(&7u32).unwrap());
        assert_eq!(decode::<V2>(&old).unwrap(), V2 { a: 7, b: "migrated".into() });

        let current = encode(&V2 { a: 1, b: "x".into() }).unwrap();
        assert_eq!(current[0], 2);
        assert_eq!(decode::<V2>(&current).unwrap().b, "x");

        let mut newer = current.clone();
        newer[0] = 3;
        let err = decode::<V2>(&newer).unwrap_err().to_string();
        assert!(err.contains("newer than this build's 2"), "{err}");
        assert!(decode::<V2>(&[]).is_err());
    }
}
