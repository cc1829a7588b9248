//! `storehub-node-sim`: one simulated shelf node on a pty, by hand, until Ctrl-C or SIGTERM.
//! Point a hub device's `path` at `--link` and run `storehub run`; `--script` plays what happens
//! on the shelf (format in the library's docs), `--grams` sets the starting loads.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use storehub_node_sim::{FwVersion, Script, ScriptRunner, SimConfig, SimNode};

/// A simulated storehub shelf node (the real node core over simulated load cells) on a
/// pseudo-terminal.
#[derive(Debug, Parser)]
#[command(name = "storehub-node-sim", version)]
struct Args {
    /// Where the node's port appears (a symlink to the pty; replaced if there).
    #[arg(long)]
    link: PathBuf,
    /// The node id the hello announces.
    #[arg(long, default_value_t = 1)]
    node_id: u64,
    /// Load-cell channels, 1..=4.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    channels: u8,
    /// Firmware version the hello announces, MAJOR.MINOR.PATCH.
    #[arg(long, default_value = "1.0.0", value_parser = parse_fw)]
    fw: FwVersion,
    /// Keep the node's flash (its calibration) in this file across runs.
    #[arg(long)]
    flash: Option<PathBuf>,
    /// Where the RPI-RP2 drive appears when the hub sends the node into its bootloader.
    #[arg(long)]
    boot_drive: Option<PathBuf>,
    /// A script of loads placed and taken over time.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Starting load of a channel, CH=GRAMS (e.g. 0=5700), repeatable.
    #[arg(long, value_parser = parse_grams, num_args = 1..)]
    grams: Vec<(u8, i32)>,
    /// Seeds the load cells' noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Samples a second per channel: 10 or 80 (the HX711's RATE pin low or high).
    #[arg(long, default_value_t = 10, value_parser = parse_rate)]
    rate: u16,
}

fn parse_fw(s: &str) -> Result<FwVersion, String> {
    let parts: Vec<&str> = s.split('.').collect();
    let bad = || format!("expected MAJOR.MINOR.PATCH with each part 0..=255, such as 1.2.3, got {s:?}");
    let [a, b, c] = parts[..] else { return Err(bad()) };
    let n = |p: &str| p.parse::<u8>().map_err(|_| bad());
    Ok(FwVersion { major: n(a)?, minor: n(b)?, patch: n(c)? })
}

fn parse_rate(s: &str) -> Result<u16, String> {
    match s {
        "10" => Ok(10),
        "80" => Ok(80),
        _ => Err(format!("an HX711 samples 10 or 80 times a second, got {s:?}")),
    }
}

fn parse_grams(s: &str) -> Result<(u8, i32), String> {
    let bad = || format!("expected CH=GRAMS such as 0=5700 (channel 0..=3, whole grams), got {s:?}");
    let (ch, g) = s.split_once('=').ok_or_else(bad)?;
    let ch = ch.strip_prefix("ch").unwrap_or(ch).parse::<u8>().ok().filter(|c| *c < 4).ok_or_else(bad)?;
    let g = g.strip_suffix('g').unwrap_or(g).parse::<i32>().map_err(|_| bad())?;
    Ok((ch, g))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("storehub-node-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let script = match &args.script {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read the script {}: {e}", file.display()))?;
            let script = Script::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if let Some(step) = script.steps.iter().find(|s| s.channel >= args.channels) {
                return Err(format!(
                    "{}: line {} uses ch{}, but the node has {} channel(s); pass --channels {}",
                    file.display(),
                    step.line,
                    step.channel,
                    args.channels,
                    step.channel + 1
                ));
            }
            Some(script)
        }
        None => None,
    };
    if let Some((ch, _)) = args.grams.iter().find(|(ch, _)| *ch >= args.channels) {
        return Err(format!("--grams {ch}=…: the node has {} channel(s); pass --channels {}", args.channels, ch + 1));
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)).map_err(|e| format!("cannot catch Ctrl-C and SIGTERM: {e}"))?;
    }
    let config = SimConfig {
        node_id: args.node_id,
        fw_version: args.fw,
        channels: args.channels,
        flash_file: args.flash.clone(),
        boot_drive: args.boot_drive.clone(),
        seed: args.seed,
        samples_per_s: args.rate,
        ..SimConfig::default()
    };
    let node = SimNode::start(&args.link, config).map_err(|e| format!("cannot start the node at {}: {e}", args.link.display()))?;
    for (ch, g) in &args.grams {
        node.set_grams(*ch, *g);
    }
    eprintln!(
        "storehub-node-sim: node {} (firmware {}, {} channel(s)) at {}; Ctrl-C stops it",
        args.node_id,
        args.fw,
        args.channels,
        args.link.display()
    );
    let mut runner = script.as_ref().map(ScriptRunner::new);
    let started = Instant::now();
    let mut grams = [0i32; 4];
    while !stop.load(Ordering::Relaxed) {
        if let Some(r) = runner.as_mut() {
            for (ch, g) in grams.iter_mut().enumerate() {
                *g = node.grams(ch as u8);
            }
            for a in r.apply_due(started.elapsed().as_millis() as u64, &mut grams) {
                node.set_grams(a.channel, a.grams);
                eprintln!("storehub-node-sim: {}.{:03}s line {}: ch{} now carries {} g", a.at_ms / 1000, a.at_ms % 1000, a.line, a.channel, a.grams);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(node);
    eprintln!("storehub-node-sim: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert_eq!(parse_fw("1.2.3"), Ok(FwVersion { major: 1, minor: 2, patch: 3 }));
        assert!(parse_fw("1.2").unwrap_err().contains("MAJOR.MINOR.PATCH"));
        assert!(parse_fw("1.2.300").is_err());
        assert_eq!(parse_grams("0=5700"), Ok((0, 5_700)));
        assert_eq!(parse_grams("ch3=570g"), Ok((3, 570)));
        assert!(parse_grams("4=1").unwrap_err().contains("channel 0..=3"));
        assert!(parse_grams("0:1").is_err());
        assert_eq!(parse_rate("80"), Ok(80));
        assert!(parse_rate("20").unwrap_err().contains("10 or 80"));
    }
}
