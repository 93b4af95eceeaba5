-- wrk script for the loadgen check: the same kind of webhook POST that `loadgen ack` sends, so
-- that wrk's figure against nginx tells whether loadgen itself is what limits a measurement.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local record = '{"id": 1, "body": "' .. string.rep("lorem ipsum dolor sit amet ", 18):sub(1, 480) ..
  '", "title": "Article 1", "version": 2, "published_at": "2024-01-01T00:00:00+00:00"}'
wrk.body = '{"type":"UPDATE","table":"articles","schema":"public","record":' .. record ..
  ',"old_record":' .. record .. '}'
