-- A client's UDP `connect`: handed straight to the oldest connect waiting for
-- it (its port is parked under the waiter's key and published to its node, so
-- neither a lost message nor a timed-out waiter loses it), else one more
-- endpoint behind its public IP (a resent datagram from the same port moves
-- to the newest place). Handing it books the waiting connect's -1 on the
-- server's modelled pacer (begin-connect booked nothing for it); past the
-- backlog the waiter is handed 'busy' instead of the port.
-- KEYS: 1 client endpoint list, 2 waiting connects list
-- ARGV: 1 port, 2 ttl ms, 3 max endpoints per IP, 4 publish command,
--       5 node channel prefix, 6 handed-port key prefix, 7 server key prefix,
--       8 reply gap ms, 9 backlog ms
local now = now_ms()
while true do
  local waiter = redis.call('LPOP', KEYS[2])
  if not waiter then break end
  local node, id, server_ip = string.match(waiter, '^(.+)|([^|]+)|([^|]+)$')
  if node then
    local handed = ARGV[1]
    local server = ARGV[7] .. server_ip
    -- A server gone meanwhile has nothing to book: the connect finds its owner gone.
    if redis.call('HEXISTS', server, F.ownerConnectionId) == 1 then
      local clock = redis.call('HGET', server, F.replyClockMs)
      local send_at = next_reply_at(clock, now, ARGV[8], ARGV[9])
      if send_at then
        redis.call('HSET', server, F.replyClockMs, send_at)
      else
        handed = 'busy'
      end
    end
    redis.call('SET', ARGV[6] .. waiter, handed, 'PX', ARGV[2])
    local message = cjson.encode({ type = 'client-udp', waiterId = id, port = tonumber(handed) or handed })
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
