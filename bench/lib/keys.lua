-- Sends each request with one of 10,000 API keys, in turn, so that a
-- limiter keyed on $http_x_api_key keeps 10,000 buckets.
local i = 0
request = function()
   i = i % 10000 + 1
   return wrk.format(nil, nil, { ["X-API-Key"] = "key-" .. i })
end
