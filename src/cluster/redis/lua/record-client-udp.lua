-- A client's UDP `connect`: handed straight to the oldest connect waiting for
-- it (its port is parked under the waiter's key and published to its node, so
-- neither a lost message nor a timed-out waiter loses it), else one more
-- endpoint behind its public IP (a resent datagram from the same port moves
-- to the newest place).
-- KEYS: 1 client endpoint list, 2 waiting connects list
-- ARGV: 1 port, 2 ttl ms, 3 max endpoints per IP, 4 publish command,
--       5 node channel prefix, 6 handed-port key prefix
local now = now_ms()
while true do
  local waiter = redis.call('LPOP', KEYS[2])
  if not waiter then break end
  local node, id = string.match(waiter, '^(.+)|([^|]+)$')
  if node then
    redis.call('SET', ARGV[6] .. waiter, ARGV[1], 'PX', ARGV[2])
    local message = cjson.encode({ type = 'client-udp', waiterId = id, port = tonumber(ARGV[1]) })
    redis.call(ARGV[4], ARGV[5] .. node, message)
    return 1
  end
end
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
for _, entry in ipairs(entries) do
  if string.match(entry, '^(%d+):') == ARGV[1] then redis.call('LREM', KEYS[1], 1, entry) end
end
redis.call('RPUSH', KEYS[1], ARGV[1] .. ':' .. now)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
