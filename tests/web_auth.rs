//! Logins, sessions, CSRF and throttling over real HTTP.

mod common;

use common::web::{WebShop, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_logs_in_by_password_and_a_cashier_by_lane_and_pin() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let who: serde_json::Value = shop.get(&m, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["role"], "manager");
    assert_eq!(who["lane"], serde_json::Value::Null);
    let c = shop.login("cashier1", Some("lane-1")).await;
    let who: serde_json::Value = shop.get(&c, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["lane"], "lane-1");
    // A wrong password is refused and names nothing about which part was wrong.
    assert_eq!(shop.try_login("manager1", None, "wrong-password").await.unwrap_err(), reqwest::StatusCode::UNAUTHORIZED);
    // A technician cannot take a lane.
    assert_eq!(shop.try_login("tech1", Some("lane-1"), PASSWORD).await.unwrap_err(), reqwest::StatusCode::UNAUTHORIZED);
}
