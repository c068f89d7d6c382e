-- A TCP `connect` in one round trip: read the server and claim the client's
-- oldest live UDP endpoint; with none yet, note this node as waiting so the
-- UDP `connect` wakes it (no polling).
-- KEYS: 1 server hash (unused when ARGV[4] is '0'), 2 client endpoint list, 3 waiting nodes set
-- ARGV: 1 client ttl ms, 2 node id, 3 waiting ttl ms, 4 '1' to read the server
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local server = {}
if ARGV[4] == '1' then
  server = redis.call('HGETALL', KEYS[1])
  if #server == 0 then return { 0 } end
  local udp = redis.call('HGET', KEYS[1], 'u')
  if udp == '' then return { 1, '', server } end
end
local port = ''
while true do
  local entry = redis.call('LPOP', KEYS[2])
  if not entry then break end
  local p, at = string.match(entry, '^(%d+):(%d+)$')
  if p and now - tonumber(at) <= tonumber(ARGV[1]) then
    port = p
    break
  end
end
if port == '' then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return { 1, port, server }
