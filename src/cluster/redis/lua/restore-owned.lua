-- Puts back registrations the store lost (Redis restarted empty), with their
-- full data, unless another connection registered that IP meanwhile.
-- KEYS: 1 by-date index, 2 lease index
-- ARGV: 1 lease ms, 2 key ttl ms, 3 data1 index key prefix, 4 server key prefix,
--       then per registration: ip, connection, node, udp, version, created, data1..data8
local now = now_ms()
local lease = tonumber(ARGV[1])
local ttl = ARGV[2]
local stride = 6 + #DATA
local outcomes = {}
local ports = {}
for i = 5, #ARGV - stride + 1, stride do
  local ip, conn, udp, created = ARGV[i], ARGV[i + 1], ARGV[i + 3], ARGV[i + 5]
  local key = ARGV[4] .. ip
  local owner = redis.call('HGET', key, F.ownerConnectionId)
  if owner and owner ~= conn then
    outcomes[#outcomes + 1] = 'superseded'
    ports[#ports + 1] = ''
  else
    if not owner then
      local fields = { F.udpPort, udp, F.version, ARGV[i + 4], F.createdTimeSec, created,
        F.ownerNodeId, ARGV[i + 2], F.ownerConnectionId, conn, F.registeredAtMs, now }
      -- A restored port is the owner's confirmed one: no stray UDP `reg` may rebind it now.
      if udp ~= '' then
        fields[#fields + 1] = F.udpConfirmed
        fields[#fields + 1] = '1'
      end
      for d = 1, #DATA do
        if ARGV[i + 5 + d] ~= '' then
          fields[#fields + 1] = DATA[d]
          fields[#fields + 1] = ARGV[i + 5 + d]
        end
      end
      redis.call('HSET', key, unpack(fields))
      redis.call('ZADD', KEYS[1], created, ip)
      local data1 = ARGV[i + 6]
      if data1 ~= '' then
        redis.call('ZADD', ARGV[3] .. data1, created, ip)
        redis.call('PEXPIRE', ARGV[3] .. data1, ttl)
      end
    end
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', KEYS[2], now + lease, ip)
    outcomes[#outcomes + 1] = 'restored'
    ports[#ports + 1] = redis.call('HGET', key, F.udpPort) or ''
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return { outcomes, ports }
