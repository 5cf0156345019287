// The bench's HTTP client for bench/audit-export.ts, in its own process so that it does not share the server's
// thread: GET argv[2] with the cookie in EXPORT_COOKIE, count the bytes and lines of the body, and print
// {"status","bytes","lines","ms"} as one JSON line (the time from the request to the last byte).
import http from "node:http";

const started = performance.now();
http
  .get(process.argv[2], { headers: { Cookie: process.env.EXPORT_COOKIE ?? "" } }, (res) => {
    let bytes = 0;
    let lines = 0;
    res.on("data", (chunk) => {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    });
    res.on("end", () => {
      process.stdout.write(`${JSON.stringify({ status: res.statusCode, bytes, lines, ms: performance.now() - started })}\n`);
    });
  })
  .on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
