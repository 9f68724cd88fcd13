-- The pacer's rules (swoogo_async/_ratelimit.py, Pacer) on a Redis hash, atomically.
-- ARGV: operation, the time (< 0: Redis' own clock), the budget's settings and the
-- pacer's constants, then the operation's arguments. Unknown values are -1, as None
-- is in Pacer. Keep the two in step: tests/test_redis.py runs both on one script of
-- operations and compares every answer.
local k = KEYS[1]
local now = tonumber(ARGV[2])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local RES, BURST, XC, XW = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
  tonumber(ARGV[6])
local GUARD, PATIENCE, PROBE_AFTER, MAXW = tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9]), tonumber(ARGV[10])
local f = redis.call('HMGET', k, 'limit', 'window', 'avail', 'reset_at', 'tat', 'inflight',
  'blocked', 'probe_at', 'probe_until', 'unpaced', 'spacing', 'guessed')
local limit = tonumber(f[1]) or (XC > 0 and XC or -1)
local window = tonumber(f[2]) or (XC > 0 and XW or -1)
local avail = tonumber(f[3]) or (XC > 0 and XC or 0)
local reset_at = tonumber(f[4]) or -1
local tat = tonumber(f[5]) or 0
local inflight = tonumber(f[6]) or 0
local blocked = tonumber(f[7]) or 0
local probe_at = tonumber(f[8]) or 0
local probe_until = tonumber(f[9]) or 0
local unpaced = tonumber(f[10]) or 0
local spacing = tonumber(f[11]) or 0
local guessed = tonumber(f[12]) or 0
local op = ARGV[1]
local ok, delay = 1, 0
if op == 'reserve' then
  local cost, within, bulk = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
  if unpaced == 1 then
    ok = 1
  elseif limit < 0 or now < blocked then
    local opens = math.max(probe_at, probe_until)
    if now < opens then
      ok = 0
      delay = math.min(opens, blocked > 0 and blocked or opens) - now
    else
      probe_until = now + PATIENCE
      inflight = inflight + cost
    end
  else
    if reset_at >= 0 and now >= reset_at + GUARD then
      avail = limit
      reset_at = window > 0 and now + window or -1
      guessed = 1
      tat = now
    end
    if avail < cost then
      if reset_at < 0 then reset_at = now + (window > 0 and window or 1) end
      ok = 0
      delay = math.max(reset_at - now, 0) + GUARD
    else
      local rate = -1
      if XC > 0 then
        rate = XC / XW
      elseif bulk == 0 or avail - cost >= limit * RES then
        avail = avail - cost
        inflight = inflight + cost
      else
        local e = reset_at >= 0 and reset_at or now + (window > 0 and window or 1)
        rate = avail / math.max(e - math.max(tat, now), 0.001)
      end
      if rate > 0 then
        local t = math.max(tat, now)
        local interval = 1 / rate
        local tau = math.max(limit * BURST, 1) * interval
        delay = math.max(t - tau - now, 0)
        if delay > within then
          ok = 0
        else
          tat = t + cost * interval
          spacing = interval
          avail = avail - cost
          inflight = inflight + cost
        end
      end
    end
  end
elseif op == 'observe' then
  local lh, rem, rst, cost, good = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]),
    tonumber(ARGV[14]), tonumber(ARGV[15])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  if lh < 0 then
    if good == 1 and limit < 0 and XC == 0 then unpaced = 1 end
  else
    unpaced = 0
    if blocked > 0 and rem > 0 then
      blocked = 0
      reset_at = -1
    end
    if XC == 0 then
      limit = lh
      window = math.min(math.max(window, rst, 1), MAXW)
    end
    local ra = now + math.min(rst, MAXW)
    local stale = 0
    if reset_at < 0 or ra > reset_at + 1 then
      reset_at = ra
      avail = rem - inflight
      tat = math.min(tat, now)
    elseif guessed == 1 and window > 0 and ra < reset_at - window / 2 then
      -- a late answer from the window before the one we rolled into
      stale = 1
    else
      if guessed == 1 then reset_at = ra else reset_at = math.min(reset_at, ra) end
      avail = math.min(avail, rem)
    end
    if stale == 0 then guessed = 0 end
  end
elseif op == 'limited' then
  local ra, cost = tonumber(ARGV[11]), tonumber(ARGV[12])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  unpaced = 0
  avail = 0
  local wait = ra >= 0 and ra or (window > 0 and window or 1)
  wait = math.min(wait, MAXW)
  if window < 0 then window = math.max(wait, 1) end
  reset_at = now + wait
  blocked = reset_at
  probe_at = now + math.min(wait, PROBE_AFTER)
elseif op == 'release' then
  local cost, sent = tonumber(ARGV[11]), tonumber(ARGV[12])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  if sent == 0 then
    avail = avail + cost
    tat = math.max(tat - cost * spacing, 0)
  end
end
local function s(x) return string.format('%.17g', x) end
redis.call('HSET', k, 'limit', s(limit), 'window', s(window), 'avail', s(avail),
  'reset_at', s(reset_at), 'tat', s(tat), 'inflight', s(inflight), 'blocked', s(blocked),
  'probe_at', s(probe_at), 'probe_until', s(probe_until), 'unpaced', s(unpaced),
  'spacing', s(spacing), 'guessed', s(guessed))
redis.call('PEXPIRE', k, math.floor(2 * MAXW * 1000))
return {ok, s(delay), s(avail)}
