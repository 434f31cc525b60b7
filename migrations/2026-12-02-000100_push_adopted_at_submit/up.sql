-- Issue 12: a push that overtakes the CreateOrder answer is applied when the answer is
-- recorded, without a tracking query (ledger::pushes::adopt_waiting). The rule that decides
-- whether a tracking query is still needed compares the record's postage and COD with the
-- shipment's, so a record keeps them; and the confirming records of a shipment are found by
-- this small partial index.
ALTER TABLE carrier_pushes
    ADD COLUMN total_fee bigint,
    ADD COLUMN cod_amount bigint;
CREATE INDEX carrier_pushes_confirming ON carrier_pushes (shipment_id, envelope_id)
    WHERE outcome = 'confirming';
