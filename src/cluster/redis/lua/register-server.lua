-- A TCP `reg`/`reg2`: one atomic step, so two nodes registering one IP at
-- once end with exactly one owner, and the caller learns whom it replaced.
-- The UDP port: the one pending port; of several (a forger, or a NAT that
-- remapped), the port the server already had if among them, else the newest;
-- none: the previous registration's. Nodes waiting for this server (a
-- hand-over) are woken.
-- KEYS: 1 server hash, 2 pending ports, 3 by-date index, 4 lease index, 5 server waiters
-- ARGV: 1 ip, 2 version, 3..10 data1..data8, 11 owner node, 12 owner connection,
--       13 lease ms, 14 key ttl ms, 15 data1 index key prefix, 16 bind window ms,
--       17 publish command, 18 node channel prefix, 19 wake message
local now = now_ms()
local created = math.floor(now / 1000)
local ip = ARGV[1]
local previous = redis.call('HMGET', KEYS[1], F.ownerNodeId, F.ownerConnectionId, F.udpPort, DATA[1])
local pending = redis.call('ZRANGEBYSCORE', KEYS[2], now - tonumber(ARGV[16]), '+inf')
redis.call('DEL', KEYS[2])
local udp = previous[3] or ''
local confirmed = false
local conflict = 0
if #pending == 1 then
  udp = pending[1]
  confirmed = true
elseif #pending > 1 then
  conflict = 1
  confirmed = true
  local keep = false
  for _, port in ipairs(pending) do
    if port == previous[3] then keep = true end
  end
  if not keep then udp = pending[#pending] end
end
redis.call('DEL', KEYS[1])
-- Empty data fields are not stored (readers take a missing field as ''): most
-- servers fill few of the eight, and every byte is paid per server.
local fields = { F.udpPort, udp, F.version, ARGV[2], F.createdTimeSec, created,
  F.ownerNodeId, ARGV[11], F.ownerConnectionId, ARGV[12], F.registeredAtMs, now }
if confirmed then
  fields[#fields + 1] = F.udpConfirmed
  fields[#fields + 1] = '1'
end
for i = 1, #DATA do
  if ARGV[2 + i] ~= '' then
    fields[#fields + 1] = DATA[i]
    fields[#fields + 1] = ARGV[2 + i]
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[14])
redis.call('ZADD', KEYS[3], created, ip)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[13]), ip)
redis.call('PEXPIRE', KEYS[3], ARGV[14])
redis.call('PEXPIRE', KEYS[4], ARGV[14])
if previous[4] and previous[4] ~= '' and previous[4] ~= ARGV[3] then
  redis.call('ZREM', ARGV[15] .. previous[4], ip)
end
if ARGV[3] ~= '' then
  redis.call('ZADD', ARGV[15] .. ARGV[3], created, ip)
  redis.call('PEXPIRE', ARGV[15] .. ARGV[3], ARGV[14])
end
local waiting = redis.call('SMEMBERS', KEYS[5])
if #waiting > 0 then
  redis.call('DEL', KEYS[5])
  for _, node in ipairs(waiting) do redis.call(ARGV[17], ARGV[18] .. node, ARGV[19]) end
end
return { udp, tostring(created), previous[1] or '', previous[2] or '', conflict }
