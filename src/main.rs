//! `storehub`: the command line. Parses arguments, resolves the config and data dir, sets up
//! logging, then hands off to the daemon or to one control request. Business logic lives in the
//! library; this file only wires it to the terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand, ValueEnum};

use storehub::config::{self, Config, Secret};
use storehub::control::{self, client, ops, Request};
use storehub::control::performance::PerfRequest;
use storehub::domain::barcode;
use storehub::domain::staff::{check_password, check_pin, describe_difference, CredentialError, Role};
use storehub::domain::stock::MoveKind;
use storehub::inventory::NewMove;
use storehub::members::messages::MessageRules;
use storehub::members::{self, Channel, Gender, LoyaltyRules, MemberJob, NewMember};
use storehub::members::tickets::{Priority, TicketChannel, TicketKind};
use storehub::domain::purchase::PoState;
use storehub::inventory::purchase::NewPoLine;
use storehub::store::{self, Durability, Store, StoreOptions};
use storehub::{catalog, clock, coupons, daemon, demo, inventory, promotions};
use storehub::provision::{self as provisioning, pairing_mode};
use storehub::devices::printer;

/// Default config path on an installed box.
const DEFAULT_CONFIG: &str = "/etc/storehub/storehub.toml";
/// Exit status for a bad config or a database that cannot be opened (sysexits EX_CONFIG);
/// systemd's unit does not restart on it.
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(name = "storehub", version, about = "In-store edge hub: devices, checkout, members and stock, relayed to HQ")]
struct Cli {
    /// Data directory (overrides [data].dir of the config).
    #[arg(long, global = true, env = "STOREHUB_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Config file [default: /etc/storehub/storehub.toml when it exists; config/demo.toml for `demo`].
    #[arg(long, global = true, env = "STOREHUB_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format on stderr (json for journald / HQ log shipping) [default: [log].format of the
    /// config, else text]. Level: STOREHUB_LOG, else [log].level, else info.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ProvisionArgs {
    #[command(subcommand)]
    cmd: Option<ProvisionCmd>,
    /// Apply this provision file (see docs/provisioning.md); relative file names in it are
    /// taken from its directory.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Replace the config of a provisioned box (the old file is kept as FILE.bak).
    #[arg(long)]
    force: bool,
    /// Directory of the config and its tls/ files [default: the --config file's directory, else /etc/storehub].
    #[arg(long, value_name = "DIR")]
    etc_dir: Option<PathBuf>,
    #[arg(long, value_name = "ID")]
    chain_id: Option<String>,
    #[arg(long, value_name = "ID")]
    store_id: Option<String>,
    #[arg(long, value_name = "ID")]
    hub_id: Option<String>,
    #[arg(long, value_name = "NAME")]
    store_name: Option<String>,
    /// HQ's broker, mqtts://host[:port].
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// password, tls or none.
    #[arg(long, value_name = "HOW")]
    auth: Option<String>,
    #[arg(long, value_name = "USER")]
    username: Option<String>,
    /// HQ's CA certificate (PEM).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// This box's certificate from HQ (PEM), when HQ has signed it already.
    #[arg(long, value_name = "FILE")]
    cert_file: Option<PathBuf>,
    /// HQ's command-signing public key (base64); repeat for several.
    #[arg(long, value_name = "BASE64")]
    command_key: Vec<String>,
    #[arg(long, value_name = "ID")]
    admin_id: Option<String>,
    #[arg(long, value_name = "NAME")]
    admin_name: Option<String>,
    /// Read the first admin's password from the first line of stdin.
    #[arg(long)]
    admin_password_stdin: bool,
    /// Read the broker password from the next line of stdin (after the admin's).
    #[arg(long)]
    mqtt_password_stdin: bool,
    /// The dashboard's address [default 0.0.0.0:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum ProvisionCmd {
    /// Install the certificate HQ signed for this box's CSR and switch mutual TLS on.
    Cert {
        file: PathBuf,
        /// Install it even if it does not chain to [mqtt].ca_file (for a broker that trusts
        /// another CA for its clients than the one that signed its own certificate).
        #[arg(long)]
        skip_ca_check: bool,
    },
    /// Apply storehub-provision.toml from a USB stick's partition (run by udev through
    /// storehub-usb-provision@.service): mounted read-only, applied, unmounted.
    Usb {
        device: PathBuf,
        /// Where the stick is mounted while it is read.
        #[arg(long, value_name = "DIR", default_value = "/run/storehub-usb")]
        run_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PairingCmd {
    /// Print this box's pairing code, box id and key fingerprint (or its store ids once paired).
    Show,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub daemon with the given config.
    Run {
        /// HQ's MQTT broker, overriding [mqtt].url and turning the relay on
        /// (mqtt://host[:port] or mqtts://host[:port]).
        #[arg(long, value_name = "URL")]
        mqtt: Option<String>,
        /// Serve the LAN pages on this address instead of [web].listen (e.g. 0.0.0.0:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run a demo store: config/demo.toml, a 257-product catalog with stock, in ./demo-data.
    Demo {
        /// Relay the demo's events to this MQTT broker (mqtt://host[:port] or mqtts://…).
        #[arg(long, value_name = "URL")]
        mqtt: Option<String>,
        /// Simulated shoppers: this many sales per second through the real checkout (members,
        /// coupons, split tenders, an occasional return). Off by default.
        #[arg(long, value_name = "RATE")]
        simulate_sales: Option<f64>,
        /// A scripted shopper at lane 1 every SECS seconds, through the demo's simulated scanner,
        /// scale and receipt printer (0: none; the simulated devices stay attached).
        #[arg(long, value_name = "SECS", default_value_t = 5.0)]
        shopper_every: f64,
        /// Serve the demo's pages on this address (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Provision this box (开通): store ids, HQ broker and credentials, first admin, then doctor
    /// and a summary. From `--file provision.toml`, from flags (secrets on stdin), or asked
    /// question by question. See docs/provisioning.md.
    Provision(Box<ProvisionArgs>),
    /// Pairing with HQ (配对): `pairing show` prints this box's pairing code.
    #[command(subcommand)]
    Pairing(PairingCmd),
    /// Print the version and build facts.
    Version,
    /// Check a config file and print the result.
    CheckConfig,
    /// Barcode tools.
    #[command(subcommand)]
    Barcode(BarcodeCmd),
    /// List the serial ports, USB HID devices, USB printers and GPIO this box has, and check that
    /// each configured device answers; `doctor scan` / `doctor scale` read one port directly.
    Doctor(DoctorArgs),
    /// Import data from a file.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Export data.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Stock on hand and the stock ledger.
    #[command(subcommand)]
    Stock(StockCmd),
    /// Events waiting for HQ.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// The link to HQ over MQTT.
    #[command(subcommand)]
    Cloud(CloudCmd),
    /// Diagnostics for a technician (docs/operations.md "Diagnostic bundle").
    #[command(subcommand)]
    Diag(DiagCmd),
    /// Staff accounts (also `storehub user …`). Passwords and PINs are read from stdin, never
    /// from the command line.
    #[command(subcommand, alias = "user")]
    Staff(StaffCmd),
    /// API tokens for HQ's tools on /api/v1 (`Authorization: Bearer TOKEN`).
    #[command(subcommand)]
    Token(TokenCmd),
    /// The audit log of privileged actions, newest first (docs/privacy.md "Audit log").
    Audit {
        /// Only this action, e.g. member_erased, staff_created, refund_without_receipt.
        #[arg(long)]
        action: Option<String>,
        /// Only entries about this id (staff id, member id, return id).
        #[arg(long)]
        subject: Option<String>,
        /// At most this many (default 100, at most 1000).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Members' personal data at rest: the PII key (docs/privacy.md).
    #[command(subcommand)]
    Privacy(PrivacyCmd),
    /// Whether the wall clock is trusted, and the high-water mark it is judged by
    /// (docs/operations.md "Clock jumps").
    #[command(subcommand)]
    Clock(ClockCmd),
    /// Shifts at the lanes and their cash (交班对账).
    #[command(subcommand)]
    Shift(ShiftCmd),
    /// A checkout lane: sign in, scan, weigh, change lines, pay (收银). Prints the cart and its
    /// price after each action.
    #[command(subcommand)]
    Lane(LaneCmd),
    /// Take goods back (退货): against a sale, or without receipt (managers only).
    Return(ReturnArgs),
    /// Completed sales.
    #[command(subcommand)]
    Sale(SaleCmd),
    /// Member analytics (会员分析): RFM, segments, tags, dormancy, repurchase reminders.
    #[command(subcommand)]
    Analytics(AnalyticsCmd),
    /// Campaigns (营销活动, 休眠唤醒): create, playbooks, launch, funnel and uplift reports.
    #[command(subcommand)]
    Campaign(CampaignCmd),
    /// Receipts as the printer gets them (ESC/POS bytes).
    #[command(subcommand)]
    Receipt(ReceiptCmd),
    /// Receipt printers, straight on a port (no config needed).
    #[command(subcommand)]
    Print(PrintCmd),
    /// Find products by sku prefix or part of the name (for adding by sku at a lane).
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Promotions the tills apply (price rules with their time windows).
    #[command(subcommand)]
    Promotions(PromotionsCmd),
    /// Coupon templates and the coupons issued to members.
    #[command(subcommand)]
    Coupons(CouponsCmd),
    /// Members (会员): register, look up, top up the card, points.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Member messages (WeChat template messages and SMS, sent by HQ): templates, preview,
    /// one-off send, list.
    #[command(subcommand)]
    Message(MessageCmd),
    /// Member service tickets (会员专属客服): open, list, assign, note, resolve, rate.
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// Purchase orders (采购单): list, show, create (by hand or from the replenishment
    /// suggestions), edit, send, receive by scanning, close, cancel.
    #[command(subcommand)]
    Po(PoCmd),
    /// Stocktakes (盘点): open a full or cycle count, count by scanning, variance, approval,
    /// lanes in count mode, count zones.
    #[command(subcommand)]
    Stocktake(StocktakeCmd),
    /// Stock alerts (urgent replenishment, shelf gaps): list, acknowledge.
    #[command(subcommand)]
    Alerts(AlertsCmd),
    /// Restock-from-backroom tasks the shelf sensors open: list, done.
    #[command(subcommand)]
    Restock(RestockCmd),
    /// Stock analysis ([stock] rules): ABC/XYZ classes, slow movers, dead stock, turnover days,
    /// over-stock. JSON of everything, or one list as JSON or CSV.
    StockAnalysis {
        /// One list: abc, xyz, slow, dead, turnover, overstock (all without it; CSV needs one).
        #[arg(long, value_parser = storehub::inventory::analysis::LISTS)]
        list: Option<String>,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run scheduled jobs now.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// Daemon and database status.
    Status,
    /// The running daemon's devices: connected or not, last event, errors, status (paper out,
    /// no answer …).
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent backup of the whole database to FILE (works while the daemon runs).
    Backup { file: PathBuf },
    /// Restore a backup into the data dir (refuses a data dir holding a database unless --force).
    Restore {
        file: PathBuf,
        /// Replace an existing database (it is kept aside as db.replaced-<time>).
        #[arg(long)]
        force: bool,
    },
    /// Put back the database as it was before the last package upgrade: the newest pre-upgrade
    /// backup (DATA_DIR/upgrades/) of the installed package's version, or of the version in
    /// --package OLD.deb after installing it. Stops and starts the service when systemd runs it.
    Rollback {
        /// Install this (older) storehub .deb first with dpkg, then restore its version's backup.
        #[arg(long, value_name = "OLD.deb", conflicts_with = "for_version")]
        package: Option<PathBuf>,
        /// Restore this backup file instead of choosing one.
        #[arg(long, value_name = "FILE")]
        backup: Option<PathBuf>,
        /// Choose the newest backup of this package version instead of the installed one.
        #[arg(long, value_name = "VERSION")]
        for_version: Option<String>,
    },
    /// Check the invariants: on-hand = Σ moves, outbox sequence contiguous, every journal record
    /// applied. Exits 1 naming each violation.
    Verify,
    /// Take a snapshot now (the daemon also takes them every [data].snapshot_interval_minutes).
    Snapshot,
    /// Rebuild a database sled cannot open: move it aside, restore the newest good snapshot,
    /// re-apply the journal after it, verify. The daemon must be stopped.
    Recover {
        /// Only say what would be done.
        #[arg(long)]
        dry_run: bool,
    },
    /// Measure lookup, commit and outbox rates against this machine's fdatasync and sled baselines.
    Bench {
        /// Products in the lookup benchmark.
        #[arg(long, default_value_t = 100_000)]
        products: usize,
        /// Seconds per timed phase.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        /// Directory for the scratch databases [default: the data dir, else the current dir].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Megabytes of journal for the recovery benchmark (0 skips it).
        #[arg(long, default_value_t = 100)]
        journal_mb: u64,
        /// Run only the phases whose name contains this (e.g. `durable-8`, `relaxed`, `lookup`,
        /// `recover`, `analytics` (members = --products; includes `clv`), `clv`, `replenishment`
        /// (SKUs = --products; the issue's figure uses 20000), `rules` (sale lines = --lines)); the
        /// baselines always run, for the ratios.
        #[arg(long)]
        only: Option<String>,
        /// Sale lines of the rule-mining benchmark (`--only rules`).
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
    },
    /// Test helper: commits stock moves in durable mode forever, printing each acknowledged move.
    #[command(hide = true)]
    CrashWriter {
        #[arg(long, default_value_t = 4)]
        writers: usize,
        /// Commit in relaxed mode instead of durable.
        #[arg(long)]
        relaxed: bool,
        /// Bypass the store: commit each move as one plain sled transaction over `moves` and
        /// `stock` in DATA_DIR/sled-only, then `flush()`, then ack (the power-cut baseline
        /// without the journal, docs/powercut.md).
        #[arg(long, conflicts_with = "relaxed")]
        sled_only: bool,
        /// Half of the commits are whole sales through a lane (cart, cash or card, stock moves,
        /// every other one by the lane's member, earning points), printed as
        /// `sale <id> <receipt> <total fen> <move id>,… <points earned>`.
        #[arg(long, conflicts_with = "sled_only")]
        sales: bool,
    },
    /// Demand forecast (需求预测) of one SKU's stored sales (cleaned of stock-out, promotion and
    /// member days; [stock].history_days) or of a series file (`date,qty` rows, missing days
    /// zero): method, demand class, per-day forecast and, for auto, each candidate's holdout MASE.
    Forecast(ForecastArgs),
    /// Replenishment (智能补货提醒): the daily run, the suggestion list, per-SKU and supplier
    /// policies.
    #[command(subcommand)]
    Replenishment(ReplenishmentCmd),
    /// A report as the reports page shows it, as JSON or CSV: `storehub report channels --from
    /// 2026-11-01 --to 2026-11-30 --period week --format csv` (渠道分析). Kinds: sales-trend,
    /// products, categories, members-by-tier, repurchase, new-members, cashiers, shifts, channels.
    Report(ReportArgs),
    /// Staff attendance (考勤): clock in and out with a PIN (stdin), schedules, the records with
    /// their flags (late, early leave, missing clock-out, absent), corrections, hours for payroll.
    #[command(subcommand)]
    Attendance(AttendanceCmd),
    /// Recommendations (推荐): mine association rules now, list them, suggestions for a member
    /// or a SKU ([recommend]; docs/members-analytics.md "Recommendations").
    #[command(subcommand)]
    Recommend(RecommendCmd),
    /// Shelf-node firmware (货架节点固件): check a UF2 image; update a node through the running
    /// daemon (enter bootloader, RPI-RP2 drive, copy, hello with the new version; [firmware]).
    #[command(subcommand)]
    Firmware(FirmwareCmd),
}

/// `storehub firmware …`.
#[derive(Subcommand)]
enum FirmwareCmd {
    /// Check a UF2 image: blocks, bytes of flash and the tagged firmware version. A damaged,
    /// foreign (not RP2040) or untagged file is refused, naming the bad block.
    Check { file: PathBuf },
    /// Flash a shelf node (a [[devices]] id with protocol storehub-node) with a UF2 image, through
    /// the running daemon. The file is checked first; nothing reaches the node if it is bad.
    Update {
        /// The node's [[devices]] id.
        node: String,
        file: PathBuf,
        /// Flash even when the node already runs the image's version.
        #[arg(long)]
        force: bool,
        /// Seconds each waiting step (drive, hello) may take, 5–600 [default: [firmware].timeout_s, 60].
        #[arg(long, value_name = "SECS")]
        timeout: Option<u32>,
        /// Print the result as JSON instead of the steps.
        #[arg(long)]
        json: bool,
    },
}

/// `storehub report KIND [--from DATE] [--to DATE] [--period day|week|month] [--format csv|json]`.
#[derive(clap::Args)]
struct ReportArgs {
    /// The report: channels, sales-trend, products, categories, members-by-tier, repurchase,
    /// new-members, cashiers, shifts.
    kind: String,
    /// First shop-local day (YYYY-MM-DD) [default: 30 days ending at --to].
    #[arg(long, value_parser = parse_date)]
    from: Option<chrono::NaiveDate>,
    /// Last shop-local day, included [default: today].
    #[arg(long, value_parser = parse_date)]
    to: Option<chrono::NaiveDate>,
    /// day, week or month (reports with periods: sales-trend, new-members, channels) [default: day].
    #[arg(long, value_parser = ["day", "week", "month"])]
    period: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    format: ExportFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `storehub forecast (--sku SKU | --series-file FILE.csv) …`.
#[derive(clap::Args)]
struct ForecastArgs {
    /// The SKU whose stored daily demand is forecast.
    #[arg(long, required_unless_present = "series_file", conflicts_with = "series_file")]
    sku: Option<String>,
    /// A CSV file of `date,qty` rows (header optional, dates increasing).
    #[arg(long, value_name = "FILE.csv")]
    series_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    method: ForecastMethodArg,
    /// Days to forecast after the last day of the history.
    #[arg(long, default_value_t = 7)]
    horizon: u32,
    /// SES α, in (0, 1] (default [stock].ses_alpha_bp).
    #[arg(long)]
    alpha: Option<f64>,
    /// TSB α for demand sizes (default [stock].tsb_alpha_d_bp).
    #[arg(long)]
    alpha_d: Option<f64>,
    /// TSB α for the demand probability (default [stock].tsb_alpha_p_bp).
    #[arg(long)]
    alpha_p: Option<f64>,
    /// `table` for people, `json` for tools.
    #[arg(long, value_enum, default_value = "table")]
    format: TableOrJson,
}

#[derive(Clone, Copy, ValueEnum)]
enum ForecastMethodArg {
    Auto,
    Naive,
    Ses,
    HoltWinters,
    Croston,
    Sba,
    Tsb,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableOrJson {
    Table,
    Json,
}

#[derive(Subcommand)]
enum ReplenishmentCmd {
    /// Run the daily replenishment now: demand rolled up to yesterday, forecasts, suggestions,
    /// urgent alerts, `storehub.replenishment.suggested`. Prints the summary.
    Run {
        /// Shop-local day to run for (default today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
    },
    /// The latest run's suggestion list, urgent first, each number explained.
    List {
        /// Only the urgent lines (projected stock-out before an order placed today arrives).
        #[arg(long)]
        urgent: bool,
        /// Only this supplier's lines.
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Per-SKU and per-supplier replenishment terms.
    #[command(subcommand)]
    Policy(PolicyCmd),
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Set a SKU's own terms (only the options given change; --reset clears the rest first).
    Set {
        #[arg(long)]
        sku: String,
        /// Order from this supplier instead of the catalog's.
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long)]
        lead_time_days: Option<u32>,
        #[arg(long)]
        review_period_days: Option<u32>,
        #[arg(long)]
        pack_size: Option<u32>,
        #[arg(long)]
        moq: Option<u32>,
        /// Target service level in percent, e.g. 98 or 97.5 (default by ABC class).
        #[arg(long, value_name = "PCT")]
        service_level: Option<String>,
        /// Clear the SKU's own terms before applying the options given.
        #[arg(long)]
        reset: bool,
    },
    /// Set a supplier's terms (replaces them; options not given fall back to [stock]).
    Supplier {
        id: String,
        #[arg(long)]
        lead_time_days: Option<u32>,
        #[arg(long)]
        review_period_days: Option<u32>,
        #[arg(long)]
        moq: Option<u32>,
    },
    /// A SKU's own terms, its supplier's, and the effective policy with where each value came from.
    Show {
        #[arg(long)]
        sku: String,
    },
    /// Import SKU terms from a CSV file: sku,supplier,lead_time_days,review_period_days,
    /// pack_size,moq,service_level (percent). All or nothing.
    Import { file: PathBuf },
}

/// `storehub doctor [--json] [--print-test] [--scan [SECS]]`: the hardware list, then one
/// OK / FAIL line per configured device (exit 1 when any fails). With a daemon running on the
/// data dir, its device health is shown instead (it holds the devices).
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DoctorArgs {
    #[command(subcommand)]
    cmd: Option<DoctorCmd>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Print a test page on each configured printer.
    #[arg(long)]
    print_test: bool,
    /// Wait up to SECS [default: 10] for one scan from each configured scanner.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10")]
    scan: Option<u64>,
    /// Seconds each scale, printer and shelf sensor has to answer.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
}

/// Device checks for a technician, straight on a port, with the drivers the daemon uses.
#[derive(Subcommand)]
enum DoctorCmd {
    /// Read a serial / USB-CDC barcode scanner and print each code as one JSON line
    /// {"code":…,"symbology":…,"at":…}; stops after --timeout or at Ctrl-C.
    Scan {
        /// The scanner's port (prefer /dev/serial/by-id/…).
        #[arg(long, value_name = "PATH")]
        port: String,
        /// Seconds to listen.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// What ends a code: any (CR, LF or CR LF), cr, lf, crlf, tab.
        #[arg(long, default_value = "any", value_parser = storehub::devices::scanner::parse_terminator)]
        terminator: config::Terminator,
        /// Remove this from the start of each code.
        #[arg(long, default_value = "")]
        strip_prefix: String,
        /// Remove this from the end of each code.
        #[arg(long, default_value = "")]
        strip_suffix: String,
        /// The scanner sends AIM symbology identifiers (]E0 …) before each code.
        #[arg(long)]
        aim_ids: bool,
    },
    /// Read one settled weight from a serial scale and print it
    /// (`{"grams":…,"stable":…,"state":…}` with --json).
    Scale {
        /// The scale's serial port, e.g. /dev/serial/by-id/usb-…
        #[arg(long, value_name = "PATH")]
        port: String,
        /// The scale's protocol.
        #[arg(long, value_parser = storehub::devices::scale::doctor::PROTOCOLS)]
        protocol: String,
        /// [default: 9600]
        #[arg(long)]
        baud: Option<u32>,
        /// [default: 7 for toledo-8217, else 8]
        #[arg(long, value_parser = clap::value_parser!(u8).range(7..=8))]
        data_bits: Option<u8>,
        /// [default: even for toledo-8217, else none]
        #[arg(long, value_parser = ["none", "even", "odd"])]
        parity: Option<String>,
        /// generic: a regular expression over one line with a (?P<weight>…) group, optionally
        /// (?P<stable>…) and (?P<unit>…).
        #[arg(long, value_name = "RE")]
        pattern: Option<String>,
        /// Unit of weights sent without one (generic, toledo-8217): g, kg, lb, oz [default: kg].
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds without a settled weight.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        timeout: f64,
    },
}

#[derive(Subcommand)]
enum BarcodeCmd {
    /// Decode a barcode and print one JSON object (kind, gtin / item_code, price_fen / weight_g).
    Decode { code: String },
    /// Decode a barcode and look its product up in the catalog.
    Lookup { code: String },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Import products from CSV: sku,barcodes,name_zh,name_en,category,unit,price_fen,
    /// member_price_fen,cost_fen,tax_bp,supplier,reorder_point. A bad file writes nothing.
    Catalog { file: PathBuf },
    /// Import members' purchase history from an old till: member_ref,date,amount_fen and
    /// optional category,sku,qty (see docs/members-analytics.md). Counts for analytics, never
    /// for stock or points. A bad file writes nothing.
    Transactions {
        file: PathBuf,
        /// Also count the rows in members' visits, spend and tiers (as sales would).
        #[arg(long)]
        count_for_tiers: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TimeUnit {
    Days,
    Weeks,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ClvModel {
    /// BG/NBD: r, alpha, a, b.
    Bgnbd,
    /// Gamma-Gamma spend model: p, q, v.
    GammaGamma,
}

#[derive(Subcommand)]
enum AnalyticsCmd {
    /// Fit a customer-lifetime model to every member's history by maximum likelihood and print
    /// its parameters, log-likelihood and customer count as JSON.
    Fit {
        #[arg(long, value_enum, default_value = "days")]
        time_unit: TimeUnit,
        /// End of the calibration period (shop-local day, default today): later purchases are
        /// ignored and T runs to this day.
        #[arg(long, value_name = "DATE")]
        until: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "bgnbd")]
        model: ClvModel,
    },
    /// Offline evaluation of personal suggestions: mine on the days before the last
    /// --split-days, suggest 5 per member, hit rate @5 on the holdout vs the 5 best sellers.
    RecommendEval {
        /// Days at the end held out (1–365).
        #[arg(long, default_value_t = 28)]
        split_days: u32,
        /// Shop-local last day of the holdout (default today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
    },
    /// One row per member: member_ref, frequency, recency, T, monetary, r, f, m, segment, tags,
    /// dormant, dormant_reason, repurchase_due. Rules from [analytics].
    Members {
        /// Shop-local day the analysis ends at (default today).
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RecommendCmd {
    /// Run the nightly mining now over the [recommend] window ending today (or --date): rules
    /// replaced, summary printed.
    Mine {
        /// Shop-local day the window ends on (default today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
    },
    /// The latest run and the stored rules (support, confidence, lift): one SKU's or
    /// category's, else the first --limit rule sets.
    Rules {
        #[arg(long, conflicts_with = "category")]
        sku: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Personal suggestions for a member, each with its reason.
    ForMember {
        /// Member id.
        id: u64,
        /// Shop-local day to suggest for (default today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
    },
    /// "Also bought" for a SKU, each with its reason.
    AlsoBought { sku: String },
}

#[derive(Subcommand)]
enum CampaignCmd {
    /// Create a campaign from a JSON file (id, name, target, offer, message_template_id,
    /// start_at, holdout_bp, response_days; docs/members-analytics.md).
    Create { file: PathBuf },
    /// Start a built-in playbook in one step: dormant-natural, dormant-experience, dormant-price,
    /// birthday, points-expiring, repurchase-reminder, member-day. Launched now unless --start.
    Playbook {
        name: String,
        /// When the daemon launches it (RFC 3339, e.g. 2026-12-01T09:00:00+08:00).
        #[arg(long, value_name = "TIME")]
        start: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Percent of the targets held out (default [campaigns].default_holdout_bp).
        #[arg(long, value_name = "PCT")]
        holdout: Option<String>,
    },
    /// Every campaign with its state and funnel.
    List,
    /// One campaign with its funnel.
    Show { id: String },
    /// Launch a campaign now (or resume a launch cut short).
    Launch { id: String },
    /// End a running campaign's response window now.
    Finish { id: String },
    /// The funnel (targeted, held out, reached, responded, converted, revenue) and the uplift
    /// against the holdout with its 95% interval.
    Report {
        id: String,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        /// One row per targeted member instead of the campaign's row.
        #[arg(long)]
        members: bool,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `--holdout 12.5` (percent) → 1250 bp.
fn holdout_bp(pct: &str) -> Result<u32, Failure> {
    let v: f64 = pct.trim().trim_end_matches('%').parse().map_err(|_| anyhow!("--holdout: expected a percent such as 10 or 12.5, got {pct:?}"))?;
    if !(0.0..=90.0).contains(&v) {
        return Err(anyhow!("--holdout: expected 0 to 90 percent, got {pct}").into());
    }
    Ok((v * 100.0).round() as u32)
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Sales, one row each: sale_id, time, lane, cashier, member_ref, lines, discount_fen,
    /// total_fen, tenders, points_earned, points_redeemed, returned. Dates are shop-local.
    Sales {
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Export the catalog.
    Catalog {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Export the members: id, phone (masked unless --full-phone), name, tier, points, stored
    /// value, visits, spend, registered, last purchase, consent. Works while the daemon runs.
    Members {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Full phone numbers instead of 138****5678 (for the shop owner).
        #[arg(long)]
        full_phone: bool,
    },
    /// Export the points ledger, optionally only entries dated FROM..=TO (shop-local days).
    PointsLedger {
        #[arg(long, value_parser = parse_date)]
        from: Option<chrono::NaiveDate>,
        #[arg(long, value_parser = parse_date)]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum LaneCmd {
    /// The cart and its price.
    Show { lane: String },
    /// A cashier signs in with their PIN (read from stdin, or prompted on a terminal).
    SignIn {
        lane: String,
        staff: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// The cashier leaves the lane.
    SignOut { lane: String },
    /// A scanned or typed barcode (GTIN or scale label).
    Scan { lane: String, code: String },
    /// Pieces of a product by sku.
    Add {
        lane: String,
        sku: String,
        #[arg(long, default_value_t = 1)]
        qty: i64,
    },
    /// A weighed product at the lane scale's stable weight (or `--grams`, typed in).
    Weigh {
        lane: String,
        sku: String,
        #[arg(long)]
        grams: Option<i64>,
    },
    /// Change the pieces on a line.
    Qty { lane: String, line: u32, qty: i64 },
    /// Remove a line.
    Remove { lane: String, line: u32 },
    /// A manager's price override (改价) of a line: the new price per piece (or per kg) in fen,
    /// below the list price, with a reason. The approving manager's PIN is read from stdin, or
    /// prompted on a terminal; the override is audited.
    Price {
        lane: String,
        line: u32,
        price_fen: i64,
        #[arg(long)]
        reason: String,
        /// The approving manager's (or admin's) staff id.
        #[arg(long)]
        staff: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Empty the cart.
    Void { lane: String },
    /// The shopper's member card, QR code or phone number.
    Member { lane: String, query: String },
    /// Take the member (and their coupons) off the sale.
    NoMember { lane: String },
    /// A coupon code the shopper hands over.
    Coupon { lane: String, code: String },
    /// Pay: any mix of tenders, each FEN or FEN:REFERENCE (card and e-wallets need the
    /// terminal's reference). Prints the sale and its receipt.
    Pay {
        lane: String,
        #[arg(long)]
        cash: Option<i64>,
        /// Part paid with the member's points, in fen (converted at [loyalty].point_value_fen).
        #[arg(long, value_name = "FEN")]
        points: Option<i64>,
        /// Part paid from the member's stored value (会员卡余额), in fen.
        #[arg(long, value_name = "FEN")]
        stored_value: Option<i64>,
        #[arg(long, value_name = "FEN:REF")]
        card: Option<String>,
        #[arg(long, value_name = "FEN:REF")]
        wechat: Option<String>,
        #[arg(long, value_name = "FEN:REF")]
        alipay: Option<String>,
    },
}

#[derive(clap::Args)]
struct ReturnArgs {
    /// Lane whose drawer pays cash refunds.
    #[arg(long)]
    lane: String,
    /// Staff doing the return.
    #[arg(long)]
    by: String,
    /// The sale (its id; the receipt number is `<lane>-<id>`).
    #[arg(long, required_unless_present = "item")]
    sale: Option<u64>,
    /// A sale line and how much of it: LINE:QTY (pieces, or grams for weighed lines).
    #[arg(long, value_name = "LINE:QTY", requires = "sale")]
    line: Vec<String>,
    /// Without receipt (managers only): SKU:QTY:REFUND_FEN.
    #[arg(long, value_name = "SKU:QTY:FEN", conflicts_with = "sale")]
    item: Vec<String>,
    /// The goods cannot be sold again (not put back in stock).
    #[arg(long)]
    no_restock: bool,
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Subcommand)]
enum SaleCmd {
    /// One sale and its receipt.
    Show {
        id: u64,
        /// Print the receipt as text instead of JSON.
        #[arg(long)]
        receipt: bool,
    },
}

#[derive(Subcommand)]
enum ReceiptCmd {
    /// Write the exact ESC/POS bytes of a sale's receipt, or of a sample sale, to a file.
    Render {
        /// The sale id.
        #[arg(long, required_unless_present = "sample", conflicts_with = "sample")]
        sale: Option<u64>,
        /// A sample sale (Chinese names, a long name, a weighed item, a discount, a member, cash).
        #[arg(long)]
        sample: bool,
        /// Paper width in mm: 58 (32 columns) or 80 (48 columns).
        #[arg(long, default_value_t = 80, value_parser = parse_paper)]
        paper: u16,
        /// Include the cash-drawer kick (as a printer with `drawer = true` gets it on cash sales).
        #[arg(long)]
        drawer: bool,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PrintCmd {
    /// Print a test page (store name, Chinese text, column ruler, QR, cut) and report the
    /// printer's status answer, if any.
    TestPage {
        /// tcp:HOST:PORT, serial:PATH[:BAUD], lp:PATH or file:PATH.
        #[arg(long, value_name = "SPEC")]
        device: String,
        /// Paper width in mm: 58 or 80.
        #[arg(long, default_value_t = 80, value_parser = parse_paper)]
        paper: u16,
        /// Column count, when the model differs from its paper width (some 80 mm print 42).
        #[arg(long)]
        columns: Option<u16>,
    },
}

fn parse_paper(s: &str) -> Result<u16, String> {
    match s {
        "58" => Ok(58),
        "80" => Ok(80),
        _ => Err(format!("expected 58 or 80 (mm), got {s:?}")),
    }
}

#[derive(Subcommand)]
enum AlertsCmd {
    /// The open alerts (with --all, also the newest closed ones).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge (close) an alert.
    Ack {
        id: u64,
        /// Staff id of the person who saw it.
        #[arg(long)]
        staff: String,
    },
}

#[derive(Subcommand)]
enum RestockCmd {
    /// The open restock tasks (with --all, also the newest done ones).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Mark a restock task done.
    Done {
        id: u64,
        /// Staff id of the person who restocked the shelf.
        #[arg(long)]
        staff: String,
        /// What was done (at most 160 characters).
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

#[derive(Subcommand)]
enum StockCmd {
    /// On-hand of one product or of every product that has stock history.
    Show { sku: Option<String> },
    /// Record a stock move. QTY is positive for sale/receipt/return, signed for
    /// adjustment/transfer, the counted figure for stocktake (pieces, or grams for kg goods).
    Move {
        sku: String,
        #[arg(allow_hyphen_values = true)]
        qty: i64,
        #[arg(long, value_parser = parse_kind)]
        kind: MoveKind,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, env = "USER", default_value = "cli")]
        user: String,
        #[arg(long)]
        reference: Option<String>,
    },
    /// The newest moves, newest first.
    Moves {
        #[arg(long)]
        sku: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// Count, bytes and sequence range of the events waiting for HQ.
    Stats,
}

#[derive(Subcommand)]
enum DiagCmd {
    /// Collect the diagnostic bundle (versions, config without secrets, devices, recent logs,
    /// outbox, store, health) as JSON, from the running daemon or, without one, the data dir.
    Collect {
        /// Write the bundle here (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CloudCmd {
    /// The running daemon's link to HQ: connected, outbox depth and age of its oldest event,
    /// publishes and acknowledgements, the disk-budget alarm, HQ commands.
    Status {
        /// Print the daemon's snapshot as JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 key for signing HQ commands: writes the private key (PKCS#8 PEM, mode
    /// 0600) to --out and prints the public key for [mqtt].command_keys.
    Keygen {
        /// Where to write the private key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign an HQ command: reads the command object ({"id", "effective_at", "args"}) from FILE
    /// or stdin, checks it as the hub would, prints {"signed": …, "signature": …}.
    Sign {
        /// The private key (PEM from `cloud keygen` or `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// The command name, as in the topic …/cmd/NAME (e.g. price.set).
        #[arg(long)]
        name: String,
        /// The command JSON; "-" or absent reads stdin.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ClockCmd {
    /// The clock's reading, the high-water mark and the verdict (sane, unsynced, stepped back).
    Status,
    /// Lower the high-water mark to now, when the clock is set but reads as stepped back
    /// because the mark was written while the clock ran ahead (a wrong manual setting, a bad
    /// RTC). Refused when the clock is sane or not synced. Audited as `clock_mark_reset`.
    ResetMark,
}

#[derive(Subcommand)]
enum PrivacyCmd {
    /// Create the PII key file ([privacy].key_file, default pii.key next to the config; 0640).
    /// Run once per box, by `storehub provision` or the package's postinst; refused when a key
    /// exists.
    InitKey,
    /// Replace the PII key: every sealed value and the phone index re-sealed under a new key,
    /// in bounded batches; re-run it after a crash to finish. Stop the daemon first.
    RotateKey,
    /// The key file, its id and the key the database is sealed with.
    Status,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Make a token acting with ROLE; it is printed once (the hub keeps only its hash).
    Add {
        /// A name for whoever uses it, e.g. hq-reporting (1 to 64 of a-z 0-9 - _).
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Every token's name, role and creation time.
    List,
    /// Revoke the tokens with this name.
    Remove { name: String },
}

#[derive(Subcommand)]
enum StaffCmd {
    /// Create an account. The password comes from stdin: typed twice at a prompt on a terminal,
    /// else the first line. With --pin-stdin a PIN (4 to 6 digits) follows the same way.
    Add {
        /// Login name: 1 to 64 lowercase letters, digits, "-" or "_".
        id: String,
        /// Name shown on pages and receipts (default: the login name).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password as one line of stdin without prompting, even on a terminal.
        #[arg(long)]
        password_stdin: bool,
        /// Also read a PIN (4 to 6 digits) from stdin, after the password.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Every account: id, name, role, active, whether a PIN is set, failed logins, lock.
    List,
    /// Set a new password, read from stdin.
    Passwd {
        id: String,
        /// Read the password as one line of stdin without prompting, even on a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new PIN (4 to 6 digits), read from stdin; --clear removes the PIN.
    Pin {
        id: String,
        /// Read the PIN as one line of stdin without prompting, even on a terminal.
        #[arg(long)]
        pin_stdin: bool,
        /// Remove the PIN: the account then logs in by password only.
        #[arg(long, conflicts_with = "pin_stdin")]
        clear: bool,
    },
    /// Clear an account's failed logins and lock.
    Unlock { id: String },
    /// Give an account another role (cashier, manager, technician, admin).
    Role {
        id: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Stop an account from logging in and opening shifts (it stays on record).
    Deactivate { id: String },
    /// Performance (员工绩效) of a period, ranked by sales (ties by tickets). With --staff, only
    /// what that person may see: their own row and rank unless they may manage targets.
    Performance {
        /// 2026-11-25 (day), 2026-W48 (ISO week) or 2026-11 (month) [default: this month].
        #[arg(long)]
        period: Option<String>,
        /// Show the table as this staff member may see it.
        #[arg(long)]
        staff: Option<String>,
    },
    /// Targets per staff member and period.
    #[command(subcommand)]
    Target(TargetCmd),
    /// Commission (提成): rules, the period's figures and the payroll CSV.
    #[command(subcommand)]
    Commission(CommissionCmd),
}

#[derive(Subcommand)]
enum TargetCmd {
    /// Set (or replace) a staff member's target for the current or a future period.
    Set {
        /// The staff member the target is for.
        #[arg(long)]
        staff: String,
        /// 2026-11-25 (day), 2026-W48 (ISO week) or 2026-11 (month).
        #[arg(long)]
        period: String,
        /// Sales target in fen (¥30,000.00 is 3000000).
        #[arg(long, allow_negative_numbers = true)]
        sales_fen: Option<i64>,
        #[arg(long)]
        tickets: Option<u64>,
        #[arg(long)]
        new_members: Option<u64>,
        /// Staff id of the manager who sets it.
        #[arg(long)]
        by: String,
    },
    /// The targets set for a period [default: this month].
    List {
        #[arg(long)]
        period: Option<String>,
    },
}

#[derive(Subcommand)]
enum CommissionCmd {
    /// The commission rules.
    #[command(subcommand)]
    Rules(CommissionRulesCmd),
    /// Everyone's commission for a period [default: this month], as JSON.
    Show {
        #[arg(long)]
        period: Option<String>,
    },
    /// The payroll CSV of a period (staff id, name, period, each rule's base and amount, total).
    Export {
        #[arg(long)]
        period: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CommissionRulesCmd {
    /// The rules in force.
    Show,
    /// Replace every rule (rates in basis points: 300 = 3 %).
    Set {
        /// Rate on net sales of categories without their own rate, bp.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        default_bp: i64,
        /// A category's own rate: CATEGORY=BP (repeatable), e.g. --category 饮料=300.
        #[arg(long = "category")]
        categories: Vec<String>,
        /// Paid per member registered, fen.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        per_member_fen: i64,
        /// Rate on stored-value top-ups taken, bp.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        topup_bp: i64,
        /// Staff id of the manager who sets them.
        #[arg(long)]
        by: String,
    },
}

#[derive(Subcommand)]
enum ShiftCmd {
    /// Open a shift at a lane with a cash float (fen: ¥500 is 50000).
    Open {
        #[arg(long)]
        lane: String,
        /// Staff id of the cashier taking the lane.
        #[arg(long)]
        staff: String,
        #[arg(long)]
        float_fen: i64,
    },
    /// Close a shift with the cash counted in the drawer; prints expected cash and the difference.
    Close {
        id: u64,
        #[arg(long)]
        counted_fen: i64,
        /// Staff id of the person who counted (the shift's cashier, or a manager).
        #[arg(long)]
        by: String,
    },
    /// One shift by id, the open shift of a lane, or (without arguments) every open shift.
    Show {
        id: Option<u64>,
        #[arg(long, conflicts_with = "id")]
        lane: Option<String>,
    },
}

#[derive(Subcommand)]
enum MemberCmd {
    /// Register a member. Prints the member with their card number, QR payload and referral code.
    Add {
        /// Mainland mobile number, e.g. 13812345678 or "+86 138-1234-5678".
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_date)]
        birthday: Option<chrono::NaiveDate>,
        /// f or m.
        #[arg(long, value_parser = parse_gender)]
        gender: Option<Gender>,
        /// in_store, mini_program or referral [default: referral with --referral-code, else in_store].
        #[arg(long, value_parser = parse_channel)]
        channel: Option<Channel>,
        /// The referral code of the member who brought this one.
        #[arg(long)]
        referral_code: Option<String>,
        /// The member agrees to marketing SMS.
        #[arg(long)]
        sms_consent: bool,
        /// The member agrees to WeChat messages.
        #[arg(long)]
        wechat_consent: bool,
        /// Staff id of who registered the member (credited in `storehub staff performance`).
        #[arg(long)]
        staff: Option<String>,
    },
    /// One member, by phone, card number or QR payload (phone shown masked).
    Show { query: String },
    /// Put money on a member's card (fen: ¥500 is 50000), with the configured top-up bonus.
    Topup {
        query: String,
        #[arg(long)]
        fen: i64,
        /// Staff id of the cashier who took the money.
        #[arg(long)]
        by: String,
        /// Payment receipt or transaction number.
        #[arg(long)]
        reference: Option<String>,
    },
    /// A member's points: balance, usable today, debt, lots, what expires in the next 30 days.
    Points { query: String },
    /// Add (+N) or remove (-N) points by hand, with a reason; removing takes soonest-expiring
    /// points first and is refused when the member has too few.
    Adjust {
        query: String,
        #[arg(long, allow_negative_numbers = true)]
        points: i64,
        #[arg(long)]
        reason: String,
        /// Staff id of the manager making the change.
        #[arg(long)]
        by: String,
    },
    /// Merge duplicate member FROM into member INTO (phone, card number or id each): every
    /// ledger entry, coupon, ticket, message and sale of FROM goes to INTO, which gets its
    /// points, stored value and stats; FROM is closed and its phone and card find INTO.
    Merge {
        from: String,
        into: String,
        /// Staff id of the manager merging (needs the merge-members permission).
        #[arg(long)]
        staff: String,
    },
    /// Everything stored about a member, as JSON (PIPL access request): profile, consent
    /// history, ledgers, coupons, sales, returns, messages, tickets, imported history,
    /// campaigns. Audited.
    Export {
        /// The member: phone, card number, QR payload or member id.
        query: String,
        /// Staff id of who asks (needs the manage-members permission).
        #[arg(long)]
        staff: String,
    },
    /// Erase a member's personal data (PIPL deletion request): phone, name, birthday, lookup
    /// keys, message and ticket texts. Sales and ledgers are kept, anonymised. Audited; HQ is
    /// told with `storehub.member.erased`.
    Erase {
        /// The member: phone, card number, QR payload or member id.
        query: String,
        /// Staff id of who asks (needs the manage-members permission).
        #[arg(long)]
        staff: String,
    },
    /// A member's preference profile (会员画像): preferred categories, price sensitivity,
    /// preferred weekday and hour, channel mix, average basket, visits, last purchase.
    Profile {
        /// The member: phone, card number, QR payload or member id.
        #[arg(required_unless_present = "all")]
        query: Option<String>,
        /// Derive the profile again from the stored sales and returns first.
        #[arg(long)]
        rebuild: bool,
        /// With --rebuild: every member's profile (prints how many were written).
        #[arg(long, requires = "rebuild", conflicts_with = "query")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum TicketCmd {
    /// Open a ticket for a member; its priority comes from the member's tier, its due time
    /// from [tickets.sla_hours].
    Open {
        /// The member: phone, card number or QR payload.
        #[arg(long)]
        member: String,
        /// complaint, consultation, after_sales, return_request or follow_up.
        #[arg(long, value_parser = parse_ticket_kind)]
        kind: TicketKind,
        /// in_store, phone, wechat, campaign or other.
        #[arg(long, value_parser = parse_ticket_channel)]
        channel: TicketChannel,
        /// One line saying what it is about (up to 120 characters).
        #[arg(long)]
        subject: String,
        /// A first note (up to 1000 characters).
        #[arg(long)]
        note: Option<String>,
        /// Staff id of who opens it.
        #[arg(long)]
        by: String,
    },
    /// Tickets: unresolved ones first, most overdue first; then resolved ones, newest first.
    List {
        /// Only open and in-progress tickets.
        #[arg(long, conflicts_with_all = ["overdue", "member"])]
        open: bool,
        /// Only tickets past their due time.
        #[arg(long, conflicts_with = "member")]
        overdue: bool,
        /// Only this member's tickets (phone, card number or QR payload).
        #[arg(long)]
        member: Option<String>,
    },
    /// One ticket with its notes.
    Show { id: u64 },
    /// Give a ticket to a staff member (it becomes in_progress); --priority raises it.
    Assign {
        id: u64,
        /// Staff id of the assignee.
        staff: String,
        /// low, normal, high or urgent; only raising is allowed.
        #[arg(long, value_parser = parse_priority)]
        priority: Option<Priority>,
        /// Staff id of the manager assigning it.
        #[arg(long)]
        by: String,
    },
    /// Add a note to an open ticket.
    Note {
        id: u64,
        text: String,
        #[arg(long)]
        by: String,
    },
    /// Resolve a ticket, with the member's satisfaction (1–5) when known.
    Resolve {
        id: u64,
        #[arg(long)]
        resolution: String,
        #[arg(long)]
        satisfaction: Option<i64>,
        #[arg(long)]
        by: String,
    },
    /// Record the member's satisfaction (1–5) on a resolved ticket.
    Rate {
        id: u64,
        #[arg(allow_negative_numbers = true)]
        score: i64,
        #[arg(long)]
        by: String,
    },
}

/// A value named on the command line (`--role manager`), or "expected one of …" listing every name.
fn parse_named<T: Copy>(s: &str, parse: impl Fn(&str) -> Option<T>, all: &[T], name: impl Fn(T) -> &'static str) -> Result<T, String> {
    parse(s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_ticket_kind(s: &str) -> Result<TicketKind, String> {
    parse_named(s, TicketKind::parse, &TicketKind::ALL, |v| v.as_str())
}

fn parse_ticket_channel(s: &str) -> Result<TicketChannel, String> {
    parse_named(s, TicketChannel::parse, &TicketChannel::ALL, |v| v.as_str())
}

fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s).ok_or_else(|| "expected low, normal, high or urgent".to_string())
}

fn ticket_command(cli: &Cli, cmd: &TicketCmd) -> Result<(), Failure> {
    let req = match cmd {
        TicketCmd::Open { member, kind, channel, subject, note, by } => Request::TicketOpen {
            member: member.clone(),
            kind: *kind,
            channel: *channel,
            subject: subject.clone(),
            note: note.clone(),
            by: by.clone(),
        },
        TicketCmd::List { open, overdue, member } => {
            Request::TicketList { open: *open, overdue: *overdue, member: member.clone() }
        }
        TicketCmd::Show { id } => Request::TicketShow { id: *id },
        TicketCmd::Assign { id, staff, priority, by } => {
            Request::TicketAssign { id: *id, staff: staff.clone(), priority: *priority, by: by.clone() }
        }
        TicketCmd::Note { id, text, by } => Request::TicketNote { id: *id, text: text.clone(), by: by.clone() },
        TicketCmd::Resolve { id, resolution, satisfaction, by } => Request::TicketResolve {
            id: *id,
            resolution: resolution.clone(),
            satisfaction: *satisfaction,
            by: by.clone(),
        },
        TicketCmd::Rate { id, score, by } => Request::TicketRate { id: *id, score: *score, by: by.clone() },
    };
    print_json(&request(cli, req)?.result)
}

#[derive(Subcommand)]
enum PoCmd {
    /// Purchase orders, newest first: the open ones (draft, sent, partially received) unless
    /// --state or --all says otherwise.
    List {
        /// draft, sent, partially_received, received, closed or cancelled.
        #[arg(long, value_parser = parse_po_state, conflicts_with = "all")]
        state: Option<PoState>,
        /// Every order.
        #[arg(long)]
        all: bool,
    },
    /// One order with its lines (ordered, received, outstanding), value and receipts.
    Show { id: u64 },
    /// A draft from lines typed by hand: --line SKU:QTY (units, or grams for weighed goods),
    /// optionally SKU:QTY:COST_FEN.
    Create {
        /// Supplier (the catalog's supplier name); may be set later, before sending.
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long = "line", value_parser = parse_po_line, required = true)]
        lines: Vec<NewPoLine>,
        #[arg(long)]
        notes: Option<String>,
        /// Staff id of who creates it (a manager or admin).
        #[arg(long)]
        staff: String,
    },
    /// Drafts from the latest replenishment suggestions, one per supplier; SKUs already on an
    /// open order are skipped and listed.
    FromSuggestions {
        #[arg(long)]
        staff: String,
    },
    /// Change a draft (--supplier, --line SKU:QTY adds or sets a line, SKU:0 removes it,
    /// --notes) or a sent order (--notes, --expected-on).
    Edit {
        id: u64,
        /// New supplier; "" removes it (drafts only).
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long = "line", value_parser = parse_po_line)]
        lines: Vec<NewPoLine>,
        #[arg(long)]
        notes: Option<String>,
        /// New expected delivery day (YYYY-MM-DD; sent orders only).
        #[arg(long, value_parser = parse_date)]
        expected_on: Option<chrono::NaiveDate>,
        #[arg(long)]
        staff: String,
    },
    /// Send a draft to its supplier (an event for HQ's and the supplier's systems).
    Send {
        id: u64,
        #[arg(long)]
        staff: String,
    },
    /// Book goods arriving: one scan of a barcode (or a weight label, or the sku), 1 unit unless
    /// --qty says otherwise; each scan is a stock receipt with reference po-ID.
    Receive {
        id: u64,
        #[arg(long)]
        scan: String,
        /// Units (or grams for weighed goods) this scan stands for.
        #[arg(long, allow_negative_numbers = true)]
        qty: Option<i64>,
        /// Accept more than was ordered.
        #[arg(long)]
        allow_over: bool,
        /// Staff id of who receives (cashiers may).
        #[arg(long)]
        staff: String,
    },
    /// Close a received or partially received order: what is outstanding is no longer expected.
    Close {
        id: u64,
        #[arg(long)]
        staff: String,
    },
    /// Cancel a draft, or a sent order nothing has arrived on.
    Cancel {
        id: u64,
        #[arg(long)]
        staff: String,
    },
}

fn parse_po_state(s: &str) -> Result<PoState, String> {
    parse_named(s, PoState::parse, &PoState::ALL, |v| v.as_str())
}

/// `SKU:QTY` or `SKU:QTY:COST_FEN` (the sku may itself hold colons: the numbers are the last parts).
fn parse_po_line(s: &str) -> Result<NewPoLine, String> {
    let usage = || format!("expected SKU:QTY or SKU:QTY:COST_FEN, e.g. SKU-010001:24, got {s:?}");
    let parts: Vec<&str> = s.rsplitn(3, ':').collect();
    let number = |t: &str, what: &str| t.trim().parse::<i64>().map_err(|_| format!("{what} {t:?} is not a whole number; {}", usage()));
    match parts.as_slice() {
        [cost, qty, sku] if qty.trim().parse::<i64>().is_ok() && !sku.trim().is_empty() => {
            Ok(NewPoLine { sku: sku.trim().to_string(), qty: number(qty, "QTY")?, unit_cost_fen: Some(number(cost, "COST_FEN")?) })
        }
        [qty, rest @ ..] if !rest.is_empty() => {
            let sku = rest.iter().rev().copied().collect::<Vec<_>>().join(":");
            if sku.trim().is_empty() {
                return Err(usage());
            }
            Ok(NewPoLine { sku: sku.trim().to_string(), qty: number(qty, "QTY")?, unit_cost_fen: None })
        }
        _ => Err(usage()),
    }
}

fn po_command(cli: &Cli, cmd: &PoCmd) -> Result<(), Failure> {
    use storehub::inventory::purchase::{NewOrder, PoEdit, Scan};
    let req = match cmd {
        PoCmd::List { state, all } => Request::PoList { state: *state, all: *all },
        PoCmd::Show { id } => Request::PoShow { id: *id },
        PoCmd::Create { supplier, lines, notes, staff } => Request::PoCreate {
            order: NewOrder { supplier: supplier.clone(), lines: lines.clone(), notes: notes.clone() },
            by: staff.clone(),
        },
        PoCmd::FromSuggestions { staff } => Request::PoFromSuggestions { by: staff.clone() },
        PoCmd::Edit { id, supplier, lines, notes, expected_on, staff } => Request::PoEdit {
            id: *id,
            edit: PoEdit { supplier: supplier.clone(), notes: notes.clone(), lines: lines.clone(), expected_on: *expected_on },
            by: staff.clone(),
        },
        PoCmd::Send { id, staff } => Request::PoSend { id: *id, by: staff.clone() },
        PoCmd::Receive { id, scan, qty, allow_over, staff } => {
            Request::PoReceive { id: *id, scan: Scan { code: scan.clone(), qty: *qty, allow_over: *allow_over }, by: staff.clone() }
        }
        PoCmd::Close { id, staff } => Request::PoClose { id: *id, by: staff.clone() },
        PoCmd::Cancel { id, staff } => Request::PoCancel { id: *id, by: staff.clone() },
    };
    print_json(&request(cli, req)?.result)
}

#[derive(Subcommand)]
enum StocktakeCmd {
    /// Open a stocktake: everything (no scope option), --category C (repeatable), --zone Z or
    /// --sku S (repeatable). Blind by [stock].stocktake_blind unless --blind / --open-count.
    Open {
        #[arg(long = "category", conflicts_with_all = ["zone", "skus"])]
        categories: Vec<String>,
        #[arg(long, conflicts_with = "skus")]
        zone: Option<String>,
        #[arg(long = "sku")]
        skus: Vec<String>,
        /// Counters do not see expected quantities.
        #[arg(long, conflicts_with = "open_count")]
        blind: bool,
        /// Counters see expected quantities.
        #[arg(long)]
        open_count: bool,
        #[arg(long, default_value = "")]
        note: String,
        /// Staff id of the manager who opens it.
        #[arg(long)]
        staff: String,
    },
    /// Count a scanned code (barcode, weight label or sku): adds 1 (a weight label its grams),
    /// --qty N adds N (grams for weighed goods; negative takes back), --set N recounts.
    Count {
        id: u64,
        #[arg(long)]
        scan: String,
        #[arg(long, allow_negative_numbers = true, conflicts_with = "set")]
        qty: Option<i64>,
        #[arg(long, allow_negative_numbers = true)]
        set: Option<i64>,
        #[arg(long)]
        staff: String,
    },
    /// Close counting; the stocktake waits for approval.
    Submit {
        id: u64,
        #[arg(long)]
        staff: String,
    },
    /// The variance report (managers): expected, counted, variance in units and fen.
    Variance {
        id: u64,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        #[arg(long)]
        staff: String,
    },
    /// Book the variances as stock moves; uncounted SKUs stay unless --zero-uncounted.
    Approve {
        id: u64,
        #[arg(long)]
        zero_uncounted: bool,
        #[arg(long)]
        staff: String,
    },
    /// Give a stocktake up; nothing is booked.
    Cancel {
        id: u64,
        #[arg(long)]
        staff: String,
    },
    /// Every stocktake, newest first.
    List {
        #[arg(long)]
        staff: String,
    },
    /// One stocktake: progress and lines (expected figures only for whoever may see them).
    Show {
        id: u64,
        #[arg(long)]
        staff: String,
    },
    /// Put a lane into count mode for an open stocktake (its scanner counts, selling is
    /// refused), or back to selling with --off.
    Lane {
        lane: String,
        #[arg(long, required_unless_present = "off", conflicts_with = "off")]
        stocktake: Option<u64>,
        #[arg(long)]
        off: bool,
        #[arg(long)]
        staff: String,
    },
    /// Count zones: named sets of categories and SKUs.
    #[command(subcommand)]
    Zone(ZoneCmd),
}

#[derive(Subcommand)]
enum ZoneCmd {
    /// Create or replace a zone.
    Set {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long = "category")]
        categories: Vec<String>,
        #[arg(long = "sku")]
        skus: Vec<String>,
        #[arg(long)]
        staff: String,
    },
    /// Every zone.
    List {
        #[arg(long)]
        staff: String,
    },
    /// Remove a zone (open stocktakes keep their copy).
    Remove {
        id: String,
        #[arg(long)]
        staff: String,
    },
}

/// `storehub stocktake …`.
fn stocktake_command(cli: &Cli, cmd: &StocktakeCmd) -> Result<(), Failure> {
    use storehub::control::stocktake::StocktakeRequest as R;
    use storehub::inventory::stocktake::{self as st, CountHow, ScopeRequest};
    let req = match cmd {
        StocktakeCmd::Open { categories, zone, skus, blind, open_count, note, staff } => {
            let scope = match (categories.is_empty(), zone, skus.is_empty()) {
                (false, _, _) => ScopeRequest::Categories(categories.clone()),
                (true, Some(z), _) => ScopeRequest::Zone(z.clone()),
                (true, None, false) => ScopeRequest::Skus(skus.clone()),
                (true, None, true) => ScopeRequest::Full,
            };
            let blind = if *blind { Some(true) } else if *open_count { Some(false) } else { None };
            R::Open { new: st::NewStocktake { scope, blind, note: note.clone(), by: staff.clone() } }
        }
        StocktakeCmd::Count { id, scan, qty, set, staff } => {
            let how = match set {
                Some(n) => CountHow::Set(*n),
                None => CountHow::Add(*qty),
            };
            R::Count { id: *id, code: scan.clone(), how, staff: staff.clone() }
        }
        StocktakeCmd::Submit { id, staff } => R::Submit { id: *id, staff: staff.clone() },
        StocktakeCmd::Variance { id, format, staff } => {
            let reply = request(cli, Request::Stocktake { request: R::Variance { id: *id, staff: staff.clone() } })?;
            return match format {
                ExportFormat::Json => print_json(&reply.result),
                ExportFormat::Csv => {
                    let report: st::VarianceReport = serde_json::from_value(reply.result).context("the variance report as the store returned it")?;
                    let mut buf = Vec::new();
                    st::write_variance_csv(&report, &mut buf)?;
                    write_stdout(&buf)
                }
            };
        }
        StocktakeCmd::Approve { id, zero_uncounted, staff } => R::Approve { id: *id, zero_uncounted: *zero_uncounted, staff: staff.clone() },
        StocktakeCmd::Cancel { id, staff } => R::Cancel { id: *id, staff: staff.clone() },
        StocktakeCmd::List { staff } => R::List { staff: staff.clone() },
        StocktakeCmd::Show { id, staff } => R::Show { id: *id, staff: staff.clone() },
        StocktakeCmd::Lane { lane, stocktake, off, staff } => {
            R::Lane { lane: lane.clone(), stocktake: if *off { None } else { *stocktake }, staff: staff.clone() }
        }
        StocktakeCmd::Zone(ZoneCmd::Set { id, name, categories, skus, staff }) => R::ZoneSet {
            zone: st::Zone { id: id.clone(), name: name.clone(), categories: categories.clone(), skus: skus.clone() },
            staff: staff.clone(),
        },
        StocktakeCmd::Zone(ZoneCmd::List { staff }) => R::ZoneList { staff: staff.clone() },
        StocktakeCmd::Zone(ZoneCmd::Remove { id, staff }) => R::ZoneRemove { id: id.clone(), staff: staff.clone() },
    };
    print_json(&request(cli, Request::Stocktake { request: req })?.result)
}

#[derive(Subcommand)]
enum JobsCmd {
    /// Run a job for today (shop-local): expire-points, tiers (downgrades after grace) or
    /// birthdays. Running one twice the same day changes nothing the second time.
    Run {
        #[arg(value_parser = parse_job)]
        job: MemberJob,
    },
}

#[derive(Subcommand)]
enum AttendanceCmd {
    /// Clock in now; the PIN is read from stdin (prompted on a terminal).
    ClockIn {
        #[arg(long)]
        staff: String,
        /// Read the PIN as one line of stdin without prompting, even on a terminal.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Clock out now; the PIN is read from stdin (prompted on a terminal).
    ClockOut {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Schedules: set up to a week at once, or list.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Days with their plan, flags and minutes, and the clock records (with their ids), from
    /// --from to --to (default today), of --staff (default: everyone for a manager, else --by).
    List {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long, value_parser = parse_date)]
        from: Option<chrono::NaiveDate>,
        #[arg(long, value_parser = parse_date)]
        to: Option<chrono::NaiveDate>,
        /// Staff id of who asks (a manager sees anyone, others only themselves).
        #[arg(long)]
        by: String,
    },
    /// Correct a clock record (--record ID, from `list`), or enter a forgotten one (no --record:
    /// both times). Times are shop-local `YYYY-MM-DD HH:MM`. Audited: the record keeps the old
    /// times, who, when and the reason.
    Correct {
        #[arg(long)]
        staff: String,
        #[arg(long)]
        record: Option<u64>,
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        clock_in: Option<String>,
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        clock_out: Option<String>,
        #[arg(long)]
        reason: String,
        /// Staff id of the manager.
        #[arg(long)]
        by: String,
    },
    /// Hours per period for payroll (JSON, or CSV with --format csv).
    Hours {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long, value_parser = parse_date)]
        from: chrono::NaiveDate,
        #[arg(long, value_parser = parse_date)]
        to: chrono::NaiveDate,
        /// day, week (Monday–Sunday) or month.
        #[arg(long, default_value = "month", value_parser = parse_period)]
        period: storehub::domain::attendance::Period,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        #[arg(long)]
        by: String,
    },
}

#[derive(Subcommand)]
enum ScheduleCmd {
    /// Set up to 7 days of one staff member's schedule: `--day 2026-11-30=22:00-06:00` (an end
    /// before the start ends the next day) or `--day 2026-12-01=off`. Past days are refused.
    Set {
        #[arg(long)]
        staff: String,
        #[arg(long = "day", value_name = "DATE=HH:MM-HH:MM|off", required = true)]
        days: Vec<String>,
        /// Staff id of the manager.
        #[arg(long)]
        by: String,
    },
    /// Planned days from --from to --to.
    List {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long, value_parser = parse_date)]
        from: chrono::NaiveDate,
        #[arg(long, value_parser = parse_date)]
        to: chrono::NaiveDate,
        #[arg(long)]
        by: String,
    },
}

fn parse_period(s: &str) -> Result<storehub::domain::attendance::Period, String> {
    use storehub::domain::attendance::Period;
    parse_named(s, Period::parse, &[Period::Day, Period::Week, Period::Month], |v| v.as_str())
}

/// `--day 2026-11-30=22:00-06:00` or `--day 2026-11-30=off`.
fn schedule_entry(spec: &str) -> Result<storehub::staff::attendance::ScheduleEntry, Failure> {
    let (date, shift) = spec.split_once('=').ok_or_else(|| anyhow!("--day {spec:?}: expected DATE=HH:MM-HH:MM or DATE=off; nothing changed"))?;
    let date = parse_date(date.trim()).map_err(|e| anyhow!("--day {spec:?}: {e}; nothing changed"))?;
    if shift.trim() == "off" {
        return Ok(storehub::staff::attendance::ScheduleEntry { date, start: None, end: None });
    }
    let s = storehub::domain::attendance::parse_shift(date, shift).map_err(|e| anyhow!("--day {spec:?}: {e}; nothing changed"))?;
    Ok(storehub::staff::attendance::ScheduleEntry { date, start: Some(s.start), end: Some(s.end) })
}

/// A shop-local `YYYY-MM-DD HH:MM` (or RFC 3339) as an instant.
fn shop_instant(flag: &str, text: &str, tz: chrono_tz::Tz) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M")
        .map_err(|_| anyhow!("{flag} {text:?}: expected shop-local time like \"2026-11-25 22:00\"; nothing changed"))?;
    Ok(storehub::domain::attendance::instant(tz, naive.date(), naive.time()))
}

/// `storehub attendance …`.
fn attendance_command(cli: &Cli, cmd: &AttendanceCmd) -> Result<(), Failure> {
    use storehub::control::attendance::AttendanceRequest as R;
    let cfg = load_config(cli, false)?;
    let tz = cfg.as_ref().map_or(chrono_tz::Asia::Shanghai, |c| c.timezone());
    let today = storehub::domain::attendance::local_date(clock::system().now(), tz);
    let read_pin = |staff: &str, pin_stdin: bool| -> Result<Secret, Failure> {
        let mut input = SecretInput::new(pin_stdin);
        let pin = if input.interactive {
            input.prompt(&format!("PIN for {staff}: "))?
        } else {
            input.line()?.ok_or_else(|| anyhow!("no PIN on stdin: run on a terminal to be prompted, or pipe it as one line; nothing changed"))?
        };
        Ok(Secret::new(pin))
    };
    let req = match cmd {
        AttendanceCmd::ClockIn { staff, pin_stdin } => R::ClockIn { staff: staff.clone(), pin: read_pin(staff, *pin_stdin)? },
        AttendanceCmd::ClockOut { staff, pin_stdin } => R::ClockOut { staff: staff.clone(), pin: read_pin(staff, *pin_stdin)? },
        AttendanceCmd::Schedule(ScheduleCmd::Set { staff, days, by }) => {
            let days = days.iter().map(|d| schedule_entry(d)).collect::<Result<Vec<_>, _>>()?;
            R::ScheduleSet { staff: staff.clone(), days, by: by.clone() }
        }
        AttendanceCmd::Schedule(ScheduleCmd::List { staff, from, to, by }) => R::Schedules { staff: staff.clone(), from: *from, to: *to, by: by.clone() },
        AttendanceCmd::List { staff, from, to, by } => {
            R::Records { staff: staff.clone(), from: from.unwrap_or(today), to: to.or(*from).unwrap_or(today), by: by.clone() }
        }
        AttendanceCmd::Correct { staff, record, clock_in, clock_out, reason, by } => {
            let clock_in = clock_in.as_deref().map(|t| shop_instant("--clock-in", t, tz)).transpose()?;
            let clock_out = clock_out.as_deref().map(|t| shop_instant("--clock-out", t, tz)).transpose()?;
            let correction = storehub::staff::attendance::CorrectionRequest { staff: staff.clone(), record: *record, clock_in, clock_out, reason: reason.clone() };
            R::Correct { correction, by: by.clone() }
        }
        AttendanceCmd::Hours { staff, from, to, period, format, by } => {
            let reply = request(cli, Request::Attendance { request: R::Hours { staff: staff.clone(), from: *from, to: *to, period: *period, by: by.clone() } })?;
            return match format {
                ExportFormat::Json => print_json(&reply.result),
                ExportFormat::Csv => {
                    let rows: Vec<storehub::staff::attendance::HoursRow> = serde_json::from_value(reply.result).context("the hours as the store returned them")?;
                    let mut buf = Vec::new();
                    storehub::staff::attendance::write_hours_csv(&rows, &mut buf)?;
                    write_stdout(&buf)
                }
            };
        }
    };
    print_json(&request(cli, Request::Attendance { request: req })?.result)
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("expected a date like 2026-05-20, got {s:?}"))
}

fn parse_gender(s: &str) -> Result<Gender, String> {
    Gender::parse(s).ok_or_else(|| "expected f or m".to_string())
}

fn parse_channel(s: &str) -> Result<Channel, String> {
    parse_named(s, Channel::parse, &Channel::ALL, |v| v.as_str())
}

fn parse_job(s: &str) -> Result<MemberJob, String> {
    parse_named(s, MemberJob::parse, &MemberJob::ALL, |v| v.as_str())
}

fn parse_role(s: &str) -> Result<Role, String> {
    parse_named(s, Role::parse, &Role::ALL, |v| v.as_str())
}

#[derive(Subcommand)]
enum PromotionsCmd {
    /// Import promotions from a JSON file: an array of objects with id, name_zh, name_en,
    /// window ({"start": "2026-10-01T00:00:00", "end": …} shop-local, end exclusive; or null for
    /// always), members_only and kind ({"kind": "item_percent" | "item_fixed" | "category_percent"
    /// | "buy_x_get_y" | "threshold", …}). New ids are added, known ones replaced; a bad file
    /// writes nothing.
    Import { file: PathBuf },
    /// Every promotion, or with --active only those the tills apply now.
    List {
        #[arg(long)]
        active: bool,
    },
    /// Remove a promotion by id.
    Remove { id: String },
}

#[derive(Subcommand)]
enum MessageCmd {
    /// Message templates: import, list, show, remove.
    #[command(subcommand)]
    Templates(MessageTemplatesCmd),
    /// Render a template for a member, or for a sample member (张先生) without --member.
    Preview {
        /// Template id.
        template: String,
        /// The member's phone, card number, QR payload or id.
        #[arg(long, value_name = "REF")]
        member: Option<String>,
        /// A variable's value, e.g. --var coupon=满200减50 (repeat for several).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Send one message to one member through the same gate as campaigns (consent, weekly cap,
    /// quiet hours). Prints Requested, Held (until when) or Skipped (why).
    Send {
        /// Template id.
        template: String,
        /// The member's phone, card number, QR payload or id.
        #[arg(long, value_name = "REF")]
        member: String,
        /// A variable's value, e.g. --var coupon=满200减50 (repeat for several).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Messages, newest first, as JSON.
    List {
        /// Only this member's (phone, card number, QR payload or id).
        #[arg(long, value_name = "REF")]
        member: Option<String>,
        /// Only this campaign's.
        #[arg(long, value_name = "ID")]
        campaign: Option<String>,
        /// Only messages in this state: held, requested, delivered, failed.
        #[arg(long, value_parser = parse_message_state)]
        state: Option<members::messages::MessageState>,
        /// At most this many (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Release held messages whose quiet hours are over now (the daemon does it every minute).
    Release,
}

#[derive(Subcommand)]
enum MessageTemplatesCmd {
    /// Add or change templates from a JSON file (one template or an array); a bad file writes
    /// nothing. Format: docs/members-analytics.md, "Messages".
    Import { file: PathBuf },
    /// Every template with the number of messages that used it.
    List,
    /// One template.
    Show { id: String },
    /// Remove a template no message used.
    Remove { id: String },
}

fn parse_message_state(s: &str) -> Result<members::messages::MessageState, String> {
    members::messages::MessageState::parse(s).ok_or_else(|| "expected held, requested, delivered or failed".to_string())
}

/// `--var NAME=VALUE` pairs.
fn parse_vars(vars: &[String]) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut out = std::collections::BTreeMap::new();
    for v in vars {
        match v.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                out.insert(name.trim().to_string(), value.to_string());
            }
            _ => return Err(anyhow!("--var {v:?}: expected NAME=VALUE, e.g. --var coupon=满200减50").into()),
        }
    }
    Ok(out)
}

#[derive(Subcommand)]
enum CouponsCmd {
    /// Add or change coupon templates from a JSON file (one template or an array): id, name_zh,
    /// name_en, kind ({"kind": "fixed" | "percent" | "threshold" | "free_item", …}),
    /// min_spend_fen, categories, validity ({"days_after_issue": 30} or {"window": {"from":
    /// "2026-12-01", "to": "2026-12-31"}}), per_member_limit (0 = none), active. A bad file
    /// writes nothing.
    TemplateAdd { file: PathBuf },
    /// Every coupon template with its usage: issued, outstanding, redeemed, expired, voided.
    Templates,
    /// Issue one coupon of a template to each member (at most 10000 per call). Members at the
    /// template's per-member limit are skipped and listed.
    Issue {
        /// Template id.
        #[arg(long)]
        template: String,
        /// Member id (repeat for several).
        #[arg(long = "member", value_name = "ID")]
        members: Vec<u64>,
        /// File of member ids, one per line (blank lines, # comments and a member_id header
        /// are skipped).
        #[arg(long, value_name = "FILE")]
        members_file: Option<PathBuf>,
        /// Campaign name, counted in campaign measurement.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// A member's usable coupons; --all adds redeemed, expired and voided ones.
    List {
        #[arg(long, value_name = "ID")]
        member: u64,
        #[arg(long)]
        all: bool,
    },
    /// One coupon by the code printed on it, with its template.
    Show { code: String },
    /// Void an issued coupon by its code.
    Void {
        code: String,
        /// Staff id of who voids it.
        #[arg(long)]
        by: String,
        /// Why (kept on the coupon, not sent to HQ).
        #[arg(long)]
        reason: String,
    },
    /// Run the expiry job now: issued coupons past their last valid day become expired.
    Expire,
}

fn parse_kind(s: &str) -> Result<MoveKind, String> {
    parse_named(s, MoveKind::parse, &MoveKind::ALL, |v| v.as_str())
}

/// A failure with its exit status.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure { code: 1, error: e.into() }
    }
}

fn config_failure(e: impl Into<anyhow::Error>) -> Failure {
    Failure { code: EXIT_CONFIG, error: e.into() }
}

fn main() -> ExitCode {
    storehub::memory::tune_allocator();
    let cli = Cli::parse();
    // The config's [log] settings apply when flags and STOREHUB_LOG do not say otherwise; a bad
    // config is reported by the command itself, with the logger already up.
    let cfg = load_config(&cli, matches!(cli.command, Command::Demo { .. })).ok().flatten();
    let data_dir = cli.data_dir.clone().or_else(|| cfg.as_ref().map(|c| c.data.dir.clone()));
    let log_cfg = cfg.map(|c| c.log);
    let format = cli.log_format.unwrap_or(match log_cfg.as_ref().map(|l| l.format) {
        Some(config::LogFormat::Json) => LogFormat::Json,
        _ => LogFormat::Text,
    });
    init_logging(format, log_cfg.map(|l| l.level).unwrap_or_else(|| "info".into()));
    let result = run(cli);
    // A root shell that opened the database itself leaves no file the daemon's user cannot write.
    if let Some(dir) = data_dir {
        match storehub::store::owner::give_back(&dir) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(files = n, dir = %dir.display(), "gave files back to the data dir's owner"),
            Err(e) => eprintln!("storehub: warning: cannot give the files under {} back to its owner ({e}); run `chown -R --reference={} {}`", dir.display(), dir.display(), dir.display()),
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("storehub: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn init_logging(format: LogFormat, default_level: String) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STOREHUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Lines also go to a bounded in-memory ring for the technician's system page.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(storehub::logring::tee);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// The config for commands that need one: --config / STOREHUB_CONFIG, else the default path.
fn load_config(cli: &Cli, demo_default: bool) -> Result<Option<Config>, Failure> {
    let path = match &cli.config {
        Some(p) => Some(p.clone()),
        None if demo_default => None,
        None if Path::new(DEFAULT_CONFIG).exists() => Some(PathBuf::from(DEFAULT_CONFIG)),
        None => None,
    };
    let mut cfg = match &path {
        Some(p) => match pairing_mode::load(p, cli.data_dir.as_deref()).map_err(config_failure)? {
            pairing_mode::Loaded::Config(c) => c,
            pairing_mode::Loaded::Unpaired(_) => {
                return Err(config_failure(anyhow!(
                    "{} is a box that is not paired with HQ yet: start the daemon (`storehub run`) and pair it; `storehub pairing show` prints its code",
                    p.display()
                )))
            }
        },
        None if demo_default => Config::demo().map_err(config_failure)?,
        None => {
            install_pii_key(&pii_key_path(None, None))?;
            return Ok(None);
        }
    };
    if let Some(dir) = &cli.data_dir {
        cfg.apply_data_dir_override(dir.clone());
    }
    install_pii_key(&pii_key_path(path.as_deref(), Some(&cfg)))?;
    Ok(Some(cfg))
}

/// The PII key file: `[privacy].key_file`, else `pii.key` next to the config file.
fn pii_key_path(config_file: Option<&Path>, cfg: Option<&Config>) -> PathBuf {
    storehub::privacy::key_path(cfg.and_then(|c| c.privacy.key_file.as_deref()), config_file)
}

/// `KEY.new` beside the key file: the new key of a rotation not finished yet.
fn pending_key_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// Loads the PII key into this process before any store opens. No key file: nothing is sealed
/// (a database already sealed then refuses to open, naming the key it needs). A `.new` key file
/// beside it is an interrupted rotation: both keys are loaded and the next open finishes it.
fn install_pii_key(path: &Path) -> Result<(), Failure> {
    use storehub::privacy;
    let pending = pending_key_path(path);
    if path.exists() {
        let key = privacy::PiiKey::load(path).map_err(config_failure)?;
        if pending.exists() {
            privacy::install_old(key);
        } else {
            privacy::install(key);
        }
    }
    if pending.exists() {
        privacy::install(privacy::PiiKey::load(&pending).map_err(config_failure)?);
    }
    Ok(())
}

/// The config file `load_config` reads (not for `demo`'s built-in default), if any.
fn config_file(cli: &Cli) -> Option<PathBuf> {
    match &cli.config {
        Some(p) => Some(p.clone()),
        None if Path::new(DEFAULT_CONFIG).exists() => Some(PathBuf::from(DEFAULT_CONFIG)),
        None => None,
    }
}

/// `storehub diag collect [--out FILE]`: the bundle from the daemon (or the data dir), with the
/// config file's text added here, its secrets redacted.
fn diag_collect_command(cli: &Cli, out: Option<&Path>) -> Result<(), Failure> {
    let cfg = load_config(cli, false)?;
    let budget = cfg.as_ref().map_or(0, |c| u64::from(c.mqtt.outbox_budget_mb) * 1024 * 1024);
    let mut bundle = request(cli, Request::DiagCollect { outbox_budget_bytes: budget })?.result;
    if let Some(path) = config_file(cli) {
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read the config file", path.display()))?;
        bundle["config"] = storehub::diag::redact_config(&text).unwrap_or_else(|e| serde_json::json!({ "error": e }));
    }
    let mut text = serde_json::to_string_pretty(&bundle)?;
    text.push('\n');
    match out {
        None => write_stdout(text.as_bytes()),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("{}: cannot write the bundle there; choose another --out FILE", path.display()))?;
            f.write_all(text.as_bytes()).with_context(|| format!("{}: writing the bundle", path.display()))?;
            eprintln!("wrote the diagnostic bundle ({} bytes) to {}", text.len(), path.display());
            Ok(())
        }
    }
}

fn data_dir(cli: &Cli, cfg: Option<&Config>) -> Result<PathBuf, Failure> {
    if let Some(d) = &cli.data_dir {
        return Ok(d.clone());
    }
    match cfg {
        Some(c) => Ok(c.data.dir.clone()),
        None => Err(config_failure(anyhow!(
            "no data dir: pass --data-dir DIR, set STOREHUB_DATA_DIR, or give a config with --config FILE (default {DEFAULT_CONFIG})"
        ))),
    }
}

fn store_options(dir: &Path, cfg: Option<&Config>, durability: Option<Durability>) -> StoreOptions {
    let (durability_cfg, relaxed_ms, source) = match cfg {
        Some(c) => (
            match c.data.durability {
                config::Durability::Durable => Durability::Durable,
                config::Durability::Relaxed => Durability::Relaxed,
            },
            u64::from(c.data.relaxed_flush_ms),
            Some(format!(
                "/storehub/{}/{}/{}",
                c.store.chain_id.as_str(),
                c.store.store_id.as_str(),
                c.store.hub_id.as_str()
            )),
        ),
        None => (Durability::Durable, 200, None),
    };
    StoreOptions {
        path: dir.to_path_buf(),
        durability: durability.unwrap_or(durability_cfg),
        relaxed_flush_ms: relaxed_ms,
        source,
        clock: clock::system(),
    }
}

fn open_store(opts: StoreOptions) -> Result<Store, Failure> {
    Store::open(opts).map_err(|e| match e {
        store::StoreError::Open { .. } | store::StoreError::NewerSchema { .. } | store::StoreError::Damaged { .. } => {
            config_failure(e)
        }
        e @ store::StoreError::PiiKeyMissing { .. } => config_failure(e),
        other => other.into(),
    })
}

fn context(cfg: Option<&Config>) -> ops::Context {
    ops::Context {
        layouts: cfg.map(|c| c.barcode_layouts()).unwrap_or_default(),
        snapshots_keep: cfg.map_or(4, |c| c.data.snapshots_keep as usize),
        started_at: clock::system().now(),
        checkout: cfg.map(control::lanes::CheckoutSetup::from_config),
        lanes: Default::default(),
        tz: cfg.map_or(chrono_tz::Asia::Shanghai, |c| c.timezone()),
        loyalty: cfg.map(LoyaltyRules::for_shop).unwrap_or_default(),
        devices: Default::default(),
        cloud: Default::default(),
        campaigns: cfg.map(storehub::members::campaigns::CampaignSettings::from_config).unwrap_or_default(),
        messages: cfg.map(MessageRules::from_config).unwrap_or_default(),
        tickets: cfg.map(storehub::members::tickets::TicketRules::from_config).unwrap_or_default(),
        stock: cfg.map(|c| c.stock).unwrap_or_default(),
        attendance: cfg.map(|c| c.attendance).unwrap_or_default(),
        recommend: cfg.map(storehub::members::recommend::RecommendSettings::from_config).unwrap_or_default(),
    }
}

/// `storehub campaign …`.
fn campaign_command(cli: &Cli, cmd: &CampaignCmd) -> Result<(), Failure> {
    use storehub::members::campaigns as camp;
    match cmd {
        CampaignCmd::Create { file } => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let campaign = camp::parse_new_campaign(&bytes, &file.display().to_string()).map_err(|e| anyhow!(e))?;
            print_json(&request(cli, Request::CampaignCreate { campaign })?.result)
        }
        CampaignCmd::Playbook { name, start, holdout } => {
            let holdout_bp = holdout.as_deref().map(holdout_bp).transpose()?;
            let start_at = start.map(|t| t.with_timezone(&chrono::Utc));
            print_json(&request(cli, Request::CampaignPlaybook { name: name.clone(), start_at, holdout_bp })?.result)
        }
        CampaignCmd::List => print_json(&request(cli, Request::CampaignList)?.result),
        CampaignCmd::Show { id } => print_json(&request(cli, Request::CampaignShow { id: id.clone() })?.result),
        CampaignCmd::Launch { id } => print_json(&request(cli, Request::CampaignLaunch { id: id.clone() })?.result),
        CampaignCmd::Finish { id } => print_json(&request(cli, Request::CampaignFinish { id: id.clone() })?.result),
        CampaignCmd::Report { id, format, members, output } => {
            let reply = request(cli, Request::CampaignReport { id: id.clone(), members: *members })?;
            let report: camp::CampaignReport = serde_json::from_value(reply.result)?;
            let mut buf = Vec::new();
            let rows = if *members { report.members.len() } else { 1 };
            match (format, members) {
                (ExportFormat::Csv, false) => camp::write_reports_csv(std::slice::from_ref(&report), &mut buf)?,
                (ExportFormat::Csv, true) => camp::write_members_csv(&report, &mut buf)?,
                (ExportFormat::Json, _) => {
                    serde_json::to_writer_pretty(&mut buf, &report)?;
                    buf.push(b'\n');
                }
            }
            match output {
                Some(path) => {
                    std::fs::write(path, &buf).with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {rows} rows to {}", path.display());
                    Ok(())
                }
                None => write_stdout(&buf),
            }
        }
    }
}

/// `storehub firmware check|update` (`devices::shelf::firmware`, `control::firmware`).
fn firmware_command(cli: &Cli, cmd: &FirmwareCmd) -> Result<(), Failure> {
    use storehub::devices::shelf::firmware::{read_image, StepReport};
    match cmd {
        FirmwareCmd::Check { file } => {
            let (_, info) = read_image(file).map_err(|r| anyhow!("{r}"))?;
            println!(
                "{}: {} blocks, {} bytes of flash, storehub shelf-node firmware {} (RP2040)",
                file.display(),
                info.blocks,
                info.flash_bytes,
                info.version
            );
            Ok(())
        }
        FirmwareCmd::Update { node, file, force, timeout, json } => {
            let (bytes, info) = read_image(file).map_err(|r| anyhow!("{r}"))?;
            let cfg = load_config(cli, false)?;
            let settings = cfg.as_ref().map(|c| c.firmware.clone()).unwrap_or_default();
            let timeout_s = match timeout {
                Some(t) if !(5..=600).contains(t) => return Err(anyhow!("--timeout {t}: expected 5 to 600 seconds, like [firmware].timeout_s").into()),
                Some(t) => *t,
                None => settings.timeout_s,
            };
            let dir = data_dir(cli, cfg.as_ref())?;
            eprintln!(
                "{}: {} blocks, firmware {}; asking the daemon to flash {node} (each waiting step up to {timeout_s} s) …",
                file.display(),
                info.blocks,
                info.version
            );
            use base64::Engine as _;
            let request = control::firmware::UpdateRequest {
                device: node.clone(),
                file: file.display().to_string(),
                image_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                force: *force,
                boot_drive_roots: settings.boot_drive_roots.clone(),
                timeout_s,
            };
            let reply = match client::try_call(&control::socket_path(&dir), &Request::FirmwareUpdate { request }) {
                client::Attempt::Answered(r) => r.map_err(|e| anyhow!(e))?,
                client::Attempt::NoDaemon => {
                    return Err(anyhow!(
                        "没有 storehub 守护进程在 {0} 上运行；固件更新经由守护进程（它掌管节点串口），请先启动 storehub run
no storehub daemon runs on {0}; the update goes through the daemon, which owns the node's serial port: start `storehub run` first",
                        dir.display()
                    )
                    .into())
                }
            };
            if *json {
                return print_json(&reply.result);
            }
            let steps: Vec<StepReport> = serde_json::from_value(reply.result["steps"].clone()).map_err(|e| anyhow!("the daemon's update report did not parse: {e}"))?;
            for s in &steps {
                println!("{s}");
            }
            println!(
                "{node}: firmware {} → {}",
                reply.result["from"].as_str().unwrap_or("?"),
                reply.result["to"].as_str().unwrap_or("?")
            );
            if let Some(e) = reply.result["event_error"].as_str() {
                eprintln!("warning: {e}");
            }
            Ok(())
        }
    }
}

/// `storehub privacy …`: the PII key (`storehub::privacy`).
fn privacy_command(cli: &Cli, cmd: &PrivacyCmd) -> Result<(), Failure> {
    use storehub::privacy;
    let cfg = load_config(cli, false)?;
    let config_file = cli.config.clone().or_else(|| Path::new(DEFAULT_CONFIG).exists().then(|| PathBuf::from(DEFAULT_CONFIG)));
    let key_path = pii_key_path(config_file.as_deref(), cfg.as_ref());
    match cmd {
        PrivacyCmd::InitKey => {
            let id = privacy::init_key(&key_path).map_err(config_failure)?;
            print_json(&serde_json::json!({ "key_file": key_path, "key_id": id }))
        }
        PrivacyCmd::Status => {
            let held = privacy::current().map(|k| k.id_hex());
            let dir = data_dir(cli, cfg.as_ref())?;
            let sealed_with = if dir.join("db").exists() {
                open_store(store_options(&dir, cfg.as_ref(), None))?.pii_key_id()?
            } else {
                None
            };
            print_json(&serde_json::json!({
                "key_file": key_path,
                "key_id": held,
                "rotation_pending": pending_key_path(&key_path).exists(),
                "database_sealed_with": sealed_with,
            }))
        }
        PrivacyCmd::RotateKey => {
            let dir = data_dir(cli, cfg.as_ref())?;
            if std::os::unix::net::UnixStream::connect(control::socket_path(&dir)).is_ok() {
                return Err(anyhow!("a storehub daemon runs on {}; stop it (systemctl stop storehub) before rotating the key", dir.display()).into());
            }
            if !key_path.exists() {
                return Err(config_failure(anyhow!("no PII key at {} to rotate; make one with `storehub privacy init-key`", key_path.display())));
            }
            let old = privacy::PiiKey::load(&key_path).map_err(config_failure)?;
            let old_id = old.id_hex();
            let pending = pending_key_path(&key_path);
            if !pending.exists() {
                let bytes = privacy::random_key().map_err(|e| anyhow!(e))?;
                privacy::write_key_file(&pending, &bytes, false).map_err(config_failure)?;
            }
            privacy::install_old(old);
            let new = privacy::install(privacy::PiiKey::load(&pending).map_err(config_failure)?);
            // Opening the store runs the sealing pass: every value and index key not under the
            // new key is re-sealed (resumable: a crash leaves both key files, the next run or
            // the daemon's next start finishes it).
            let store = open_store(store_options(&dir, cfg.as_ref(), None))?;
            let detail = format!("key {old_id} replaced by key {}", new.id_hex());
            storehub::audit::record(&store, "cli", storehub::audit::AuditAction::PiiKeyRotated, None, &detail)?;
            store.checkpoint()?;
            drop(store);
            std::fs::rename(&pending, &key_path)
                .with_context(|| format!("the database is sealed with the new key, but {} could not replace {}; move it there by hand", pending.display(), key_path.display()))?;
            if let Some(parent) = key_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::File::open(parent).and_then(|d| d.sync_all())?;
            }
            print_json(&serde_json::json!({ "key_file": key_path, "old_key_id": old_id, "key_id": new.id_hex() }))
        }
    }
}

/// Sends a request to the running daemon, or applies it directly when none runs.
fn request(cli: &Cli, req: Request) -> Result<control::Reply, Failure> {
    let cfg = load_config(cli, false)?;
    let dir = data_dir(cli, cfg.as_ref())?;
    match client::try_call(&control::socket_path(&dir), &req) {
        client::Attempt::Answered(r) => r.map_err(|e| anyhow!(e).into()),
        client::Attempt::NoDaemon => {
            let creates = matches!(
                req,
                Request::ImportCatalog { .. }
                    | Request::StockMove { .. }
                    | Request::StaffAdd { .. }
                    | Request::TokenAdd { .. }
                    | Request::MemberAdd { .. }
                    | Request::MemberAddBy { .. }
                    | Request::PromotionsImport { .. }
                    | Request::CouponTemplatesAdd { .. }
                    | Request::MessageTemplatesImport { .. }
            );
            if !dir.join("db").exists() && !creates {
                return Err(anyhow!("{} holds no storehub database (and no daemon runs there)", dir.display()).into());
            }
            let store = Arc::new(open_store(store_options(&dir, cfg.as_ref(), None))?);
            ops::handle(&store, &context(cfg.as_ref()), req).map_err(|e| anyhow!(e).into())
        }
    }
}

/// `storehub receipt render`: the bytes come from `devices::printer`; a stored sale (and its
/// member's masked phone and points) is read through the control ops, daemon or not.
fn receipt_command(cli: &Cli, cmd: &ReceiptCmd) -> Result<(), Failure> {
    let ReceiptCmd::Render { sale, sample: _, paper, drawer, out } = cmd;
    let cfg = load_config(cli, false)?;
    let (name, lang, tz) = match &cfg {
        Some(c) => (c.store.name.clone(), c.store.language, c.timezone()),
        None => (printer::cli::SAMPLE_STORE_NAME.to_string(), config::Language::ZhCn, chrono_tz::Asia::Shanghai),
    };
    let bytes = match sale {
        None => printer::cli::sample_bytes(&name, lang, *paper, *drawer)?,
        Some(id) => {
            let reply = request(cli, Request::SaleShow { id: *id })?;
            let sale: storehub::checkout::Sale = serde_json::from_value(reply.result["sale"].clone()).context("the sale as the store returned it")?;
            let member = match sale.member_id {
                Some(mid) => {
                    let card = storehub::domain::loyalty::member_code::card_number(mid).map_err(|e| anyhow!("member {mid}: {e}"))?;
                    let m = request(cli, Request::MemberShow { query: card })?.result;
                    Some(printer::MemberInfo {
                        masked_phone: m["phone"].as_str().unwrap_or("****").to_string(),
                        points_balance: m["points"].as_i64().unwrap_or(0),
                    })
                }
                None => None,
            };
            printer::cli::sale_bytes(&sale, member.as_ref(), &name, tz, lang, *paper, *drawer)?
        }
    };
    printer::cli::write_out(out, &bytes)?;
    eprintln!("wrote {} bytes of ESC/POS for {} mm paper to {}", bytes.len(), paper, out.display());
    Ok(())
}

/// `storehub message …`, through the control ops (daemon or not).
fn message_command(cli: &Cli, cmd: &MessageCmd) -> Result<(), Failure> {
    use members::messages::{self, Queued};
    match cmd {
        MessageCmd::Templates(MessageTemplatesCmd::Import { file }) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let templates = messages::parse_templates_json(&bytes, &name).map_err(|report| anyhow!("{report}\nnothing imported"))?;
            let n = templates.len();
            let reply = request(cli, Request::MessageTemplatesImport { templates })?;
            let changed = reply.result.get("changed").and_then(|v| v.as_u64()).unwrap_or(0);
            eprintln!("imported {n} message templates from {name}: {changed} new or changed");
            Ok(())
        }
        MessageCmd::Templates(MessageTemplatesCmd::List) => print_json(&request(cli, Request::MessageTemplates)?.result),
        MessageCmd::Templates(MessageTemplatesCmd::Show { id }) => {
            print_json(&request(cli, Request::MessageTemplateShow { id: id.clone() })?.result)
        }
        MessageCmd::Templates(MessageTemplatesCmd::Remove { id }) => {
            request(cli, Request::MessageTemplateRemove { id: id.clone() })?;
            eprintln!("removed message template {id}");
            Ok(())
        }
        MessageCmd::Preview { template, member, vars } => {
            let req = Request::MessagePreview { template_id: template.clone(), member: member.clone(), vars: parse_vars(vars)? };
            let reply = request(cli, req)?;
            let p: messages::Preview = serde_json::from_value(reply.result).context("the preview as the store returned it")?;
            let mut text = p.rendered.text.clone();
            text.push('\n');
            if p.channel == messages::Channel::Sms {
                text.push_str(&format!("({} characters, {} SMS segment(s))\n", p.rendered.chars, p.rendered.segments));
            }
            write_stdout(text.as_bytes())
        }
        MessageCmd::Send { template, member, vars } => {
            let req = Request::MessageSend { template_id: template.clone(), member: member.clone(), vars: parse_vars(vars)? };
            let reply = request(cli, req)?;
            let q: Queued = serde_json::from_value(reply.result).context("the outcome as the store returned it")?;
            let line = match q {
                Queued::Requested { message_id } => format!("Requested: message {message_id} is in the outbox for HQ\n"),
                Queued::Held { message_id, until } => {
                    let tz = load_config(cli, false)?.map_or(chrono_tz::Asia::Shanghai, |c| c.timezone());
                    let local = clock::local(until, tz);
                    format!("Held: message {message_id} waits for the end of the quiet hours, {} (shop time)\n", local.format("%Y-%m-%d %H:%M"))
                }
                Queued::Skipped { reason } => format!("Skipped: {}\n", reason.as_str()),
            };
            write_stdout(line.as_bytes())
        }
        MessageCmd::List { member, campaign, state, limit } => {
            let req = Request::MessageList { member: member.clone(), campaign_id: campaign.clone(), state: *state, limit: *limit };
            print_json(&request(cli, req)?.result)
        }
        MessageCmd::Release => print_json(&request(cli, Request::MessagesRelease)?.result),
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// Writes to stdout; a closed pipe (`storehub stock show | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Doctor(DoctorArgs { cmd: None, json, print_test, scan, timeout }) => {
            if !(timeout.is_finite() && *timeout > 0.0 && *timeout <= 3600.0) {
                return Err(anyhow!("--timeout: expected seconds between 0 and 3600, got {timeout}").into());
            }
            let cfg = load_config(&cli, false)?;
            let dir = cli.data_dir.clone().or_else(|| cfg.as_ref().map(|c| c.data.dir.clone()));
            let opts = storehub::devices::doctor::CheckOptions {
                print_test: *print_test,
                scan: scan.map(Duration::from_secs),
                timeout: Duration::from_secs_f64(*timeout),
                ..Default::default()
            };
            let report = storehub::devices::doctor::command(cfg.as_ref(), dir.as_deref(), &opts, *json, &mut std::io::stdout().lock())?;
            if !report.ok {
                return Err(anyhow!("{} configured device(s) did not answer; see the FAIL lines", report.failures()).into());
            }
            Ok(())
        }
        Command::Doctor(DoctorArgs { cmd: Some(DoctorCmd::Scan { port, timeout, baud, terminator, strip_prefix, strip_suffix, aim_ids }), .. }) => {
            let settings = config::ScannerSettings {
                terminator: *terminator,
                strip_prefix: strip_prefix.clone(),
                strip_suffix: strip_suffix.clone(),
                aim_ids: *aim_ids,
            };
            Ok(storehub::devices::scanner::doctor_scan(port, Duration::from_secs(*timeout), *baud, settings)?)
        }
        Command::Version => {
            println!("storehub {}", env!("CARGO_PKG_VERSION"));
            println!("schema version {}", store::SCHEMA_VERSION);
            println!("target {}-{}", std::env::consts::ARCH, std::env::consts::OS);
            Ok(())
        }
        Command::CheckConfig => {
            let cfg = load_config(&cli, false)?
                .ok_or_else(|| config_failure(anyhow!("no config: pass --config FILE")))?;
            println!(
                "config ok: store {}/{}/{}, data dir {}, {} lane(s), {} device(s)",
                cfg.store.chain_id.as_str(),
                cfg.store.store_id.as_str(),
                cfg.store.hub_id.as_str(),
                cfg.data.dir.display(),
                cfg.lanes.len(),
                cfg.devices.len()
            );
            Ok(())
        }
        Command::Run { mqtt, listen } => {
            if let Some(p) = cli.config.clone().or_else(|| Path::new(DEFAULT_CONFIG).exists().then(|| PathBuf::from(DEFAULT_CONFIG))) {
                if let pairing_mode::Loaded::Unpaired(mut u) = pairing_mode::load(&p, cli.data_dir.as_deref()).map_err(config_failure)? {
                    if let Some(addr) = listen {
                        u.listen = *addr;
                    }
                    pairing_mode::run(u)?;
                    // Paired: start again as a provisioned box, in this process (same PID for
                    // systemd), with the same arguments.
                    use std::os::unix::process::CommandExt as _;
                    let err = std::process::Command::new("/proc/self/exe").args(std::env::args_os().skip(1)).exec();
                    return Err(anyhow!("paired, but could not restart into normal operation: {err}; restart the service (systemctl restart storehub)").into());
                }
            }
            let mut cfg = load_config(&cli, false)?.ok_or_else(|| {
                config_failure(anyhow!("no config: pass --config FILE or install {DEFAULT_CONFIG}"))
            })?;
            if let Some(url) = mqtt {
                cfg.apply_mqtt_override(url).map_err(config_failure)?;
            }
            if let Some(addr) = listen {
                cfg.web.listen = *addr;
                cfg.web.enabled = true;
            }
            serve(&cli, cfg, false, None, None)
        }
        Command::Demo { mqtt, simulate_sales, shopper_every, listen } => {
            let mut cfg = load_config(&cli, true)?.ok_or_else(|| anyhow!("demo config missing"))?;
            if cli.config.is_none() || listen.is_some() {
                cfg.web.listen = listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
                cfg.web.enabled = true;
            }
            if let Some(url) = mqtt {
                cfg.apply_mqtt_override(url).map_err(config_failure)?;
            }
            if cli.data_dir.is_none() && cli.config.is_none() {
                cfg.apply_data_dir_override(PathBuf::from("./demo-data"));
            }
            let dir = data_dir(&cli, Some(&cfg))?;
            let dir = if dir.is_absolute() { dir } else { std::env::current_dir()?.join(dir) };
            let dev_dir = dir.join("devices");
            demo::devices::relocate(&mut cfg, &dev_dir);
            let devices = Arc::new(demo::devices::DemoDevices::start(&cfg, &dev_dir)?);
            let every = (*shopper_every > 0.0).then(|| Duration::from_secs_f64(*shopper_every));
            serve(&cli, cfg, true, *simulate_sales, Some((devices, every)))
        }
        Command::Barcode(BarcodeCmd::Decode { code }) => {
            let cfg = load_config(&cli, false)?;
            let configured = cfg.map(|c| c.barcode_layouts()).unwrap_or_default();
            let layouts = if configured.is_empty() { barcode::default_layouts() } else { configured };
            let decoded = barcode::decode(code, &layouts).map_err(|e| anyhow!("barcode {code:?}: {e}"))?;
            println!("{}", serde_json::to_string(&decoded)?);
            Ok(())
        }
        Command::Barcode(BarcodeCmd::Lookup { code }) => {
            print_json(&request(&cli, Request::Lookup { code: code.clone() })?.result)
        }
        Command::Import(ImportCmd::Catalog { file }) => import_catalog(&cli, file),
        Command::Import(ImportCmd::Transactions { file, count_for_tiers }) => {
            import_transactions(&cli, file, *count_for_tiers)
        }
        Command::Analytics(AnalyticsCmd::Fit { time_unit, until, model }) => {
            let unit_days = match time_unit {
                TimeUnit::Days => 1,
                TimeUnit::Weeks => 7,
            };
            let model = match model {
                ClvModel::Bgnbd => "bgnbd",
                ClvModel::GammaGamma => "gamma-gamma",
            };
            print_json(&request(&cli, Request::AnalyticsFit { until: *until, unit_days, model: model.into() })?.result)
        }
        Command::Campaign(cmd) => campaign_command(&cli, cmd),
        Command::Forecast(args) => forecast_command(&cli, args),
        Command::Replenishment(cmd) => replenishment_command(&cli, cmd),
        Command::Report(args) => {
            let req = Request::Report { kind: args.kind.clone(), from: args.from, to: args.to, period: args.period.clone(), csv: matches!(args.format, ExportFormat::Csv) };
            let reply = request(&cli, req)?;
            let rows = reply.result["report"]["rows"].as_array().map_or(0, Vec::len);
            let buf = match (args.format, reply.payload) {
                (ExportFormat::Csv, Some(csv)) => csv,
                _ => {
                    let mut buf = serde_json::to_vec_pretty(&reply.result["report"])?;
                    buf.push(b'\n');
                    buf
                }
            };
            write_export(&buf, args.output.as_deref(), rows, "rows")
        }
        Command::Recommend(cmd) => {
            use storehub::control::recommend::RecommendRequest as R;
            let r = match cmd {
                RecommendCmd::Mine { date } => R::Mine { date: *date },
                RecommendCmd::Rules { sku, category, limit } => R::Rules { sku: sku.clone(), category: category.clone(), limit: *limit },
                RecommendCmd::ForMember { id, date } => R::ForMember { member_id: *id, date: *date },
                RecommendCmd::AlsoBought { sku } => R::AlsoBought { sku: sku.clone() },
            };
            print_json(&request(&cli, Request::Recommend { request: r })?.result)
        }
        Command::Analytics(AnalyticsCmd::RecommendEval { split_days, date }) => {
            let r = storehub::control::recommend::RecommendRequest::Eval { split_days: *split_days, date: *date };
            print_json(&request(&cli, Request::Recommend { request: r })?.result)
        }
        Command::Analytics(AnalyticsCmd::Members { as_of, format, output }) => {
            let cfg = load_config(&cli, false)?;
            let params = cfg.as_ref().map(|c| c.analytics.params()).unwrap_or_default();
            let reply = request(&cli, Request::AnalyticsMembers { as_of: *as_of, params })?;
            let as_of: chrono::NaiveDate = serde_json::from_value(reply.result["as_of"].clone())?;
            let rows: Vec<members::analytics::MemberAnalyticsRow> =
                serde_json::from_value(reply.result["rows"].clone())?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => members::analytics::write_csv(&rows, as_of, &mut buf)?,
                ExportFormat::Json => json_rows(&rows, &mut buf)?,
            }
            write_export(&buf, output.as_deref(), rows.len(), "members")
        }
        Command::Export(ExportCmd::Catalog { format, output }) => {
            let reply = request(&cli, Request::ExportCatalog)?;
            let products: Vec<catalog::Product> = serde_json::from_value(reply.result)?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => catalog::csv::write_catalog(&products, &mut buf)?,
                ExportFormat::Json => {
                    serde_json::to_writer_pretty(&mut buf, &products)?;
                    buf.push(b'\n');
                }
            }
            match output {
                Some(path) => {
                    std::fs::write(path, &buf).with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("exported {} products to {}", products.len(), path.display());
                }
                None => write_stdout(&buf)?,
            }
            Ok(())
        }
        Command::Export(ExportCmd::Members { format, output, full_phone }) => {
            let reply = request(&cli, Request::ExportMembers { full_phone: *full_phone })?;
            let rows: Vec<members::export::MemberRow> = serde_json::from_value(reply.result)?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => members::export::write_members_csv(&rows, &mut buf)?,
                ExportFormat::Json => json_rows(&rows, &mut buf)?,
            }
            write_export(&buf, output.as_deref(), rows.len(), "members")
        }
        Command::Export(ExportCmd::PointsLedger { from, to, format, output }) => {
            let reply = request(&cli, Request::ExportPointsLedger { from: *from, to: *to })?;
            let rows: Vec<members::export::LedgerRow> = serde_json::from_value(reply.result)?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => members::export::write_ledger_csv(&rows, &mut buf)?,
                ExportFormat::Json => json_rows(&rows, &mut buf)?,
            }
            write_export(&buf, output.as_deref(), rows.len(), "points ledger entries")
        }
        Command::Member(cmd) => member_command(&cli, cmd),
        Command::Ticket(cmd) => ticket_command(&cli, cmd),
        Command::Po(cmd) => po_command(&cli, cmd),
        Command::Stocktake(cmd) => stocktake_command(&cli, cmd),
        Command::Attendance(cmd) => attendance_command(&cli, cmd),
        Command::Alerts(AlertsCmd::List { all }) => print_json(&request(&cli, Request::AlertsList { all: *all })?.result),
        Command::Alerts(AlertsCmd::Ack { id, staff }) => print_json(&request(&cli, Request::AlertAck { id: *id, staff: staff.clone() })?.result),
        Command::Restock(RestockCmd::List { all }) => print_json(&request(&cli, Request::RestockList { all: *all })?.result),
        Command::Restock(RestockCmd::Done { id, staff, note }) => {
            print_json(&request(&cli, Request::RestockDone { id: *id, staff: staff.clone(), note: note.clone() })?.result)
        }
        Command::StockAnalysis { list, format, output } => stock_analysis_command(&cli, list.as_deref(), *format, output.as_deref()),
        Command::Jobs(JobsCmd::Run { job }) => print_json(&request(&cli, Request::JobRun { job: *job })?.result),
        Command::Stock(StockCmd::Show { sku }) => {
            print_json(&request(&cli, Request::StockShow { sku: sku.clone() })?.result)
        }
        Command::Stock(StockCmd::Move { sku, qty, kind, reason, user, reference }) => {
            let movement = NewMove {
                sku: sku.clone(),
                kind: *kind,
                qty: *qty,
                reason: reason.clone(),
                user: user.clone(),
                reference: reference.clone(),
            };
            print_json(&request(&cli, Request::StockMove { movement })?.result)
        }
        Command::Stock(StockCmd::Moves { sku, limit }) => {
            print_json(&request(&cli, Request::StockMoves { sku: sku.clone(), limit: *limit })?.result)
        }
        Command::Outbox(OutboxCmd::Stats) => print_json(&request(&cli, Request::OutboxStats)?.result),
        Command::Cloud(CloudCmd::Status { json }) => {
            let result = request(&cli, Request::Cloud)?.result;
            match serde_json::from_value::<storehub::cloud::CloudState>(result.clone()) {
                Ok(state) if !*json => write_stdout(storehub::cloud::status::render(&state).as_bytes()),
                _ => print_json(&result),
            }
        }
        Command::Diag(DiagCmd::Collect { out }) => diag_collect_command(&cli, out.as_deref()),
        Command::Cloud(CloudCmd::Keygen { out }) => {
            let public = storehub::cloud::commands::cli::keygen(out)?;
            eprintln!("wrote the private key to {}; keep it at HQ. Public key for [mqtt].command_keys:", out.display());
            write_stdout(format!("{public}\n").as_bytes())
        }
        Command::Cloud(CloudCmd::Sign { key, name, file }) => {
            let signed = storehub::cloud::commands::cli::sign(key, name, file.as_deref())?;
            write_stdout(format!("{signed}\n").as_bytes())
        }
        Command::Staff(cmd) => staff_command(&cli, cmd),
        Command::Token(cmd) => {
            let req = match cmd {
                TokenCmd::Add { name, role } => Request::TokenAdd { name: name.clone(), role: *role },
                TokenCmd::List => Request::TokenList,
                TokenCmd::Remove { name } => Request::TokenRemove { name: name.clone() },
            };
            print_json(&request(&cli, req)?.result)
        }
        Command::Privacy(cmd) => privacy_command(&cli, cmd),
        Command::Clock(ClockCmd::Status) => print_json(&request(&cli, Request::ClockStatus)?.result),
        Command::Clock(ClockCmd::ResetMark) => print_json(&request(&cli, Request::ClockResetMark)?.result),
        Command::Audit { action, subject, limit } => {
            print_json(&request(&cli, Request::AuditList { action: action.clone(), subject: subject.clone(), limit: *limit })?.result)
        }
        Command::Lane(cmd) => lane_command(&cli, cmd),
        Command::Search { query, limit } => print_json(&request(&cli, Request::ProductSearch { query: query.clone(), limit: *limit })?.result),
        Command::Return(args) => return_command(&cli, args),
        Command::Receipt(cmd) => receipt_command(&cli, cmd),
        Command::Print(PrintCmd::TestPage { device, paper, columns }) => {
            let cfg = load_config(&cli, false)?;
            let name = cfg.as_ref().map_or(printer::cli::SAMPLE_STORE_NAME.to_string(), |c| c.store.name.clone());
            let settings = config::PrinterSettings { paper_mm: *paper, columns: *columns, ..Default::default() };
            let report = printer::cli::print_test_page(device, &name, printer::columns(&settings))?;
            print_json(&serde_json::to_value(report)?)
        }
        Command::Sale(SaleCmd::Show { id, receipt }) => {
            let reply = request(&cli, Request::SaleShow { id: *id })?;
            if *receipt {
                let text = reply.result["receipt_text"].as_str().unwrap_or_default().to_string();
                write_stdout(text.as_bytes())
            } else {
                print_json(&reply.result)
            }
        }
        Command::Export(ExportCmd::Sales { from, to, format, output }) => {
            let reply = request(&cli, Request::ExportSales { from: *from, to: *to })?;
            let rows: Vec<control::lanes::SaleRow> = serde_json::from_value(reply.result)?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => control::lanes::write_sales_csv(&rows, &mut buf)?,
                ExportFormat::Json => json_rows(&rows, &mut buf)?,
            }
            write_export(&buf, output.as_deref(), rows.len(), "sales")
        }
        Command::Shift(cmd) => shift_command(&cli, cmd),
        Command::Promotions(PromotionsCmd::Import { file }) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let promotions = promotions::parse_promotions_json(&bytes, &name)
                .map_err(|report| anyhow!("{report}\nnothing imported"))?;
            let n = promotions.len();
            let reply = request(&cli, Request::PromotionsImport { promotions })?;
            let count = |k: &str| reply.result.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            eprintln!(
                "imported {n} promotions from {name}: {} new, {} changed, {} unchanged",
                count("created"),
                count("updated"),
                count("unchanged")
            );
            Ok(())
        }
        Command::Promotions(PromotionsCmd::List { active }) => {
            print_json(&request(&cli, Request::PromotionsList { active: *active })?.result)
        }
        Command::Promotions(PromotionsCmd::Remove { id }) => {
            let reply = request(&cli, Request::PromotionRemove { id: id.clone() })?;
            eprintln!("removed promotion {id}");
            print_json(&reply.result)
        }
        Command::Coupons(CouponsCmd::TemplateAdd { file }) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let templates = coupons::parse_templates_json(&bytes, &name)
                .map_err(|report| anyhow!("{report}\nnothing imported"))?;
            let n = templates.len();
            let reply = request(&cli, Request::CouponTemplatesAdd { templates })?;
            let count = |k: &str| reply.result.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            eprintln!(
                "imported {n} coupon templates from {name}: {} new, {} changed, {} unchanged",
                count("created"),
                count("updated"),
                count("unchanged")
            );
            Ok(())
        }
        Command::Message(cmd) => message_command(&cli, cmd),
        Command::Coupons(CouponsCmd::Templates) => print_json(&request(&cli, Request::CouponTemplates)?.result),
        Command::Coupons(CouponsCmd::Issue { template, members, members_file, campaign }) => {
            let mut member_ids = members.clone();
            if let Some(f) = members_file {
                let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
                member_ids.extend(coupons::parse_member_ids(&text, &f.display().to_string()).map_err(|e| anyhow!(e))?);
            }
            if member_ids.is_empty() {
                return Err(anyhow!("{}", coupons::CouponError::NoMembers).into());
            }
            let req = Request::CouponsIssue { template_id: template.clone(), member_ids, campaign: campaign.clone() };
            let reply = request(&cli, req)?;
            let summary: coupons::IssueSummary = serde_json::from_value(reply.result.clone())?;
            eprintln!(
                "issued {} coupons of {template}; {} members skipped",
                summary.issued.len(),
                summary.skipped.len()
            );
            print_json(&reply.result)
        }
        Command::Coupons(CouponsCmd::List { member, all }) => {
            print_json(&request(&cli, Request::CouponsList { member_id: *member, include_used: *all })?.result)
        }
        Command::Coupons(CouponsCmd::Show { code }) => {
            print_json(&request(&cli, Request::CouponShow { code: code.clone() })?.result)
        }
        Command::Coupons(CouponsCmd::Void { code, by, reason }) => {
            let req = Request::CouponVoid { code: code.clone(), by: by.clone(), reason: reason.clone() };
            print_json(&request(&cli, req)?.result)
        }
        Command::Coupons(CouponsCmd::Expire) => print_json(&request(&cli, Request::CouponsExpire)?.result),
        Command::Doctor(DoctorArgs { cmd: Some(DoctorCmd::Scale { port, protocol, baud, data_bits, parity, pattern, unit, json, timeout }), .. }) => {
            if !(timeout.is_finite() && *timeout > 0.0 && *timeout <= 3600.0) {
                return Err(anyhow!("--timeout: expected seconds between 0 and 3600, got {timeout}").into());
            }
            let args = storehub::devices::scale::DoctorScaleArgs {
                port: port.clone(),
                protocol: protocol.clone(),
                baud: *baud,
                data_bits: *data_bits,
                parity: parity.clone(),
                pattern: pattern.clone(),
                unit: unit.clone(),
                json: *json,
                timeout: Duration::from_secs_f64(*timeout),
            };
            Ok(storehub::devices::scale::doctor_scale(&args)?)
        }
        Command::Firmware(cmd) => firmware_command(&cli, cmd),
        Command::Status => {
            // An unpaired box has no store to ask: its status is its pairing code.
            let path = cli.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            if path.exists() {
                if let pairing_mode::Loaded::Unpaired(_) = pairing_mode::load(&path, cli.data_dir.as_deref()).map_err(config_failure)? {
                    return pairing_show(&cli);
                }
            }
            print_json(&request(&cli, Request::Status)?.result)
        }
        Command::Provision(args) => provision_command(&cli, args),
        Command::Pairing(PairingCmd::Show) => pairing_show(&cli),
        Command::Devices { json } => {
            let reply = request(&cli, Request::Devices)?;
            if *json {
                print_json(&reply.result)
            } else {
                let list: Vec<storehub::devices::health::DeviceHealth> = serde_json::from_value(reply.result).map_err(|e| anyhow!("the daemon's device list did not parse: {e}"))?;
                print!("{}", storehub::devices::health::render(&list));
                Ok(())
            }
        }
        Command::Backup { file } => {
            let reply = request(&cli, Request::Backup)?;
            let bytes = reply.payload.ok_or_else(|| anyhow!("the daemon sent no backup data"))?;
            store::backup::write_atomically(file, &bytes)?;
            eprintln!(
                "backup written to {} ({} entries, {} bytes)",
                file.display(),
                reply.result.get("entries").and_then(|v| v.as_u64()).unwrap_or(0),
                bytes.len()
            );
            Ok(())
        }
        Command::Restore { file, force } => {
            let cfg = load_config(&cli, false)?;
            let dir = data_dir(&cli, cfg.as_ref())?;
            if std::os::unix::net::UnixStream::connect(control::socket_path(&dir)).is_ok() {
                return Err(anyhow!("a storehub daemon runs on {}; stop it before restoring", dir.display()).into());
            }
            let mut f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
            let summary = store::backup::restore(&dir, &mut f, *force)?;
            eprintln!(
                "restored {} entries from {} (made {}) into {}",
                summary.entries,
                file.display(),
                summary.created_at,
                dir.display()
            );
            Ok(())
        }
        Command::Rollback { package, backup, for_version } => rollback(&cli, package.as_deref(), backup.as_deref(), for_version.as_deref()),
        Command::Bench { products, seconds, dir, journal_mb, only, lines } => {
            let dir = match dir.clone().or_else(|| cli.data_dir.clone()) {
                Some(d) => d,
                None => std::env::current_dir()?,
            };
            std::fs::create_dir_all(&dir)?;
            let opts = storehub::bench::BenchOptions {
                dir: dir.clone(),
                products: *products,
                phase: Duration::from_secs((*seconds).max(1)),
                lookups: 100_000,
                journal_mb: *journal_mb,
                only: only.clone(),
                lines: *lines,
            };
            let figs = storehub::bench::run(&opts, |m| eprintln!("bench: {m}"))?;
            println!("{}", storehub::bench::markdown(&figs));
            Ok(())
        }
        Command::CrashWriter { writers, sled_only: true, .. } => sled_only_writer(&cli, *writers),
        Command::CrashWriter { writers, relaxed, sales, .. } => crash_writer(&cli, *writers, *relaxed, *sales),
        Command::Verify => {
            let reply = request(&cli, Request::Verify)?;
            print_json(&reply.result)?;
            let violations = reply.result.get("violations").and_then(|v| v.as_array()).map_or(0, |v| v.len());
            if violations > 0 {
                return Err(anyhow!("verify found {violations} violation(s); see the list above").into());
            }
            Ok(())
        }
        Command::Snapshot => print_json(&request(&cli, Request::Snapshot)?.result),
        Command::Recover { dry_run } => recover(&cli, *dry_run),
    }
}

/// `storehub rollback` (storehub::upgrade). With --package, dpkg installs the older package
/// first and its binary (now /usr/bin/storehub) does the restore, so the restored database is
/// opened and audited by the version that wrote it, never migrated by this newer one.
fn rollback(cli: &Cli, package: Option<&Path>, backup: Option<&Path>, for_version: Option<&str>) -> Result<(), Failure> {
    use storehub::upgrade;
    if let Some(deb) = package {
        let fields = std::process::Command::new("dpkg-deb").args(["-f", &deb.display().to_string(), "Package", "Version"]).output().with_context(|| format!("cannot run dpkg-deb on {}", deb.display()))?;
        let text = String::from_utf8_lossy(&fields.stdout).into_owned();
        let version = text.lines().find_map(|l| l.strip_prefix("Version: ")).map(str::to_string);
        let (Some(version), true) = (version, fields.status.success() && text.contains("Package: storehub")) else {
            return Err(anyhow!("{} is not a storehub .deb ({}); give the package of the version to go back to", deb.display(), String::from_utf8_lossy(&fields.stderr).trim()).into());
        };
        eprintln!("installing {} (storehub {version}) with dpkg", deb.display());
        let installed = std::process::Command::new("dpkg").arg("-i").arg(deb).status().context("cannot run dpkg -i")?;
        if !installed.success() {
            return Err(anyhow!("dpkg -i {} failed ({installed}); the database was not touched", deb.display()).into());
        }
        let mut again = std::process::Command::new("/usr/bin/storehub");
        if let Some(c) = &cli.config {
            again.arg("--config").arg(c);
        }
        if let Some(d) = &cli.data_dir {
            again.arg("--data-dir").arg(d);
        }
        again.arg("rollback").arg("--for-version").arg(&version);
        if let Some(b) = backup {
            again.arg("--backup").arg(b);
        }
        let status = again.status().context("cannot run the installed /usr/bin/storehub rollback")?;
        return match status.code() {
            Some(0) => Ok(()),
            code => Err(Failure { code: code.and_then(|c| u8::try_from(c).ok()).unwrap_or(1), error: anyhow!("storehub {version}'s rollback failed (see above); the package {version} stays installed") }),
        };
    }
    let cfg = load_config(cli, false)?;
    let dir = data_dir(cli, cfg.as_ref())?;
    let chosen = match backup {
        Some(b) => b.to_path_buf(),
        None => {
            let version = match for_version {
                Some(v) => v.to_string(),
                None => upgrade::installed_package_version().ok_or_else(|| {
                    anyhow!("no installed storehub package found (dpkg-query -W storehub); name the version with --for-version VERSION or the file with --backup FILE")
                })?,
            };
            let found = upgrade::list(&dir).with_context(|| format!("cannot read {}", dir.join(upgrade::UPGRADES_DIR).display()))?;
            upgrade::choose(&found, &version, &dir.join(upgrade::UPGRADES_DIR)).map_err(|e| anyhow!(e))?.path.clone()
        }
    };
    let rolled = upgrade::rollback(store_options(&dir, cfg.as_ref(), None), &chosen, &control::socket_path(&dir))?;
    eprintln!(
        "rolled back {} to {} ({} entries, schema {}); the database it replaced is kept in {} as db.replaced-…{}",
        dir.display(),
        rolled.backup.display(),
        rolled.entries,
        rolled.schema_version,
        dir.display(),
        if rolled.restarted_service { "; storehub.service restarted" } else { "" }
    );
    Ok(())
}

/// `FEN` or `FEN:REFERENCE` of one tender on the command line.
fn tender_arg(kind: storehub::domain::tender::TenderKind, arg: &str) -> Result<storehub::domain::tender::Tender, Failure> {
    let (fen, reference) = match arg.split_once(':') {
        Some((f, r)) => (f, Some(r.to_string())),
        None => (arg, None),
    };
    let amount_fen: i64 = fen.parse().map_err(|_| anyhow!("{arg:?}: expected FEN or FEN:REFERENCE, e.g. 2000:POS-778812; nothing paid"))?;
    Ok(storehub::domain::tender::Tender { kind, amount_fen, reference, points: None })
}

fn lane_command(cli: &Cli, cmd: &LaneCmd) -> Result<(), Failure> {
    use control::lanes::LaneAction as A;
    use storehub::domain::tender::TenderKind as K;
    let (lane, action) = match cmd {
        LaneCmd::Show { lane } => (lane, A::Show),
        LaneCmd::SignIn { lane, staff, pin_stdin } => {
            let mut input = SecretInput::new(*pin_stdin);
            let pin = if input.interactive {
                input.prompt(&format!("PIN for {staff}: "))?
            } else {
                input.line()?.ok_or_else(|| anyhow!("no PIN on stdin: run on a terminal to be prompted, or pipe it as one line"))?
            };
            (lane, A::SignIn { staff: staff.clone(), pin: Secret::new(pin) })
        }
        LaneCmd::SignOut { lane } => (lane, A::SignOut),
        LaneCmd::Scan { lane, code } => (lane, A::Scan { code: code.clone() }),
        LaneCmd::Add { lane, sku, qty } => (lane, A::Add { sku: sku.clone(), qty: *qty }),
        LaneCmd::Weigh { lane, sku, grams } => (lane, A::Weigh { sku: sku.clone(), grams: *grams }),
        LaneCmd::Qty { lane, line, qty } => (lane, A::SetQty { line: *line, qty: *qty }),
        LaneCmd::Remove { lane, line } => (lane, A::Remove { line: *line }),
        LaneCmd::Price { lane, line, price_fen, reason, staff, pin_stdin } => {
            let mut input = SecretInput::new(*pin_stdin);
            let pin = if input.interactive {
                input.prompt(&format!("PIN for {staff}: "))?
            } else {
                input.line()?.ok_or_else(|| anyhow!("no PIN on stdin: run on a terminal to be prompted, or pipe it as one line; nothing changed"))?
            };
            (lane, A::OverridePrice { line: *line, price_fen: *price_fen, reason: reason.clone(), staff: staff.clone(), pin: Secret::new(pin) })
        }
        LaneCmd::Void { lane } => (lane, A::Void),
        LaneCmd::Member { lane, query } => (lane, A::Member { query: query.clone() }),
        LaneCmd::NoMember { lane } => (lane, A::NoMember),
        LaneCmd::Coupon { lane, code } => (lane, A::Coupon { code: code.clone() }),
        LaneCmd::Pay { lane, cash, points, stored_value, card, wechat, alipay } => {
            let mut tenders = Vec::new();
            if let Some(fen) = points {
                tenders.push(storehub::domain::tender::Tender { kind: K::Points, amount_fen: *fen, reference: None, points: None });
            }
            if let Some(fen) = stored_value {
                tenders.push(storehub::domain::tender::Tender { kind: K::StoredValue, amount_fen: *fen, reference: None, points: None });
            }
            for (kind, arg) in [(K::BankCard, card), (K::WechatPay, wechat), (K::Alipay, alipay)] {
                if let Some(a) = arg {
                    tenders.push(tender_arg(kind, a)?);
                }
            }
            // Cash last: it is the tender that gives change and takes the rounding.
            if let Some(c) = cash {
                tenders.push(storehub::domain::tender::Tender { kind: K::Cash, amount_fen: *c, reference: None, points: None });
            }
            if tenders.is_empty() {
                return Err(anyhow!("no tender: give --cash FEN and/or --card/--wechat/--alipay FEN:REF").into());
            }
            (lane, A::Pay { tenders })
        }
    };
    print_json(&request(cli, Request::Lane { lane: lane.clone(), action })?.result)
}

fn return_command(cli: &Cli, a: &ReturnArgs) -> Result<(), Failure> {
    use storehub::checkout::returns::{ReceiptlessItem, ReturnLineRequest, ReturnOf, ReturnRequest};
    let of = match a.sale {
        Some(sale_id) => {
            let mut lines = Vec::new();
            for l in &a.line {
                let parsed = l.split_once(':').and_then(|(n, q)| Some(ReturnLineRequest { line_no: n.parse().ok()?, qty: q.parse().ok()? }));
                lines.push(parsed.ok_or_else(|| anyhow!("--line {l:?}: expected LINE:QTY, e.g. 1:2; nothing returned"))?);
            }
            ReturnOf::Sale { sale_id, lines }
        }
        None => {
            let mut items = Vec::new();
            for i in &a.item {
                let parts: Vec<&str> = i.split(':').collect();
                let parsed = match parts.as_slice() {
                    [sku, qty, fen] => qty.parse().ok().zip(fen.parse().ok()).map(|(qty, refund_fen)| ReceiptlessItem { sku: sku.to_string(), qty, refund_fen }),
                    _ => None,
                };
                items.push(parsed.ok_or_else(|| anyhow!("--item {i:?}: expected SKU:QTY:REFUND_FEN, e.g. SKU-010001:2:400; nothing returned"))?);
            }
            ReturnOf::NoReceipt { items }
        }
    };
    let ret = ReturnRequest { of, lane: a.lane.clone(), by: a.by.clone(), restock: !a.no_restock, reason: a.reason.clone() };
    print_json(&request(cli, Request::Return { request: ret })?.result)
}

/// `storehub stock-analysis`: everything as JSON, or one list as JSON or CSV.
fn stock_analysis_command(cli: &Cli, list: Option<&str>, format: ExportFormat, output: Option<&Path>) -> Result<(), Failure> {
    use storehub::inventory::analysis;
    if matches!(format, ExportFormat::Csv) && list.is_none() {
        return Err(anyhow!("--format csv needs one list: --list {}", analysis::LISTS.join("|")).into());
    }
    let reply = request(cli, Request::StockAnalysis { list: None })?;
    let a: analysis::StockAnalysis = serde_json::from_value(reply.result.clone())?;
    let mut buf = Vec::new();
    let rows = match (list, format) {
        (Some(l), ExportFormat::Csv) => {
            analysis::write_csv(&a, l, &mut buf)?;
            ops::analysis_rows(&reply.result, l).as_array().map_or(0, Vec::len)
        }
        (Some(l), ExportFormat::Json) => {
            let rows = ops::analysis_rows(&reply.result, l);
            serde_json::to_writer_pretty(&mut buf, &rows)?;
            buf.push(b'\n');
            rows.as_array().map_or(0, Vec::len)
        }
        (None, _) => {
            serde_json::to_writer_pretty(&mut buf, &reply.result)?;
            buf.push(b'\n');
            a.classes.len()
        }
    };
    write_export(&buf, output, rows, "rows")
}

/// Pretty JSON of export rows, with a final newline.
/// `storehub forecast`: a series file is forecast here (no store needed); a SKU through the
/// control ops (daemon or not).
fn forecast_command(cli: &Cli, a: &ForecastArgs) -> Result<(), Failure> {
    use storehub::domain::forecast::Method;
    use storehub::inventory::replenishment as rep;
    if a.horizon == 0 || a.horizon > 365 {
        return Err(anyhow!("--horizon: expected 1 to 365 days, got {}", a.horizon).into());
    }
    let method = match a.method {
        ForecastMethodArg::Auto => None,
        ForecastMethodArg::Naive => Some(Method::Naive),
        ForecastMethodArg::Ses => Some(Method::Ses),
        ForecastMethodArg::HoltWinters => Some(Method::HoltWinters),
        ForecastMethodArg::Croston => Some(Method::Croston),
        ForecastMethodArg::Sba => Some(Method::Sba),
        ForecastMethodArg::Tsb => Some(Method::Tsb),
    };
    let report: rep::ForecastReport = match (&a.sku, &a.series_file) {
        (Some(sku), _) => {
            let req = Request::Forecast { sku: sku.clone(), method, horizon: a.horizon, alpha: a.alpha, alpha_d: a.alpha_d, alpha_p: a.alpha_p };
            serde_json::from_value(request(cli, req)?.result)?
        }
        (None, Some(file)) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let (first, qty) = storehub::inventory::demand::parse_series_file(&bytes, &name).map_err(|r| anyhow!("{r}"))?;
            let cfg = load_config(cli, false)?;
            let mut opts = rep::forecast_options(&cfg.map(|c| c.stock).unwrap_or_default());
            opts.alpha = a.alpha.unwrap_or(opts.alpha);
            opts.alpha_d = a.alpha_d.unwrap_or(opts.alpha_d);
            opts.alpha_p = a.alpha_p.unwrap_or(opts.alpha_p);
            rep::forecast_report(None, first, &qty, None, method, a.horizon as usize, &opts).map_err(|e| anyhow!("{name}: {e}"))?
        }
        (None, None) => return Err(anyhow!("give --sku SKU or --series-file FILE.csv").into()),
    };
    match a.format {
        TableOrJson::Json => print_json(&serde_json::to_value(&report)?),
        TableOrJson::Table => write_stdout(rep::render_forecast(&report).as_bytes()),
    }
}

/// `storehub replenishment …`, through the control ops (daemon or not).
fn replenishment_command(cli: &Cli, cmd: &ReplenishmentCmd) -> Result<(), Failure> {
    use storehub::inventory::{policy, replenishment as rep};
    match cmd {
        ReplenishmentCmd::Run { date } => print_json(&request(cli, Request::ReplenishmentRun { date: *date })?.result),
        ReplenishmentCmd::List { urgent, supplier, format, output } => {
            let reply = request(cli, Request::ReplenishmentList { urgent: *urgent, supplier: supplier.clone() })?;
            if reply.result["run"].is_null() {
                eprintln!("no replenishment run yet; `storehub replenishment run` makes one");
            }
            let lines: Vec<rep::SuggestionLine> = serde_json::from_value(reply.result["lines"].clone())?;
            let mut buf = Vec::new();
            match format {
                ExportFormat::Csv => rep::write_suggestions_csv(&lines, &mut buf)?,
                ExportFormat::Json => json_rows(&lines, &mut buf)?,
            }
            write_export(&buf, output.as_deref(), lines.len(), "suggestion lines")
        }
        ReplenishmentCmd::Policy(PolicyCmd::Set { sku, supplier, lead_time_days, review_period_days, pack_size, moq, service_level, reset }) => {
            let service_level_bp = match service_level {
                None => None,
                Some(v) => Some(policy::percent_bp(v).ok_or_else(|| anyhow!("--service-level: expected a percentage such as 98 or 97.5, got {v:?}"))?),
            };
            let patch = policy::SkuSettings {
                supplier: supplier.clone(),
                lead_time_days: *lead_time_days,
                review_period_days: *review_period_days,
                pack_size: *pack_size,
                moq: *moq,
                service_level_bp,
            };
            print_json(&request(cli, Request::PolicySet { sku: sku.clone(), patch, reset: *reset })?.result)
        }
        ReplenishmentCmd::Policy(PolicyCmd::Supplier { id, lead_time_days, review_period_days, moq }) => {
            let terms = policy::SupplierTerms { lead_time_days: *lead_time_days, review_period_days: *review_period_days, moq: *moq };
            print_json(&request(cli, Request::SupplierTermsSet { supplier: id.clone(), terms })?.result)
        }
        ReplenishmentCmd::Policy(PolicyCmd::Show { sku }) => print_json(&request(cli, Request::PolicyShow { sku: sku.clone() })?.result),
        ReplenishmentCmd::Policy(PolicyCmd::Import { file }) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let rows = policy::parse_policy_csv(&bytes, &name).map_err(|r| anyhow!("{r}\nnothing imported"))?;
            print_json(&request(cli, Request::PolicyImport { file_name: name, rows })?.result)
        }
    }
}

fn json_rows<T: serde::Serialize>(rows: &[T], buf: &mut Vec<u8>) -> Result<(), Failure> {
    serde_json::to_writer_pretty(&mut *buf, rows)?;
    buf.push(b'\n');
    Ok(())
}

/// Writes an export to `output` (saying how many rows) or to stdout.
fn write_export(buf: &[u8], output: Option<&Path>, rows: usize, what: &str) -> Result<(), Failure> {
    match output {
        Some(path) => {
            std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("exported {rows} {what} to {}", path.display());
            Ok(())
        }
        None => write_stdout(buf),
    }
}

fn member_command(cli: &Cli, cmd: &MemberCmd) -> Result<(), Failure> {
    let req = match cmd {
        MemberCmd::Add { phone, name, birthday, gender, channel, referral_code, sms_consent, wechat_consent, staff } => {
            let new = NewMember {
                phone: phone.clone(),
                name: name.clone(),
                gender: *gender,
                birthday: *birthday,
                channel: channel.unwrap_or(if referral_code.is_some() { Channel::Referral } else { Channel::InStore }),
                consent_sms: *sms_consent,
                consent_wechat: *wechat_consent,
                referral_code: referral_code.clone(),
            };
            // Checked before any database is opened or created: a refused member writes nothing.
            let rules = load_config(cli, false)?.as_ref().map(LoyaltyRules::for_shop).unwrap_or_default();
            members::check_new_member(&new, rules.today(clock::system().now()))
                .map_err(|e| anyhow!("{e}; nothing written"))?;
            match staff {
                Some(staff) => Request::MemberAddBy { member: new, staff: staff.clone() },
                None => Request::MemberAdd { member: new },
            }
        }
        MemberCmd::Show { query } => Request::MemberShow { query: query.clone() },
        MemberCmd::Topup { query, fen, by, reference } => {
            Request::MemberTopup { query: query.clone(), fen: *fen, by: by.clone(), reference: reference.clone() }
        }
        MemberCmd::Points { query } => Request::MemberPoints { query: query.clone() },
        MemberCmd::Profile { all: true, .. } => Request::MemberProfilesRebuild,
        MemberCmd::Profile { query, rebuild, .. } => Request::MemberProfile { query: query.clone().unwrap_or_default(), rebuild: *rebuild },
        MemberCmd::Adjust { query, points, reason, by } => {
            Request::MemberAdjust { query: query.clone(), points: *points, reason: reason.clone(), by: by.clone() }
        }
        MemberCmd::Merge { from, into, staff } => Request::MemberMerge { from: from.clone(), into: into.clone(), staff: staff.clone() },
        MemberCmd::Export { query, staff } => Request::MemberExport { query: query.clone(), staff: staff.clone() },
        MemberCmd::Erase { query, staff } => Request::MemberErase { query: query.clone(), staff: staff.clone() },
    };
    print_json(&request(cli, req)?.result)
}

fn staff_command(cli: &Cli, cmd: &StaffCmd) -> Result<(), Failure> {
    let req = match cmd {
        StaffCmd::Add { id, name, role, password_stdin, pin_stdin } => {
            let new = storehub::staff::NewStaff { id: id.clone(), name: name.clone().unwrap_or_else(|| id.clone()), role: *role };
            storehub::staff::check_new_staff(&new)?;
            let mut input = SecretInput::new(*password_stdin);
            let password = input.read("password", id, check_password)?;
            let pin = if *pin_stdin { Some(input.read("PIN", id, check_pin)?) } else { None };
            Request::StaffAdd { id: new.id, name: new.name, role: new.role, password, pin }
        }
        StaffCmd::List => Request::StaffList,
        StaffCmd::Passwd { id, password_stdin } => {
            let password = SecretInput::new(*password_stdin).read("password", id, check_password)?;
            Request::StaffPasswd { id: id.clone(), password }
        }
        StaffCmd::Pin { id, clear: true, .. } => Request::StaffPin { id: id.clone(), pin: None },
        StaffCmd::Pin { id, pin_stdin, .. } => {
            let pin = SecretInput::new(*pin_stdin).read("PIN", id, check_pin)?;
            Request::StaffPin { id: id.clone(), pin: Some(pin) }
        }
        StaffCmd::Unlock { id } => Request::StaffUnlock { id: id.clone() },
        StaffCmd::Role { id, role } => Request::StaffRole { id: id.clone(), role: *role },
        StaffCmd::Deactivate { id } => Request::StaffDeactivate { id: id.clone() },
        StaffCmd::Performance { period, staff } => perf_request(PerfRequest::Show { period: period.clone(), staff: staff.clone() }),
        StaffCmd::Target(TargetCmd::Set { staff, period, sales_fen, tickets, new_members, by }) => {
            let target = storehub::domain::performance::Target { sales_fen: *sales_fen, tickets: *tickets, new_members: *new_members };
            perf_request(PerfRequest::TargetSet { staff: staff.clone(), period: period.clone(), target, by: by.clone() })
        }
        StaffCmd::Target(TargetCmd::List { period }) => perf_request(PerfRequest::Targets { period: period.clone() }),
        StaffCmd::Commission(CommissionCmd::Rules(CommissionRulesCmd::Show)) => perf_request(PerfRequest::RulesShow),
        StaffCmd::Commission(CommissionCmd::Rules(CommissionRulesCmd::Set { default_bp, categories, per_member_fen, topup_bp, by })) => {
            let mut rules = storehub::domain::commission::CommissionRules {
                default_rate_bp: *default_bp,
                per_new_member_fen: *per_member_fen,
                topup_rate_bp: *topup_bp,
                ..Default::default()
            };
            for c in categories {
                let (name, bp) = c
                    .split_once('=')
                    .and_then(|(n, bp)| Some((n.trim().to_string(), bp.trim().parse::<i64>().ok()?)))
                    .ok_or_else(|| anyhow!("--category {c:?}: expected CATEGORY=BP, e.g. 饮料=300 (3 %); nothing written"))?;
                if rules.category_rates.insert(name.clone(), bp).is_some() {
                    return Err(anyhow!("--category {name}: given twice; nothing written").into());
                }
            }
            perf_request(PerfRequest::RulesSet { rules, by: by.clone() })
        }
        StaffCmd::Commission(CommissionCmd::Show { period }) => perf_request(PerfRequest::Commission { period: period.clone(), csv: false }),
        StaffCmd::Commission(CommissionCmd::Export { period, output }) => {
            let reply = request(cli, perf_request(PerfRequest::Commission { period: period.clone(), csv: true }))?;
            let buf = reply.payload.ok_or_else(|| anyhow!("no CSV came back"))?;
            let rows = usize::try_from(reply.result["rows"].as_u64().unwrap_or(0)).unwrap_or(0);
            return write_export(&buf, output.as_deref(), rows, "staff commission rows");
        }
    };
    print_json(&request(cli, req)?.result)
}

fn perf_request(request: PerfRequest) -> Request {
    Request::Performance { request }
}

fn shift_command(cli: &Cli, cmd: &ShiftCmd) -> Result<(), Failure> {
    match cmd {
        ShiftCmd::Open { lane, staff, float_fen } => {
            let req = Request::ShiftOpen { lane: lane.clone(), staff: staff.clone(), float_fen: *float_fen };
            print_json(&request(cli, req)?.result)
        }
        ShiftCmd::Close { id, counted_fen, by } => {
            let reply = request(cli, Request::ShiftClose { id: *id, counted_fen: *counted_fen, by: by.clone() })?;
            print_json(&reply.result)?;
            let closed = &reply.result["closed"];
            if let (Some(expected), Some(difference)) = (closed["expected_fen"].as_i64(), closed["difference_fen"].as_i64()) {
                eprintln!(
                    "shift {id} closed: expected {}, counted {}: {}",
                    storehub::domain::money::format_yuan(expected),
                    storehub::domain::money::format_yuan(*counted_fen),
                    describe_difference(difference)
                );
            }
            Ok(())
        }
        ShiftCmd::Show { id, lane } => print_json(&request(cli, Request::ShiftShow { id: *id, lane: lane.clone() })?.result),
    }
}

/// Where staff secrets come from: stdin, never argv. On a terminal (unless a `--…-stdin` flag
/// says the input is piped) each secret is prompted for on stderr with echo off and typed twice;
/// otherwise each is one line of stdin. Each is checked against its rule as soon as it is read.
struct SecretInput {
    interactive: bool,
    stdin: std::io::StdinLock<'static>,
}

impl SecretInput {
    fn new(no_prompt: bool) -> SecretInput {
        let stdin = std::io::stdin();
        SecretInput { interactive: !no_prompt && stdin.is_terminal(), stdin: stdin.lock() }
    }

    fn read(&mut self, what: &str, id: &str, rule: fn(&str) -> Result<(), CredentialError>) -> Result<Secret, Failure> {
        let value = if self.interactive {
            self.prompt(&format!("{what} for {id}: "))?
        } else {
            self.line()?.ok_or_else(|| {
                anyhow!("no {what} on stdin: run on a terminal to be prompted, or pipe it as one line (e.g. `printf '%s\\n' \"$SECRET\" | storehub staff …`); nothing changed")
            })?
        };
        rule(&value).map_err(|e| anyhow!("{e}; nothing changed"))?;
        if self.interactive && self.prompt(&format!("{what} for {id} again: "))? != value {
            return Err(anyhow!("the two {what}s differ; nothing changed").into());
        }
        Ok(Secret::new(value))
    }

    /// One line without its line ending; `None` at the end of input.
    fn line(&mut self) -> Result<Option<String>, Failure> {
        use std::io::BufRead;
        let mut line = String::new();
        if self.stdin.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        Ok(Some(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string()))
    }

    fn prompt(&mut self, prompt: &str) -> Result<String, Failure> {
        eprint!("{prompt}");
        let line = {
            let _quiet = EchoOff::new();
            self.line()?
        };
        eprintln!();
        line.ok_or_else(|| anyhow!("input ended at the prompt \"{}\"; nothing changed", prompt.trim_end()).into())
    }
}

/// Turns off the terminal's echo on stdin while it lives, so a typed password does not show.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        let mut saved = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr writes a whole termios through the valid pointer or fails; the value
        // is read only when it succeeded.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, saved.as_mut_ptr()) } != 0 {
            return EchoOff(None);
        }
        // SAFETY: initialised by the successful tcgetattr above.
        let saved = unsafe { saved.assume_init() };
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: a valid termios for stdin, derived from the one the terminal gave.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
        EchoOff(Some(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the termios read from this terminal.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved) };
        }
    }
}

fn recover(cli: &Cli, dry_run: bool) -> Result<(), Failure> {
    let cfg = load_config(cli, false)?;
    let dir = data_dir(cli, cfg.as_ref())?;
    if std::os::unix::net::UnixStream::connect(control::socket_path(&dir)).is_ok() {
        return Err(anyhow!("a storehub daemon runs on {}; stop it before recovering", dir.display()).into());
    }
    let (plan, entries) = store::snapshot::plan_recovery(&dir)?;
    if dry_run {
        eprintln!("dry run: nothing changed. `storehub recover` would:");
        return print_json(&serde_json::json!({ "plan": plan }));
    }
    let aside = store::snapshot::rebuild_from_snapshot(&dir, &plan, entries)?;
    let store = open_store(store_options(&dir, cfg.as_ref(), None))?;
    let replayed = store.replayed();
    let report = storehub::verify::verify(&store)?;
    let outbox = store.outbox_stats()?;
    print_json(&serde_json::json!({
        "plan": plan,
        "damaged_database_kept_at": aside.display().to_string(),
        "journal_records_reapplied": replayed.records,
        "journal_last_seq": replayed.last_seq,
        "stock_moves": report.moves,
        "outbox": outbox,
        "verify": report,
    }))?;
    if !report.ok() {
        return Err(anyhow!("recovered, but verify found {} violation(s); see the list above", report.violations.len()).into());
    }
    eprintln!("recovered: snapshot {} + {} journal records; the damaged database is kept at {}", plan.snapshot, replayed.records, aside.display());
    Ok(())
}

/// `storehub import transactions`: checks the file's format here, then the members and dates
/// in the store (daemon or direct); any error writes nothing.
fn import_transactions(cli: &Cli, file: &Path, count_for_tiers: bool) -> Result<(), Failure> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    let cfg = load_config(cli, false)?;
    let tz = cfg.as_ref().map_or(chrono_tz::Asia::Shanghai, |c| c.timezone());
    let rows = members::history::parse_history(&bytes, &name, tz)
        .map_err(|report| anyhow!("{report}\nnothing imported"))?;
    let sha256 = members::history::file_sha256(&bytes);
    let reply = request(cli, Request::ImportTransactions { file_name: name, sha256, rows, count_for_tiers })?;
    print_json(&reply.result)
}

fn import_catalog(cli: &Cli, file: &Path) -> Result<(), Failure> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    let products = catalog::csv::parse_catalog(&bytes, &name).map_err(|report| anyhow!("{report}\nnothing imported"))?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("importing {} products …", products.len()));
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let n = products.len();
    let cfg = load_config(cli, false)?;
    let dir = data_dir(cli, cfg.as_ref())?;
    let req = Request::ImportCatalog { products };
    let result = match client::try_call(&control::socket_path(&dir), &req) {
        client::Attempt::Answered(r) => r.map_err(|e| anyhow!(e))?.result,
        client::Attempt::NoDaemon => {
            // Direct mode: real progress by chunk.
            let store = open_store(store_options(&dir, cfg.as_ref(), None))?;
            let Request::ImportCatalog { products } = req else { unreachable!("built above") };
            let conflicts = catalog::conflicts_with_store(&store, &products)?;
            if !conflicts.is_empty() {
                let lines: Vec<String> = conflicts.iter().map(|c| format!("{name}: {c}")).collect();
                return Err(anyhow!("{}\nnothing imported", lines.join("\n")).into());
            }
            if let Some(b) = &bar {
                b.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} products").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
                b.set_length(n as u64);
            }
            let summary = catalog::upsert_products(&store, &products, 1000, |done| {
                if let Some(b) = &bar {
                    b.set_position(done as u64);
                }
            })
            .map_err(|e| anyhow!("{e}"))?;
            serde_json::to_value(summary)?
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    eprintln!(
        "imported {n} products from {name}: {} new, {} changed, {} unchanged",
        result.get("created").and_then(|v| v.as_u64()).unwrap_or(0),
        result.get("updated").and_then(|v| v.as_u64()).unwrap_or(0),
        result.get("unchanged").and_then(|v| v.as_u64()).unwrap_or(0)
    );
    Ok(())
}

/// The demo's simulated devices, and how often its scripted shopper comes.
type DemoRig = (Arc<demo::devices::DemoDevices>, Option<Duration>);

fn serve(cli: &Cli, mut cfg: Config, is_demo: bool, simulate_sales: Option<f64>, rig: Option<DemoRig>) -> Result<(), Failure> {
    // Broken TLS files stop the daemon before it opens anything.
    if cfg.mqtt.enabled && cfg.mqtt.url.as_ref().is_some_and(|u| u.tls()) {
        storehub::cloud::tls::client_config(&cfg.mqtt).map_err(config_failure)?;
    }
    let dir = data_dir(cli, Some(&cfg))?;
    let store = Arc::new(open_store(store_options(&dir, Some(&cfg), None))?);
    // Settings HQ changed with `config.patch` (whitelisted keys) apply over the file's.
    let overrides = storehub::cloud::commands::load_overrides(&store)?;
    for note in storehub::cloud::commands::apply_overrides(&mut cfg, &overrides) {
        tracing::info!("{note}");
    }
    if is_demo {
        let seeded = demo::seed(&store)?;
        if seeded {
            tracing::info!("demo catalog and opening stock loaded");
        }
        demo::seed_staff(&store)?;
        eprintln!(
            "storehub demo: {} — {} products, data in {}\n  try: storehub --data-dir {} stock show | head\n       storehub --data-dir {} barcode lookup 2510001012509   (1.250 kg of 富士苹果)\n       storehub --data-dir {} backup demo.backup\n  Ctrl-C stops.",
            cfg.store.name,
            catalog::product_count(&store),
            dir.display(),
            dir.display(),
            dir.display(),
            dir.display()
        );
    }
    tracing::info!(
        chain = cfg.store.chain_id.as_str(),
        store = cfg.store.store_id.as_str(),
        hub = cfg.store.hub_id.as_str(),
        data_dir = %dir.display(),
        durability = ?store.options().durability,
        "storehub started"
    );
    let ctx = context(Some(&cfg));
    let snapshots = (cfg.data.snapshot_interval_minutes > 0).then(|| daemon::Snapshots {
        every: Duration::from_secs(u64::from(cfg.data.snapshot_interval_minutes) * 60),
        keep: cfg.data.snapshots_keep as usize,
    });
    // Simulated shoppers (demo only) share the daemon's lanes and stop between two sales.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counters = Arc::new(demo::simulate::Counters::default());
    // Lanes with a scripted device shopper are not used by the simulated shoppers.
    let device_lanes: Vec<String> = match &rig {
        Some((_, Some(_))) => cfg.devices.iter().filter(|d| d.kind == config::DeviceKind::Scanner).filter_map(|d| d.lane.as_ref().map(|l| l.as_str().to_string())).collect(),
        _ => Vec::new(),
    };
    let simulator = match (simulate_sales, ctx.checkout.clone()) {
        (Some(rate), Some(setup)) if rate > 0.0 => {
            let lanes = ctx.lanes.get(&store, &setup, &ctx.layouts).map_err(|e| anyhow!(e))?;
            let (store, stop, counters, loyalty, device_lanes) = (Arc::clone(&store), Arc::clone(&stop), Arc::clone(&counters), ctx.loyalty.clone(), device_lanes.clone());
            eprintln!("  simulating {rate} sales per second on {} lane(s)", setup.lane_ids.len());
            Some(std::thread::spawn(move || {
                let rules = || control::lanes::rules(&store, &setup, &loyalty).map_err(|e| anyhow!(e));
                if let Err(e) = demo::simulate::run(Arc::clone(&store), lanes, rules, rate, &device_lanes, stop, counters) {
                    tracing::error!(error = %e, "sales simulation stopped");
                }
            }))
        }
        _ => None,
    };
    let devices = daemon::start_devices(&cfg, &store, &ctx)?;
    // The demo's simulated devices live as long as the daemon, shopper or not (dropping them
    // closes their ports: the hub would see every device unplugged).
    let _demo_devices = rig.as_ref().map(|(d, _)| Arc::clone(d));
    let shopper = match (rig, ctx.checkout.clone(), device_lanes.first()) {
        (Some((rig, Some(every))), Some(setup), Some(lane)) => {
            let lanes = ctx.lanes.get(&store, &setup, &ctx.layouts).map_err(|e| anyhow!(e))?;
            let (store, stop, loyalty, lane) = (Arc::clone(&store), Arc::clone(&stop), ctx.loyalty.clone(), lane.clone());
            eprintln!("  a shopper comes to {lane} every {:.1} s: simulated scanner, scale and printer (receipts in {})", every.as_secs_f64(), rig.receipts.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            let counters = Arc::new(demo::devices::ShopperCounters::default());
            Some(std::thread::spawn(move || {
                if let Err(e) = demo::devices::run_shopper(store, lanes, setup, loyalty, rig, lane, every, stop, counters) {
                    tracing::error!(error = %e, "demo shopper stopped");
                }
            }))
        }
        _ => None,
    };
    storehub::disk_guard::spawn(Arc::clone(&store), cfg.disk).map_err(|e| anyhow!("cannot start the disk guard: {e}"))?;
    let relay = if cfg.mqtt.enabled {
        let relay = storehub::cloud::relay::Relay::new(&cfg, Arc::clone(&store), ctx.devices.get().cloned(), ctx.started_at);
        let config_text = if is_demo { None } else { config_file(cli).and_then(|p| std::fs::read_to_string(p).ok()) };
        Some(relay.map_err(config_failure)?.with_config_text(config_text))
    } else {
        None
    };
    let web = if cfg.web.enabled {
        let listener = std::net::TcpListener::bind(cfg.web.listen).map_err(|e| {
            config_failure(anyhow!("[web].listen {}: cannot listen there: {e}; set another address in [web].listen or pass --listen ADDR", cfg.web.listen))
        })?;
        let tls = if cfg.web.https {
            let mut names = Vec::new();
            if !cfg.web.listen.ip().is_unspecified() {
                names.push(cfg.web.listen.ip().to_string());
            }
            if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
                let h = h.trim().to_string();
                names.push(format!("{h}.local"));
                names.push(h);
            }
            Some(storehub::web::tls::server_config(cfg.web.cert_file.as_deref(), cfg.web.key_file.as_deref(), &dir, &names).map_err(config_failure)?)
        } else {
            None
        };
        if is_demo {
            let addr = listener.local_addr()?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            let accounts: Vec<String> = demo::DEMO_ACCOUNTS
                .iter()
                .map(|(id, _, role)| format!("    {:<10} {id} / {}{}", role.as_str(), demo::DEMO_PASSWORD, if *role == storehub::domain::staff::Role::Technician { String::new() } else { format!("  (PIN {})", demo::DEMO_PIN) }))
                .collect();
            eprintln!("storehub demo: pages on {scheme}://{addr}/  — demo accounts (id / password):\n{}", accounts.join("\n"));
        }
        Some(daemon::Web { listener, settings: storehub::web::Settings::from_config(&cfg, cfg.web.https), tls })
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = rt.block_on(daemon::run(store, ctx, snapshots, relay, web));
    if let Some(d) = devices {
        d.stop();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = shopper {
        let _ = h.join();
    }
    if let Some(h) = simulator {
        let _ = h.join();
        let c = &counters;
        tracing::info!(
            sales = c.sales.load(std::sync::atomic::Ordering::Relaxed),
            returns = c.returns.load(std::sync::atomic::Ordering::Relaxed),
            refused = c.refused.load(std::sync::atomic::Ordering::Relaxed),
            "sales simulation stopped"
        );
    }
    result?;
    Ok(())
}

/// Test helper for the crash tests: `writers` threads commit stock moves (durable unless
/// `relaxed`) and print `ack <move id> <sku> <delta>` after each commit returns.
fn crash_writer(cli: &Cli, writers: usize, relaxed: bool, sales: bool) -> Result<(), Failure> {
    let dir = data_dir(cli, None)?;
    let mode = if relaxed { Durability::Relaxed } else { Durability::Durable };
    let mut opts = store_options(&dir, None, Some(mode));
    opts.source = Some("/storehub/test/crash/hub".into());
    let store = Arc::new(open_store(opts)?);
    let skus: Vec<String> = (0..4).map(|i| format!("CRASH-{i}")).collect();
    for sku in &skus {
        if catalog::product(&store, sku)?.is_none() {
            let mut p = storehub::bench::synthetic_product(0);
            p.sku = sku.clone();
            p.barcodes.clear();
            catalog::upsert_products(&store, &[p], 1, |_| {}).map_err(|e| anyhow!("{e}"))?;
        }
    }
    let writers = writers.max(1);
    let lane_ids: Vec<String> = (0..writers).map(|w| format!("lane-{w}")).collect();
    let lanes = if sales {
        let cashier = storehub::staff::StaffRef { id: "crash".into(), name: "crash".into(), role: storehub::domain::staff::Role::Cashier };
        if storehub::staff::account(&store, "crash")?.is_none() {
            let new = storehub::staff::NewStaff { id: cashier.id.clone(), name: cashier.name.clone(), role: cashier.role };
            storehub::staff::create_staff(&store, &new, "crash-test-only", None, &storehub::staff::HashCost::minimal_for_tests())
                .map_err(|e| anyhow!("{e}"))?;
        }
        for lane in &lane_ids {
            if storehub::staff::open_shift_for_lane(&store, lane)?.is_none() {
                storehub::staff::open_shift(&store, lane, "crash", 10_000).map_err(|e| anyhow!("{e}"))?;
            }
        }
        let lanes = storehub::checkout::Lanes::open(Arc::clone(&store), &lane_ids, Vec::new(), 300)?;
        let loyalty = storehub::members::LoyaltyRules::default();
        for (w, lane) in lane_ids.iter().enumerate() {
            lanes.sign_in(lane, &cashier)?;
            // One member per lane, who pays every other sale (and earns points on it).
            let phone = format!("1380000{w:04}");
            if storehub::members::find(&store, &phone)?.is_none() {
                let new = storehub::members::NewMember {
                    phone,
                    name: format!("crash {w}"),
                    gender: None,
                    birthday: None,
                    channel: storehub::members::Channel::InStore,
                    consent_sms: false,
                    consent_wechat: false,
                    referral_code: None,
                };
                storehub::members::register(&store, &new, &loyalty).map_err(|e| anyhow!("{e}"))?;
            }
        }
        Some(lanes)
    } else {
        None
    };
    println!("ready");
    std::io::stdout().flush()?;
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (store, skus, lanes, lane) = (Arc::clone(&store), skus.clone(), lanes.clone(), lane_ids[w].clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut rng = fastrand::Rng::with_seed(w as u64 + u64::from(std::process::id()));
                let rules = storehub::checkout::SaleRules {
                    cash_rounding: storehub::domain::tender::CashRounding::None,
                    promotions: Vec::new(),
                    tz: chrono_tz::Asia::Shanghai,
                    loyalty: storehub::members::LoyaltyRules::default(),
                };
                let phone = format!("1380000{w:04}");
                loop {
                    if let (Some(lanes), true) = (&lanes, rng.bool()) {
                        // A whole sale: a fresh cart of 1–3 products, paid in cash or by card.
                        lanes.void(&lane)?;
                        if rng.bool() {
                            lanes.attach_member(&lane, &phone)?;
                        }
                        for _ in 0..rng.usize(1..=3) {
                            lanes.add_sku(&lane, &skus[rng.usize(..skus.len())], rng.i64(1..=5))?;
                        }
                        let total = lanes.quote(&lane, &rules)?.total_fen;
                        let tender = if rng.bool() {
                            storehub::domain::tender::Tender { kind: storehub::domain::tender::TenderKind::Cash, amount_fen: total, reference: None, points: None }
                        } else {
                            storehub::domain::tender::Tender { kind: storehub::domain::tender::TenderKind::BankCard, amount_fen: total, reference: Some(format!("POS-{w}")), points: None }
                        };
                        let sale = lanes.pay(&lane, &storehub::checkout::PayRequest { tenders: vec![tender] }, &rules)?;
                        let moves: Vec<String> = sale.stock_moves.iter().map(u64::to_string).collect();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "sale {} {} {} {} {}", sale.id, sale.receipt_no, sale.priced.total_fen, moves.join(","), sale.points_earned)?;
                        out.flush()?;
                        continue;
                    }
                    let kind = if rng.bool() { MoveKind::Receipt } else { MoveKind::Sale };
                    let m = NewMove {
                        sku: skus[rng.usize(..skus.len())].clone(),
                        kind,
                        qty: rng.i64(1..=20),
                        reason: "crash test".into(),
                        user: format!("writer-{w}"),
                        reference: None,
                    };
                    let mv = inventory::move_stock(&store, &m).map_err(|e| anyhow!("{e}"))?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {} {} {}", mv.id, mv.sku, mv.delta)?;
                    out.flush()?;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| anyhow!("writer panicked"))??;
    }
    Err(anyhow!("writers stopped").into())
}

/// The crash writer without storehub's store: `writers` threads each take the next move id,
/// commit the move and the product's new on-hand in one sled transaction over the `moves` and
/// `stock` trees of a plain sled database (default config) in DATA_DIR/sled-only, call
/// `flush()` (documented by sled as "calls fsync"), then print `ack <move id> <sku> <delta>`.
/// A move is stored as `"<sku> <delta>"` under its id (u64 big-endian), on-hand as i64 big-endian.
fn sled_only_writer(cli: &Cli, writers: usize) -> Result<(), Failure> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use sled::Transactional as _;

    let dir = data_dir(cli, None)?;
    let path = dir.join("sled-only");
    // Set-up, not part of any commit, the same the store gives its own sled at open: the
    // directories, and every file sled created or rewrote, fsynced once (sled never fsyncs a
    // directory nor its `conf` file). So the only difference from the store is the journal.
    store::create_dir_durable(&path)?;
    let db = sled::open(&path).with_context(|| format!("sled cannot open {}", path.display()))?;
    let (moves, stock) = (db.open_tree("moves")?, db.open_tree("stock")?);
    store::backup::fsync_tree(&path)?;
    let last = match moves.last()? {
        Some((k, _)) => k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0),
        None => 0,
    };
    let next = Arc::new(AtomicU64::new(last + 1));
    println!("ready");
    std::io::stdout().flush()?;
    let handles: Vec<_> = (0..writers.max(1))
        .map(|w| {
            let (db, moves, stock, next) = (db.clone(), moves.clone(), stock.clone(), Arc::clone(&next));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut rng = fastrand::Rng::with_seed(w as u64 + u64::from(std::process::id()));
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    let sku = format!("CRASH-{}", rng.usize(..4));
                    let qty = rng.i64(1..=20);
                    let delta = if rng.bool() { qty } else { -qty };
                    (&moves, &stock)
                        .transaction(|(m, s)| {
                            let on_hand = s
                                .get(sku.as_bytes())?
                                .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
                                .unwrap_or(0);
                            s.insert(sku.as_bytes(), &(on_hand + delta).to_be_bytes())?;
                            m.insert(&id.to_be_bytes(), format!("{sku} {delta}").as_bytes())?;
                            Ok(())
                        })
                        .map_err(|e: sled::transaction::TransactionError<()>| anyhow!("sled transaction: {e:?}"))?;
                    db.flush()?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {id} {sku} {delta}")?;
                    out.flush()?;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| anyhow!("writer panicked"))??;
    }
    Err(anyhow!("writers stopped").into())
}

/// `storehub provision …`: the plan from a file, flags or prompts, applied by
/// `storehub::provision`; this only reads the terminal and prints.
fn provision_command(cli: &Cli, a: &ProvisionArgs) -> Result<(), Failure> {
    let config = cli
        .config
        .clone()
        .or_else(|| a.etc_dir.as_ref().map(|d| d.join("storehub.toml")))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let etc_dir = a.etc_dir.clone().unwrap_or_else(|| config.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/etc/storehub")));
    let target = provisioning::Target { config, etc_dir };
    match &a.cmd {
        Some(ProvisionCmd::Cert { file, skip_ca_check }) => {
            let at = provisioning::install_cert(&target, file, *skip_ca_check)?;
            println!("证书已安装 / certificate installed: {} ({} updated; restart storehub to use it)", at.display(), target.config.display());
            return Ok(());
        }
        Some(ProvisionCmd::Usb { device, run_dir }) => {
            let dev = device.display().to_string();
            let result = provisioning::usb::apply_device(device, run_dir, &target);
            let line = provisioning::usb::report_line(&dev, &result);
            println!("{line}");
            if let Ok(provisioning::usb::UsbResult::Applied { plan, .. }) = &result {
                provisioning::usb::log_line(&plan.data_dir, &line);
            }
            return result.map(|_| ()).map_err(Failure::from);
        }
        None => {}
    }
    let plan = if let Some(file) = &a.file {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        provisioning::plan::parse_file(&text, &file.display().to_string(), &base).map_err(|e| anyhow!("{e}; nothing was written"))?
    } else if a.chain_id.is_some() || a.store_id.is_some() || a.broker.is_some() {
        provision_flags(cli, a)?
    } else {
        let stdin = std::io::stdin();
        let terminal = stdin.is_terminal();
        provisioning::prompt::ask(&mut stdin.lock(), &mut std::io::stdout(), terminal, &std::env::current_dir()?)?
    };
    let outcome = provisioning::apply(&plan, &target, a.force, "cli")?;
    print!("{}", outcome.doctor_text);
    println!();
    print!("{}", provisioning::summary(&plan, &outcome));
    Ok(())
}

/// The flags as a provision table (secrets from stdin lines), checked like a file.
fn provision_flags(cli: &Cli, a: &ProvisionArgs) -> Result<provisioning::plan::Plan, Failure> {
    let mut lines = std::io::stdin().lines();
    let mut read_secret = |flag: &str| -> Result<String, Failure> {
        match lines.next() {
            Some(Ok(l)) => Ok(l.trim_end_matches('\r').to_string()),
            _ => Err(anyhow!("{flag}: expected a line on stdin, got none; nothing was written").into()),
        }
    };
    let admin_pw = if a.admin_password_stdin { Some(read_secret("--admin-password-stdin")?) } else { None };
    let mqtt_pw = if a.mqtt_password_stdin { Some(read_secret("--mqtt-password-stdin")?) } else { None };
    let mut t = toml::Table::new();
    let mut put = |section: &str, key: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.entry(section.to_string()).or_insert_with(|| toml::Value::Table(Default::default())).as_table_mut().map(|s| s.insert(key.to_string(), v));
        }
    };
    let text = |v: &Option<String>| v.clone().map(toml::Value::String);
    let path = |v: &Option<PathBuf>| v.as_ref().map(|p| toml::Value::String(p.display().to_string()));
    put("store", "chain_id", text(&a.chain_id));
    put("store", "store_id", text(&a.store_id));
    put("store", "hub_id", text(&a.hub_id));
    put("store", "name", text(&a.store_name));
    put("hq", "broker", text(&a.broker));
    put("hq", "auth", text(&a.auth));
    put("hq", "username", text(&a.username));
    put("hq", "password", mqtt_pw.map(toml::Value::String));
    put("hq", "ca_file", path(&a.ca_file));
    put("hq", "cert_file", path(&a.cert_file));
    if !a.command_key.is_empty() {
        put("hq", "command_keys", Some(toml::Value::Array(a.command_key.iter().cloned().map(toml::Value::String).collect())));
    }
    put("admin", "id", text(&a.admin_id));
    put("admin", "name", text(&a.admin_name));
    put("admin", "password", admin_pw.map(toml::Value::String));
    put("data", "dir", path(&cli.data_dir));
    put("web", "listen", text(&a.listen));
    for s in ["store", "hq", "admin"] {
        t.entry(s.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    provisioning::plan::parse_table(t, &std::env::current_dir()?).map_err(|e| anyhow!("{e}; nothing was written").into())
}

/// `storehub pairing show`.
fn pairing_show(cli: &Cli) -> Result<(), Failure> {
    let path = cli.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    match pairing_mode::load(&path, cli.data_dir.as_deref()).map_err(config_failure)? {
        pairing_mode::Loaded::Config(c) => {
            println!("已配对/已开通 / provisioned: chain {} store {} hub {}", c.store.chain_id, c.store.store_id, c.store.hub_id);
        }
        pairing_mode::Loaded::Unpaired(u) => match pairing_mode::read_identity(&u.data_dir)? {
            Some(id) => print!("{}", pairing_mode::describe(&id, &u)),
            None => {
                return Err(anyhow!("no pairing code yet: the daemon makes one when it starts (systemctl start storehub), then run this again").into());
            }
        },
    }
    Ok(())
}
