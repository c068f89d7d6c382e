-- A connect that waited for the client's UDP `connect` and timed out (or
-- missed its wake-up message): leave the queue, and take what was handed to
-- it meanwhile (a port, its -1 booked; or 'busy'), so no endpoint is lost to
-- a waiter that gave up. With nothing handed, the client's newest live
-- endpoint older than begin-connect claims at once is the best there is: it
-- is claimed now and its -1 booked ('busy' past the backlog).
-- KEYS: 1 waiting connects list, 2 handed-port key of this waiter, 3 client endpoint list,
--       4 server hash
-- ARGV: 1 waiter entry "node|id|server ip", 2 client ttl ms, 3 reply gap ms, 4 backlog ms
redis.call('LREM', KEYS[1], 0, ARGV[1])
local handed = redis.call('GET', KEYS[2])
if handed then
  redis.call('DEL', KEYS[2])
  return handed
end
local now = now_ms()
local entry = redis.call('RPOP', KEYS[3])
if not entry then return '' end
local port, at = string.match(entry, '^(%d+):(%d+)$')
if not port or now - tonumber(at) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[3])
  return ''
end
-- A server gone meanwhile has nothing to book: the connect finds its owner gone.
if redis.call('HEXISTS', KEYS[4], F.ownerConnectionId) == 1 then
  local send_at = next_reply_at(redis.call('HGET', KEYS[4], F.replyClockMs), now, ARGV[3], ARGV[4])
  if not send_at then return 'busy' end
  redis.call('HSET', KEYS[4], F.replyClockMs, send_at)
end
return port
