use std::sync::Arc;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(storehub::store::Store::open(storehub::store::StoreOptions { path: dir.path().to_path_buf(), durability: if std::env::var("DURABLE").is_ok() { storehub::store::Durability::Durable } else { storehub::store::Durability::Relaxed }, relaxed_flush_ms: 200, source: Some("/x".into()), clock: storehub::clock::system() }).unwrap());
    let ps: Vec<_> = (0..1000).map(storehub::bench::synthetic_product).collect();
    storehub::catalog::upsert_products(&store, &ps, 1000, |_| {}).unwrap();
    let r = storehub::bench::commit_rate(&store, std::env::var("WRITERS").ok().and_then(|w| w.parse().ok()).unwrap_or(1), 1000, std::time::Duration::from_secs(3)).unwrap();
    println!("{r:.0} moves/s");
}
