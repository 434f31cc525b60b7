//! Every validation rule answers 422 naming the field, and nothing is written.

use crate::support::*;
use serde_json::{Value, json};

/// Applies `f` to a valid body and expects 422 with `field` among the errors.
fn case(base: &Value, f: impl Fn(&mut Value)) -> Value {
    let mut b = base.clone();
    f(&mut b);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_names_its_field() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let p = pickup_body(&dossier(1));
    let d = delivery_body(&dossier(2));
    let long = |n: usize| json!("a".repeat(n));
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "pickups",
            "dossier_code",
            case(&p, |b| b["dossier_code"] = json!("HS-123")),
        ),
        (
            "pickups",
            "dossier_code",
            case(&p, |b| {
                b["dossier_code"] = json!("000.00.14.H61-231340-0001")
            }),
        ),
        (
            "pickups",
            "dossier_code",
            case(&p, |b| b["dossier_code"] = json!("")),
        ),
        (
            "pickups",
            "dossier_code",
            case(&p, |b| b["dossier_code"] = json!(12)),
        ),
        (
            "pickups",
            "dossier_code",
            case(&p, |b| {
                b.as_object_mut().unwrap().remove("dossier_code");
            }),
        ),
        (
            "pickups",
            "office_code",
            case(&p, |b| b["office_code"] = json!("NOWHERE")),
        ),
        (
            "pickups",
            "procedure.code",
            case(&p, |b| b["procedure"]["code"] = json!(" ")),
        ),
        (
            "pickups",
            "procedure.name",
            case(&p, |b| b["procedure"]["name"] = long(256)),
        ),
        (
            "pickups",
            "procedure.name",
            case(&p, |b| {
                b["procedure"].as_object_mut().unwrap().remove("name");
            }),
        ),
        (
            "pickups",
            "citizen.full_name",
            case(&p, |b| b["citizen"]["full_name"] = json!("")),
        ),
        (
            "pickups",
            "citizen.full_name",
            case(&p, |b| b["citizen"]["full_name"] = long(101)),
        ),
        (
            "pickups",
            "citizen.full_name",
            case(&p, |b| b["citizen"]["full_name"] = json!("An\u{0007}")),
        ),
        (
            "pickups",
            "citizen.phone",
            case(&p, |b| b["citizen"]["phone"] = json!("12345")),
        ),
        (
            "pickups",
            "citizen.phone",
            case(&p, |b| b["citizen"]["phone"] = json!("+1 415 555 0100")),
        ),
        (
            "pickups",
            "citizen.phone",
            case(&p, |b| b["citizen"]["phone"] = json!(912345678)),
        ),
        (
            "pickups",
            "citizen.email",
            case(&p, |b| b["citizen"]["email"] = json!("not-an-email")),
        ),
        (
            "pickups",
            "citizen.id_number",
            case(&p, |b| b["citizen"]["id_number"] = json!("12AB")),
        ),
        (
            "pickups",
            "citizen",
            case(&p, |b| b["citizen"] = json!("Nguyễn Văn An")),
        ),
        (
            "pickups",
            "address.line",
            case(&p, |b| b["address"]["line"] = json!("")),
        ),
        (
            "pickups",
            "address.line",
            case(&p, |b| b["address"]["line"] = long(256)),
        ),
        (
            "pickups",
            "address.province_code",
            case(&p, |b| b["address"]["province_code"] = json!("99")),
        ),
        (
            "pickups",
            "address.province_code",
            case(&p, |b| b["address"]["province_code"] = json!("8")),
        ),
        (
            "pickups",
            "address.commune_code",
            case(&p, |b| b["address"]["commune_code"] = json!("99999")),
        ),
        (
            "pickups",
            "address.commune_code",
            case(&p, |b| b["address"]["commune_code"] = json!("2215")),
        ),
        // a real commune, of Hà Nội, not of Tuyên Quang
        (
            "pickups",
            "address.commune_code",
            case(&p, |b| b["address"]["commune_code"] = json!("00004")),
        ),
        (
            "pickups",
            "documents[0].name",
            case(&p, |b| b["documents"][0]["name"] = json!("")),
        ),
        (
            "pickups",
            "documents[0].copies",
            case(&p, |b| b["documents"][0]["copies"] = json!(0)),
        ),
        (
            "pickups",
            "documents[0].copies",
            case(&p, |b| b["documents"][0]["copies"] = json!(-1)),
        ),
        (
            "pickups",
            "documents",
            case(&p, |b| {
                b["documents"] = json!(vec![json!({"name": "x"}); 51])
            }),
        ),
        (
            "pickups",
            "collect_fees_vnd",
            case(&p, |b| b["collect_fees_vnd"] = json!(-5)),
        ),
        (
            "pickups",
            "collect_fees_vnd",
            case(&p, |b| b["collect_fees_vnd"] = json!(100_000_001)),
        ),
        (
            "pickups",
            "collect_fees_vnd",
            case(&p, |b| b["collect_fees_vnd"] = json!("free")),
        ),
        ("pickups", "note", case(&p, |b| b["note"] = long(501))),
        (
            "deliveries",
            "recipient.phone",
            case(&d, |b| b["recipient"]["phone"] = json!("0012345678")),
        ),
        (
            "deliveries",
            "recipient",
            case(&d, |b| {
                b.as_object_mut().unwrap().remove("recipient");
            }),
        ),
        (
            "deliveries",
            "result.description",
            case(&d, |b| b["result"]["description"] = json!("")),
        ),
        (
            "deliveries",
            "result",
            case(&d, |b| {
                b.as_object_mut().unwrap().remove("result");
            }),
        ),
        (
            "deliveries",
            "result.documents[0].copies",
            case(&d, |b| b["result"]["documents"][0]["copies"] = json!(101)),
        ),
        (
            "deliveries",
            "due_at",
            case(&d, |b| b["due_at"] = json!("next tuesday")),
        ),
        (
            "deliveries",
            "cod_vnd",
            case(&d, |b| b["cod_vnd"] = json!(-1)),
        ),
        (
            "deliveries",
            "address.commune_code",
            case(&d, |b| b["address"]["commune_code"] = json!("00004")),
        ),
    ];
    for (i, (kind, field, body)) in cases.iter().enumerate() {
        let resp = app.create(kind, &token, &format!("v{i}"), body).await;
        assert_eq!(resp.status(), 422, "{kind} {field}: {body}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let problem = json(resp).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(field),
            "{kind}: expected {field}, got {fields:?} for {body}"
        );
        assert_eq!(problem["status"], 422);
        assert!(
            problem["type"].is_string()
                && problem["title"].is_string()
                && problem["detail"].is_string()
        );
    }
    // several faults at once are all reported
    let many = case(&p, |b| {
        b["citizen"]["phone"] = json!("x");
        b["address"]["commune_code"] = json!("99999");
        b["office_code"] = json!("?");
    });
    let problem = json(app.create("pickups", &token, "many", &many).await).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
    // nothing was written by any refused request
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM jobs").await, 0);
    assert_eq!(
        app.db.count("SELECT count(*) FROM idempotency_keys").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let resp = app
        .http
        .post(app.url("/v1/pickups"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "m")
        .header("content-type", "application/json")
        .body("{\"dossier_code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["code"], "malformed_json");

    let mut big = pickup_body(&dossier(3));
    big["note"] = json!("x".repeat(70_000));
    let resp = app.create("pickups", &token, "big", &big).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    let resp = app
        .post(
            &format!("/v1/shipments/{}/cancel", uuid::Uuid::now_v7()),
            &token,
            &json!({"reason": ""}),
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(json(resp).await["errors"][0]["field"], "reason");
    let resp = app
        .post(
            &format!("/v1/shipments/{}/cancel", uuid::Uuid::now_v7()),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(json(resp).await["errors"][0]["field"], "reason");
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 0);
}
