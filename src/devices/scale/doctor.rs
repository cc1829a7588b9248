//! `storehub doctor scale`: read one settled weight straight from a port, without a config, with
//! the same codecs the daemon uses. Line settings default per protocol: Toledo 8217 is
//! 9600 7E1 (its manuals and Odoo's driver), the others 9600 8N1; each flag given overrides
//! just that setting.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, Context as _};

use super::{describe_reading, generic, read_settled};
use crate::config::{DeviceProtocol, Parity, ScaleSettings, SerialSettings};
use crate::devices::transport::open_serial;

/// The protocols `doctor scale` reads, as named on the command line.
pub const PROTOCOLS: [&str; 4] = ["toledo-8217", "mt-sics", "cas", "generic"];

/// What the technician asked for.
#[derive(Debug, Clone)]
pub struct DoctorScaleArgs {
    pub port: String,
    /// `toledo-8217`, `mt-sics`, `cas` or `generic`.
    pub protocol: String,
    pub baud: Option<u32>,
    pub data_bits: Option<u8>,
    /// `none`, `even` or `odd`.
    pub parity: Option<String>,
    /// `generic`: the regular expression with a `weight` group.
    pub pattern: Option<String>,
    /// `generic` and `toledo-8217`: the unit of weights sent without one (default kg).
    pub unit: Option<String>,
    pub json: bool,
    pub timeout: Duration,
}

/// Parses a scale protocol name.
pub fn parse_protocol(name: &str) -> anyhow::Result<DeviceProtocol> {
    Ok(match name {
        "toledo-8217" => DeviceProtocol::Toledo8217,
        "mt-sics" => DeviceProtocol::MtSics,
        "cas" => DeviceProtocol::Cas,
        "generic" => DeviceProtocol::Generic,
        other => return Err(anyhow!("--protocol: expected one of {}, got {other:?}", PROTOCOLS.join(", "))),
    })
}

/// The protocol's usual line settings with the given overrides.
pub fn line_settings(protocol: DeviceProtocol, baud: Option<u32>, data_bits: Option<u8>, parity: Option<&str>) -> anyhow::Result<SerialSettings> {
    let mut s = SerialSettings::default();
    if protocol == DeviceProtocol::Toledo8217 {
        s.data_bits = 7;
        s.parity = Parity::Even;
    }
    if let Some(b) = baud {
        if !(300..=921_600).contains(&b) {
            return Err(anyhow!("--baud: expected 300..=921600, got {b}"));
        }
        s.baud = b;
    }
    if let Some(d) = data_bits {
        if !(7..=8).contains(&d) {
            return Err(anyhow!("--data-bits: expected 7 or 8, got {d}"));
        }
        s.data_bits = d;
    }
    if let Some(p) = parity {
        s.parity = match p {
            "none" => Parity::None,
            "even" => Parity::Even,
            "odd" => Parity::Odd,
            other => return Err(anyhow!("--parity: expected none, even or odd, got {other:?}")),
        };
    }
    Ok(s)
}

fn describe_line(s: &SerialSettings) -> String {
    let p = match s.parity {
        Parity::None => 'N',
        Parity::Even => 'E',
        Parity::Odd => 'O',
    };
    format!("{} {}{}{}", s.baud, s.data_bits, p, s.stop_bits)
}

/// Reads one settled weight and prints it to stdout.
pub fn doctor_scale(args: &DoctorScaleArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    doctor_scale_to(args, &mut out)
}

/// [`doctor_scale`] writing to `out`.
pub fn doctor_scale_to(args: &DoctorScaleArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let protocol = parse_protocol(&args.protocol)?;
    let line = line_settings(protocol, args.baud, args.data_bits, args.parity.as_deref())?;
    if let Some(p) = &args.pattern {
        generic::compile(p).map_err(|e| anyhow!("--pattern: {e}"))?;
    } else if protocol == DeviceProtocol::Generic {
        return Err(anyhow!("--protocol generic needs --pattern, a regular expression with a (?P<weight>…) group"));
    }
    if let Some(u) = &args.unit {
        generic::check_unit(u).map_err(|e| anyhow!("--unit: {e}"))?;
    }
    let settings = ScaleSettings { pattern: args.pattern.clone(), unit: args.unit.clone(), ..ScaleSettings::default() };
    let mut port = open_serial("scale", &args.port, &line, Duration::from_millis(50))?;
    let reading = read_settled(&mut port, protocol, &settings, args.timeout).with_context(|| {
        format!("scale on {} ({}, {}): no reading", args.port, protocol.as_str(), describe_line(&line))
    })?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&reading)?)?;
    } else {
        writeln!(out, "{}: {} ({}, {})", args.port, describe_reading(&reading), protocol.as_str(), describe_line(&line))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_settings_default_per_protocol_and_flags_override_one_by_one() {
        let t = line_settings(DeviceProtocol::Toledo8217, None, None, None).unwrap();
        assert_eq!(describe_line(&t), "9600 7E1");
        let t = line_settings(DeviceProtocol::Toledo8217, Some(4800), Some(8), None).unwrap();
        assert_eq!(describe_line(&t), "4800 8E1");
        let m = line_settings(DeviceProtocol::MtSics, None, None, Some("odd")).unwrap();
        assert_eq!(describe_line(&m), "9600 8O1");
        assert!(line_settings(DeviceProtocol::Cas, None, Some(5), None).unwrap_err().to_string().contains("--data-bits"));
        assert!(parse_protocol("dibal").unwrap_err().to_string().contains("toledo-8217, mt-sics, cas, generic"));
    }
}
