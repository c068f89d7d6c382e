-- A game server's UDP `reg`: bind it to a registration that overtook it, else
-- remember it (with up to a few other ports from that IP within the window)
-- for the registration that follows. Another live port is a conflict. The
-- port the current registration uses is never the one dropped to make room:
-- forged ports sent after the game's own `reg` must not push it out.
-- KEYS: 1 server hash, 2 pending ports (zset port -> ms)
-- ARGV: 1 port, 2 bind window ms, 3 most ports remembered
local now = now_ms()
local window = tonumber(ARGV[2])
local current = redis.call('HMGET', KEYS[1], F.udpConfirmed, F.registeredAtMs, F.udpPort)
if current[2] and current[1] ~= '1' and now - tonumber(current[2]) <= window then
  redis.call('HSET', KEYS[1], F.udpPort, ARGV[1], F.udpConfirmed, '1')
  return 'bound'
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window - 1)
local others = redis.call('ZCOUNT', KEYS[2], now - window, '+inf')
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then others = others - 1 end
redis.call('ZADD', KEYS[2], now, ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  -- The oldest excess + 1: enough to drop `excess` of them while skipping the registered one.
  for _, port in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess)) do
    if excess > 0 and port ~= current[3] then
      redis.call('ZREM', KEYS[2], port)
      excess = excess - 1
    end
  end
end
redis.call('PEXPIRE', KEYS[2], window)
if others > 0 then return 'conflict' end
return 'pending'
