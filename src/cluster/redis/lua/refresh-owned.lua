-- Keeps a node's registrations alive (a lease per server), reports those the
-- store lost (Redis restarted empty: the owner restores them with their data)
-- and those another connection took over, and prunes registrations whose
-- lease ran out (their node died). Only ip and connection travel: a few
-- bytes per server, however much lobby data it has.
-- KEYS: 1 by-date index, 2 lease index
-- ARGV: 1 lease ms, 2 key ttl ms, 3 data1 index key prefix, 4 server key prefix,
--       then pairs: ip, owner connection
local now = now_ms()
local lease = tonumber(ARGV[1])
local ttl = ARGV[2]
local outcomes = {}
local ports = {}
-- Each game's data1 index is kept alive once per batch, not once per server.
local touched = {}
for i = 5, #ARGV - 1, 2 do
  local ip, conn = ARGV[i], ARGV[i + 1]
  local key = ARGV[4] .. ip
  local current = redis.call('HMGET', key, F.ownerConnectionId, F.udpPort, DATA[1])
  if not current[1] then
    outcomes[#outcomes + 1] = 'missing'
    ports[#ports + 1] = ''
  elseif current[1] == conn then
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', KEYS[2], now + lease, ip)
    local data1 = current[3]
    if data1 and data1 ~= '' and not touched[data1] then
      touched[data1] = true
      redis.call('PEXPIRE', ARGV[3] .. data1, ttl)
    end
    outcomes[#outcomes + 1] = 'kept'
    ports[#ports + 1] = current[2] or ''
  else
    outcomes[#outcomes + 1] = 'superseded'
    ports[#ports + 1] = ''
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, ip in ipairs(expired) do
  local key = ARGV[4] .. ip
  local data1 = redis.call('HGET', key, DATA[1])
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ip)
  redis.call('ZREM', KEYS[2], ip)
  if data1 and data1 ~= '' then redis.call('ZREM', ARGV[3] .. data1, ip) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ttl) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
return { outcomes, ports }
