'use strict';
// Code Runner's start hook for pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started
// interpreters"; the supervisor's side is runtimes/common/prestart.c). A warm container's
// supervisor starts `node main.js` ahead with NODE_OPTIONS=--require=<this file> and
// CODE_RUNNER_PRESTART_FD=3; node runs this before it looks at main.js. It blocks reading fd 3
// until the run is there ("go\n", then "NAME=value\0" for each of the run's variables), sets the
// variables, removes its own (and NODE_OPTIONS, so child processes do not load it) and itself
// from require.cache, and returns: node then runs main.js exactly as `node main.js` does
// (process.argv, process.execArgv, require.main, stack traces). Without "go" it exits at once.
(() => {
  const fdText = process.env.CODE_RUNNER_PRESTART_FD;
  if (fdText === undefined || !require('worker_threads').isMainThread) return;
  delete process.env.CODE_RUNNER_PRESTART_FD;
  delete process.env.NODE_OPTIONS;
  delete require.cache[__filename];
  const fs = require('fs');
  const fd = Number(fdText);
  const chunks = [];
  const chunk = Buffer.allocUnsafe(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      if (error.code === 'EAGAIN' || error.code === 'EINTR') continue;
      throw error;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  fs.closeSync(fd);
  const data = Buffer.concat(chunks);
  if (data.length < 3 || data.toString('latin1', 0, 3) !== 'go\n') process.reallyExit(0);
  let start = 3;
  for (let i = 3; i < data.length; i++) {
    if (data[i] !== 0) continue;
    const entry = data.toString('utf8', start, i);
    start = i + 1;
    const equals = entry.indexOf('=');
    if (equals > 0) process.env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
})();
