// Code Runner's start hook for pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started
// interpreters"; the supervisor's side is runtimes/common/prestart.c). A warm container's
// supervisor starts `deno run --allow-all --preload <this file> main.ts` ahead with
// CODE_RUNNER_PRESTART_FD=3; deno runs this before it loads main.ts. It blocks reading fd 3 (as
// /proc/self/fd/3: deno has no call that reads a raw descriptor) until the run is there ("go\n",
// then "NAME=value\0" for each of the run's variables), sets the variables, removes its own, and
// returns: deno then runs main.ts as `deno run --allow-all main.ts` does (Deno.mainModule,
// import.meta.main, Deno.args). Without "go" it exits at once. fd 3 stays open, at its end (deno
// cannot close a descriptor it did not open).
const fdText = Deno.env.get("CODE_RUNNER_PRESTART_FD");
if (fdText !== undefined && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined") {
  Deno.env.delete("CODE_RUNNER_PRESTART_FD");
  const data = Deno.readFileSync(`/proc/self/fd/${Number(fdText)}`);
  const text = new TextDecoder().decode(data);
  if (!text.startsWith("go\n")) Deno.exit(0);
  for (const entry of text.slice(3).split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) Deno.env.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
}
