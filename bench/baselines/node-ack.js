// The baseline "what many users would write instead": a plain Node.js http server that reads the
// webhook body, JSON.parse()s it and answers 202 {"received":true}. No authentication, no queue,
// no cluster: the least a JavaScript receiver does, so revalidator's ack path is compared with a
// floor, not with a straw man.
//
//   node bench/baselines/node-ack.js PORT
'use strict';
const http = require('http');

const port = Number(process.argv[2] || 8082);
const accepted = Buffer.from('{"received":true}');
const malformed = Buffer.from('{"error":"malformed_json"}');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let status = 202;
    let body = accepted;
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      status = 400;
      body = malformed;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  });
});
server.listen(port, '127.0.0.1', () => console.log(`node-ack listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
