// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Text,
        actor_name -> Nullable<Text>,
        action -> Text,
        shipment_id -> Nullable<Uuid>,
        reason -> Text,
        details -> Jsonb,
    }
}

diesel::table! {
    callbacks (id) {
        id -> Uuid,
        client_id -> Text,
        shipment_id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        sequence -> Int4,
        body -> Jsonb,
        state -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    carrier_push_envelopes (id) {
        id -> Int8,
        received_at -> Timestamptz,
        send_date -> Timestamptz,
        send_date_text -> Text,
        mode -> Text,
        data -> Jsonb,
        outcomes -> Jsonb,
    }
}

diesel::table! {
    carrier_pushes (id) {
        id -> Int8,
        received_at -> Timestamptz,
        item_code -> Text,
        sale_order_code -> Nullable<Text>,
        status_code -> Int4,
        status_text -> Text,
        status_at -> Timestamptz,
        note -> Nullable<Text>,
        shipment_id -> Nullable<Uuid>,
        outcome -> Text,
        data -> Nullable<Text>,
        send_date -> Timestamptz,
        envelope_id -> Nullable<Int8>,
        record_index -> Int4,
        status_at_from_send_date -> Bool,
        total_fee -> Nullable<Int8>,
        cod_amount -> Nullable<Int8>,
    }
}

diesel::table! {
    client_callbacks (client_id) {
        client_id -> Text,
        enabled -> Bool,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Bytea,
        csrf_token -> Text,
        sub -> Text,
        name -> Nullable<Text>,
        scopes -> Array<Text>,
        offices -> Nullable<Array<Text>>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (client_id, key) {
        client_id -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Int2,
        response_body -> Jsonb,
        shipment_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    job_attempts (id) {
        id -> Int8,
        job_id -> Int8,
        attempt -> Int4,
        worker -> Int4,
        started_at -> Timestamptz,
        duration_ms -> Int4,
        outcome -> Text,
        error_class -> Nullable<Text>,
        http_status -> Nullable<Int4>,
        excerpt -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        shipment_id -> Nullable<Uuid>,
        payload -> Jsonb,
        state -> Text,
        attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Int4>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    reconcile_carrier_orders (month, item_code) {
        month -> Date,
        item_code -> Text,
        run_id -> Int8,
        office_code -> Nullable<Text>,
        sale_order_code -> Nullable<Text>,
        original_id -> Nullable<Text>,
        fee_vnd -> Nullable<Int8>,
        cod_vnd -> Nullable<Int8>,
        carrier_status -> Nullable<Int4>,
        carrier_status_text -> Nullable<Text>,
        carrier_created_at -> Nullable<Timestamptz>,
        carrier_updated_at -> Nullable<Timestamptz>,
        fetched_at -> Timestamptz,
    }
}

diesel::table! {
    reconcile_runs (id) {
        id -> Int8,
        month -> Date,
        started_by -> Text,
        started_by_name -> Nullable<Text>,
        source -> Text,
        started_at -> Timestamptz,
        finished_at -> Timestamptz,
        date_from -> Date,
        date_to -> Date,
        listed -> Int4,
        kept -> Int4,
    }
}

diesel::table! {
    shipment_events (id) {
        id -> Int8,
        shipment_id -> Uuid,
        seq -> Int4,
        status -> Nullable<Text>,
        applied -> Bool,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
        source -> Text,
        carrier_code -> Nullable<Int4>,
        carrier_text -> Nullable<Text>,
        unknown_code -> Bool,
        note -> Nullable<Text>,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    shipments (id) {
        id -> Uuid,
        kind -> Text,
        status -> Text,
        sequence -> Int4,
        client_id -> Text,
        office_code -> Text,
        dossier_code -> Text,
        procedure_code -> Text,
        procedure_name -> Text,
        person_name -> Text,
        person_phone -> Text,
        person_email -> Nullable<Text>,
        person_id_number -> Nullable<Text>,
        address_line -> Text,
        province_code -> Text,
        commune_code -> Text,
        documents -> Jsonb,
        result -> Nullable<Jsonb>,
        collect_fees_vnd -> Int8,
        cod_vnd -> Int8,
        note -> Nullable<Text>,
        due_at -> Nullable<Timestamptz>,
        late -> Bool,
        sale_order_code -> Text,
        carrier -> Text,
        tracking_number -> Nullable<Text>,
        carrier_order_id -> Nullable<Text>,
        carrier_code -> Nullable<Int4>,
        carrier_text -> Nullable<Text>,
        carrier_at -> Nullable<Timestamptz>,
        status_reason -> Nullable<Text>,
        picked_up_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        last_report_at -> Nullable<Timestamptz>,
        next_poll_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        name_folded -> Nullable<Text>,
        carrier_fee_vnd -> Nullable<Int8>,
        carrier_cod_vnd -> Nullable<Int8>,
        cancel_state -> Nullable<Text>,
        cancel_case_id -> Nullable<Text>,
        cancel_note -> Nullable<Text>,
        personal_data_erased_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(audit_log -> shipments (shipment_id));
diesel::joinable!(callbacks -> shipments (shipment_id));
diesel::joinable!(carrier_pushes -> carrier_push_envelopes (envelope_id));
diesel::joinable!(idempotency_keys -> shipments (shipment_id));
diesel::joinable!(job_attempts -> jobs (job_id));
diesel::joinable!(jobs -> shipments (shipment_id));
diesel::joinable!(reconcile_carrier_orders -> reconcile_runs (run_id));
diesel::joinable!(shipment_events -> shipments (shipment_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    callbacks,
    carrier_push_envelopes,
    carrier_pushes,
    client_callbacks,
    console_sessions,
    idempotency_keys,
    job_attempts,
    jobs,
    reconcile_carrier_orders,
    reconcile_runs,
    shipment_events,
    shipments,
);
