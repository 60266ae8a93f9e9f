-- wrk script: autosave, one answer per save, over the started examinees listed in a data file.
--
--   wrk -t2 -c64 -d20s -s bench/wrk_autosave.lua http://127.0.0.1:PORT -- DATA_FILE THREADS FIRST_SEQ
--
-- Each line of DATA_FILE: "<attempt id> <session token> <45 answers>", the answers separated by commas,
-- each the displayed letters of question n (e.g. "B,AC,T,…"). Thread k of THREADS keeps to the examinees
-- of lines k, k + THREADS, …, taken in turn, so one examinee's next save is sent only after a whole round
-- of that thread's others (never two of his in flight: a browser tab sends one save at a time); every
-- save has the examinee's next seq (from FIRST_SEQ on: above whatever an earlier run stored) and changes one
-- answer. Non-200 replies and saves the server did not
-- store ("saved":false) are counted and printed at the end.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads, first_seq = args[1], tonumber(args[2]), tonumber(args[3])
  examinees = {}
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == id then
      local attempt, token, answers = line:match("^(%d+) (%S+) (%S+)$")
      local sheet = {}
      for letters in answers:gmatch("[^,]+") do
        table.insert(sheet, letters)
      end
      table.insert(examinees, {attempt = attempt, auth = "Bearer " .. token, sheet = sheet, seq = first_seq - 1})
    end
    n = n + 1
  end
  next_one = 0
  errors = 0
  refused = 0
end

local function letters_json(letters)
  local out = {}
  for ch in letters:gmatch(".") do
    table.insert(out, '"' .. ch .. '"')
  end
  return "[" .. table.concat(out, ",") .. "]"
end

function request()
  next_one = next_one % #examinees + 1
  local e = examinees[next_one]
  e.seq = e.seq + 1
  local q = (e.seq - 1) % #e.sheet + 1
  local body = string.format('{"seq":%d,"answers":{"%d":%s}}', e.seq, q, letters_json(e.sheet[q]))
  return wrk.format("PUT", "/api/attempts/" .. e.attempt .. "/answers",
    {["Authorization"] = e.auth, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
  elseif not body:find('"saved":true', 1, true) then
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local errs, refs = 0, 0
  for _, thread in ipairs(threads) do
    errs = errs + thread:get("errors")
    refs = refs + thread:get("refused")
  end
  io.write(string.format("WRK_RESULT {\"requests\": %d, \"seconds\": %.3f, \"errors\": %d, \"refused\": %d, " ..
    "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f}\n", summary.requests, summary.duration / 1e6,
    errs, refs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
