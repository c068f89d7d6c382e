-- A game server's UDP `reg`: bind it to a registration that overtook it,
-- else keep it as a candidate for the TCP registration that follows.
-- KEYS: 1 server hash, 2 pending UDP key
-- ARGV: 1 port, 2 bind window ms
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- 'f' = '1' once the port came from this registration's own UDP `reg`; a
-- port carried over from the previous registration may still be replaced.
local current = redis.call('HMGET', KEYS[1], 'f', 'r')
if current[2] and current[1] ~= '1' and now - tonumber(current[2]) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'u', ARGV[1], 'f', '1')
  return 1
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 0
