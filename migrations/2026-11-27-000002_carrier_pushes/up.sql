-- Carrier pushes (SPEC §6) as received: what the carrier said and what became of it. One row
-- per report: a repeated push finds the row of its first delivery and changes nothing, so
-- duplicates do not grow the table. Reports about shipments the ledger does not know are kept
-- here (outcome 'unknown_shipment') for staff.
CREATE TABLE carrier_pushes (
    id              bigserial PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    item_code       text NOT NULL,                     -- ItemCode: the carrier's tracking number
    sale_order_code text,                              -- SaleOrderCode: our reference, if echoed
    status_code     integer NOT NULL,
    status_text     text NOT NULL,
    status_at       timestamptz NOT NULL,              -- StatusDate: the carrier's clock
    note            text,
    -- No foreign key on purpose: its KEY SHARE lock on the shipment, taken before
    -- reports::apply locks the shipment FOR UPDATE, would let two concurrent pushes for one
    -- shipment deadlock. Shipments are never deleted.
    shipment_id     uuid,
    outcome         text NOT NULL CHECK (outcome IN ('applied', 'duplicate', 'unknown_code', 'unknown_shipment')),
    data            text NOT NULL,                     -- Data exactly as signed
    send_date       timestamptz NOT NULL               -- SendDate: when the carrier sent it
);
CREATE UNIQUE INDEX carrier_pushes_report ON carrier_pushes (item_code, status_code, status_at);
-- the staff's worklist
CREATE INDEX carrier_pushes_unknown_shipment ON carrier_pushes (received_at)
    WHERE outcome = 'unknown_shipment';
