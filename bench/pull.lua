wrk.method = "GET"
wrk.path = "/pull"
