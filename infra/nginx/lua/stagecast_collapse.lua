-- Request collapsing for the stagecast edge (infra/nginx/edge-lua.conf), one nginx worker at a
-- time: the first request for a key fetches it through the caching location, and every
-- identical request that arrives meanwhile waits on a semaphore that the first one posts the
-- moment its response lands. nginx's own proxy_cache_lock makes waiters poll every 500 ms,
-- longer than two LL-HLS parts; this wakes them at once. Across workers, proxy_cache_lock in
-- the caching location still collapses what this does not.
local semaphore = require "ngx.semaphore"

local _M = {}

-- In-flight fetches of this worker, by key: { sema, waiters, res, started }.
local flights = {}

-- Above the proxy's read timeout (15 s): a flight this old is taken as lost and replaced.
local WAIT_SECONDS = 16

local function send(res)
  ngx.status = res.status
  for name, value in pairs(res.header) do
    ngx.header[name] = value
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
