-- A TCP `reg`/`reg2`: one atomic step, so two nodes registering one IP at
-- once end with exactly one owner, and the caller learns whom it replaced.
-- KEYS: 1 server hash, 2 pending UDP key, 3 by-date index, 4 lease index
-- ARGV: 1 ip, 2 version, 3..10 data1..data8, 11 owner node, 12 owner connection,
--       13 lease ms, 14 key ttl ms, 15 data1 index key prefix
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local created = math.floor(now / 1000)
local ip = ARGV[1]
local previous = redis.call('HMGET', KEYS[1], 'n', 'o', 'u', 'd1')
local pending = redis.call('GET', KEYS[2])
if pending then redis.call('DEL', KEYS[2]) end
local udp = pending or previous[3] or ''
redis.call('DEL', KEYS[1])
-- Empty data fields are not stored (readers take a missing field as ''): most
-- servers fill few of the eight, and every byte is paid per server.
local fields = { 'u', udp, 'v', ARGV[2], 'c', created, 'n', ARGV[11], 'o', ARGV[12], 'r', now }
if pending then
  fields[#fields + 1] = 'f'
  fields[#fields + 1] = '1'
end
for i = 1, 8 do
  if ARGV[2 + i] ~= '' then
    fields[#fields + 1] = 'd' .. i
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
return { udp, tostring(created), previous[1] or '', previous[2] or '' }
