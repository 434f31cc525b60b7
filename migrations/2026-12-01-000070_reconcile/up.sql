-- The month's reconciliation with VNPost (issue 10 §3, "Đối soát").
--
-- Each pull of VNPost's GetListOrder for a month is a run: who started it, when, which dates
-- were asked, how many orders came back. The carrier's figures of that month are kept per
-- order beside the ledger's (which stay in `shipments`), and replaced whole by the next run of
-- the same month, in the run's transaction: a month never holds two pulls mixed.
CREATE TABLE reconcile_runs (
    id              bigserial PRIMARY KEY,
    -- The first day of the Vietnamese calendar month.
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    started_by      text NOT NULL,
    started_by_name text,
    -- 'cli' (bcci-gateway reconcile) or 'console' (a staff member's button).
    source          text NOT NULL CHECK (source IN ('cli', 'console')),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL DEFAULT now(),
    -- The Vietnam dates asked of GetListOrder (lastUpdateFrom, lastUpdateTo).
    date_from       date NOT NULL,
    date_to         date NOT NULL CHECK (date_to >= date_from),
    -- Orders VNPost listed, and of them those created in the month (kept below).
    listed          integer NOT NULL CHECK (listed >= 0),
    kept            integer NOT NULL CHECK (kept >= 0)
);
CREATE INDEX reconcile_runs_month ON reconcile_runs (month, id DESC);

CREATE TABLE reconcile_carrier_orders (
    month               date NOT NULL,
    item_code           text NOT NULL,
    run_id              bigint NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
    -- The office of the ledger's shipment with this order; null when the ledger has none.
    office_code         text,
    sale_order_code     text,
    original_id         text,
    -- totalFee and codAmount as VNPost lists them, in đồng; null when it gives none.
    fee_vnd             bigint,
    cod_vnd             bigint,
    carrier_status      integer,
    carrier_status_text text,
    carrier_created_at  timestamptz,
    carrier_updated_at  timestamptz,
    fetched_at          timestamptz NOT NULL,
    PRIMARY KEY (month, item_code)
);
CREATE INDEX reconcile_carrier_orders_run ON reconcile_carrier_orders (run_id);
