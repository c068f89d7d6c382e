-- A draining node reset this server's socket so the game re-registers on
-- another node: mark the registration (only if that socket still owns it),
-- so connects wait for the new one instead of getting -2.
-- KEYS: 1 server hash
-- ARGV: 1 owner connection
if redis.call('HGET', KEYS[1], F.ownerConnectionId) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], F.handingOver, '1')
return 1
