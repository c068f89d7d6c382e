-- The lobby without scanning keys: walk the date index (or the data1 index
-- when data1 is filtered), newest or oldest first, filter, and stop at the
-- limit when sorting by date. Stale index members (key expired) are dropped.
-- KEYS: 1 by-date index
-- ARGV: 1 data1 index prefix, 2 server key prefix, 3 '1' for ascending,
--       4 limit (-1: all), 5..12 filters data1..data8
local index = KEYS[1]
if ARGV[5] ~= '' then index = ARGV[1] .. ARGV[5] end
local members
if ARGV[3] == '1' then
  members = redis.call('ZRANGE', index, 0, -1)
else
  members = redis.call('ZREVRANGE', index, 0, -1)
end
local limit = tonumber(ARGV[4])
local out = {}
local count = 0
for _, ip in ipairs(members) do
  local h = redis.call('HMGET', ARGV[2] .. ip, 'u', 'v', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'c', 'n', 'o')
  if not h[11] then
    redis.call('ZREM', index, ip)
  else
    local match = true
    for f = 1, 8 do
      local filter = ARGV[4 + f]
      if filter ~= '' and filter ~= (h[2 + f] or '') then
        match = false
        break
      end
    end
    if match then
      out[#out + 1] = ip
      for k = 1, 13 do out[#out + 1] = h[k] end
      count = count + 1
      if limit >= 0 and count >= limit then break end
    end
  end
end
return out
