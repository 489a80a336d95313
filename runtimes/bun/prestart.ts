// Code Runner's start hook for pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started
// interpreters"; the supervisor's side is runtimes/common/prestart.c). A warm container's
// supervisor starts `bun main.ts` ahead with BUN_OPTIONS=--preload=<this file> and
// CODE_RUNNER_PRESTART_FD=3; bun runs this before it loads main.ts. It blocks reading fd 3 until
// the run is there ("go\n", then "NAME=value\0" for each of the run's variables), sets the
// variables, removes its own (and BUN_OPTIONS, so child processes do not load it, and its entry
// in process.execArgv), and returns: bun then runs main.ts as `bun main.ts` does (process.argv,
// Bun.main, import.meta.main). Without "go" it exits at once.
import { closeSync, readSync } from "node:fs";

const fdText = process.env.CODE_RUNNER_PRESTART_FD;
if (fdText !== undefined && Bun.isMainThread) {
  delete process.env.CODE_RUNNER_PRESTART_FD;
  delete process.env.BUN_OPTIONS;
  const own = process.execArgv.findIndex((argument) => argument.startsWith("--preload"));
  if (own >= 0) process.execArgv.splice(own, process.execArgv[own] === "--preload" ? 2 : 1);
  const fd = Number(fdText);
  const chunks: Buffer[] = [];
  const chunk = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  closeSync(fd);
  const data = Buffer.concat(chunks);
  if (data.length < 3 || data.toString("latin1", 0, 3) !== "go\n") process.exit(0);
  let start = 3;
  for (let i = 3; i < data.length; i++) {
    if (data[i] !== 0) continue;
    const entry = data.toString("utf8", start, i);
    start = i + 1;
    const equals = entry.indexOf("=");
    if (equals > 0) process.env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
}
