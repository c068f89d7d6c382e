-- The lobby with bounded work, whatever the sort: walk at most `scan` entries
-- of the date index (or of the data1 index when data1 is filtered), newest
-- first (oldest first for date ASC), filter, and stop early when the walk is
-- the sort order (by date) at the limit or once the reply would be too big.
-- Sorting by a data field sorts what the walk found and returns the best ones.
-- Stale index members (their hash expired) are dropped on the way.
-- KEYS: 1 by-date index
-- ARGV: 1 data1 index prefix, 2 server key prefix, 3 '1' walk oldest first,
--       4 limit (-1: all), 5 scan limit, 6 max reply bytes (-1: none),
--       7 bytes per entry besides ip and data, 8 sort: 0 date, 1..8 data field,
--       9 '1' ascending, 10..17 filters data1..data8
local index = KEYS[1]
if ARGV[10] ~= '' then index = ARGV[1] .. ARGV[10] end
local scan = tonumber(ARGV[5])
local members
if ARGV[3] == '1' then
  members = redis.call('ZRANGE', index, 0, scan - 1)
else
  members = redis.call('ZREVRANGE', index, 0, scan - 1)
end
local limit = tonumber(ARGV[4])
local max_bytes = tonumber(ARGV[6])
local overhead = tonumber(ARGV[7])
local sort_field = tonumber(ARGV[8])
local by_date = sort_field == 0
local function size(ip, h)
  local bytes = overhead + #ip
  for d = 1, #DATA do bytes = bytes + #(h[READ_AT[DATA[d]]] or '') end
  return bytes
end
local found = {}
local bytes = 0
for _, ip in ipairs(members) do
  local h = redis.call('HMGET', ARGV[2] .. ip, unpack(READ))
  if not h[READ_AT[F.ownerConnectionId]] then
    redis.call('ZREM', index, ip)
  else
    local match = true
    for d = 1, #DATA do
      local filter = ARGV[9 + d]
      if filter ~= '' and filter ~= (h[READ_AT[DATA[d]]] or '') then
        match = false
        break
      end
    end
    if match then
      found[#found + 1] = { ip = ip, h = h }
      if by_date then
        bytes = bytes + size(ip, h)
        if limit >= 0 and #found >= limit then break end
        if max_bytes >= 0 and bytes > max_bytes then break end
      end
    end
  end
end
if not by_date then
  local at = READ_AT[DATA[sort_field]]
  local ascending = ARGV[9] == '1'
  table.sort(found, function(a, b)
    local x, y = a.h[at] or '', b.h[at] or ''
    if x == y then x, y = a.ip, b.ip end
    if ascending then return x < y end
    return x > y
  end)
end
local out = {}
bytes = 0
for i, entry in ipairs(found) do
  if limit >= 0 and i > limit then break end
  out[#out + 1] = entry.ip
  for k = 1, #READ do out[#out + 1] = entry.h[k] or false end
  bytes = bytes + size(entry.ip, entry.h)
  if max_bytes >= 0 and bytes > max_bytes then break end
end
return out
