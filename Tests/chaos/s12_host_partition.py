#!/usr/bin/env python3
"""host-partition: a worker host's link cut mid-run, silently, on PostgreSQL.

Hosts (multihost.py): api1, api2, wk1 and wk2 with one worker each, lease 6 s. A job J of
10 s (printing its marker and its container's hostname) is claimed by wk1 (wk2 starts only
after the claim). Then wk1's link is cut: iptables drops its traffic both ways, nobody gets an
error. During the cut, MORE jobs are submitted through both APIs. The link is healed once the
server has freed wk1's sessions (its TCP keepalives: 5 s idle, 2 s × 3 probes) and J runs again
on wk2; by then J's program on wk1 has ended and wk1 still holds its result, which it tries to
store when the link is back.

Holds when:
- the server frees wk1's sessions within 30 s of the cut (keepalives; Linux's defaults would
  take 2 h 11 min);
- J runs again on wk2 after its lease (attempts = 2) and ends `completed` with the output of
  wk2's container; wk1's late result is refused (its log says `stored: false`, or that its lease
  was lost), never stored;
- the jobs submitted during the cut complete on wk2 (the deployment serves while a host is away);
- after the heal wk1 is live in `/health` again, and AFTER jobs submitted then all complete;
- every job ends once: lost = 0, double = 0, failed = 0; every process stays up.
"""
import re
import subprocess
import sys

from chaoslib import ScenarioFailure, main, now, wait_until
from multihost import Cluster, ContainerHosts, http_session

LEASE_S = 6
MORE = 4
AFTER = 4
J_CODE = "import socket, time\ntime.sleep(10)\nprint('{marker}', socket.gethostname())\n"
SHORT_CODE = "import socket\nprint('{marker}', socket.gethostname())\n"
AUTH = {"X-API-Key": "chaos-key"}


def run(ctx) -> None:
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, lease=LEASE_S)
    cluster.start_api("api1")
    cluster.start_api("api2")
    cluster.start_worker("wk1", "wk1-a")
    cluster.wait_hosts("api1", {"wk1": 1})
    http = http_session()
    hosts = ContainerHosts(cluster)

    def submit(api: str, marker: str, code: str) -> str:
        return cluster.submit(api, marker, code.format(marker=marker), AUTH)

    jobs = {"J": submit("api1", "J", J_CODE)}
    j = jobs["J"]
    wait_until(lambda: cluster.job_row(j).get("lease_owner") == "wk1-a", 30, "wk1 to claim J")
    cluster.start_worker("wk2", "wk2-a")
    cluster.wait_hosts("api2", {"wk1": 1, "wk2": 1})
    wk1_address = cluster.hosts["wk1"].inside
    ctx.check(cluster.sessions().get(wk1_address, 0) >= 1, f"wk1 has no session before the cut: {cluster.sessions()}")

    cluster.cut("wk1")
    cut_at = now()
    ctx.note("wk1's link cut")
    for i in range(MORE):
        marker = f"during-{i}"
        jobs[marker] = submit("api1" if i % 2 else "api2", marker, SHORT_CODE)

    # Both must happen: the server frees wk1's sessions, and J runs again on wk2 after its lease;
    # each is timed from the cut on its own.
    seen_at: dict[str, float] = {}

    def freed_and_rerun() -> bool:
        if "freed" not in seen_at and cluster.sessions().get(wk1_address, 0) == 0:
            seen_at["freed"] = now()
        if "rerun" not in seen_at and cluster.job_row(j).get("attempts", 0) >= 2:
            seen_at["rerun"] = now()
        return len(seen_at) == 2
    try:
        wait_until(freed_and_rerun, 30, "the server to free wk1's sessions and J to run again after its lease")
    except ScenarioFailure:
        sockets = subprocess.run(["ss", "-tnio", "dst", wk1_address], capture_output=True, text=True, timeout=30)
        ctx.note(f"seen: {seen_at}; the server's sockets to wk1:\n{sockets.stdout.strip()[-3000:]}")
        raise
    ctx.metric("sessions_freed_after_cut_s", round(seen_at["freed"] - cut_at, 1))
    ctx.metric("rerun_after_cut_s", round(seen_at["rerun"] - cut_at, 1))
    ctx.metric("J_owner_after_rerun", cluster.job_row(j).get("lease_owner"))
    cluster.heal("wk1")
    healed_at = now()
    ctx.metric("cut_s", round(healed_at - cut_at, 1))

    wait_until(lambda: cluster.sessions().get(wk1_address, 0) >= 1, 30, "wk1 to reconnect")
    ctx.metric("reconnected_after_heal_s", round(now() - healed_at, 1))
    wk1 = cluster.procs["wk1-a"]

    def verdict() -> str | None:
        for line in wk1.log().splitlines():
            if j in line and "job finished" in line and re.search(r'"?stored"?\s*[:=]\s*"?false', line):
                return "refused at completion (stored: false)"
            if "lease lost; run stopped" in line and j in line:
                return "refused at heartbeat (lease lost; run stopped)"
            if j in line and "could not store the outcome" in line:
                return "given up while the link was down"
        return None
    late = wait_until(verdict, LEASE_S * 3 + 20, "wk1 to learn that J is no longer its")
    ctx.metric("wk1_late_result", late)
    ctx.check("refused" in late, f"wk1's late result for J was not refused by the store: {late}")

    cluster.wait_hosts("api2", {"wk1": 1, "wk2": 1}, timeout=30)
    ctx.metric("live_again_after_heal_s", round(now() - healed_at, 1))
    for i in range(AFTER):
        marker = f"after-{i}"
        jobs[marker] = submit("api1" if i % 2 else "api2", marker, SHORT_CODE)

    views = {}
    for marker, job_id in jobs.items():
        views[job_id] = http.get(f"{cluster.api_url('api2')}/jobs/{job_id}", params={"wait": 40}, headers=AUTH,
                                 timeout=60).json()
    hosts.stop()
    ctx.count(views, sent=len(jobs))
    outputs = []
    for marker, job_id in jobs.items():
        view = views[job_id]
        words = ((view.get("result") or {}).get("stdout") or "").split()
        outputs.append(" ".join(words))
        ok = view.get("status") == "completed" and len(words) == 2 and words[0] == marker
        ctx.check(ok, f"{marker} ({job_id}) ended with {str(view)[:300]}")
        host = hosts.host_of(words[1]) if ok else "?"
        if marker == "J" or marker.startswith("during-"):
            ctx.check(host == "wk2", f"{marker}'s stored result came from host {host}, not wk2")
    ctx.metric("J_attempts", cluster.job_row(j).get("attempts"))
    stored = cluster.count_jobs("kind = 'run'")
    repeated = len(outputs) - len(set(outputs))
    ctx.result["double"] = max(0, stored - len(jobs)) + repeated
    ctx.check(stored == len(jobs), f"{stored} jobs stored for {len(jobs)} submissions")
    reruns = [r[0] for r in cluster.rows("SELECT public_id FROM jobs WHERE attempts > 1")]
    ctx.check(reruns == [j], f"jobs run more than once: {reruns} (only J should be)")
    for name, proc in cluster.procs.items():
        ctx.check(proc.alive(), f"{name} exited:\n{proc.log()[-1500:]}")


if __name__ == "__main__":
    sys.exit(main("host-partition", run))
