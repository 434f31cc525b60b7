//! The dossier-system API of SPEC §3: create, read, list, cancel, idempotency, duplicates.

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_create_read_list_cancel() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let resp = app
        .create("pickups", &token, "key-1", &pickup_body(&dossier(1)))
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created = json(resp).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/shipments/{id}"));
    assert_eq!(created["kind"], "pickup");
    assert_eq!(created["status"], "requested");
    assert_eq!(created["sequence"], 1);
    assert_eq!(created["late"], false);
    assert_eq!(created["client_id"], "motcua-tq");
    assert_eq!(created["tracking_number"], Value::Null);
    assert_eq!(created["carrier_status"], Value::Null);
    assert_eq!(created["citizen"]["full_name"], "Nguyễn Văn An");
    assert_eq!(created["citizen"]["phone"], "0912345678");
    assert!(created.get("recipient").is_none());
    assert_eq!(created["address"]["commune_code"], "02215");
    assert_eq!(
        created["procedure"]["name"],
        "Đăng ký biến động quyền sử dụng đất"
    );

    let read = json(app.get(&location, &token).await).await;
    assert_eq!(read, created);

    let page = json(app.get("/v1/shipments?kind=pickup", &token).await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["next_cursor"], Value::Null);

    let events = json(app.get(&format!("{location}/events"), &token).await).await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "requested");
    assert_eq!(items[0]["source"], "gateway");
    assert_eq!(items[0]["seq"], 1);

    // ledger: one shipment, one event, one queued carrier submission, one key
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state = 'queued'")
            .await,
        1
    );

    let resp = app
        .post(
            &format!("{location}/cancel"),
            &token,
            &json!({"reason": "Công dân tự đến nộp"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let cancelled = json(resp).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["sequence"], 2);
    assert_eq!(cancelled["status_reason"], "Công dân tự đến nộp");
    // a repeat is harmless
    let again = app
        .post(
            &format!("{location}/cancel"),
            &token,
            &json!({"reason": "lần nữa"}),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await["sequence"], 2);
    let events = json(app.get(&format!("{location}/events"), &token).await).await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
    assert_eq!(events["items"][1]["status"], "cancelled");
    assert_eq!(events["items"][1]["note"], "Công dân tự đến nộp");
    // a client's cancel is not a staff action
    assert_eq!(app.db.count("SELECT count(*) FROM audit_log").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_create_read_list_cancel() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let resp = app
        .create("deliveries", &token, "d-1", &delivery_body(&dossier(2)))
        .await;
    assert_eq!(resp.status(), 201);
    let created = json(resp).await;
    assert_eq!(created["kind"], "delivery");
    assert_eq!(
        created["recipient"]["phone"], "0987654321",
        "stored normalised"
    );
    assert!(created.get("citizen").is_none());
    assert_eq!(created["due_at"], "2099-12-01T10:00:00Z");
    assert_eq!(created["cod_vnd"], 30000);
    assert_eq!(
        created["result"]["description"],
        "Giấy chứng nhận quyền sử dụng đất"
    );
    let id = created["id"].as_str().unwrap();

    let page = json(
        app.get("/v1/shipments?kind=delivery&status=requested", &token)
            .await,
    )
    .await;
    assert_eq!(page["items"][0]["id"], id);
    let none = json(app.get("/v1/shipments?kind=pickup", &token).await).await;
    assert!(none["items"].as_array().unwrap().is_empty());

    let resp = app
        .post(
            &format!("/v1/shipments/{id}/cancel"),
            &token,
            &json!({"reason": "Công dân nhận trực tiếp"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_submitted_asks_the_carrier_and_later_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let id = json(
        app.create("pickups", &token, "c-1", &pickup_body(&dossier(3)))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = async || {
        app.post(
            &format!("/v1/shipments/{id}/cancel"),
            &token,
            &json!({"reason": "Hủy"}),
        )
        .await
    };
    let mut conn = app.db.conn().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!(
        "UPDATE shipments SET status = 'submitted' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let resp = cancel().await;
    assert_eq!(resp.status(), 202);
    assert_eq!(json(resp).await["status"], "submitted");
    // asking twice queues one carrier cancellation
    let resp = cancel().await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_cancel'")
            .await,
        1
    );

    diesel::sql_query(format!(
        "UPDATE shipments SET status = 'picked_up' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let resp = cancel().await;
    assert_eq!(resp.status(), 409);
    let problem = json(resp).await;
    assert_eq!(problem["code"], "too_late_to_cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_replay_mismatch_and_missing_key() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let body = pickup_body(&dossier(4));
    let first = app.create("pickups", &token, "same-key", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json(first).await;

    // the same body with keys in another order and other whitespace is the same request
    let reordered: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let again = app.create("pickups", &token, "same-key", &reordered).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json(again).await, first);

    let mut other = body.clone();
    other["note"] = json!("Khác");
    let resp = app.create("pickups", &token, "same-key", &other).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(json(resp).await["code"], "idempotency_key_reused");

    // the same key on the other endpoint is another request
    let resp = app
        .create(
            "deliveries",
            &token,
            "same-key",
            &delivery_body(&dossier(4)),
        )
        .await;
    assert_eq!(resp.status(), 422);

    // another client may use the same key
    let other_client = app.token("other-client", &["shipments:write"]);
    assert_eq!(
        app.create("pickups", &other_client, "same-key", &body)
            .await
            .status(),
        201
    );

    let resp = app
        .http
        .post(app.url("/v1/pickups"))
        .bearer_auth(&token)
        .json(&pickup_body(&dossier(5)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["code"], "idempotency_key_missing");
    let long = "k".repeat(256);
    assert_eq!(
        app.create("pickups", &token, &long, &pickup_body(&dossier(5)))
            .await
            .status(),
        400
    );
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_with_one_key_make_one_shipment() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let body = pickup_body(&dossier(6));
    let requests = (0..20).map(|_| app.create("pickups", &token, "racing-key", &body));
    let responses = futures::future::join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for r in responses {
        match r.status().as_u16() {
            201 => {
                if r.headers().get("idempotent-replayed").is_none() {
                    created += 1;
                }
                ids.insert(json(r).await["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(json(r).await["code"], "idempotency_key_in_flight"),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(app.db.count("SELECT count(*) FROM shipments").await, 1);
    assert_eq!(app.db.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(
        app.db.count("SELECT count(*) FROM idempotency_keys").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_active_shipment_per_dossier_and_kind() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let d = dossier(7);
    let first = json(app.create("pickups", &token, "a", &pickup_body(&d)).await).await;
    let resp = app.create("pickups", &token, "b", &pickup_body(&d)).await;
    assert_eq!(resp.status(), 409);
    let problem = json(resp).await;
    assert_eq!(problem["code"], "duplicate_active_shipment");
    assert_eq!(problem["existing_shipment_id"], first["id"]);
    // the other kind is another shipment
    assert_eq!(
        app.create("deliveries", &token, "c", &delivery_body(&d))
            .await
            .status(),
        201
    );
    // once the first is over, a new pickup may be requested
    let id = first["id"].as_str().unwrap();
    app.post(
        &format!("/v1/shipments/{id}/cancel"),
        &token,
        &json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        app.create("pickups", &token, "d", &pickup_body(&d))
            .await
            .status(),
        201
    );

    // concurrent requests under different keys: the unique index keeps one
    let d2 = dossier(8);
    let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    let body = pickup_body(&d2);
    let responses =
        futures::future::join_all(keys.iter().map(|k| app.create("pickups", &token, k, &body)))
            .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) FROM shipments WHERE dossier_code = '{d2}'"
            ))
            .await,
        1
    );
}

/// Creates that arrive together are committed in groups (`api::group_commit`): each must get
/// the answer it would have had alone, and a group that fails (a dossier taken meanwhile)
/// must lose nothing and write nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_arriving_together_each_get_their_own_answer() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let dossiers: Vec<String> = (0..40).map(|i| dossier(100 + i)).collect();
    // 40 new dossiers, each under its own key; then the same key and body again for the first
    // 8 (a replay or in flight); then a new key on 8 of the dossiers (one shipment each).
    let mut requests: Vec<(String, String)> = dossiers
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("group-{i}"), d.clone()))
        .collect();
    requests.extend((0..8).map(|i| (format!("group-{i}"), dossiers[i].clone())));
    requests.extend((0..8).map(|i| (format!("again-{i}"), dossiers[10 + i].clone())));
    let bodies: Vec<_> = requests.iter().map(|(_, d)| pickup_body(d)).collect();
    let responses = futures::future::join_all(
        requests
            .iter()
            .zip(&bodies)
            .map(|((k, _), b)| app.create("pickups", &token, k, b)),
    )
    .await;
    let mut created_for: std::collections::HashMap<String, Vec<String>> = Default::default();
    for ((key, d), r) in requests.iter().zip(responses) {
        let status = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some();
        let body = json(r).await;
        match status {
            201 if !replayed => created_for
                .entry(d.clone())
                .or_default()
                .push(body["id"].as_str().unwrap().to_owned()),
            201 => assert!(key.starts_with("group-"), "{key} replayed"),
            409 => assert!(
                ["idempotency_key_in_flight", "duplicate_active_shipment"]
                    .contains(&body["code"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("{key}: unexpected status {other}: {body}"),
        }
    }
    // One shipment per dossier, whichever request made it.
    assert_eq!(created_for.len(), 40, "{created_for:?}");
    assert!(created_for.values().all(|ids| ids.len() == 1));
    // A key is saved only with the shipment it created.
    for table in ["shipments", "jobs", "shipment_events", "idempotency_keys"] {
        let n = app.db.count(&format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n, 40, "{table}");
    }
    // Every key that created a shipment replays it.
    for (i, d) in dossiers.iter().enumerate() {
        let replay = app
            .create("pickups", &token, &format!("group-{i}"), &pickup_body(d))
            .await;
        let status = replay.status().as_u16();
        let body = json(replay).await;
        if status == 201 {
            assert_eq!(body["id"].as_str().unwrap(), created_for[d][0]);
        } else {
            // The dossier's shipment came from its `again-*` request, before this key's.
            assert_eq!(body["code"], "duplicate_active_shipment", "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_see_only_their_shipments() {
    let app = TestApp::spawn().await;
    let mine = app.client_token();
    let theirs = app.token("other-client", &["shipments:write", "shipments:read"]);
    let id = json(
        app.create("pickups", &mine, "x", &pickup_body(&dossier(9)))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/shipments/{id}");
    assert_eq!(app.get(&path, &theirs).await.status(), 404);
    assert_eq!(
        app.get(&format!("{path}/events"), &theirs).await.status(),
        404
    );
    assert_eq!(
        app.post(&format!("{path}/cancel"), &theirs, &json!({"reason": "x"}))
            .await
            .status(),
        404
    );
    let list = json(app.get("/v1/shipments", &theirs).await).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    // a read-only token cannot create or cancel
    let reader = app.token("motcua-tq", &["shipments:read"]);
    assert_eq!(app.get(&path, &reader).await.status(), 200);
    assert_eq!(
        app.create("pickups", &reader, "y", &pickup_body(&dossier(10)))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post(&format!("{path}/cancel"), &reader, &json!({"reason": "x"}))
            .await
            .status(),
        403
    );
    // unknown or malformed ids are simply not found
    assert_eq!(
        app.get("/v1/shipments/not-a-uuid", &mine).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/v1/shipments/{}", uuid::Uuid::now_v7()), &mine)
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_masked_or_clear_data_within_their_offices() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let id = json(
        app.create("pickups", &token, "x", &pickup_body(&dossier(11)))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut other_office = pickup_body(&dossier(12));
    other_office["office_code"] = json!("CN-VPDKDD-HG");
    app.create("pickups", &token, "y", &other_office).await;
    let path = format!("/v1/shipments/{id}");

    let reader = app.staff_token("can-bo-1", &["staff:read"], None);
    let masked = json(app.get(&path, &reader).await).await;
    assert_eq!(masked["citizen"]["full_name"], "Nguyễn V** A*");
    assert_eq!(masked["citizen"]["phone"], "091****678");
    assert_eq!(masked["citizen"]["id_number"], "008******234");
    let list = json(app.get("/v1/shipments", &reader).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["citizen"]["phone"] == "091****678")
    );

    let pii = app.staff_token("can-bo-2", &["staff:read", "staff:pii"], None);
    let clear = json(app.get(&path, &pii).await).await;
    assert_eq!(clear["citizen"]["full_name"], "Nguyễn Văn An");
    assert_eq!(clear["citizen"]["phone"], "0912345678");

    let branch = app.staff_token("can-bo-3", &["staff:read"], Some(&["CN-VPDKDD-HG"]));
    assert_eq!(app.get(&path, &branch).await.status(), 404);
    let list = json(app.get("/v1/shipments", &branch).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["office_code"], "CN-VPDKDD-HG");

    // staff search: last digits of the phone, part of the name, dossier code
    for q in ["5678", "văn an", "NGUYỄN", &dossier(11)] {
        let found = json(
            app.get(&format!("/v1/shipments?q={}", urlencode(q)), &pii)
                .await,
        )
        .await;
        assert!(!found["items"].as_array().unwrap().is_empty(), "q={q}");
    }
    let found = json(app.get("/v1/shipments?q=9999", &pii).await).await;
    assert!(found["items"].as_array().unwrap().is_empty());
    // q is for staff
    assert_eq!(app.get("/v1/shipments?q=5678", &token).await.status(), 403);

    // staff cancel is audited
    let actor = app.staff_token("can-bo-4", &["staff:read", "staff:act"], None);
    let resp = app
        .post(
            &format!("{path}/cancel"),
            &actor,
            &json!({"reason": "Công dân gọi điện hủy"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.db.count(&format!("SELECT count(*) FROM audit_log WHERE shipment_id = '{id}' AND actor_id = 'can-bo-4' AND action = 'cancel'")).await, 1);
    let events = json(app.get(&format!("{path}/events"), &actor).await).await;
    assert_eq!(events["items"][1]["source"], "staff");
    assert_eq!(events["items"][1]["actor"], "can-bo-4");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pagination_and_filters() {
    let app = TestApp::spawn().await;
    let token = app.client_token();
    let mut ids = Vec::new();
    for n in 0..7 {
        let body = if n % 2 == 0 {
            pickup_body(&dossier(100 + n))
        } else {
            delivery_body(&dossier(100 + n))
        };
        let kind = if n % 2 == 0 { "pickups" } else { "deliveries" };
        ids.push(
            json(app.create(kind, &token, &format!("k{n}"), &body).await).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/shipments?limit=3&cursor={c}"),
            None => "/v1/shipments?limit=3".to_owned(),
        };
        let page = json(app.get(&path, &token).await).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let pickups = json(app.get("/v1/shipments?kind=pickup", &token).await).await;
    assert_eq!(pickups["items"].as_array().unwrap().len(), 4);
    let one = json(
        app.get(
            &format!("/v1/shipments?dossier_code={}", dossier(103)),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let late = json(app.get("/v1/shipments?late=true", &token).await).await;
    assert!(late["items"].as_array().unwrap().is_empty());
    let office = json(
        app.get("/v1/shipments?office_code=CN-VPDKDD-HG", &token)
            .await,
    )
    .await;
    assert!(office["items"].as_array().unwrap().is_empty());

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("kind=parcel", "kind"),
        ("status=lost", "status"),
        ("late=maybe", "late"),
        ("cursor=!!!", "cursor"),
    ] {
        let resp = app.get(&format!("/v1/shipments?{query}"), &token).await;
        assert_eq!(resp.status(), 422, "{query}");
        let problem = json(resp).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_and_openapi() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let doc: Value = send_json(app.http.get(app.url("/openapi.json"))).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/pickups",
        "/v1/deliveries",
        "/v1/shipments",
        "/v1/shipments/{id}",
        "/v1/shipments/{id}/events",
        "/v1/shipments/{id}/cancel",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    for schema in [
        "PickupRequest",
        "DeliveryRequest",
        "ShipmentView",
        "Problem",
        "EventList",
        "ShipmentPage",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "openapi lacks schema {schema}"
        );
    }
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let missing = app.http.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_schema_is_behind() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.conn().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query("DELETE FROM __diesel_schema_migrations")
        .execute(&mut conn)
        .await
        .unwrap();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
}
