ALTER TABLE shipments DROP COLUMN cancel_note;
ALTER TABLE shipments DROP COLUMN cancel_case_id;
ALTER TABLE shipments DROP COLUMN cancel_state;
ALTER TABLE shipments DROP COLUMN carrier_cod_vnd;
ALTER TABLE shipments DROP COLUMN carrier_fee_vnd;
