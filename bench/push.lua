-- wrk script for the push benchmark: PUSH_TARGET=mfu posts a JSON push to
-- /api/v1/push; PUSH_TARGET=pushgateway puts a text exposition into a group.
local target = os.getenv("PUSH_TARGET") or "mfu"
wrk.method = "POST"
if target == "pushgateway" then
  wrk.path = "/metrics/job/bench/instance/a"
  wrk.headers["Content-Type"] = "text/plain; version=0.0.4"
  wrk.body = "# TYPE training_tokens_total counter\ntraining_tokens_total 1000\n"
else
  wrk.path = "/api/v1/push"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"tokens": 1000, "seconds": 0.5, "run": "a"}'
end
