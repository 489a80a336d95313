#!/usr/bin/env python3
"""Runs chaos/load scenarios, each in its own process with a time limit, and prints a summary.

    python3 Tests/chaos/run_chaos.py [scenario ...]      (no scenario: all of them, in order)

Exit status 0 when every scenario passed. Logs, databases and one JSON result per scenario go to
a fresh run directory (printed). The release binaries are copied once at the start, so a build
that replaces them meanwhile does not disturb the run.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from chaoslib import pid_alive, snapshot_binaries  # noqa: E402

# name -> (script, time limit in seconds)
SCENARIOS = {
    "kill9-workers": ("s1_kill9_workers.py", 240),
    "sigstop": ("s2_sigstop.py", 120),
    "kill9-api": ("s3_kill9_api.py", 120),
    "sigterm-drain": ("s4_sigterm_drain.py", 240),
    "dockerd-restart": ("s5_dockerd_restart.py", 300),
    "load": ("s6_load.py", 480),
    "scale": ("s7_scale.py", 420),
    "disk-full": ("s8_disk_full.py", 180),
    "postgres-restart": ("s9_postgres_restart.py", 240),
    "multihost": ("s10_multihost.py", 900),
    "host-kill9": ("s11_host_kill9.py", 240),
    "host-partition": ("s12_host_partition.py", 240),
    "api-kill": ("s13_api_kill.py", 240),
    "hosts-postgres-restart": ("s14_hosts_postgres_restart.py", 300),
    "host-engines": ("s15_host_engines.py", 600),
    "stream-kill": ("s16_stream_kill.py", 180),
}


def highlights(result: dict) -> str:
    m = result.get("metrics", {})
    name = result.get("scenario")
    try:
        if name == "kill9-workers":
            return (f"kills={m.get('kills')} reruns={m.get('jobs_rerun')} "
                    f"dead-container max {m.get('max_dead_container_survival_s')}s")
        if name == "sigstop":
            return (f"rerun {m.get('A_reclaim_after_stop_s')}s/{m.get('B_reclaim_after_stop_s')}s after SIGSTOP; "
                    f"stale write refused")
        if name == "kill9-api":
            return f"API back in {m.get('api_restart_s')}s; long-polls ok {m.get('long_poll_clients_completed')}/5"
        if name == "sigterm-drain":
            return (f"exit A {m.get('A_exit_after_sigterm_s')}s B {m.get('B_exit_after_sigterm_s')}s "
                    f"service {m.get('C-sigterm_service_exit_s')}s/{m.get('D-ctrl-c_service_exit_s')}s")
        if name == "dockerd-restart":
            counts: dict = {}
            for outcome in m.get("outcomes", {}).get("inflight", []):
                key = outcome.split(":")[0].split(",")[0].replace("completed(", "completed ").rstrip(")")
                counts[key] = counts.get(key, 0) + 1
            low = min((p[1] for p in m.get("health_timeline_s_workers_docker", [])), default=None)
            return (f"dockerd down {m.get('dockerd_down_s')}s; in-flight " + ", ".join(f"{v}x {k}" for k, v in counts.items())
                    + f"; live workers min {low}")
        if name == "load":
            lat = m.get("A_latency_s", {})
            return (f"{m.get('A_throughput_runs_per_s')} runs/s p50 {lat.get('p50')}s p95 {lat.get('p95')}s "
                    f"WAL max {round((m.get('A_wal_max_bytes') or 0) / 1048576, 1)}MiB; depth=20: "
                    f"{m.get('B_refused_429')}×429")
        if name == "scale":
            curve = m.get("curve", {})
            return "runs/s " + " ".join(f"{k}w:{v['runs_per_s']}" for k, v in curve.items())
        if name == "postgres-restart":
            outage = m.get("during_outage_get_jobs") or {}
            return (f"restart fast {m.get('restart_fast_s')}s immediate {m.get('restart_immediate_s')}s; outage→"
                    f"{outage.get('status')} in {outage.get('answered_s')}s; back {m.get('recovery_after_start_s')}s "
                    f"after start; reruns {m.get('reruns')}")
        if name == "multihost":
            by_api = "/".join(str(n) for n in (m.get("requests_by_api") or {}).values())
            return (f"acceptance {m.get('acceptance')}; requests per API {by_api}; sessions by address "
                    f"{m.get('sessions_by_address')}")
        if name == "host-kill9":
            return (f"killed {len(m.get('killed_processes') or [])} processes holding {m.get('jobs_of_killed_host')} jobs; "
                    f"rerun after {m.get('rerun_after_kill_s')}s; wk1's containers kept by wk2's sweep "
                    f"{m.get('wk1_containers_after_wk2_sweep')}, gone {m.get('orphans_gone_after_restart_s')}s after restart")
        if name == "host-partition":
            return (f"sessions freed {m.get('sessions_freed_after_cut_s')}s after the cut; rerun after "
                    f"{m.get('rerun_after_cut_s')}s; late result: {m.get('wk1_late_result')}; live again "
                    f"{m.get('live_again_after_heal_s')}s after the heal")
        if name == "api-kill":
            return (f"{m.get('clients_waiting_at_kill')} long-polls cut; all answered via api2 within "
                    f"{m.get('clients_answered_after_kill_s')}s; reruns {m.get('reruns')}")
        if name == "hosts-postgres-restart":
            return (f"restart fast {m.get('restart_fast_s')}s immediate {m.get('restart_immediate_s')}s under "
                    f"long-polls on both APIs; answers {m.get('answers')}; reruns {m.get('reruns')}")
        if name == "host-engines":
            return (f"built on wk1 in {m.get('build_on_wk1_s')}s; run on wk2 with its rebuild "
                    f"{m.get('run_with_rebuild_on_wk2_s')}s; prebuild {m.get('prebuild_status')}; burst containers per "
                    f"engine {m.get('containers_seen_per_engine')}")
        if name == "disk-full":
            full = (m.get("A_attempts") or [{}])[-1].get("status")
            ro = (m.get("B_post_jobs_read_only") or {}).get("status")
            return f"full disk→{full}, read-only→{ro}, integrity {m.get('A_integrity')}/{m.get('B_integrity')}"
    except Exception:
        pass
    return ""


def binary_identity(bin_dir: str) -> str:
    """Which build was tested: each binary's modification time and a SHA-256 prefix."""
    parts = []
    for name in ("code-runner-api", "code-runner-worker"):
        path = os.path.join(bin_dir, name)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(path).st_mtime))
        parts.append(f"{name} {built} sha256:{digest.hexdigest()[:12]}")
    return "; ".join(parts)


def kill_leftovers(pidfile: str) -> None:
    try:
        pids = [int(x) for x in open(pidfile).read().split()]
    except OSError:
        return
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def run_one(name: str, run_dir: str, env: dict) -> dict:
    script, limit = SCENARIOS[name]
    scenario_dir = os.path.join(run_dir, name)
    os.makedirs(scenario_dir, exist_ok=True)
    json_out = os.path.join(run_dir, f"{name}.json")
    out_path = os.path.join(run_dir, f"{name}.out")
    started = time.monotonic()
    print(f"== {name} (limit {limit}s) ...", flush=True)
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--run-dir", scenario_dir,
                                 "--json-out", json_out], stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the scenario cleans up in its finally blocks
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    kill_leftovers(os.path.join(scenario_dir, "pids"))
    try:
        with open(json_out) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {"scenario": name, "sent": 0, "completed": 0, "failed": 0, "lost": 0, "double": 0, "passed": False,
                  "problems": [f"no result (exit status {proc.returncode}); see {out_path}"], "metrics": {}}
    if proc.returncode != 0 and result.get("passed"):
        result["passed"] = False
        result["problems"].append(f"exit status {proc.returncode}")
    if time.monotonic() - started >= limit:
        result["passed"] = False
        result["problems"].append(f"time limit of {limit}s reached")
    result["seconds"] = round(time.monotonic() - started, 1)
    print(f"   {name}: {'PASS' if result['passed'] else 'FAIL'} in {result['seconds']}s", flush=True)
    return result


def table(results: list[dict]) -> str:
    header = ("scenario", "sent", "completed", "failed", "lost", "double", "result", "secs", "numbers")
    rows = [header] + [(r["scenario"], str(r["sent"]), str(r["completed"]), str(r["failed"]), str(r["lost"]), str(r.get("double", 0)),
                        "PASS" if r["passed"] else "FAIL", str(r.get("seconds", "")), highlights(r))
                       for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--run-dir", default=None, help="where to keep logs (default: a new /tmp/chaos-* folder)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="chaos-")
    os.makedirs(run_dir, exist_ok=True)
    print(f"run directory: {run_dir}", flush=True)
    env = dict(os.environ)
    env["CHAOS_BIN_DIR"] = snapshot_binaries(os.path.join(run_dir, "bin"))
    identity = binary_identity(env["CHAOS_BIN_DIR"])
    print(f"binaries: {identity}", flush=True)
    results = []
    interrupted = False
    for name in names:
        try:
            results.append(run_one(name, run_dir, env))
        except KeyboardInterrupt:
            interrupted = True
            break
    print()
    print(table(results))
    for r in results:
        for problem in r.get("problems", []):
            print(f"\n[{r['scenario']}] PROBLEM: {problem}")
        for note in r.get("notes", []):
            print(f"[{r['scenario']}] note: {note}")
    print(f"binaries: {identity}")
    if not os.environ.get("CHAOS_BIN_DIR"):
        shutil.rmtree(env["CHAOS_BIN_DIR"], ignore_errors=True)  # the run's private copy
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump({"binaries": identity, "results": results}, f, indent=2, default=str)
    print(f"\nresults: {run_dir}/summary.json (logs under {run_dir}/<scenario>/)")
    passed = sum(1 for r in results if r["passed"])
    print(f"chaos: {passed} passed, {len(results) - passed} failed")
    return 0 if results and all(r["passed"] for r in results) and not interrupted else 1


if __name__ == "__main__":
    sys.exit(main())
