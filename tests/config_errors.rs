//! Config files as a technician writes them, good and bad: the shipped example and demo load,
//! and every bad file is refused with one exact line naming the file, the line, the key and
//! what is expected.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use storehub::config::{
    Config, ConfigError, ConfigErrorKind, DeviceKind, DeviceProtocol, Durability, Language,
    Transport,
};
use storehub::domain::barcode::EmbeddedValue;

const SOURCE: &str = "config/storehub.toml";

/// A valid config of 8 lines: the first line of anything appended is line 9.
const BASE: &str = r#"[store]
chain_id = "huamei"
store_id = "sh-xuhui-001"
hub_id = "hub-1"
name = "华美超市 徐汇店"

[data]
dir = "/var/lib/storehub"
"#;

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn error_of(text: &str) -> ConfigError {
    match Config::from_str(text, SOURCE) {
        Ok(c) => panic!("expected this config to be refused, got {c:?}"),
        Err(e) => e,
    }
}

fn message(text: &str) -> String {
    error_of(text).to_string()
}

fn with_base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

// --- The shipped configs ------------------------------------------------------------------------

#[test]
fn example_config_loads_and_validates() {
    let c = Config::load(&manifest("config/storehub.example.toml")).unwrap();
    assert_eq!(c.store.chain_id.as_str(), "huamei");
    assert_eq!(c.store.timezone, "Asia/Shanghai");
    assert_eq!(c.data.dir, PathBuf::from("/var/lib/storehub"));
    assert_eq!(c.data.durability, Durability::Durable);
    assert_eq!(c.lanes.len(), 2);
    assert_eq!(c.devices.len(), 6);
    let scale = &c.devices[1];
    assert_eq!(
        (scale.kind, scale.transport),
        (DeviceKind::Scale, Transport::Serial)
    );
    assert_eq!(scale.protocol(), Some(DeviceProtocol::Toledo8217));
    assert_eq!(scale.serial_settings().data_bits, 7);
    // No protocol written for the lp printer: ESC/POS is the usual one.
    assert_eq!(c.devices[4].protocol(), Some(DeviceProtocol::Escpos));
    assert!(!c.mqtt.enabled);
    assert_eq!(
        c.mqtt.url.as_ref().map(|u| (u.tls(), u.port())),
        Some((true, 8883))
    );
    assert_eq!(c.mqtt_client_id(), "storehub-huamei-sh-xuhui-001-hub-1");
    assert_eq!(c.topic_root(), "storehub/v1/huamei/sh-xuhui-001/hub-1");
    assert_eq!(c.loyalty.tiers.len(), 4);
    assert!(
        c.barcode_layouts().is_empty(),
        "the example leaves the default layouts in force"
    );
}

#[test]
fn demo_config_is_the_huamei_demo_store() {
    let c = Config::demo().unwrap();
    assert_eq!(
        (
            c.store.chain_id.as_str(),
            c.store.store_id.as_str(),
            c.store.hub_id.as_str()
        ),
        ("huamei", "sh-xuhui-001", "hub-1")
    );
    assert_eq!(c.store.language, Language::ZhCn);
    assert_eq!(c.data.dir, PathBuf::from("./demo-data"));
    assert_eq!(c.data.durability, Durability::Durable);
    assert_eq!(c.lanes.len(), 2);
    assert!(c
        .devices
        .iter()
        .any(|d| d.kind == DeviceKind::Scale && d.path.as_deref() == Some("/tmp/storehub-demo/scale-1")));
    assert!(c
        .devices
        .iter()
        .any(|d| d.kind == DeviceKind::Printer && d.path.as_deref() == Some("/tmp/storehub-demo/receipts.escpos")));
    assert!(!c.mqtt.enabled);
    assert_eq!(
        c.mqtt.url.as_ref().map(ToString::to_string).as_deref(),
        Some("mqtt://127.0.0.1:1883")
    );
    assert_eq!(c.web.listen.to_string(), "127.0.0.1:8080");
    let tiers: Vec<&str> = c.loyalty.tiers.iter().map(|t| t.name_zh.as_str()).collect();
    assert_eq!(tiers, ["普通会员", "银卡", "金卡", "钻石"]);
    // Enabling MQTT in the demo needs nothing else: the broker is on loopback.
    let enabled = storehub::config::DEMO_TOML.replace("enabled = false", "enabled = true");
    assert!(Config::from_str(&enabled, "demo").is_ok());
}

#[test]
fn data_dir_override_replaces_the_configured_dir() {
    let mut c = Config::demo().unwrap();
    c.apply_data_dir_override(PathBuf::from("/srv/storehub"));
    assert_eq!(c.data.dir, PathBuf::from("/srv/storehub"));
}

#[test]
fn configured_in_store_layouts_replace_the_defaults() {
    let c = Config::from_str(
        &with_base(
            r#"
[[barcode.in_store]]
prefixes = [28]
item_digits = 4
value_digits = 5
value = "weight"
decimals = 3
value_check_digit = true
"#,
        ),
        SOURCE,
    )
    .unwrap();
    let layouts = c.barcode_layouts();
    assert_eq!(layouts.len(), 1);
    assert_eq!(layouts[0].prefixes, [28]);
    assert_eq!(layouts[0].value, EmbeddedValue::Weight);
    assert!(layouts[0].value_check_digit);
}

// --- Bad configs: each with its exact message ---------------------------------------------------

#[test]
fn unknown_key_lists_the_keys_of_its_table() {
    let e = error_of(&with_base(
        "\n[mqtt]\nenabled = false\nurll = \"mqtt://10.0.0.5:1883\"\n",
    ));
    assert_eq!(e.kind, ConfigErrorKind::UnknownKey);
    assert_eq!(
        e.to_string(),
        "config/storehub.toml:12: unknown key [mqtt].urll; expected one of: enabled, url, client_id, \
         username, password, ca_file, cert_file, key_file, topic_prefix, keepalive_s, allow_insecure, \
         inflight, outbox_budget_mb, telemetry_interval_s, reconnect_min_ms, reconnect_max_ms, \
         require_signed_commands, command_keys"
    );
}

#[test]
fn unknown_top_level_section() {
    assert_eq!(
        message(&with_base("\n[mqqt]\nenabled = true\n")),
        "config/storehub.toml:10: unknown key [mqqt]; expected one of: store, data, barcode, lanes, \
         devices, mqtt, web, checkout, loyalty, log, analytics, campaigns, messages, tickets, stock, \
         attendance, recommend, firmware, privacy, disk"
    );
}

#[test]
fn wrong_type() {
    let e = error_of(&with_base("\n[mqtt]\nenabled = \"yes\"\n"));
    assert_eq!(e.kind, ConfigErrorKind::Invalid);
    assert_eq!(
        e.to_string(),
        "config/storehub.toml:11: [mqtt].enabled: expected a boolean, got \"yes\""
    );
    assert_eq!(
        message(&with_base("\n[web]\nsession_ttl_minutes = 7.5\n")),
        "config/storehub.toml:11: [web].session_ttl_minutes: expected an integer, got 7.5"
    );
}

#[test]
fn missing_required_key_points_at_its_table() {
    let e = error_of(
        r#"[store]
chain_id = "huamei"
store_id = "sh-xuhui-001"
name = "华美超市 徐汇店"

[data]
dir = "/var/lib/storehub"
"#,
    );
    assert_eq!(e.kind, ConfigErrorKind::MissingKey);
    assert_eq!(
        e.to_string(),
        "config/storehub.toml:1: [store].hub_id: missing required key"
    );
}

#[test]
fn missing_required_section() {
    assert_eq!(
        message("[store]\nchain_id = \"c\"\nstore_id = \"s\"\nhub_id = \"h\"\nname = \"n\"\n"),
        "config/storehub.toml: [data]: missing required section"
    );
}

#[test]
fn id_that_cannot_go_into_a_topic() {
    assert_eq!(
        message(&BASE.replace("hub_id = \"hub-1\"", "hub_id = \"Hub 1\"")),
        "config/storehub.toml:4: [store].hub_id: expected 1 to 64 lowercase letters, digits, \"-\" or \"_\" \
         (ids go into MQTT topics), got \"Hub 1\""
    );
}

#[test]
fn web_port_zero() {
    assert_eq!(
        message(&with_base("\n[web]\nlisten = \"0.0.0.0:0\"\n")),
        "config/storehub.toml:11: [web].listen: port 0 is not allowed; expected a port between 1 and 65535"
    );
}

#[test]
fn web_port_zero_from_a_file_names_the_file() {
    let e = Config::load(Path::new("tests/fixtures/config/web_port_zero.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tests/fixtures/config/web_port_zero.toml:13: [web].listen: port 0 is not allowed; expected a port \
         between 1 and 65535"
    );
}

#[test]
fn mqtt_url_with_another_scheme() {
    assert_eq!(
        message(&with_base("\n[mqtt]\nenabled = true\nurl = \"tcp://10.0.0.5\"\n")),
        "config/storehub.toml:12: [mqtt].url: expected an mqtt:// or mqtts:// URL, got \"tcp://10.0.0.5\""
    );
}

#[test]
fn mqtt_enabled_without_url() {
    assert_eq!(
        message(&with_base("\n[mqtt]\nenabled = true\n")),
        "config/storehub.toml:10: [mqtt].url: missing required key when [mqtt].enabled = true"
    );
}

#[test]
fn durability_that_does_not_exist() {
    assert_eq!(
        message(&with_base("durability = \"fast\"\n")),
        "config/storehub.toml:9: [data].durability: expected \"durable\" or \"relaxed\", got \"fast\""
    );
}

#[test]
fn relaxed_flush_out_of_range() {
    assert_eq!(
        message(&with_base(
            "durability = \"relaxed\"\nrelaxed_flush_ms = 0\n"
        )),
        "config/storehub.toml:10: [data].relaxed_flush_ms: expected 1..=60000 milliseconds, got 0"
    );
}

const TIERS: &str = r#"
[[loyalty.tiers]]
id = "regular"
name_zh = "普通会员"
name_en = "Regular"
min_spend_fen = 0

[[loyalty.tiers]]
id = "gold"
name_zh = "金卡"
name_en = "Gold"
min_spend_fen = 500000
discount_bp = 500
"#;

#[test]
fn tier_discount_above_100_percent() {
    assert_eq!(
        message(&with_base(&TIERS.replace("discount_bp = 500", "discount_bp = 12000"))),
        "config/storehub.toml:21: [loyalty].tiers[1].discount_bp: expected 0..=10000 basis points, got 12000"
    );
}

#[test]
fn negative_money() {
    assert_eq!(
        message(&with_base(
            &TIERS.replace("min_spend_fen = 0", "min_spend_fen = -100")
        )),
        "config/storehub.toml:14: [loyalty].tiers[0].min_spend_fen: must not be negative, got -100"
    );
}

#[test]
fn money_written_in_yuan() {
    assert_eq!(
        message(&with_base("\n[loyalty]\npoint_value_fen = 0.01\n")),
        "config/storehub.toml:11: [loyalty].point_value_fen: expected an integer amount in fen (¥1.50 = 150), got 0.01"
    );
}

#[test]
fn cash_rounding_names_the_allowed_rules() {
    assert_eq!(
        message(&with_base("\n[checkout]\ncash_rounding = \"round\"\n")),
        "config/storehub.toml:11: [checkout].cash_rounding: expected one of \"none\", \"to_jiao\", \"down_to_jiao\", \"down_to_yuan\", got \"round\""
    );
}

#[test]
fn member_day_weekday_and_multiplier() {
    assert_eq!(
        message(&with_base("\n[loyalty.member_day]\nweekday = \"wednesday\"\nmultiplier_bp = 20000\n")),
        "config/storehub.toml:11: [loyalty].member_day.weekday: expected one of \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\", got \"wednesday\""
    );
    assert_eq!(
        message(&with_base("\n[loyalty.member_day]\nweekday = \"wed\"\nmultiplier_bp = 200000\n")),
        "config/storehub.toml:12: [loyalty].member_day.multiplier_bp: expected 0..=100000 basis points (10000 = ×1), got 200000"
    );
}

#[test]
fn a_topup_bonus_needs_a_topup() {
    assert_eq!(
        message(&with_base("\n[[loyalty.topup_bonus]]\nmin_topup_fen = 0\nbonus_fen = 500\n")),
        "config/storehub.toml:11: [loyalty].topup_bonus[0].min_topup_fen: a bonus needs a top-up to earn it; expected more than 0 fen, got 0"
    );
}

#[test]
fn max_lines_is_bounded() {
    assert_eq!(
        message(&with_base("\n[checkout]\nmax_lines = 0\n")),
        "config/storehub.toml:11: [checkout].max_lines: expected 1..=2000 lines, got 0"
    );
}

const LANES: &str = r#"
[[lanes]]
id = "lane-1"
name = "1号收银台"

[[lanes]]
id = "lane-2"
name = "2号收银台"
"#;

#[test]
fn duplicate_lane_id() {
    assert_eq!(
        message(&with_base(&LANES.replace("lane-2", "lane-1"))),
        "config/storehub.toml:15: lanes[1].id: duplicate lane id \"lane-1\"; lanes[0] already uses it"
    );
}

#[test]
fn device_on_a_lane_that_does_not_exist() {
    let text = with_base(&format!(
        "{LANES}
[[devices]]
id = \"scanner-1\"
kind = \"scanner\"
transport = \"serial\"
path = \"/dev/serial/by-id/usb-scanner\"
lane = \"lane-3\"
"
    ));
    assert_eq!(
        message(&text),
        "config/storehub.toml:23: devices[0].lane: no lane \"lane-3\" is configured; expected one of: lane-1, lane-2"
    );
}

#[test]
fn device_missing_what_its_transport_needs() {
    assert_eq!(
        message(&with_base("\n[[devices]]\nid = \"printer-1\"\nkind = \"printer\"\ntransport = \"tcp\"\n")),
        "config/storehub.toml:10: devices[0].address: missing required key for transport \"tcp\"; expected \"host:port\""
    );
}

const LAYOUT: &str = r#"
[[barcode.in_store]]
prefixes = [20, 21]
item_digits = 5
value_digits = 5
value = "price"
decimals = 2
"#;

#[test]
fn in_store_layout_that_is_not_13_digits() {
    assert_eq!(
        message(&with_base(&LAYOUT.replace("item_digits = 5", "item_digits = 6"))),
        "config/storehub.toml:10: [barcode].in_store[0]: 2 prefix + 6 item + 0 value check + 5 value + 1 check \
         digits = 14; an EAN-13 has 13"
    );
}

#[test]
fn in_store_prefix_outside_20_to_29() {
    assert_eq!(
        message(&with_base(&LAYOUT.replace("[20, 21]", "[20, 31]"))),
        "config/storehub.toml:11: [barcode].in_store[0].prefixes: prefix 31 is not an in-store prefix; expected 20..=29"
    );
}

#[test]
fn in_store_prefix_claimed_twice() {
    let second = LAYOUT
        .replace("[20, 21]", "[21, 22]")
        .replace("\"price\"", "\"weight\"");
    assert_eq!(
        message(&with_base(&format!("{LAYOUT}{second}"))),
        "config/storehub.toml:18: [barcode].in_store[1].prefixes: prefix 21 is already claimed by in_store[0]; \
         give each prefix one layout"
    );
}

#[test]
fn in_store_price_finer_than_fen() {
    assert_eq!(
        message(&with_base(&LAYOUT.replace("decimals = 2", "decimals = 3"))),
        "config/storehub.toml:15: [barcode].in_store[0].decimals: expected 0..=2 for a price (0 = yuan, 1 = jiao, \
         2 = fen), got 3"
    );
}

#[test]
fn toml_syntax_error() {
    let e = error_of(&with_base("\n[mqtt\nenabled = true\n"));
    assert_eq!(e.kind, ConfigErrorKind::Syntax);
    assert_eq!(
        e.to_string(),
        "config/storehub.toml:10: TOML syntax error: invalid table header; expected `.`, `]`"
    );
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let e = Config::load(&missing).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Read);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the config file: No such file or directory (os error 2)",
            missing.display()
        )
    );

    // Saved in GBK by a Chinese Windows editor: 华美 is C8 BB C3 C0 there.
    let gbk = dir.path().join("gbk.toml");
    let mut bytes = BASE.replace("华美超市 徐汇店", "X").into_bytes();
    bytes.extend_from_slice(b"\n[web]\n# \xc8\xbb\xc3\xc0\n");
    std::fs::write(&gbk, bytes).unwrap();
    assert_eq!(
        Config::load(&gbk).unwrap_err().to_string(),
        format!(
            "{}:11: the file is not UTF-8 text; save it as UTF-8 (Chinese text in GBK is a common cause)",
            gbk.display()
        )
    );
}

#[test]
fn byte_order_mark_is_accepted() {
    assert!(Config::from_str(&format!("\u{feff}{BASE}"), SOURCE).is_ok());
}

// --- Never a panic, always one line --------------------------------------------------------------

fn example() -> String {
    std::fs::read_to_string(manifest("config/storehub.example.toml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Damage the example anywhere (cut a piece out, splice random text in): loading either
    /// succeeds or fails with one line that starts with the file name.
    #[test]
    fn damaged_example_never_panics_and_errors_are_one_line(
        start in 0usize..12_000,
        cut in 0usize..40,
        splice in "[ -~\\n\\[\\]=\"#0-9a-z\u{4e00}-\u{4e10}]{0,12}",
    ) {
        let text = example();
        let chars: Vec<char> = text.chars().collect();
        let start = start.min(chars.len());
        let end = (start + cut).min(chars.len());
        let damaged: String = chars[..start].iter().chain(splice.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
        if let Err(e) = Config::from_str(&damaged, SOURCE) {
            let line = e.to_string();
            prop_assert!(line.starts_with(SOURCE), "{}", line);
            prop_assert!(!line.contains('\n'), "{}", line);
        }
    }
}

#[test]
fn a_misspelt_time_zone_is_refused() {
    assert_eq!(
        message(&BASE.replace("name = \"华美超市 徐汇店\"", "name = \"华美超市 徐汇店\"\ntimezone = \"Asia/Shangai\"")),
        "config/storehub.toml:6: [store].timezone: expected an IANA time zone name like \"Asia/Shanghai\", got \"Asia/Shangai\""
    );
}

#[test]
fn a_points_campaign_names_one_target_and_ends_after_it_starts() {
    let both = "\n[[loyalty.points_campaigns]]\nid = \"x\"\nsku = \"A\"\ncategory = \"B\"\nmultiplier_bp = 20000\nstarts_at = \"2026-12-01T00:00:00\"\nends_at = \"2026-12-08T00:00:00\"\n";
    assert_eq!(message(&with_base(both)), "config/storehub.toml:12: [loyalty].points_campaigns[0].sku: give exactly one of sku and category");
    let backwards = "\n[[loyalty.points_campaigns]]\nid = \"x\"\nsku = \"A\"\nmultiplier_bp = 20000\nstarts_at = \"2026-12-08T00:00:00\"\nends_at = \"2026-12-01T00:00:00\"\n";
    assert_eq!(
        message(&with_base(backwards)),
        "config/storehub.toml:15: [loyalty].points_campaigns[0].ends_at: must be after starts_at (2026-12-08 00:00:00), got 2026-12-01 00:00:00"
    );
}

#[test]
fn attendance_grace_out_of_range_names_the_key() {
    let m = message(&with_base("\n[attendance]\nmissing_clock_out_hours = 0\n"));
    assert!(m.contains("[attendance].missing_clock_out_hours") || m.contains("attendance.missing_clock_out_hours"), "{m}");
    assert!(m.contains("expected 1 to 24 hours, got 0"), "{m}");
    let m = message(&with_base("\n[attendance]\nlate_grace = 5\n"));
    assert!(m.contains("late_grace"), "{m}");
}

/// `[recommend]`: each range and the recent period inside the window, named by key.
#[test]
fn recommend_section_values_are_checked() {
    assert!(message(&with_base("\n[recommend]\nmin_lift_milli = 900\n")).contains("[recommend].min_lift_milli: expected 1000 to 1000000 thousandths, got 900"));
    assert!(message(&with_base("\n[recommend]\nwindow_days = 20\nrecent_days = 30\n")).contains("[recommend].recent_days: 30 recent days do not fit in the 20-day window"));
    assert!(message(&with_base("\n[recommend]\nmine_at = \"25:00\"\n")).contains("expected a time \"HH:MM\""));
    assert!(message(&with_base("\n[recommend]\nmin_suport_bp = 10\n")).contains("unknown key [recommend].min_suport_bp"));
}
