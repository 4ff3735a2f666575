-- Request collapsing for the stagecast edge (infra/nginx/edge-lua.conf), one nginx worker at a
-- time: the first request for a key fetches it through the caching location, and every
-- identical request that arrives meanwhile waits on a semaphore that the first one posts the
-- moment its response lands. nginx's own proxy_cache_lock makes waiters poll every 500 ms,
-- longer than two LL-HLS parts; this wakes them at once. Across workers, proxy_cache_lock in
-- the caching location still collapses what this does not.
--
-- A fetched answer that may be stored is also held in this worker's memory for its freshness
-- (at most HOLD_SECONDS): the viewers that ask for a part just after its fetch ended, most of
-- them at a busy edge, get it from here instead of through a subrequest and the disk cache.
local semaphore = require "ngx.semaphore"
local lrucache = require "resty.lrucache"

local _M = {}

-- In-flight fetches of this worker, by key: { sema, waiters, res, started }.
local flights = {}

-- Above the proxy's read timeout (15 s): a flight this old is taken as lost and replaced.
local WAIT_SECONDS = 16

-- The memory tier: at most HOLD_ITEMS answers of at most HOLD_BYTES each (parts, playlists,
-- inits; a long segment goes through the disk cache only), each for at most HOLD_SECONDS.
local HOLD_ITEMS = 512
local HOLD_BYTES = 256 * 1024
local HOLD_SECONDS = 6
local held = assert(lrucache.new(HOLD_ITEMS))

-- A header of a captured answer, by its lower-case name (res.header is a plain table, keyed as
-- the upstream spelled each name).
local function header(res, lower_name)
  for name, value in pairs(res.header) do
    if name:lower() == lower_name then
      return value
    end
  end
  return nil
end

-- How long an answer may be held in memory, or nil. Only a 200 that the cache may store
-- (no no-store, no-cache or private): an immutable one (a media object, whose name never
-- repeats) however old, anything else with max-age only when it came from the origin just now
-- (a MISS), so that holding it never makes it older than the origin allows.
local function hold_seconds(res)
  if res.status ~= 200 or #res.body > HOLD_BYTES then
    return nil
  end
  local cc = header(res, "cache-control")
  if type(cc) ~= "string" then
    return nil
  end
  cc = cc:lower()
  if cc:find("no-store", 1, true) or cc:find("no-cache", 1, true) or cc:find("private", 1, true) then
    return nil
  end
  local age = tonumber(cc:match("max%-age=(%d+)"))
  if not age or age <= 0 then
    return nil
  end
  if cc:find("immutable", 1, true) then
    return HOLD_SECONDS
  end
  if header(res, "x-cache-status") ~= "MISS" then
    return nil
  end
  return math.min(age, HOLD_SECONDS)
end

-- `cache_status`: the X-Cache-Status to say instead of the fetch's.
local function send(res, cache_status)
  ngx.status = res.status
  for name, value in pairs(res.header) do
    ngx.header[name] = value
  end
  if cache_status then
    ngx.header["X-Cache-Status"] = cache_status
  end
  ngx.print(res.body)
end

-- Serves the request from `location` (an internal location that proxies and caches), sharing
-- one fetch among all the requests with the same key.
function _M.serve(key, location)
  local method = ngx.req.get_method()
  if method ~= "GET" and method ~= "HEAD" then
    -- CORS preflights and the like: not cached, not collapsed, the origin answers each.
    return send(ngx.location.capture(location .. ngx.var.uri, { args = ngx.var.args, method = ngx["HTTP_" .. method] }))
  end
  local kept = held:get(key)
  if kept then
    return send(kept, "HIT")
  end
  local flight = flights[key]
  if flight and ngx.now() - flight.started > WAIT_SECONDS then
    flight = nil
  end
  if flight then
    flight.waiters = flight.waiters + 1
    local ok = flight.sema:wait(WAIT_SECONDS)
    if not ok or not flight.res then
      return ngx.exit(ngx.HTTP_GATEWAY_TIMEOUT)
    end
    ngx.header["X-Collapsed"] = "waiter"
    return send(flight.res)
  end
  flight = { sema = semaphore.new(), waiters = 0, started = ngx.now() }
  flights[key] = flight
  local ok, res = pcall(ngx.location.capture, location .. ngx.var.uri, { args = ngx.var.args, method = ngx.HTTP_GET })
  if flights[key] == flight then
    flights[key] = nil
  end
  if ok then
    flight.res = res
    local seconds = hold_seconds(res)
    if seconds then
      held:set(key, res, seconds)
    end
  end
  if flight.waiters > 0 then
    flight.sema:post(flight.waiters)
  end
  if not ok then
    ngx.log(ngx.ERR, "edge fetch failed: ", res)
    return ngx.exit(ngx.HTTP_BAD_GATEWAY)
  end
  ngx.header["X-Collapsed"] = "leader"
  return send(res)
end

return _M
