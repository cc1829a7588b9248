//! `storehub-uf2 ELF OUT.uf2`: converts the linked shelf-node firmware into a UF2 file for the
//! RP2040's boot ROM, and `storehub-uf2 --check FILE.uf2` checks one and prints its version and
//! size. Used by `scripts/build-firmware.sh`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, file] if flag == "--check" => check(file),
        [elf, out] => convert(elf, out),
        _ => Err("usage: storehub-uf2 ELF OUT.uf2 | storehub-uf2 --check FILE.uf2".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("storehub-uf2: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(elf: &str, out: &str) -> Result<(), String> {
    let bytes = std::fs::read(elf).map_err(|e| format!("cannot read {elf}: {e}"))?;
    let uf2 = storehub_uf2::elf_to_uf2(&bytes).map_err(|e| format!("{elf}: {e}"))?;
    std::fs::write(out, &uf2).map_err(|e| format!("cannot write {out}: {e}"))?;
    check(out)
}

fn check(file: &str) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let img = storehub_uf2::Image::parse(&bytes).map_err(|e| format!("{file}: {e}"))?;
    let version = match img.fw_version() {
        Some((a, b, c)) => format!("{a}.{b}.{c}"),
        None => "untagged (not a storehub node firmware)".to_string(),
    };
    println!("{file}: {} blocks, {} bytes of flash, firmware {version}", img.pages.len(), img.flash_bytes());
    Ok(())
}
