//! The transactional outbox: every business event is written here by [`Tx::emit`](super::Tx::emit)
//! in the same transaction as the state change it describes, keyed by a per-hub sequence number
//! with no gaps. The cloud relay reads batches in sequence order and deletes entries only after
//! HQ acknowledged them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{codec, Record, Store, StoreError, TreeId};

/// Meta counter holding the last outbox sequence number.
pub const SEQUENCE_COUNTER: &str = "outbox_seq";

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

    /// The event's data as JSON.
    pub fn data(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.data_json)
            .map_err(|e| StoreError::Corrupt(format!("outbox event {} data: {e}", self.seq)))
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

    /// Count and encoded size of the events waiting in the outbox.
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
