-- Pacer's rules (swoogo_async/_http/pacing.py, the one statement of them) on a Redis
-- hash, atomically. ARGV: operation, the time (< 0: Redis' own clock), the budget's
-- settings and the pacer's constants, then the operation's arguments. Unknown values are
-- -1, as None is in Pacer. Keep the two in step: tests/test_redis.py runs both on one
-- script of operations and compares every answer. A field that is not a finite number
-- (or a key that is not a hash) is read as absent: what Redis holds is untrusted.
local k = KEYS[1]
local function num(x)
  local v = tonumber(x)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end
local now = num(ARGV[2]) or -1
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local RES, BURST, XC, XW = num(ARGV[3]), num(ARGV[4]), num(ARGV[5]), num(ARGV[6])
local GUARD, PATIENCE, PROBE_AFTER, MAXW = num(ARGV[7]), num(ARGV[8]), num(ARGV[9]),
  num(ARGV[10])
local HEADROOM, MEMORY, STRAY, UNLIMITED = num(ARGV[11]), num(ARGV[12]), num(ARGV[13]),
  num(ARGV[14])
local QUIET, FLOOR, RELEASE_LAST, RELEASE_LAST_MAX = num(ARGV[15]), num(ARGV[16]),
  num(ARGV[17]), num(ARGV[18])
local MAX_RUNS, SIZED_FLOOR = num(ARGV[19]), num(ARGV[20])
if redis.call('TYPE', k).ok ~= 'hash' then redis.call('DEL', k) end
-- More fields than these rules write (the 18 read below, a sized run's each) is not their
-- state either; and as a bulk call reads the hash whole, such a hash would slow every one.
if redis.call('HLEN', k) > 18 + MAX_RUNS then redis.call('DEL', k) end
local f = redis.call('HMGET', k, 'limit', 'window', 'avail', 'reset_at', 'tat', 'inflight',
  'blocked', 'probe_at', 'probe_until', 'unpaced', 'spacing', 'guessed', 'granted_at',
  'demand', 'demand_at', 'demand_since', 'granted', 'took')
local limit = num(f[1]) or (XC > 0 and XC or -1)
local window = num(f[2]) or (XC > 0 and XW or -1)
local avail = num(f[3]) or (XC > 0 and XC or 0)
local reset_at = num(f[4]) or -1
local tat = num(f[5]) or 0
local inflight = num(f[6]) or 0
local blocked = num(f[7]) or 0
local probe_at = num(f[8]) or 0
local probe_until = num(f[9]) or 0
local unpaced = num(f[10]) or 0
local spacing = num(f[11]) or 0
local guessed = num(f[12]) or 0
local granted_at = num(f[13]) or 0
local demand = num(f[14]) or 0
local demand_at = num(f[15]) or 0
local demand_since = num(f[16]) or 0
local granted = num(f[17]) or 0
-- The runs that took the floor in this window: took[id] = true (nil: none yet). No id,
-- more ids than runs are followed, or one that is no run's (not a whole number >= 0) is
-- corrupt: read as none.
local took = nil
if type(f[18]) == 'string' then
  took = {}
  local n = 0
  for w in string.gmatch(f[18], '%S+') do
    local id = num(w)
    n = n + 1
    if id == nil or id < 0 or id ~= math.floor(id) or n > MAX_RUNS + 1 then
      took = nil
      break
    end
    took[id] = true
  end
  if n == 0 then took = nil end
end
-- A value no state of these rules holds is corrupt and read as absent too, so that a
-- poisoned hash holds no caller past a window or two: a window, or a time still to
-- come, beyond the longest window; a time already past that lies in the future; a
-- demand above a thousand budgets per memory, or below zero.
local LONGEST = math.max(MAXW, XW)
local LATEST = now + 2 * LONGEST
if window ~= -1 and (window <= 0 or window > LONGEST) then window = XC > 0 and XW or -1 end
if limit ~= -1 and limit < 1 then limit = XC > 0 and XC or -1 end
if reset_at > LATEST then reset_at = -1 end
if blocked > LATEST then blocked = 0 end
if probe_at > LATEST then probe_at = 0 end
if probe_until > LATEST then probe_until = 0 end
if tat > LATEST then tat = 0 end
if granted_at > LATEST then granted_at = 0 end
if demand_at > LATEST then demand_at = 0 end
if demand_since > LATEST then demand_since = 0 end
local function memory() return math.max((window > 0 and window or 1) * MEMORY, 1) end
local function decayed(m) return demand * math.exp(-math.max(now - demand_at, 0) / m) end
local function rate_seen()
  if demand <= 0 then return 0 end
  local m = memory()
  local seen = math.max(now - demand_since, m / 2)
  return decayed(m) / (1 - math.exp(-seen / m))
end
if demand < 0 or (limit > 0 and demand > 1000 * limit / memory()) then demand = 0 end
local function unanswered()
  if inflight ~= 0 and now - granted_at > STRAY then inflight = 0 end
  return inflight
end
-- As a window ends, forget the runs that took its floor (Pacer._new_window): a live one says its
-- needs again with its next call; one that died holds the next window's floor no longer.
local function forget_took()
  for id in pairs(took or {}) do redis.call('HDEL', k, 'run:' .. string.format('%.17g', id)) end
  took = nil
end
local function grant(cost)
  avail = avail - cost
  inflight = inflight + cost
  granted = granted + cost
  granted_at = now
end
local op = ARGV[1]
local ok, delay = 1, 0
if op == 'reserve' then
  local cost, within, bulk, again = num(ARGV[21]), num(ARGV[22]), num(ARGV[23]),
    num(ARGV[24]) or 0
  local final = num(ARGV[25]) or 0
  local run, needs = num(ARGV[26]) or 0, num(ARGV[27]) or 0
  if unpaced == 1 then
    ok = 1
  elseif limit < 0 or now < blocked then
    local opens = math.max(probe_at, probe_until)
    if now < opens then
      ok = 0
      delay = math.min(opens, blocked > now and blocked or opens) - now
      -- while a probe is out, its answer may come sooner: a guess, cut to within
      if now < probe_until then delay = math.min(delay, math.max(within, 0)) end
    else
      probe_until = now + PATIENCE
      grant(cost)
    end
  else
    if reset_at >= 0 and now >= reset_at + GUARD then
      inflight = math.max(math.min(unanswered(), granted), 0)
      granted = 0
      forget_took()
      avail = limit - inflight
      reset_at = window > 0 and now + window or -1
      guessed = 1
      tat = now
    end
    if bulk == 0 and again == 0 then
      local m = memory()
      local d = decayed(m)
      if d * m < QUIET then demand_since = now end
      demand = d + cost / m
      demand_at = now
    end
    if avail < cost then
      if reset_at < 0 then reset_at = now + (window > 0 and window or 1) end
      ok = 0
      delay = math.max(reset_at - now, 0) + GUARD
    elseif XC > 0 then
      local interval = XW / XC
      local t = math.max(tat, now)
      local tau = math.max(limit * BURST, 1) * interval
      delay = math.max(t - tau - now, 0)
      if delay > within then
        ok = 0
      else
        tat = t + cost * interval
        spacing = interval
        grant(cost)
      end
    else
      if bulk == 1 then
        -- nothing is held back in the window's final seconds
        local releases = reset_at - math.min(RELEASE_LAST_MAX,
          RELEASE_LAST * (window > 0 and window or 1))
        local function held_rate(fin, sized)
          local r = HEADROOM * rate_seen()
          local share = fin == 0 and (sized and SIZED_FLOOR or FLOOR) + RES or 0
          if share > 0 and window > 0 then r = r + share * limit / window end
          return r
        end
        local function held_back(fin, sized)
          if reset_at < 0 then return 0 end
          return held_rate(fin, sized) * math.max(releases - now, 0)
        end
        -- Sized runs: fields run:<id> = "<credits still needed> <when it last asked>" (by this
        -- script's clock: a time still to come is corrupt).
        local runs, count, fields = {}, 0, {}
        local all = redis.call('HGETALL', k)
        for i = 1, #all, 2 do
          local name = all[i]
          if string.sub(name, 1, 4) == 'run:' then
            fields[#fields + 1] = name
            local id = num(string.sub(name, 5))
            local a, b = string.match(all[i + 1], '^(%S+) (%S+)$')
            local left, seen = num(a), num(b)
            if id and id > 0 and left and left >= 0 and seen and seen <= now
              and now - seen <= STRAY then
              runs[id] = {left, seen}
              count = count + 1
            end
          end
        end
        if count > MAX_RUNS then runs, count = {}, 0 end
        for _, name in ipairs(fields) do redis.call('HDEL', k, name) end
        local want = math.max(needs, cost)
        local rid = final == 1 and 0 or run -- a run in the table is sized
        if rid > 0 and (runs[rid] or count < MAX_RUNS) then
          -- a run's needs only shrink (a call may have read them before another's grant)
          if runs[rid] then want = math.min(want, runs[rid][1]) else count = count + 1 end
          runs[rid] = {want, now}
        end
        local finishing, committed, ids = 0, 0, {}
        if count > 0 and reset_at >= 0 then
          local order = {}
          for id, e in pairs(runs) do order[#order + 1] = {e[1], id} end
          table.sort(order, function(x, y) return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2]) end)
          local free = avail - held_back(1, false)
          local total = 0
          for _, e in ipairs(order) do
            -- once the floor is taken, only the runs that took it (as Pacer._finishing)
            if took == nil or took[e[2]] then
              if total + e[1] > free then break end
              total = total + e[1]
              ids[#ids + 1] = e[2]
              if e[2] == rid then finishing = 1 end
            end
          end
          committed = total - (finishing == 1 and want or 0)
        end
        -- how long a call leaving spare credits waits for the share held back to shrink
        local function opens(spare, fin, sized)
          if reset_at < 0 or spare >= held_back(fin, sized) then return 0 end
          local r = held_rate(fin, sized)
          return math.max(releases - (r > 0 and math.max(spare, 0) / r or 0) - now, 0)
        end
        local spare = avail - cost - committed
        local wait = opens(spare, 0, runs[rid] ~= nil)
        if wait > 0 and (finishing == 1 or final == 1) and (took == nil or took[run]) then
          -- the window's one set of runs that may finish into the floor
          if finishing == 1 then wait = 0 else wait = opens(spare, 1, false) end
          if wait == 0 and took == nil then
            took = {[run] = true}
            for _, id in ipairs(ids) do took[id] = true end
          end
        end
        if wait > 0 then
          ok = 0
          delay = wait
        end
        if ok == 1 and runs[rid] then
          local left = runs[rid][1] - cost
          if left > 0 then runs[rid][1] = left else runs[rid] = nil end
        end
        for id, e in pairs(runs) do
          redis.call('HSET', k, 'run:' .. string.format('%.17g', id),
            string.format('%.17g %.17g', e[1], e[2]))
        end
      end
      if ok == 1 then grant(cost) end
    end
  end
elseif op == 'observe' then
  local lh, rem, rst, cost, good = num(ARGV[21]), num(ARGV[22]), num(ARGV[23]),
    num(ARGV[24]), num(ARGV[25])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  if lh < 0 then
    if good == 1 and limit < 0 and XC == 0 then
      unpaced = 1
      inflight = 0
    end
  elseif lh >= UNLIMITED and XC == 0 then
    unpaced = 1
    inflight = 0
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
    if reset_at < 0 or ra > reset_at + math.max(window / 2, 1) then
      reset_at = ra
      inflight = math.max(math.min(unanswered(), granted), 0)
      granted = 0
      forget_took()
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
  local ra, cost = num(ARGV[21]), num(ARGV[22])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  unpaced = 0
  avail = 0
  local wait = ra >= 0 and ra or (window > 0 and window or 1)
  local absurd = wait > (window > 0 and window or MAXW) + 1
  wait = math.min(wait, MAXW)
  if window < 0 then window = math.max(wait, 1) end
  reset_at = now + wait
  blocked = reset_at
  if absurd then probe_at = now + math.min(wait, PROBE_AFTER) else probe_at = blocked end
elseif op == 'release' then
  local cost, sent = num(ARGV[21]), num(ARGV[22])
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
  'spacing', s(spacing), 'guessed', s(guessed), 'granted_at', s(granted_at),
  'demand', s(demand), 'demand_at', s(demand_at), 'demand_since', s(demand_since),
  'granted', s(granted))
if took == nil then
  redis.call('HDEL', k, 'took')
else
  local t = {}
  for id in pairs(took) do t[#t + 1] = s(id) end
  redis.call('HSET', k, 'took', table.concat(t, ' '))
end
redis.call('PEXPIRE', k, math.floor(2 * MAXW * 1000))
return {ok, s(delay), s(avail)}
