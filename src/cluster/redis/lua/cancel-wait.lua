-- A connect that waited for the client's UDP `connect` and timed out (or
-- missed its wake-up message): leave the queue, and take what was handed to
-- it meanwhile (a port, its -1 booked; or 'busy'), so no endpoint is lost to
-- a waiter that gave up.
-- KEYS: 1 waiting connects list, 2 handed-port key of this waiter
-- ARGV: 1 waiter entry "node|id|server ip"
redis.call('LREM', KEYS[1], 0, ARGV[1])
local handed = redis.call('GET', KEYS[2])
if handed then
  redis.call('DEL', KEYS[2])
  return handed
end
return ''
