// node --import ./test/support/record-modules.mjs …: appends the URL of every module the process loads through the
// ES module loader to the file named by RECORD_MODULES_FILE, so that a test can say which files a process ran.
import { register } from "node:module";

const hooks = `
import { appendFileSync } from "node:fs";
let file;
export function initialize(data) { file = data.file; }
export async function load(url, context, nextLoad) {
  appendFileSync(file, url + "\\n");
  return nextLoad(url, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: process.env.RECORD_MODULES_FILE } });
