//! Rate limits per caller (issue 11 §3), over real HTTP: one client over its limit is refused
//! with 429 and `Retry-After` while another client, staff and the carrier webhook go on.

use crate::support::*;

const LIMITS: &str = r#"
[limits]
client_per_minute = 3
staff_per_minute = 3
webhook_per_minute = 2
"#;

async fn status(resp: reqwest::Response) -> u16 {
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_limit_does_not_starve_the_others() {
    let app = TestApp::spawn_with(LIMITS).await;
    let a = app.client_token();
    let b = app.token("other-client", &["shipments:write", "shipments:read"]);
    let staff = app.staff_token("can-bo-1", &["staff:read"], None);

    for _ in 0..3 {
        assert_eq!(status(app.get("/v1/shipments", &a).await).await, 200);
    }
    let refused = app.get("/v1/shipments", &a).await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 3 a minute: one request back every 20 s.
    assert!(
        (1..=20).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem = json(refused).await;
    assert_eq!(problem["code"], "rate_limited");
    assert_eq!(problem["status"], 429);
    // Creating is refused too, before anything is written.
    let create = app
        .create("pickups", &a, "limited-1", &pickup_body(&dossier(1)))
        .await;
    assert_eq!(create.status().as_u16(), 429);
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 0);

    // The other client, staff and the carrier's webhook each have their own bucket.
    for _ in 0..3 {
        assert_eq!(status(app.get("/v1/shipments", &b).await).await, 200);
        assert_eq!(status(app.get("/v1/shipments", &staff).await).await, 200);
    }
    assert_eq!(status(app.get("/v1/shipments", &b).await).await, 429);
    assert_eq!(status(app.get("/v1/shipments", &staff).await).await, 429);
    // Another staff member is not held back by a colleague.
    let colleague = app.staff_token("can-bo-2", &["staff:read"], None);
    assert_eq!(
        status(app.get("/v1/shipments", &colleague).await).await,
        200
    );

    // An unauthenticated caller is refused for its token, and uses no client's bucket.
    let forged = app.get("/v1/shipments", "not-a-token").await;
    assert_eq!(forged.status().as_u16(), 401);

    let push = || {
        app.http
            .post(app.url("/v1/carrier/vnpost/webhook"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    for _ in 0..2 {
        let s = push().await.unwrap().status().as_u16();
        assert_ne!(s, 429, "the webhook's first pushes are not limited");
    }
    let over = push().await.unwrap();
    assert_eq!(over.status().as_u16(), 429);
    assert!(over.headers().contains_key("retry-after"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_off_by_default() {
    let app = TestApp::spawn().await;
    let a = app.client_token();
    for _ in 0..50 {
        assert_eq!(status(app.get("/v1/shipments", &a).await).await, 200);
    }
    app.stop().await;
}
