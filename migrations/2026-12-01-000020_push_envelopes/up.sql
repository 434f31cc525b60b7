-- Pushes in MyVNPost's envelope (SPEC §6, revised 2026-11-30): `{data: [record, …], sendDate,
-- signature}`, the signature covering only the first record's itemCode and status.
--
-- One carrier_push_envelopes row per authenticated push as received (duplicates too: it is the
-- log of what came in), with `data` as received (NUL characters removed: jsonb cannot hold
-- them) and, per record, what became of it. One carrier_pushes row per readable record:
-- record 0 is the authenticated report (its columns mean what they always meant); records 1…
-- are hints, never applied, each scheduling a confirming tracking query (outcome 'confirming')
-- or kept for staff ('unknown_shipment').
CREATE TABLE carrier_push_envelopes (
    id              bigserial PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    send_date       timestamptz NOT NULL,
    send_date_text  text NOT NULL,                     -- sendDate as written (it is signed)
    mode            text NOT NULL CHECK (mode IN ('signature', 'encryption')),
    data            jsonb NOT NULL,                    -- `data` as received, NUL removed
    -- one object per record of `data`, same order:
    -- {"outcome": …, "shipment_id": …|null, "confirm": "queued"|"already_queued"|null, "error": …}
    outcomes        jsonb NOT NULL
);

ALTER TABLE carrier_pushes
    ADD COLUMN envelope_id bigint REFERENCES carrier_push_envelopes (id),
    -- position in the envelope's `data`: 0 is the authenticated record
    ADD COLUMN record_index integer NOT NULL DEFAULT 0 CHECK (record_index >= 0),
    -- status_at is sendDate because the record gave no time of its own
    ADD COLUMN status_at_from_send_date boolean NOT NULL DEFAULT false,
    -- the old envelope's signed `Data` text; NULL for pushes in the new envelope
    ALTER COLUMN data DROP NOT NULL;

ALTER TABLE carrier_pushes DROP CONSTRAINT carrier_pushes_outcome_check;
ALTER TABLE carrier_pushes ADD CONSTRAINT carrier_pushes_outcome_check
    CHECK (outcome IN ('applied', 'duplicate', 'unknown_code', 'unknown_shipment', 'confirming'));

-- Only authenticated reports are deduplicated: an unsigned hint must not take the place of a
-- later authentic report with the same code and time.
DROP INDEX carrier_pushes_report;
CREATE UNIQUE INDEX carrier_pushes_report ON carrier_pushes (item_code, status_code, status_at)
    WHERE record_index = 0;
CREATE INDEX carrier_pushes_envelope ON carrier_pushes (envelope_id);
