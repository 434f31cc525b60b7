CREATE INDEX shipments_name_trgm ON shipments USING gin (lower(person_name) gin_trgm_ops);
