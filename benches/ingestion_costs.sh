#!/usr/bin/env bash
# Where a create spends its time (issue 12 §2): pgbench runs the gateway's create transaction
# (the statements of benches/create_shipments.rs, pipelined as the gateway sends them, with
# realistic varied names and a ~1.5 KB saved idempotency response) in variants, each alternated
# with the minimal durable transaction `BEGIN; 4 INSERTs; COMMIT` (4 small tables of its own),
# 32 clients, -M prepared, BENCH_SECONDS (10) each, in one run. Prints the table of
# docs/ingestion-costs.md: tps, ratio to the minimal run just before it, and the cost per create
# (1e6 / tps: the machine's time per create at saturation) against the gateway's as it is.
#
#   bash benches/ingestion_costs.sh            (needs PostgreSQL, pgbench, psql)
#
# Environment: BENCH_SECONDS (10), BENCH_CLIENTS (32), TEST_DATABASE_SERVER (default
# postgres://postgres@127.0.0.1:5432), BENCH_ONLY (space-separated variant names to run).
# The "1 M rows" variant copies the template `growth_template_1m` that `cargo bench --bench
# growth` seeds; if it is missing this script seeds it (BENCH_SEED_ONLY=1 cargo bench --bench
# growth, a few minutes). Scratch databases: growth_costs_*, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

server=${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
secs=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-32}
only=${BENCH_ONLY:-}
template_1m=growth_template_1m
work=$(mktemp -d)
export PGOPTIONS="-c client_min_messages=warning"

admin() { psql -q -X -v ON_ERROR_STOP=1 "$server/postgres" "$@" >/dev/null; }
on() { local db=$1; shift; psql -q -X -v ON_ERROR_STOP=1 "$server/$db" "$@" >/dev/null; }
dbs=()
cleanup() {
    for db in "${dbs[@]}"; do
        psql -q -X "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# --- the names: the lists of benches/common/names.rs (one list for every bench), each name
# repeated by its weight, indexed by a pgbench random.
expand() {
    sed -n "/^pub const $1:/,/^\];/p" benches/common/names.rs |
        sed -n 's/.*("\([^"]*\)", \([0-9]*\)).*/\1 \2/p' |
        while read -r name weight; do
            for ((i = 0; i < weight; i++)); do printf "'%s'," "$name"; done
        done | sed 's/,$//'
}
family=$(expand FAMILY)
middle=$(expand MIDDLE)
given=$(expand GIVEN)
count() { tr ',' '\n' <<<"$1" | wc -l; }
nf=$(count "$family")
nm=$(count "$middle")
ng=$(count "$given")
name="((ARRAY[$family]::text[])[:f] || ' ' || (ARRAY[$middle]::text[])[:m] || ' ' || (ARRAY[$given]::text[])[:g])"

# --- the scripts
cat >"$work/minimal.sql" <<'EOF'
\set k random(1, 1000000000000)
BEGIN;
INSERT INTO minimal_1 (id, at, v) VALUES (:k, now(), 'x');
INSERT INTO minimal_2 (id, at, v) VALUES (:k, now(), 'x');
INSERT INTO minimal_3 (id, at, v) VALUES (:k, now(), 'x');
INSERT INTO minimal_4 (id, at, v) VALUES (:k, now(), 'x');
COMMIT;
EOF

# The saved response: the API's shipment view (src/api/dto.rs) of a pickup with three
# documents, about 1.5 KB as stored. `small` stores an empty object instead. A space after
# the colon of every null and false: pgbench would take `:null` for a variable.
body() {
    if [ "$1" = small ]; then
        echo "'{}'"
        return
    fi
    cat <<EOF
('{"id":"' || md5('s' || :k)::uuid || '","kind":"pickup","status":"requested","dossier_code":"000.00.14.H61-261201-' || :k || '","office_code":"VPDKDD-TQ","client_id":"motcua-tq","tracking_number": null,"carrier":"vnpost","carrier_status": null,"citizen":{"full_name":"' || $name || '","phone":"09' || lpad((:k::bigint % 100000000)::text, 8, '0') || '","email": null,"id_number":"008090001234"},"address":{"line":"Số 12, ngõ 34, đường Tân Trào, tổ 5, phường Phan Thiết","province_code":"08","commune_code":"02215"},"procedure":{"code":"1.004227","name":"Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất"},"documents":[{"name":"Đơn đăng ký biến động đất đai, tài sản gắn liền với đất (Mẫu số 11/ĐK)","copies":1},{"name":"Bản gốc Giấy chứng nhận quyền sử dụng đất đã cấp","copies":1},{"name":"Hợp đồng chuyển nhượng quyền sử dụng đất có công chứng","copies":2}],"collect_fees_vnd":0,"cod_vnd":0,"note":"Gọi trước khi đến; nhà có cổng xanh, đối diện trường tiểu học","due_at": null,"late": false,"sequence":1,"status_reason": null,"carrier_fee_vnd": null,"carrier_cod_vnd": null,"cancellation": null,"tracking_url":"https://bcci.tuyenquang.gov.vn/tra-cuu/AZP3kq7Xw2mN8vB5cR1tY6uH0jL4sD9fG3aQ7eW2xZk","created_at":"2026-12-01T10:30:00.123456Z","updated_at":"2026-12-01T10:30:00.123456Z"}')::jsonb
EOF
}

# The gateway's create, as benches/create_shipments.rs writes it out (the three reads
# pipelined, the four writes pipelined, then COMMIT), with a varied name and phone.
gateway_script() {
    cat <<EOF
\\set k random(1, 1000000000000)
\\set f random(1, $nf)
\\set m random(1, $nm)
\\set g random(1, $ng)
BEGIN;
\\startpipeline
SELECT pg_try_advisory_xact_lock(:k);
SELECT client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at FROM idempotency_keys WHERE client_id = 'motcua-tq' AND key = 'pg-' || :k;
SELECT id FROM shipments WHERE client_id = 'motcua-tq' AND dossier_code = '000.00.14.H61-261201-' || :k AND kind = 'pickup' AND status NOT IN ('delivered', 'returned', 'cancelled', 'rejected') LIMIT 1;
\\endpipeline
\\startpipeline
INSERT INTO shipments (id, kind, status, sequence, client_id, office_code, dossier_code, procedure_code, procedure_name, person_name, person_phone, person_email, person_id_number, address_line, province_code, commune_code, documents, result, collect_fees_vnd, cod_vnd, note, due_at, late, sale_order_code, carrier, created_at, updated_at) VALUES (md5('s' || :k)::uuid, 'pickup', 'requested', 1, 'motcua-tq', 'VPDKDD-TQ', '000.00.14.H61-261201-' || :k, '1.004227', 'Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất', $name, '09' || lpad((:k::bigint % 100000000)::text, 8, '0'), NULL, '008090001234', 'Số 12, ngõ 34, đường Tân Trào, tổ 5, phường Phan Thiết', '08', '02215', '[{"name":"Đơn đăng ký biến động đất đai, tài sản gắn liền với đất (Mẫu số 11/ĐK)","copies":1},{"name":"Bản gốc Giấy chứng nhận quyền sử dụng đất đã cấp","copies":1},{"name":"Hợp đồng chuyển nhượng quyền sử dụng đất có công chứng","copies":2}]', NULL, 0, 0, 'Gọi trước khi đến; nhà có cổng xanh, đối diện trường tiểu học', NULL, false, 'PG' || :k, 'vnpost', now(), now());
INSERT INTO shipment_events (shipment_id, seq, status, applied, occurred_at, source, unknown_code, actor) VALUES (md5('s' || :k)::uuid, 1, 'requested', true, now(), 'gateway', false, 'motcua-tq');
INSERT INTO jobs (kind, shipment_id, payload) VALUES ('carrier_submit', md5('s' || :k)::uuid, '{}') RETURNING id;
INSERT INTO idempotency_keys (client_id, key, request_hash, response_status, response_body, shipment_id, created_at, expires_at) VALUES ('motcua-tq', 'pg-' || :k, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 201, $(body "$1"), md5('s' || :k)::uuid, now(), now() + interval '48 hours');
\\endpipeline
COMMIT;
EOF
}
gateway_script full >"$work/gateway.sql"
gateway_script small >"$work/gateway-small-body.sql"

# --- the databases
base=growth_costs_base
dbs+=("$base" growth_costs_minimal)
admin -c "DROP DATABASE IF EXISTS $base WITH (FORCE)" -c "CREATE DATABASE $base"
for up in migrations/*/up.sql; do on "$base" -1 -f "$up"; done
admin -c "DROP DATABASE IF EXISTS growth_costs_minimal WITH (FORCE)" -c "CREATE DATABASE growth_costs_minimal"
for i in 1 2 3 4; do
    on growth_costs_minimal -c "CREATE TABLE minimal_$i (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text NOT NULL)"
done
# the saved response really is about 1.5 KB
bytes=$(psql -X -At "$server/$base" -c "SELECT octet_length($(body full | sed 's/:k\b/123456789/g; s/:[fmg]\b/1/g')::text)")
echo "saved response: $bytes bytes as jsonb text" >&2

# Variants: name|description|script|SQL run on a copy of the migrated database ("1M": on a
# copy of the seeded template instead, then the SQL after "1M; ").
nn="DROP TRIGGER IF EXISTS jobs_notify ON jobs"
pkey_only="ALTER TABLE shipments DROP COLUMN name_folded; DROP INDEX shipments_client_id, shipments_dossier, shipments_office, shipments_status, shipments_phone_suffix, shipments_quiet, shipments_pickup_window, shipments_due, shipments_late, shipments_next_poll, shipments_retention_due, shipments_tracking, shipments_one_active_per_dossier; ALTER TABLE shipments DROP CONSTRAINT shipments_sale_order_code_key"
no_fks="ALTER TABLE shipment_events DROP CONSTRAINT shipment_events_shipment_id_fkey; ALTER TABLE jobs DROP CONSTRAINT jobs_shipment_id_fkey; ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_shipment_id_fkey"
variants=(
    "gateway|the gateway's create as it is|gateway|"
    "no_gin|without the trigram GIN index shipments_name_folded|gateway|DROP INDEX shipments_name_folded"
    "gin_fastupdate_off|GIN index with fastupdate = off|gateway|ALTER INDEX shipments_name_folded SET (fastupdate = off)"
    "no_name_folded|without name_folded (the stored folded name) and its GIN index|gateway|ALTER TABLE shipments DROP COLUMN name_folded"
    "small_body|saved response {} instead of the shipment (~1.5 KB)|gateway-small-body|"
    "no_list_indexes|without shipments_client_id, _dossier, _office, _status (search/list orders)|gateway|DROP INDEX shipments_client_id, shipments_dossier, shipments_office, shipments_status"
    "no_phone_suffix|without shipments_phone_suffix|gateway|DROP INDEX shipments_phone_suffix"
    "no_worklist_partials|without the partial worklist indexes (quiet, pickup_window, due, late, next_poll, retention_due, tracking)|gateway|DROP INDEX shipments_quiet, shipments_pickup_window, shipments_due, shipments_late, shipments_next_poll, shipments_retention_due, shipments_tracking"
    "no_unique|without the unique indexes one_active_per_dossier and sale_order_code|gateway|DROP INDEX shipments_one_active_per_dossier; ALTER TABLE shipments DROP CONSTRAINT shipments_sale_order_code_key"
    "pkey_only|shipments with its primary key only (every index above dropped)|gateway|$pkey_only"
    "no_fks|without the 3 foreign keys to shipments (events, jobs, idempotency_keys)|gateway|$no_fks"
    "no_notify|without the jobs_notify trigger (NOTIFY per enqueue)|gateway|DROP TRIGGER IF EXISTS jobs_notify ON jobs"
    "at_1m|on a ledger already holding 1 M shipments (with events, jobs, keys)|gateway|1M"
    # The NOTIFY serialises every commit (its lock is held through the WAL flush), which hides
    # the other costs: the same cuts again without it.
    "nn_no_gin|no NOTIFY, and without shipments_name_folded|gateway|$nn; DROP INDEX shipments_name_folded"
    "nn_gin_fastupdate_off|no NOTIFY, GIN fastupdate = off|gateway|$nn; ALTER INDEX shipments_name_folded SET (fastupdate = off)"
    "nn_small_body|no NOTIFY, saved response {}|gateway-small-body|$nn"
    "nn_no_list_indexes|no NOTIFY, without the four list indexes|gateway|$nn; DROP INDEX shipments_client_id, shipments_dossier, shipments_office, shipments_status"
    "nn_pkey_only|no NOTIFY, shipments with its primary key only|gateway|$nn; $pkey_only"
    "nn_no_fks|no NOTIFY, without the 3 foreign keys|gateway|$nn; $no_fks"
    "nn_at_1m|no NOTIFY, on the 1 M ledger|gateway|1M; $nn"
)

pgbench_tps() { # db script → tps
    psql -q -X "$server/postgres" -c CHECKPOINT >/dev/null
    pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -f "$2" "$server/$1" 2>"$work/pgbench.err" |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p' || true
}

results=()
for v in "${variants[@]}"; do
    IFS='|' read -r key what script sql <<<"$v"
    if [ -n "$only" ] && ! grep -qw -- "$key" <<<"$only"; then continue; fi
    db=growth_costs_$key
    dbs+=("$db")
    admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    if [ "${sql%%;*}" = 1M ]; then
        if ! psql -X -At "$server/postgres" -c "SELECT 1 FROM pg_database WHERE datname = '$template_1m'" | grep -q 1; then
            echo "seeding $template_1m (cargo bench --bench growth, BENCH_SEED_ONLY=1)" >&2
            BENCH_SEED_ONLY=1 cargo bench --bench growth >&2
        fi
        admin -c "CREATE DATABASE $db TEMPLATE $template_1m STRATEGY FILE_COPY"
        [ "$sql" = 1M ] || on "$db" -c "${sql#1M; }"
    else
        admin -c "CREATE DATABASE $db TEMPLATE $base"
        [ -z "$sql" ] || on "$db" -c "$sql"
    fi
    min=$(pgbench_tps growth_costs_minimal "$work/minimal.sql")
    tps=$(pgbench_tps "$db" "$work/$script.sql")
    if [ -z "$tps" ] || [ -z "$min" ]; then
        echo "pgbench failed on $key:" >&2
        cat "$work/pgbench.err" >&2
        exit 1
    fi
    echo "$key: $tps tps (minimal just before: $min)" >&2
    results+=("$key|$what|$tps|$min")
    # a copy of the 1 M ledger is large: gone as soon as measured
    if [ "${sql%%;*}" = 1M ]; then admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; fi
done

# --- the table: cost per create = 1e6 / tps µs; the last column, this variant's cost minus
# its reference's: the gateway as it is, or for the nn_ variants the gateway without NOTIFY.
tps_of() { printf '%s\n' "${results[@]}" | awk -F'|' -v k="$1" '$1 == k { print $3 }'; }
echo
echo "pgbench, $clients clients, -M prepared, $secs s each, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
echo
echo "| variant | tps | minimal tps (run just before) | ratio to minimal | µs per create | against its reference |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${results[@]}" | awk -F'|' -v g="$(tps_of gateway)" -v n="$(tps_of no_notify)" '{
    cost = 1e6 / $3
    ref = ($1 ~ /^nn_/) ? n : g
    delta = ""
    if (ref > 0 && $1 != "gateway") delta = sprintf("%+.0f µs", cost - 1e6 / ref)
    printf "| %s (`%s`) | %.0f | %.0f | %.2f | %.0f | %s |\n", $2, $1, $3, $4, $3 / $4, cost, delta
}'
