-- Compare-and-delete: removes a registration only if the given connection
-- still owns it, so a stale close never removes a newer registration.
-- KEYS: 1 server hash, 2 by-date index, 3 lease index
-- ARGV: 1 ip, 2 owner connection, 3 data1 index key prefix
local current = redis.call('HMGET', KEYS[1], F.ownerConnectionId, DATA[1])
if current[1] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if current[2] and current[2] ~= '' then redis.call('ZREM', ARGV[3] .. current[2], ARGV[1]) end
return 1
