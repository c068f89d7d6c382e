-- Keeps a node's registrations alive (lease), restores any the store lost
-- (Redis restarted empty), reports those another connection took over, and
-- prunes registrations whose lease ran out (their node died). Returns the
-- outcomes, how many were pruned, and the store's UDP port of each.
-- KEYS: 1 by-date index, 2 lease index
-- ARGV: 1 lease ms, 2 key ttl ms, 3 data1 index key prefix, 4 server key prefix,
--       then 14 values per registration: ip, connection, node, udp, version, data1..data8, created
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local lease = tonumber(ARGV[1])
local ttl = ARGV[2]
local outcomes = {}
local ports = {}
local i = 5
while i + 13 <= #ARGV do
  local ip, conn = ARGV[i], ARGV[i + 1]
  local key = ARGV[4] .. ip
  local owner = redis.call('HGET', key, 'o')
  if not owner then
    local fields = { 'u', ARGV[i + 3], 'v', ARGV[i + 4], 'c', ARGV[i + 13], 'n', ARGV[i + 2], 'o', conn, 'r', now }
    -- A restored port is the owner's confirmed one: no UDP `reg` may rebind it now.
    if ARGV[i + 3] ~= '' then
      fields[#fields + 1] = 'f'
      fields[#fields + 1] = '1'
    end
    for d = 1, 8 do
      if ARGV[i + 4 + d] ~= '' then
        fields[#fields + 1] = 'd' .. d
        fields[#fields + 1] = ARGV[i + 4 + d]
      end
    end
    redis.call('HSET', key, unpack(fields))
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', KEYS[1], ARGV[i + 13], ip)
    redis.call('ZADD', KEYS[2], now + lease, ip)
    if ARGV[i + 5] ~= '' then
      redis.call('ZADD', ARGV[3] .. ARGV[i + 5], ARGV[i + 13], ip)
      redis.call('PEXPIRE', ARGV[3] .. ARGV[i + 5], ttl)
    end
    outcomes[#outcomes + 1] = 'restored'
    ports[#ports + 1] = ARGV[i + 3]
  elseif owner == conn then
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', KEYS[2], now + lease, ip)
    local data1 = redis.call('HGET', key, 'd1')
    if data1 and data1 ~= '' then redis.call('PEXPIRE', ARGV[3] .. data1, ttl) end
    outcomes[#outcomes + 1] = 'kept'
    ports[#ports + 1] = redis.call('HGET', key, 'u') or ''
  else
    outcomes[#outcomes + 1] = 'superseded'
    ports[#ports + 1] = ''
  end
  i = i + 14
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, ip in ipairs(expired) do
  local key = ARGV[4] .. ip
  local data1 = redis.call('HGET', key, 'd1')
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ip)
  redis.call('ZREM', KEYS[2], ip)
  if data1 and data1 ~= '' then redis.call('ZREM', ARGV[3] .. data1, ip) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ttl) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
return { outcomes, #expired, ports }
