-- What VNPost says it charges and collects (issue 8), kept beside what the gateway asked for:
-- postage from CreateOrder's and getOrder's `totalFee`, cash on delivery from `codAmount`.
-- Null until the carrier has said.
ALTER TABLE shipments ADD COLUMN carrier_fee_vnd bigint CHECK (carrier_fee_vnd >= 0);
ALTER TABLE shipments ADD COLUMN carrier_cod_vnd bigint CHECK (carrier_cod_vnd >= 0);

-- A cancellation asked of the carrier and not yet decided (SPEC §5 orderCancel "02"):
-- 'requested' while the gateway asks, 'awaiting_carrier' while VNPost decides the case
-- `cancel_case_id`, 'refused' when VNPost said no (`cancel_note` says why; the status is kept).
-- Cleared when the shipment is cancelled.
ALTER TABLE shipments ADD COLUMN cancel_state text
    CHECK (cancel_state IN ('requested', 'awaiting_carrier', 'refused'));
ALTER TABLE shipments ADD COLUMN cancel_case_id text;
ALTER TABLE shipments ADD COLUMN cancel_note text;
