-- One search (issue 9): the API's `q` now searches names as the console does, on the folded
-- name (`name_folded`, trigram index `shipments_name_folded`). The trigram index on
-- lower(person_name) that the API's old `lower() LIKE` used is read by nothing any more, and
-- only slowed every insert and name change.
DROP INDEX IF EXISTS shipments_name_trgm;
