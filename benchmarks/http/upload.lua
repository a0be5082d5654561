-- wrk script: POST one image to /predict, as multipart/form-data with one field "file" (what curl -F file=@x.png
-- sends; UPLOAD=multipart, the default) or as the raw body with Content-Type image/png (what
-- curl --data-binary @x.png -H 'Content-Type: image/png' sends; UPLOAD=raw).
--   PNG=digit.png UPLOAD=raw wrk -s benchmarks/http/upload.lua URL/predict
local f = assert(io.open(os.getenv("PNG") or "digit.png", "rb"))
local image = f:read("*a")
f:close()
local boundary = "----benchpeers7MA4YWxkTrZu0gW"
wrk.method = "POST"
if (os.getenv("UPLOAD") or "multipart") == "raw" then
  wrk.headers["Content-Type"] = "image/png"
  wrk.body = image
else
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  wrk.body = "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="file"; filename="digit.png"\r\n'
    .. "Content-Type: image/png\r\n\r\n"
    .. image .. "\r\n--" .. boundary .. "--\r\n"
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f req_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      .. "socket_errors=%d non_2xx=%d\n",
    summary.requests, s, summary.requests / s, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
