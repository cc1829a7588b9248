fn main() -> anyhow::Result<()> {
    let opts = storehub::bench::BenchOptions { dir: std::env::temp_dir(), products: 100_000, phase: std::time::Duration::from_secs(2), lookups: 100_000 };
    let figs = storehub::bench::run(&opts, |m| eprintln!("{m}"))?;
    println!("{}", storehub::bench::markdown(&figs));
    Ok(())
}
