DROP INDEX carrier_pushes_confirming;
ALTER TABLE carrier_pushes DROP COLUMN total_fee, DROP COLUMN cod_amount;
