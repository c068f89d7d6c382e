-- A client's UDP `connect`: one more endpoint behind its public IP (a resent
-- datagram from the same port refreshes it), then wake the nodes waiting.
-- KEYS: 1 client endpoint list, 2 waiting nodes set
-- ARGV: 1 port, 2 ttl ms, 3 max endpoints per IP, 4 publish command, 5 channel prefix, 6 wake message
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
for _, entry in ipairs(entries) do
  if string.match(entry, '^(%d+):') == ARGV[1] then redis.call('LREM', KEYS[1], 1, entry) end
end
redis.call('RPUSH', KEYS[1], ARGV[1] .. ':' .. now)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local waiting = redis.call('SMEMBERS', KEYS[2])
if #waiting > 0 then
  redis.call('DEL', KEYS[2])
  for _, node in ipairs(waiting) do redis.call(ARGV[4], ARGV[5] .. node, ARGV[6]) end
end
return #waiting
