-- wrk script used by bench/throughput.py: rotates over prepared requests and checks each status.
--
--   wrk -t1 -c32 -d10s -s bench/throughput.lua URL -- REQUESTS_FILE EXPECTED_STATUS
--
-- REQUESTS_FILE has one request per line: METHOD <TAB> PATH [<TAB> BODY]. Headers come from
-- wrk's -H options (the same for every request of a run). Every request is formatted once in
-- init(), so the per-request cost on the load generator is a table lookup.
--
-- Any response whose status is not EXPECTED_STATUS (e.g. 204 instead of 200 from
-- /v1/empty-cart, which would mean "no block") is counted; done() prints one line
--   CARTBACK-CHECK requests=N bad=M last_bad_status=S
-- that the Python side parses and fails on.

local prepared = {}
local position = 0
local threads = {}
local created = 0

-- Globals, read across Lua states with thread:get() in done().
expected = 200
bad = 0
last_bad_status = 0

function setup(thread)
   created = created + 1
   thread:set("tid", created)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   expected = tonumber(args[2]) or 200
   for line in io.lines(path) do
      if line ~= "" then
         local method, target, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
         if body == "" then body = nil end
         prepared[#prepared + 1] = wrk.format(method, target, nil, body)
      end
   end
   if #prepared == 0 then
      error("no requests in " .. tostring(path))
   end
   -- Threads start at different places so they do not send the same sequence in lockstep.
   local n = tid or 1
   position = ((n - 1) * 7919) % #prepared
end

function request()
   position = position + 1
   if position > #prepared then position = 1 end
   return prepared[position]
end

function response(status, headers, body)
   if status ~= expected then
      bad = bad + 1
      last_bad_status = status
   end
end

function done(summary, latency, requests)
   local total_bad, status = 0, 0
   for _, thread in ipairs(threads) do
      total_bad = total_bad + (thread:get("bad") or 0)
      local s = thread:get("last_bad_status")
      if s and s ~= 0 then status = s end
   end
   io.write(string.format("CARTBACK-CHECK requests=%d bad=%d last_bad_status=%d\n",
                          summary.requests, total_bad, status))
end
