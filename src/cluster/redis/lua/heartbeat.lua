-- A node's heartbeat: its last-seen time and its details, and the clean-up of
-- nodes whose heartbeat expired (they died without leaving): each is dropped
-- from both the heartbeats and the details, so neither keeps a dead node, a
-- bounded number per beat (any live node's next beats take the rest).
-- KEYS: 1 node heartbeats (zset id -> ms), 2 node details (hash id -> JSON)
-- ARGV: 1 node id, 2 last seen ms (the node's clock), 3 details JSON,
--       4 key ttl ms (a heartbeat older than this is expired), 5 most nodes pruned
local seen = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], seen, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', seen - ttl, 'LIMIT', 0, tonumber(ARGV[5]))
if #expired > 0 then
  redis.call('ZREM', KEYS[1], unpack(expired))
  redis.call('HDEL', KEYS[2], unpack(expired))
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return #expired
