-- Callbacks to the dossier systems (SPEC §7). A callback is a message with a stable id
-- (`webhook-id`), written in the same transaction as the status change it reports; its
-- delivery attempts are jobs (kind `callback`) and their attempt rows.

CREATE TABLE callbacks (
    id              uuid PRIMARY KEY,                  -- webhook-id is 'msg_' || id
    client_id       text NOT NULL,
    shipment_id     uuid NOT NULL REFERENCES shipments (id),
    type            text NOT NULL CHECK (type IN ('shipment.status_changed', 'shipment.late', 'shipment.rejected')),
    sequence        integer NOT NULL,
    body            jsonb NOT NULL,                    -- sent verbatim on every attempt
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'held', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_shipment ON callbacks (shipment_id, created_at);
CREATE INDEX callbacks_dead ON callbacks (updated_at) WHERE state = 'dead';
CREATE INDEX callbacks_held ON callbacks (client_id, created_at) WHERE state = 'held';

-- A client whose endpoint answered 410 gets no callbacks until staff re-enable it.
CREATE TABLE client_callbacks (
    client_id       text PRIMARY KEY,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_at     timestamptz,
    disabled_reason text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Lateness sweep: the shipments that may become late and are not yet.
CREATE INDEX shipments_due ON shipments (due_at) WHERE NOT late AND due_at IS NOT NULL;
CREATE INDEX shipments_pickup_window ON shipments (created_at) WHERE NOT late AND kind = 'pickup' AND picked_up_at IS NULL;
