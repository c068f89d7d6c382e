-- Prepended to every script (after the server hash's layout); not a script itself.

-- Redis' own clock, so every node's steps agree on time.
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

-- The owner's pacer, modelled: when a server's next -1 would go out (one gap
-- after the last one booked, `clock` being the server's F.replyClockMs), or
-- nil past the backlog.
local function next_reply_at(clock, now, gap, backlog)
  local send_at = math.max(now, tonumber(clock or 0) + tonumber(gap))
  if send_at - now > tonumber(backlog) then return nil end
  return send_at
end

