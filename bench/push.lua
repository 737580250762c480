-- POST /push from many agents, each push newer than the last: every push changes the
-- merged view (the worst case for the coordinator). AGENTS sets how many agents.
local agents = tonumber(os.getenv("AGENTS") or "1000")
local counter = 0
local thread_id = 0

setup = function(thread)
    thread:set("thread_id", thread_id)
    thread_id = thread_id + 1
end

request = function()
    counter = counter + 1
    local agent = string.format("agent-%016x", (counter * 7919 + thread_id) % agents)
    local seconds = counter % 60
    local minutes = math.floor(counter / 60) % 60
    local hours = math.floor(counter / 3600) % 24
    local ts = string.format("2026-11-27T%02d:%02d:%02d.%06d+00:00", hours, minutes, seconds, thread_id)
    local body = string.format(
        '{"summary": {"agent_id": "%s", "timestamp": "%s", "topic_counts": {"episodic": %d, "semantic": %d}, "fact_hashes": ["Daily standup", "python", "fact-%d"]}}',
        agent, ts, counter % 7, counter % 11, counter % 5000)
    -- wrk.format() replaces wrk.headers when given headers: keep -H options (Connection: close).
    local headers = {["Content-Type"] = "application/json"}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    return wrk.format("POST", "/push", headers, body)
end
