//! (being built: issue 8)

use super::routes::RouteDef;

pub fn routes() -> Vec<RouteDef> {
    Vec::new()
}
