-- wrk script of benches/loop.rs (ingestion alone): every request is a new pickup with its own
-- Idempotency-Key and dossier code, for a citizen with a realistic, varying Vietnamese name.
-- Arguments after `--`: <round> <bearer token>. The round number is part of every key and
-- dossier code, so that rounds against the same database never replay each other.
-- Prints `WRK|<name>|<value>` lines for the bench to read (no citizen value is printed).

-- Set per thread by setup() (globals: thread:set / thread:get reach only globals).
tid = 0
created = 0
failed = 0

local round = 0
local token = ""
local counter = 0
local threads = {}
local next_tid = 1

-- Family names with their approximate share of the population (per cent); the last ten share
-- what is left. Nguyễn alone is about 4 in 10.
local surnames = {
  {"Nguyễn", 38.0}, {"Trần", 11.0}, {"Lê", 9.5}, {"Phạm", 7.0}, {"Hoàng", 3.0},
  {"Huỳnh", 2.0}, {"Phan", 4.5}, {"Vũ", 2.0}, {"Võ", 1.9}, {"Đặng", 2.1}, {"Bùi", 2.0},
  {"Đỗ", 1.4}, {"Hồ", 1.3}, {"Ngô", 1.3}, {"Dương", 1.0}, {"Lý", 0.5},
  {"Đào", 1.1}, {"Đinh", 1.1}, {"Mai", 1.0}, {"Trịnh", 1.1}, {"Lương", 1.0}, {"Hà", 1.1},
  {"Cao", 1.0}, {"Lâm", 1.0}, {"Tạ", 1.0}, {"Triệu", 1.1},
}
local surname_total = 0
for _, s in ipairs(surnames) do surname_total = surname_total + s[2] end

local middles = {"Văn", "Văn", "Văn", "Thị", "Thị", "Thị", "Đức", "Minh", "Ngọc", "Thanh",
  "Hữu", "Quang", "Thu", "Hoài", "Xuân", "Thùy", "Hồng", "Công", "Quốc", "Kim"}
local givens = {"An", "Anh", "Bình", "Chi", "Cường", "Dũng", "Dung", "Duy", "Giang", "Hà",
  "Hải", "Hạnh", "Hằng", "Hiếu", "Hoa", "Hùng", "Hương", "Huy", "Khánh", "Lan", "Linh",
  "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc", "Nhung", "Phong", "Phương", "Quân", "Quyên",
  "Sơn", "Tâm", "Thảo", "Thắng", "Thủy", "Trang", "Trung", "Tuấn", "Tùng", "Vân", "Việt",
  "Yến", "Hiền", "Lộc", "Đạt", "Khoa", "Loan", "Thành"}
local communes = {"02215", "00691", "00694", "00700", "00706", "00715", "00721", "00733",
  "00745", "00763", "00769", "00778"}
local procedures = {
  {"1.004227", "Đăng ký biến động quyền sử dụng đất"},
  {"1.003003", "Đăng ký đất đai, tài sản gắn liền với đất lần đầu"},
  {"2.000889", "Cấp bản sao trích lục hộ tịch"},
}

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  round = tonumber(args[1]) or 0
  token = args[2] or ""
  math.randomseed(round * 1000 + tid)
end

local function surname()
  local x = math.random() * surname_total
  for _, s in ipairs(surnames) do
    x = x - s[2]
    if x <= 0 then return s[1] end
  end
  return surnames[1][1]
end

local function full_name()
  local name = surname()
  -- About one name in ten has no middle name, one in ten has two.
  local r = math.random(10)
  if r > 1 then name = name .. " " .. middles[math.random(#middles)] end
  if r == 10 then name = name .. " " .. middles[math.random(#middles)] end
  return name .. " " .. givens[math.random(#givens)]
end

local prefixes = {"09", "08", "07", "03", "05"}

function request()
  counter = counter + 1
  local proc = procedures[math.random(#procedures)]
  -- Agency group = thread, second group = millions of the counter, third = round; the day
  -- varies, the sequence is the rest of the counter: unique within a run.
  local dossier = string.format("%03d.%02d.%02d.H61-2611%02d-%06d",
    tid, math.floor(counter / 1000000) % 100, round % 100, counter % 28 + 1, counter % 1000000)
  local phone = string.format("%s%08d", prefixes[math.random(#prefixes)], math.random(10000000, 99999999))
  local body = string.format(
    '{"dossier_code":"%s","office_code":"VPDKDD-TQ","procedure":{"code":"%s","name":"%s"},'
    .. '"citizen":{"full_name":"%s","phone":"%s","email":null,"id_number":"0080%08d"},'
    .. '"address":{"line":"Số %d, tổ %d","province_code":"08","commune_code":"%s"},'
    .. '"documents":[{"name":"Đơn đăng ký","copies":1}],"collect_fees_vnd":0,"note":null}',
    dossier, proc[1], proc[2], full_name(), phone, math.random(0, 99999999),
    math.random(1, 200), math.random(1, 30), communes[math.random(#communes)])
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", round, tid, counter),
  }
  return wrk.format("POST", "/v1/pickups", headers, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + (t:get("created") or 0)
    f = f + (t:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format("WRK|created|%d\n", c))
  io.write(string.format("WRK|failed|%d\n", f))
  io.write(string.format("WRK|socket_errors|%d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("WRK|duration_us|%d\n", summary.duration))
  io.write(string.format("WRK|p50_us|%d\n", latency:percentile(50)))
  io.write(string.format("WRK|p99_us|%d\n", latency:percentile(99)))
end
