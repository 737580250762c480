-- GET /pull accepting gzip, as a browser or a gzip-aware client asks (the agmem client
-- itself sends Accept-Encoding: identity: bench/pull.lua).
wrk.method = "GET"
wrk.path = "/pull"
wrk.headers["Accept-Encoding"] = "gzip"
