-- The lobby with bounded work, whatever the sort: walk at most `scan` entries
-- of the date index (or of the data1 index when data1 is filtered), newest
-- first (oldest first for date ASC), in chunks, filter, and stop early when
-- the walk is the sort order (by date) at the limit or once the reply would be
-- too big. Sorting by a data field reads only the fields the filters and the
-- sort need, sorts what the walk found, and reads the rest for the best ones.
-- Stale index members (their hash expired) are dropped on the way.
-- KEYS: 1 by-date index
-- ARGV: 1 data1 index prefix, 2 server key prefix, 3 '1' walk oldest first,
--       4 limit (-1: all), 5 scan limit, 6 max reply bytes (-1: none),
--       7 bytes per entry besides ip and data, 8 sort: 0 date, 1..8 data field,
--       9 '1' ascending, 10..17 filters data1..data8, 18 largest entry bytes (-1: any);
--       a bigger entry is left out (it could not be sent) and counts toward nothing
local index = KEYS[1]
if ARGV[10] ~= '' then index = ARGV[1] .. ARGV[10] end
local scan = tonumber(ARGV[5])
local oldest_first = ARGV[3] == '1'
local limit = tonumber(ARGV[4])
local max_bytes = tonumber(ARGV[6])
local overhead = tonumber(ARGV[7])
local sort_field = tonumber(ARGV[8])
local largest = tonumber(ARGV[18])
local by_date = sort_field == 0
local CHUNK = 64

-- What a walk reads per server: everything when sorting by date (the entry is
-- the answer), else the owner (is it alive), the filtered fields and the sort key.
local wanted = { F.ownerConnectionId }
local filters = {}
for d = 1, #DATA do
  local filter = ARGV[9 + d]
  if filter ~= '' then
    filters[#filters + 1] = { field = DATA[d], value = filter }
    wanted[#wanted + 1] = DATA[d]
  end
end
if by_date then wanted = READ else wanted[#wanted + 1] = DATA[sort_field] end
local at = {}
for i, field in ipairs(wanted) do at[field] = i end

-- An entry's exact size in the reply's JSON, as estimatedEntryBytes in lobby.ts:
-- JSON doubles `"` and `\` (control characters never reach the store).
local function size(ip, h)
  local bytes = overhead + #ip
  for d = 1, #DATA do
    local value = h[READ_AT[DATA[d]]] or ''
    local _, doubled = string.gsub(value, '["\\]', '')
    bytes = bytes + #value + doubled
  end
  return bytes
end

local function fits(ip, h)
  return largest < 0 or size(ip, h) <= largest
end

local found = {}
local bytes = 0
local done = false
local start = 0
while not done and start < scan do
  local stop = math.min(start + CHUNK, scan) - 1
  local members
  if oldest_first then
    members = redis.call('ZRANGE', index, start, stop)
  else
    members = redis.call('ZREVRANGE', index, start, stop)
  end
  if #members == 0 then break end
  local removed = 0
  for _, ip in ipairs(members) do
    local h = redis.call('HMGET', ARGV[2] .. ip, unpack(wanted))
    if not h[1] then
      redis.call('ZREM', index, ip)
      removed = removed + 1
    else
      local match = true
      for _, f in ipairs(filters) do
        if f.value ~= (h[at[f.field]] or '') then
          match = false
          break
        end
      end
      -- Sorting by a field, the walk has not read the data: out-sized entries are left out below.
      if match and by_date then match = fits(ip, h) end
      if match then
        found[#found + 1] = { ip = ip, h = h }
        if by_date then
          bytes = bytes + size(ip, h)
          if (limit >= 0 and #found >= limit) or (max_bytes >= 0 and bytes > max_bytes) then
            done = true
            break
          end
        end
      end
    end
  end
  -- Removed members shifted the rest of the index up by as many places.
  start = start + #members - removed
  if #members < CHUNK then break end
end

if not by_date then
  local key = at[DATA[sort_field]]
  local ascending = ARGV[9] == '1'
  table.sort(found, function(a, b)
    local x, y = a.h[key] or '', b.h[key] or ''
    if x == y then x, y = a.ip, b.ip end
    if ascending then return x < y end
    return x > y
  end)
end

local out = {}
local kept = 0
bytes = 0
for _, entry in ipairs(found) do
  if limit >= 0 and kept >= limit then break end
  local h = entry.h
  if not by_date then h = redis.call('HMGET', ARGV[2] .. entry.ip, unpack(READ)) end
  if fits(entry.ip, h) then
    kept = kept + 1
    out[#out + 1] = entry.ip
    for k = 1, #READ do out[#out + 1] = h[k] or false end
    bytes = bytes + size(entry.ip, h)
    if max_bytes >= 0 and bytes > max_bytes then break end
  end
end
return out
