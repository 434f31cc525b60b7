//! Authentication and authorisation (SPEC §2).

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bcci_gateway::auth::{Claims, claims_for};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn keys_overlay() -> String {
    format!(
        r#"
[[auth.keys]]
kid = "motcua-rs"
algorithm = "RS256"
public_key_pem = "file:{FIXTURES}/client-rs256-public.pem"
[[auth.keys]]
kid = "staff-ed"
algorithm = "EdDSA"
public_key_pem = "file:{FIXTURES}/staff-eddsa-public.pem"
"#
    )
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Claims) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused() {
    let app = TestApp::spawn_with(&keys_overlay()).await;
    let auth = &app.config.auth;
    let scopes = ["shipments:read", "shipments:write"];
    let good = claims_for(
        auth,
        "motcua-tq",
        &scopes,
        None,
        None,
        chrono::Duration::hours(1),
    );
    let secret = EncodingKey::from_secret(auth.hs256_secret.expose().as_bytes());
    let now = chrono::Utc::now().timestamp();

    let mut expired = good.clone();
    expired.exp = now - 120; // beyond the 60 s leeway
    let mut early = good.clone();
    early.nbf = Some(now + 600);
    let mut wrong_aud = good.clone();
    wrong_aud.aud = "someone-else".into();
    let mut wrong_iss = good.clone();
    wrong_iss.iss = "evil".into();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap())
    );
    let wrong_key = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(b"another-secret-that-is-long-enough-000"),
        &good,
    );
    // algorithm confusion: an HS256 token "signed" with the RSA public key, under the RSA kid
    let confused = sign(
        Algorithm::HS256,
        Some("motcua-rs"),
        &EncodingKey::from_secret(&pem("client-rs256-public.pem")),
        &good,
    );
    let unknown_kid = sign(Algorithm::HS256, Some("who"), &secret, &good);
    let no_exp = {
        let mut v = serde_json::to_value(&good).unwrap();
        v.as_object_mut().unwrap().remove("exp");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &v, &secret).unwrap()
    };

    let cases: Vec<(&str, String)> = vec![
        ("expired", sign(Algorithm::HS256, None, &secret, &expired)),
        (
            "not yet valid",
            sign(Algorithm::HS256, None, &secret, &early),
        ),
        (
            "wrong audience",
            sign(Algorithm::HS256, None, &secret, &wrong_aud),
        ),
        (
            "wrong issuer",
            sign(Algorithm::HS256, None, &secret, &wrong_iss),
        ),
        ("alg none", alg_none),
        ("wrong key", wrong_key),
        ("algorithm confusion", confused),
        ("unknown kid", unknown_kid),
        ("no exp", no_exp),
        ("garbage", "not.a.token".into()),
    ];
    for (what, token) in cases {
        let resp = app.get("/v1/shipments", &token).await;
        assert_eq!(resp.status(), 401, "{what}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer", "{what}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
    }
    let resp = app.http.get(app.url("/v1/shipments")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no header");
    let resp = app
        .http
        .get(app.url("/v1/shipments"))
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "basic auth");

    // within the leeway is fine
    let mut just_expired = good.clone();
    just_expired.exp = now - 10;
    assert_eq!(
        app.get(
            "/v1/shipments",
            &sign(Algorithm::HS256, None, &secret, &just_expired)
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.get(
            "/v1/shipments",
            &sign(Algorithm::HS256, None, &secret, &good)
        )
        .await
        .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_and_eddsa_keys_by_kid() {
    let app = TestApp::spawn_with(&keys_overlay()).await;
    let auth = &app.config.auth;
    let client = claims_for(
        auth,
        "motcua-tq",
        &["shipments:write", "shipments:read"],
        None,
        None,
        chrono::Duration::hours(1),
    );
    let rs = sign(
        Algorithm::RS256,
        Some("motcua-rs"),
        &EncodingKey::from_rsa_pem(&pem("client-rs256-private.pem")).unwrap(),
        &client,
    );
    assert_eq!(
        app.create("pickups", &rs, "rs-1", &pickup_body(&dossier(1)))
            .await
            .status(),
        201
    );

    let staff = claims_for(
        auth,
        "can-bo",
        &["staff:read"],
        None,
        None,
        chrono::Duration::hours(1),
    );
    let ed = sign(
        Algorithm::EdDSA,
        Some("staff-ed"),
        &EncodingKey::from_ed_pem(&pem("staff-eddsa-private.pem")).unwrap(),
        &staff,
    );
    let list = json(app.get("/v1/shipments", &ed).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // the RS256 key does not accept an EdDSA token and vice versa: the algorithm is pinned
    let wrong = sign(
        Algorithm::EdDSA,
        Some("motcua-rs"),
        &EncodingKey::from_ed_pem(&pem("staff-eddsa-private.pem")).unwrap(),
        &client,
    );
    assert_eq!(app.get("/v1/shipments", &wrong).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_enforced() {
    let app = TestApp::spawn().await;
    let none = app.token("motcua-tq", &[]);
    assert_eq!(app.get("/v1/shipments", &none).await.status(), 403);
    assert_eq!(
        app.create("pickups", &none, "k", &pickup_body(&dossier(1)))
            .await
            .status(),
        403
    );
    // staff:read cannot create or cancel
    let staff = app.staff_token("can-bo", &["staff:read", "staff:pii"], None);
    let resp = app
        .create("pickups", &staff, "k", &pickup_body(&dossier(1)))
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    // a token for a client the gateway does not know cannot create
    let stranger = app.token("unknown-system", &["shipments:write"]);
    assert_eq!(
        app.create("pickups", &stranger, "k", &pickup_body(&dossier(1)))
            .await
            .status(),
        403
    );
    // staff:act may cancel any shipment; staff:read alone may not
    let id = json(
        app.create(
            "pickups",
            &app.client_token(),
            "k",
            &pickup_body(&dossier(2)),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post(
            &format!("/v1/shipments/{id}/cancel"),
            &staff,
            &json!({"reason": "x"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM shipments WHERE status = 'cancelled'")
            .await,
        0
    );
}
