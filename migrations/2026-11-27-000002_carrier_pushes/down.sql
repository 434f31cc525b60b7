DROP TABLE carrier_pushes;
