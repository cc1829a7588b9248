//! What the relay knows about the link to HQ, shared with the control socket (`storehub cloud
//! status`, `storehub status`) and, later, the dashboard. The relay writes it; readers take a
//! snapshot. [`render`] turns a snapshot into the short table `storehub cloud status` prints.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The link to HQ as last seen by the relay. Read back by the CLI from the control socket's
/// JSON: fields a newer or older daemon does not send take their defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudState {
    /// False when `[mqtt].enabled` is off: events wait in the outbox.
    pub enabled: bool,
    /// The broker URL (no credentials).
    pub broker: Option<String>,
    pub client_id: Option<String>,
    pub connected: bool,
    /// When the link last came up or went down.
    pub since: Option<DateTime<Utc>>,
    /// The last connection error, for the technician.
    pub last_error: Option<String>,
    /// Connections made since start (the first one included).
    pub connects: u64,
    /// Outbox events handed to the broker since start (retries after a reconnect count again).
    pub published: u64,
    /// Outbox events the broker acknowledged (PUBACK) and the relay deleted.
    pub acknowledged: u64,
    /// Published and not yet acknowledged.
    pub in_flight: u64,
    /// Events waiting in the outbox, and the age of the oldest, as of the last check.
    pub outbox_depth: u64,
    pub outbox_bytes: u64,
    pub oldest_age_s: Option<i64>,
    /// The outbox disk budget and what it cost: telemetry-class events dropped, and the alarm
    /// raised when business events alone exceed it (the hub keeps selling).
    pub budget_bytes: u64,
    pub dropped_telemetry: u64,
    pub alarm: Option<String>,
    /// HQ commands: received, applied, refused, duplicates (already applied), held for later.
    pub commands_received: u64,
    pub commands_applied: u64,
    pub commands_refused: u64,
    pub commands_duplicate: u64,
    pub commands_held: u64,
    pub telemetry_sent: u64,
}

/// The shared, lock-protected [`CloudState`].
#[derive(Debug, Default)]
pub struct CloudStatus {
    state: Mutex<CloudState>,
}

impl CloudStatus {
    pub fn new(initial: CloudState) -> CloudStatus {
        CloudStatus { state: Mutex::new(initial) }
    }

    /// Changes the state under the lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut CloudState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> CloudState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The link as a short table for a technician (`storehub cloud status`; `--json` gives the
/// snapshot itself). An alarm comes first, in a line that cannot be missed.
pub fn render(s: &CloudState) -> String {
    use std::fmt::Write;
    let when = |t: &Option<DateTime<Utc>>| match t {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => "start".to_string(),
    };
    let mut out = String::new();
    if let Some(alarm) = &s.alarm {
        let _ = writeln!(out, "!!! ALARM: {alarm}");
    }
    let link = if !s.enabled {
        "off ([mqtt].enabled = false): events wait in the outbox".to_string()
    } else if s.connected {
        format!("connected since {}", when(&s.since))
    } else {
        let mut l = format!("DISCONNECTED since {}", when(&s.since));
        if let Some(e) = &s.last_error {
            let _ = write!(l, ": {e}");
        }
        l
    };
    let _ = writeln!(out, "link       {link}");
    if let Some(broker) = &s.broker {
        let client = s.client_id.as_deref().map(|c| format!(", client id {c}")).unwrap_or_default();
        let _ = writeln!(out, "broker     {broker}{client}, {} connection(s) since start", s.connects);
    }
    let oldest = match s.oldest_age_s {
        Some(age) => format!("oldest waiting {}", super::backlog::format_age(age)),
        None => "nothing waiting".to_string(),
    };
    let _ = writeln!(
        out,
        "outbox     {} events, {} MB, {oldest}",
        s.outbox_depth,
        super::backlog::format_mb(s.outbox_bytes)
    );
    let _ = writeln!(
        out,
        "events     {} published, {} acknowledged, {} in flight",
        s.published, s.acknowledged, s.in_flight
    );
    let _ = writeln!(
        out,
        "budget     {} MB, {} telemetry-class events dropped since start",
        super::backlog::format_mb(s.budget_bytes),
        s.dropped_telemetry
    );
    let _ = writeln!(
        out,
        "commands   {} received: {} applied, {} refused, {} duplicate, {} held",
        s.commands_received, s.commands_applied, s.commands_refused, s.commands_duplicate, s.commands_held
    );
    let _ = writeln!(out, "telemetry  {} messages sent", s.telemetry_sent);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn state() -> CloudState {
        CloudState {
            enabled: true,
            broker: Some("mqtts://hq.example.cn:8883".into()),
            client_id: Some("sh-001-hub-1".into()),
            connected: true,
            since: Some(Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 5).unwrap()),
            connects: 2,
            published: 1_204,
            acknowledged: 1_200,
            in_flight: 4,
            outbox_depth: 37,
            outbox_bytes: 11_010_048,
            oldest_age_s: Some(95),
            budget_bytes: 536_870_912,
            dropped_telemetry: 0,
            commands_received: 5,
            commands_applied: 3,
            commands_refused: 1,
            commands_duplicate: 1,
            telemetry_sent: 60,
            ..CloudState::default()
        }
    }

    #[test]
    fn a_healthy_link_in_seven_lines() {
        assert_eq!(
            render(&state()),
            "link       connected since 2026-11-25 09:00:05 UTC\n\
             broker     mqtts://hq.example.cn:8883, client id sh-001-hub-1, 2 connection(s) since start\n\
             outbox     37 events, 10.5 MB, oldest waiting 1m 35s\n\
             events     1204 published, 1200 acknowledged, 4 in flight\n\
             budget     512 MB, 0 telemetry-class events dropped since start\n\
             commands   5 received: 3 applied, 1 refused, 1 duplicate, 0 held\n\
             telemetry  60 messages sent\n"
        );
    }

    #[test]
    fn a_lost_link_with_the_alarm_first() {
        let mut s = state();
        s.connected = false;
        s.last_error = Some("connection refused (os error 111)".into());
        s.alarm = Some("outbox holds 2100000 business events (515 MB) over its 512 MB budget".into());
        s.outbox_depth = 2_100_000;
        s.oldest_age_s = None;
        let text = render(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "!!! ALARM: outbox holds 2100000 business events (515 MB) over its 512 MB budget");
        assert_eq!(lines[1], "link       DISCONNECTED since 2026-11-25 09:00:05 UTC: connection refused (os error 111)");
        assert!(lines[3].ends_with("nothing waiting"), "{}", lines[3]);
    }

    #[test]
    fn a_hub_without_mqtt_says_so() {
        let text = render(&CloudState::default());
        assert_eq!(text.lines().next(), Some("link       off ([mqtt].enabled = false): events wait in the outbox"));
        assert!(!text.contains("broker"));
    }

    #[test]
    fn the_snapshot_reads_back_from_json_even_with_fields_missing() {
        let s: CloudState = serde_json::from_value(serde_json::to_value(state()).unwrap()).unwrap();
        assert_eq!(render(&s), render(&state()));
        let partial: CloudState = serde_json::from_str(r#"{"enabled":true,"connected":true,"some_new_field":1}"#).unwrap();
        assert!(partial.connected && partial.broker.is_none());
    }
}
