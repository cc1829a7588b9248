//! The transactional outbox: every business event is written here by [`Tx::emit`](super::Tx::emit)
//! in the same transaction as the state change it describes, keyed by a per-hub sequence number
//! with no gaps. The cloud relay reads batches in sequence order and deletes entries only after
//! HQ acknowledged them.
//!
//! The one other way out is [`Store::outbox_drop`]: the disk budget (`cloud::backlog`) drops
//! telemetry-class events while HQ is unreachable. Dropping leaves gaps in the sequence (counted
//! in the meta tree, so `storehub verify` can tell a drop from a loss) and never raises the
//! acknowledged floor. The store keeps the outbox's size as it commits ([`OutboxUsage`]), so
//! checking the budget does not walk the tree.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{codec, CommitError, Record, Store, StoreError, TreeId};

/// Meta counter holding the last outbox sequence number.
pub const SEQUENCE_COUNTER: &str = "outbox_seq";

/// Meta key: how many events the disk budget has dropped from the outbox, ever (u64 BE).
const META_DROPPED: &[u8] = b"outbox_dropped";
/// Meta key: the budget's scan cursor (u64 BE). Every event below it that is still waiting was
/// looked at by a budget pass and kept, so the next pass starts there.
const META_DROP_CURSOR: &[u8] = b"outbox_drop_cursor";

/// One event waiting for HQ. Its `id` is fixed when written, so a retried publish carries the
/// same id and HQ can deduplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub seq: u64,
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub subject: Option<String>,
    pub time: DateTime<Utc>,
    /// The event's `data` as JSON text (postcard cannot carry arbitrary JSON values).
    pub data_json: String,
}

/// [`OutboxEvent`] with borrowed fields, for writing one without copying its strings. Field
/// order and types must stay those of `OutboxEvent` (a test checks they encode the same).
#[derive(Serialize)]
pub(crate) struct OutboxEventRef<'a> {
    pub seq: u64,
    pub id: &'a str,
    pub source: &'a str,
    pub event_type: &'a str,
    pub subject: Option<&'a str>,
    pub time: &'a DateTime<Utc>,
    pub data_json: &'a str,
}

impl Record for OutboxEvent {
    const NAME: &'static str = "outbox event";
}

impl OutboxEvent {
    /// The event as CloudEvents 1.0 structured JSON. `sequence` follows the CloudEvents sequence
    /// extension: a string that sorts lexicographically in commit order (zero-padded to 20 digits).
    pub fn to_cloudevent(&self) -> serde_json::Value {
        let data: serde_json::Value =
            serde_json::from_str(&self.data_json).unwrap_or(serde_json::Value::Null);
        let mut ce = serde_json::json!({
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.event_type,
            "time": self.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            "datacontenttype": "application/json",
            "sequence": format!("{:020}", self.seq),
            "data": data,
        });
        if let (Some(subject), Some(obj)) = (&self.subject, ce.as_object_mut()) {
            obj.insert("subject".into(), serde_json::Value::String(subject.clone()));
        }
        ce
    }

    /// [`to_cloudevent`](Self::to_cloudevent) as JSON bytes, written directly: the stored
    /// `data` text goes in as it is instead of being parsed and printed again (the relay's hot
    /// path). Data that is not valid JSON (never written by `emit`) becomes `null`, as there.
    pub fn to_cloudevent_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data_json.len() + 320);
        let field = |out: &mut Vec<u8>, name: &str, value: &str| {
            out.extend_from_slice(b"\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            // Serialising a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, value);
            out.push(b',');
        };
        out.push(b'{');
        field(&mut out, "specversion", "1.0");
        field(&mut out, "id", &self.id);
        field(&mut out, "source", &self.source);
        field(&mut out, "type", &self.event_type);
        field(&mut out, "time", &self.time.to_rfc3339_opts(SecondsFormat::Micros, true));
        field(&mut out, "datacontenttype", "application/json");
        field(&mut out, "sequence", &format!("{:020}", self.seq));
        if let Some(subject) = &self.subject {
            field(&mut out, "subject", subject);
        }
        out.extend_from_slice(b"\"data\":");
        if serde_json::from_str::<serde::de::IgnoredAny>(&self.data_json).is_ok() {
            out.extend_from_slice(self.data_json.as_bytes());
        } else {
            out.extend_from_slice(b"null");
        }
        out.push(b'}');
        out
    }

    /// The event's data as JSON.
    pub fn data(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.data_json)
            .map_err(|e| StoreError::Corrupt(format!("outbox event {} data: {e}", self.seq)))
    }
}

/// Events waiting in the outbox and their bytes (key + encoded value), as the store keeps them
/// commit by commit: [`Store::outbox_usage`] costs a lock, not a walk of the tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxUsage {
    pub count: u64,
    pub bytes: u64,
}

/// The usage of an outbox tree, by walking it (once, when the store opens).
pub(crate) fn count_usage(tree: &sled::Tree) -> Result<OutboxUsage, StoreError> {
    let mut usage = OutboxUsage::default();
    for item in tree.iter() {
        let (k, v) = item?;
        usage.count += 1;
        usage.bytes += (k.len() + v.len()) as u64;
    }
    Ok(usage)
}

/// The head of an outbox event, read without decoding its id, subject, time or data: what the
/// disk budget needs to decide, per event, in a pass over a large outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxHead {
    pub seq: u64,
    pub event_type: String,
    /// Key + encoded value, as [`OutboxUsage`] counts them.
    pub bytes: u64,
}

/// The leading fields of an encoded [`OutboxEvent`] (postcard reads fields in order and leaves
/// the rest of the bytes unread).
#[derive(Deserialize)]
struct HeadFields<'a> {
    seq: u64,
    #[serde(borrow)]
    _id: &'a str,
    #[serde(borrow)]
    _source: &'a str,
    #[serde(borrow)]
    event_type: &'a str,
}

fn decode_head(key: &[u8], value: &[u8]) -> Result<OutboxHead, StoreError> {
    let bytes = (key.len() + value.len()) as u64;
    match value.split_first() {
        Some((&tag, body)) if tag == <OutboxEvent as Record>::VERSION => {
            let head: HeadFields = postcard::from_bytes(body).map_err(|e| {
                StoreError::Corrupt(format!("outbox event at key {key:02x?} does not decode: {e}"))
            })?;
            Ok(OutboxHead { seq: head.seq, event_type: head.event_type.to_string(), bytes })
        }
        // Another tag: the full decode upgrades it or names the problem.
        _ => {
            let ev: OutboxEvent = codec::decode(value)?;
            Ok(OutboxHead { seq: ev.seq, event_type: ev.event_type, bytes })
        }
    }
}

/// Size of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxStats {
    pub count: u64,
    pub bytes: u64,
    pub oldest_seq: Option<u64>,
    pub newest_seq: Option<u64>,
}

impl Store {
    /// Up to `max` events with sequence ≥ `from_seq`, in sequence order.
    pub fn outbox_batch(&self, from_seq: u64, max: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.read_barrier()?;
        self.range_from(TreeId::Outbox, &codec::u64_key(from_seq))
            .take(max)
            .map(|item| {
                let (_, v) = item?;
                codec::decode(&v)
            })
            .collect()
    }

    /// Deletes acknowledged events. Deleting a sequence that is not there is not an error (an
    /// acknowledgement may arrive twice).
    pub fn outbox_ack(&self, seqs: &[u64]) -> Result<(), StoreError> {
        self.delete_seqs(TreeId::Outbox, seqs)
    }

    /// Count and bytes of the events waiting in the outbox, as of the last commit, without
    /// walking the tree (the store keeps them as it commits). Equals `outbox_stats`'s count and
    /// bytes.
    pub fn outbox_usage(&self) -> OutboxUsage {
        *self.outbox_usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Heads of the events with sequence ≥ `from_seq`, in sequence order (id, time and data
    /// left undecoded).
    pub fn outbox_heads(&self, from_seq: u64) -> impl Iterator<Item = Result<OutboxHead, StoreError>> + '_ {
        let barrier = self.read_barrier();
        let items = barrier.is_ok().then(|| self.range_from(TreeId::Outbox, &codec::u64_key(from_seq)));
        barrier.err().map(Err).into_iter().chain(items.into_iter().flatten().map(|item| {
            let (k, v) = item?;
            decode_head(&k, &v)
        }))
    }

    /// Drops events from the outbox without their being acknowledged (the disk budget's
    /// telemetry drop) and moves the budget's scan cursor to `cursor`, in one commit. Unlike
    /// [`outbox_ack`](Self::outbox_ack) it does not raise the acknowledged floor, and it never
    /// drops the newest sequence handed out (the store numbers the next event after the newest
    /// key or the floor, so dropping the newest could hand its number out again after a
    /// restart). Sequences not waiting are skipped. Returns how many events it dropped.
    /// Write-behind: a drop lost to a power cut only leaves the events waiting.
    pub fn outbox_drop(&self, seqs: &[u64], cursor: u64) -> Result<u64, StoreError> {
        self.commit_write_behind(|tx| {
            let issued = match tx.committed_seqs.get(&TreeId::Outbox) {
                Some(v) => *v,
                None => self.last_seq(TreeId::Outbox)?,
            };
            let mut dropped = 0u64;
            let mut cursor = cursor;
            for &s in seqs {
                if s >= issued {
                    // Kept as the newest: the next pass must look at it again.
                    cursor = cursor.min(s);
                } else if tx.remove::<StoreError>(TreeId::Outbox, &codec::u64_key(s))? {
                    dropped += 1;
                }
            }
            if dropped > 0 {
                let before = match tx.get_raw::<StoreError>(TreeId::Meta, META_DROPPED)? {
                    Some(v) => codec::key_u64(&v)?,
                    None => 0,
                };
                let total = codec::u64_key(before.saturating_add(dropped));
                tx.put_raw::<StoreError>(TreeId::Meta, META_DROPPED, &total)?;
            }
            let old_cursor = match tx.get_raw::<StoreError>(TreeId::Meta, META_DROP_CURSOR)? {
                Some(v) => codec::key_u64(&v)?,
                None => 0,
            };
            if cursor != old_cursor {
                tx.put_raw::<StoreError>(TreeId::Meta, META_DROP_CURSOR, &codec::u64_key(cursor))?;
            }
            Ok(dropped)
        })
        .map_err(|e| match e {
            CommitError::Rejected(e) | CommitError::Store(e) => e,
        })
    }

    /// How many events the disk budget has dropped from the outbox since the database was made.
    pub fn outbox_dropped_total(&self) -> Result<u64, StoreError> {
        self.meta_u64(META_DROPPED)
    }

    /// Where the disk budget's next pass starts (see [`outbox_drop`](Self::outbox_drop)).
    pub fn outbox_drop_cursor(&self) -> Result<u64, StoreError> {
        self.meta_u64(META_DROP_CURSOR)
    }

    fn meta_u64(&self, key: &[u8]) -> Result<u64, StoreError> {
        match self.get_raw(TreeId::Meta, key)? {
            Some(v) => codec::key_u64(&v),
            None => Ok(0),
        }
    }

    /// Count and encoded size of the events waiting in the outbox, by walking it (exact, and
    /// O(events): the CLI and `verify` use it; the disk budget uses [`outbox_usage`](Self::outbox_usage)).
    pub fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.read_barrier()?;
        let tree = self.read_tree(TreeId::Outbox)?;
        let mut stats = OutboxStats { count: 0, bytes: 0, oldest_seq: None, newest_seq: None };
        for item in tree.iter() {
            let (k, v) = item?;
            stats.count += 1;
            stats.bytes += (k.len() + v.len()) as u64;
        }
        stats.oldest_seq = tree.first()?.map(|(k, _)| codec::key_u64(&k)).transpose()?;
        stats.newest_seq = tree.last()?.map(|(k, _)| codec::key_u64(&k)).transpose()?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec;

    #[test]
    fn the_direct_cloudevent_json_equals_the_value_form() {
        let mut ev = OutboxEvent {
            seq: 7,
            id: "0b7e1c9e-3f55-4a5b-9d61-2f1c3a7e9b10".into(),
            source: "/storehub/huamei/sh-001/hub-1".into(),
            event_type: "storehub.sale.completed".into(),
            subject: Some("42 \"quoted\" 超市".into()),
            time: chrono::DateTime::parse_from_rfc3339("2026-11-25T09:00:00.123456Z").unwrap().with_timezone(&Utc),
            data_json: r#"{"sale_id":42,"lines":[{"sku":"SKU-1","net_fen":350}],"note":"苹果"}"#.into(),
        };
        let direct: serde_json::Value = serde_json::from_slice(&ev.to_cloudevent_json()).unwrap();
        assert_eq!(direct, ev.to_cloudevent());
        assert_eq!(direct["sequence"], "00000000000000000007");
        ev.subject = None;
        ev.data_json = "not json".into();
        let direct: serde_json::Value = serde_json::from_slice(&ev.to_cloudevent_json()).unwrap();
        assert_eq!(direct, ev.to_cloudevent());
        assert!(direct["data"].is_null() && direct.get("subject").is_none());
    }

    #[test]
    fn the_borrowed_twin_encodes_exactly_like_the_event() {
        let ev = OutboxEvent {
            seq: 42,
            id: "0b7e1c9e-3f55-4a5b-9d61-2f1c3a7e9b10".into(),
            source: "/storehub/huamei/sh-001/hub-1".into(),
            event_type: "storehub.stock.moved".into(),
            subject: Some("SKU-1".into()),
            time: chrono::DateTime::parse_from_rfc3339("2026-11-25T09:00:00.123456Z").unwrap().with_timezone(&Utc),
            data_json: r#"{"id":7}"#.into(),
        };
        let twin = OutboxEventRef {
            seq: ev.seq,
            id: &ev.id,
            source: &ev.source,
            event_type: &ev.event_type,
            subject: ev.subject.as_deref(),
            time: &ev.time,
            data_json: &ev.data_json,
        };
        let a = codec::encode(&ev).unwrap();
        let b = codec::encode_as::<OutboxEvent, _>(&twin).unwrap();
        assert_eq!(a, b);
        assert_eq!(codec::decode::<OutboxEvent>(&b).unwrap(), ev);
    }
}
