DROP INDEX shipments_pickup_window;
DROP INDEX shipments_due;
DROP TABLE client_callbacks;
DROP TABLE callbacks;
