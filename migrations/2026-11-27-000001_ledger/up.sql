-- The ledger: every shipment, every status report, every outbound job and attempt, every
-- staff action. Statuses are stored as text with CHECK constraints so the ledger reads well
-- in psql; the domain module owns the vocabulary.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE shipments (
    id                  uuid PRIMARY KEY,              -- UUIDv7: time-ordered, used for keyset pagination
    kind                text NOT NULL CHECK (kind IN ('pickup', 'delivery')),
    status              text NOT NULL CHECK (status IN ('requested', 'submitted', 'picked_up',
                            'in_transit', 'out_for_delivery', 'attempt_failed', 'delivered',
                            'returning', 'returned', 'cancelled', 'rejected')),
    sequence            integer NOT NULL DEFAULT 1,    -- grows by one with every status change
    client_id           text NOT NULL,
    office_code         text NOT NULL,
    dossier_code        text NOT NULL,
    procedure_code      text NOT NULL,
    procedure_name      text NOT NULL,
    person_name         text NOT NULL,                 -- the citizen (pickup) or recipient (delivery)
    person_phone        text NOT NULL,                 -- normalised: 0 + 9 digits
    person_email        text,
    person_id_number    text,
    address_line        text NOT NULL,
    province_code       text NOT NULL,
    commune_code        text NOT NULL,
    documents           jsonb NOT NULL DEFAULT '[]',
    result              jsonb,                          -- deliveries: the result handed over
    collect_fees_vnd    bigint NOT NULL DEFAULT 0 CHECK (collect_fees_vnd >= 0),
    cod_vnd             bigint NOT NULL DEFAULT 0 CHECK (cod_vnd >= 0),
    note                text,
    due_at              timestamptz,
    late                boolean NOT NULL DEFAULT false,
    sale_order_code     text NOT NULL UNIQUE,          -- our reference at the carrier
    carrier             text NOT NULL DEFAULT 'vnpost',
    tracking_number     text,                          -- carrier itemCode
    carrier_order_id    text,                          -- carrier originalID
    carrier_code        integer,                       -- the report the status follows
    carrier_text        text,
    carrier_at          timestamptz,
    status_reason       text,                          -- why rejected / cancelled
    picked_up_at        timestamptz,
    delivered_at        timestamptz,
    last_report_at      timestamptz,                   -- when we last heard from the carrier (our clock)
    next_poll_at        timestamptz,                   -- when tracking polls the carrier next (null: not tracked)
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One active shipment per client, dossier and kind (SPEC §3); race-proof backstop of the
-- check made in the create transaction.
CREATE UNIQUE INDEX shipments_one_active_per_dossier ON shipments (client_id, dossier_code, kind)
    WHERE status NOT IN ('delivered', 'returned', 'cancelled', 'rejected');
CREATE INDEX shipments_client_id ON shipments (client_id, id DESC);
CREATE INDEX shipments_dossier ON shipments (dossier_code, id DESC);
CREATE INDEX shipments_office ON shipments (office_code, id DESC);
CREATE INDEX shipments_status ON shipments (status, id DESC);
CREATE INDEX shipments_late ON shipments (id DESC) WHERE late;
CREATE UNIQUE INDEX shipments_tracking ON shipments (tracking_number) WHERE tracking_number IS NOT NULL;
-- "last digits of the phone": a prefix search on the reversed number
CREATE INDEX shipments_phone_suffix ON shipments (reverse(person_phone) text_pattern_ops);
CREATE INDEX shipments_name_trgm ON shipments USING gin (lower(person_name) gin_trgm_ops);
-- shipments that have gone quiet, for tracking polls
CREATE INDEX shipments_next_poll ON shipments (next_poll_at) WHERE next_poll_at IS NOT NULL;

-- Append-only history of a shipment: every status change and every carrier report, applied or not.
CREATE TABLE shipment_events (
    id              bigserial PRIMARY KEY,
    shipment_id     uuid NOT NULL REFERENCES shipments (id),
    seq             integer NOT NULL,                  -- order of recording within the shipment
    status          text,                              -- the status after this event (null: unchanged)
    applied         boolean NOT NULL,                  -- did it change the shipment?
    occurred_at     timestamptz NOT NULL,              -- carrier time for carrier reports
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    source          text NOT NULL CHECK (source IN ('gateway', 'carrier_push', 'carrier_poll', 'staff')),
    carrier_code    integer,
    carrier_text    text,
    unknown_code    boolean NOT NULL DEFAULT false,    -- flagged for staff
    note            text,
    actor           text,
    UNIQUE (shipment_id, seq)
);
-- the same carrier report (code, carrier time) is stored once per shipment
CREATE UNIQUE INDEX shipment_events_carrier_report ON shipment_events (shipment_id, carrier_code, occurred_at)
    WHERE carrier_code IS NOT NULL;
CREATE INDEX shipment_events_unknown ON shipment_events (recorded_at) WHERE unknown_code;

CREATE RULE shipment_events_no_update AS ON UPDATE TO shipment_events DO INSTEAD NOTHING;
CREATE RULE shipment_events_no_delete AS ON DELETE TO shipment_events DO INSTEAD NOTHING;

-- Idempotency-Key records (SPEC §3): the first response to a key is kept and replayed.
CREATE TABLE idempotency_keys (
    client_id       text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,                     -- sha256 of method, path and canonical body
    response_status smallint NOT NULL,
    response_body   jsonb NOT NULL,
    shipment_id     uuid REFERENCES shipments (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The outbox: work caused by a state change, committed in the same transaction, claimed by
-- workers with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,                     -- carrier_submit, carrier_cancel, callback, ...
    shipment_id     uuid REFERENCES shipments (id),
    payload         jsonb NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    run_at          timestamptz NOT NULL DEFAULT now(),
    locked_by       integer,                           -- worker number; the worker holds advisory lock (BCCI_WORKER_NS, n) while alive
    locked_until    timestamptz,                       -- lease: a stuck worker's job is claimable after it
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_shipment ON jobs (shipment_id, id);
CREATE INDEX jobs_dead ON jobs (updated_at) WHERE state = 'dead';

-- One immutable row per attempt at a job: the audit trail staff need.
CREATE TABLE job_attempts (
    id              bigserial PRIMARY KEY,
    job_id          bigint NOT NULL REFERENCES jobs (id),
    attempt         integer NOT NULL,
    worker          integer NOT NULL,                  -- which worker (process) made it
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL,
    outcome         text NOT NULL,                     -- ok, transient, permanent, ...
    error_class     text,
    http_status     integer,
    excerpt         text                               -- capped excerpt of the answer
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, id);

-- Every staff action: who, when, what and why.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor_id        text NOT NULL,
    actor_name      text,
    action          text NOT NULL,
    shipment_id     uuid REFERENCES shipments (id),
    reason          text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_shipment ON audit_log (shipment_id, id);
CREATE RULE audit_log_no_update AS ON UPDATE TO audit_log DO INSTEAD NOTHING;
CREATE RULE audit_log_no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;
