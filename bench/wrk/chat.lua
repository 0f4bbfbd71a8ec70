-- POST /v1/chat/completions for wrk. STREAM=1 asks for SSE, KEY is the bearer token, MODEL the model.
wrk.method = "POST"
local stream = os.getenv("STREAM") == "1"
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "bench") .. '","stream":' .. (stream and "true" or "false") ..
  ',"messages":[{"role":"user","content":"Say hello in twenty tokens."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "")
