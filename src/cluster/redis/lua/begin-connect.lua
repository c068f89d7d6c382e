-- A TCP `connect` in one round trip: read the server; unless it is being
-- handed over (then this node waits for its next registration), has no UDP
-- port, or its -1 would wait past the backlog (busy), claim the client's
-- newest UDP endpoint if it is fresh (the one its game sent just before this
-- connect) and book the -1 on its owner's modelled pacer. An older live one
-- stays for cancel-wait, should no fresher one come. With none fresh, queue
-- this connect as a waiter that the client's UDP `connect` will be handed to;
-- its -1 is booked then (record-client-udp), so a connect that never sends
-- UDP holds no slot of the server's backlog.
-- Also returns the owner node's last heartbeat, so the caller does not route a
-- -1 to a node that stopped (its subscription may still count as a receiver).
-- KEYS: 1 server hash, 2 client endpoint list, 3 waiting connects list, 4 server waiters set,
--       5 node heartbeats (zset)
-- ARGV: 1 client ttl ms, 2 waiter entry "node|id|server ip", 3 reply gap ms, 4 backlog ms,
--       5 node id, 6 hand-over wait ms (the waiting nodes are kept as long as they wait),
--       7 fresh ms (how recent an endpoint is claimed at once)
local now = now_ms()
local server = redis.call('HMGET', KEYS[1], unpack(READ))
if not server[READ_AT[F.ownerConnectionId]] then return { 'not_found' } end
local state = redis.call('HMGET', KEYS[1], F.handingOver, F.replyClockMs)
if state[1] == '1' then
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
  return { 'handover', '', server }
end
if (server[READ_AT[F.udpPort]] or '') == '' then return { 'server_udp_unknown', '', server } end
local send_at = next_reply_at(state[2], now, ARGV[3], ARGV[4])
if not send_at then return { 'busy', '', server } end
local heartbeat = redis.call('ZSCORE', KEYS[5], server[READ_AT[F.ownerNodeId]]) or ''
local ttl = tonumber(ARGV[1])
-- '1' when a live endpoint too old to claim at once stays (waiting: cancel-wait takes it).
local older = ''
while true do
  local entry = redis.call('LINDEX', KEYS[2], -1)
  if not entry then break end
  local port, at = string.match(entry, '^(%d+):(%d+)$')
  local age = port and now - tonumber(at)
  if age and age <= tonumber(ARGV[7]) then
    redis.call('RPOP', KEYS[2])
    redis.call('HSET', KEYS[1], F.replyClockMs, send_at)
    return { 'ready', port, server, heartbeat }
  end
  if age and age <= ttl then
    older = '1'
    break
  end
  redis.call('RPOP', KEYS[2])
end
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ttl)
return { 'ready', '', server, heartbeat, older }
