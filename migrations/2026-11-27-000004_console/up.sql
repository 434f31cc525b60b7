-- The staff console (issue 5): sessions, accent-insensitive name search, and the indexes of
-- the console's worklists and reports.

-- A signed-in staff member. The cookie holds a random value; only its SHA-256 is stored, so a
-- copy of this table does not let anyone in. Signing out deletes the row.
CREATE TABLE console_sessions (
    id_hash     bytea PRIMARY KEY,
    csrf_token  text NOT NULL,                      -- carried by every form of the session
    sub         text NOT NULL,                      -- the token's claims, as verified at sign-in
    name        text,
    scopes      text[] NOT NULL,
    offices     text[],                             -- null: every office
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- A name folded for search: lower case, Vietnamese diacritics and đ removed (precomposed or
-- combining), padded with spaces so that the start of a word can be matched. Staff answering
-- the phone type "nguyen van an" and must find "Nguyễn Văn An".
CREATE FUNCTION bcci_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ' ' || translate(lower(t),
        'àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ'
            || U&'\0300\0301\0302\0303\0306\0309\031B\0323',
        'aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd') || ' ' $$;

-- Stored, not an index expression: a search for a common name walks the newest shipments
-- and tests each one, and folding the name then (translate() is slow on multibyte text)
-- cost ten times the test itself.
ALTER TABLE shipments ADD COLUMN name_folded text
    GENERATED ALWAYS AS (bcci_fold(person_name)) STORED;
CREATE INDEX shipments_name_folded ON shipments USING gin (name_folded gin_trgm_ops);
-- Finer statistics let the planner tell a common name (walk the newest shipments) from a
-- rare one (use the trigram index).
ALTER TABLE shipments ALTER COLUMN name_folded SET STATISTICS 1000;

-- "Needs attention": shipments in progress not heard of for too long.
CREATE INDEX shipments_quiet ON shipments (coalesce(last_report_at, created_at))
    WHERE status NOT IN ('delivered', 'returned', 'cancelled', 'rejected');

-- Reports: failed pickup/delivery attempts (carrier codes 5 and 15) per shipment.
CREATE INDEX shipment_events_failed_attempts ON shipment_events (shipment_id)
    WHERE carrier_code IN (5, 15);

-- Items of "needs attention" that staff marked as dealt with (audit_log action
-- 'acknowledge', details.item = '<kind>:<id>').
CREATE INDEX audit_log_acknowledged ON audit_log ((details ->> 'item'))
    WHERE action = 'acknowledge';
