DROP TABLE reconcile_carrier_orders;
DROP TABLE reconcile_runs;
