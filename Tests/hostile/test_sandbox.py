"""What the code sees from inside its container: identity, privileges, file systems, limits."""

import json
import socket
import time
import uuid
from pathlib import Path

import pytest

PROBE = r'''
import json, os
def read(path):
    try:
        with open(path) as f: return f.read().strip()
    except Exception as e: return "ERR " + type(e).__name__
status = {}
for line in open("/proc/self/status"):
    k, _, v = line.partition(":")
    status[k] = v.strip()
root_writable = True
try:
    open("/probe-root-write", "w").close()
except OSError as e:
    root_writable = e.errno
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "CapEff": status.get("CapEff"), "CapPrm": status.get("CapPrm"), "CapBnd": status.get("CapBnd"),
    "CapAmb": status.get("CapAmb"), "NoNewPrivs": status.get("NoNewPrivs"), "Seccomp": status.get("Seccomp"),
    "root_write": root_writable,
    "mounts": [l.split()[:4] for l in open("/proc/mounts")],
}))
'''


def run_probe(service, code, **fields):
    body = {"code": code, "timeout": 30, **fields}
    r, seconds = service.run(body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["exit_code"] == 0, result
    return json.loads(result["stdout"]), result, seconds


def test_identity_and_privileges(service, record):
    facts, result, seconds = run_probe(service, PROBE)
    record("identity: uid/caps/no_new_privs/seccomp/ro root",
           {k: facts[k] for k in ("uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp", "root_write")}, seconds)
    assert facts["uid"] != 0 and facts["euid"] != 0 and facts["gid"] != 0
    assert 0 not in facts["groups"]
    assert int(facts["CapEff"], 16) == 0
    assert int(facts["CapPrm"], 16) == 0
    assert int(facts["CapBnd"], 16) == 0
    assert int(facts["CapAmb"], 16) == 0
    assert facts["NoNewPrivs"] == "1"
    assert facts["Seccomp"] == "2"  # filter mode
    # read-only root: EROFS (30), not a mere permission error
    assert facts["root_write"] == 30, facts["root_write"]
    root = [m for m in facts["mounts"] if m[1] == "/"]
    assert root and root[0][3].split(",")[0] == "ro", root
    tmp = [m for m in facts["mounts"] if m[1] == "/tmp"]
    assert tmp and tmp[0][2] == "tmpfs", tmp
    opts = tmp[0][3].split(",")
    assert "nosuid" in opts and "nodev" in opts, opts


WRITABLE_PROBE = r'''
import json, os
found = []
for root, dirs, files in os.walk("/", followlinks=False):
    if root in ("/proc", "/sys") or root.startswith(("/proc/", "/sys/")):
        dirs[:] = []
        continue
    if os.access(root, os.W_OK):
        found.append(root)
    for name in files:
        p = os.path.join(root, name)
        if not os.path.islink(p) and os.access(p, os.W_OK) and not p.startswith("/tmp/") and not p.startswith("/dev/"):
            found.append(p)
print(json.dumps(found))
'''


SHM_PROBE = r'''
import json, re
sizes = []
for line in open("/proc/mounts"):
    parts = line.split()
    if parts[1] == "/dev/shm":
        m = re.search(r"size=(\d+)k", parts[3])
        sizes.append(int(m.group(1)) if m else 10**9)
print(json.dumps(sizes))
'''


def test_only_tmp_is_writable(service, record):
    """Every directory (and regular file) outside /proc and /sys that uid 1000 may write: only
    the /tmp tmpfs (which holds the work dir, HOME and the SDK's state). /dev/mqueue is POSIX
    message queues (kernel objects bounded by RLIMIT_MSGQUEUE), not storage."""
    writable, result, seconds = run_probe(service, WRITABLE_PROBE)
    outside = [p for p in writable if p != "/tmp" and not p.startswith("/tmp/") and p != "/dev/mqueue"]
    if "/dev/shm" in outside:
        # The one deliberate exception: POSIX shared memory for multiprocessing, capped at 1 MiB
        # (it counts as memory too), so it is no second disk.
        mounts, _, _ = run_probe(service, SHM_PROBE)
        assert mounts and all(size <= 1024 for size in mounts), f"/dev/shm sizes (KiB): {mounts}"
        outside.remove("/dev/shm")
    record("writable places outside /tmp", outside, seconds)
    assert outside == [], f"writable outside the disk_limit tmpfs: {outside}"


LIMITS_PROBE = r'''
import json, os
def read(path):
    try:
        with open(path) as f: return f.read().strip()
    except Exception as e: return None
cpu = next((d for d in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct") if read(d + "/cpu.cfs_quota_us") is not None), None)
print(json.dumps({
    "mem": read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "memsw": read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
    "pids": read("/sys/fs/cgroup/pids/pids.max"),
    "quota": cpu and read(cpu + "/cpu.cfs_quota_us"),
    "period": cpu and read(cpu + "/cpu.cfs_period_us"),
    "shares": cpu and read(cpu + "/cpu.shares"),
    "tmp": [l.split()[3] for l in open("/proc/mounts") if l.split()[1] == "/tmp"],
    "statvfs_tmp": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize,
}))
'''

MiB = 1024 * 1024


# The default disk size takes a warm-pool container when one is idle (its memory and CPU are
# then changed on the running container); another disk size always takes a fresh one.
@pytest.mark.parametrize("fields, mem, cpus, disk, shares", [
    ({}, 256 * MiB, 1.0, 512 * MiB, 512),
    ({"mem_limit": "100m", "cpus": 0.5, "cpu_shares": 100}, 100 * MiB, 0.5, 512 * MiB, 100),
    ({"mem_limit": "1g", "cpus": 2}, 1024 * MiB, 2.0, 512 * MiB, 512),
    ({"mem_limit": "100m", "cpus": 0.5, "disk_limit": "20m", "cpu_shares": 100}, 100 * MiB, 0.5, 20 * MiB, 100),
    ({"mem_limit": "1g", "cpus": 2, "disk_limit": "1024k"}, 1024 * MiB, 2.0, 1 * MiB, 512),
], ids=["defaults", "default-disk-smaller", "default-disk-larger", "small", "large"])
def test_cgroup_limits_match_the_request(service, record, fields, mem, cpus, disk, shares):
    facts, result, seconds = run_probe(service, LIMITS_PROBE, **fields)
    record(f"cgroup limits for {fields or 'defaults'}", facts, seconds)
    assert facts["mem"] is not None, "no cgroup v1 memory controller visible"
    assert int(facts["mem"]) == mem
    assert int(facts["memsw"]) == mem, "swap must not be granted (memsw == mem_limit)"
    assert facts["pids"] == "256"
    assert facts["quota"] is not None and facts["period"] is not None
    assert int(facts["quota"]) / int(facts["period"]) == pytest.approx(cpus, rel=0.01)
    assert int(facts["shares"]) == shares
    assert facts["statvfs_tmp"] == disk
    assert any(f"size={disk // 1024}k" in o for o in facts["tmp"]), facts["tmp"]


FILL_PROBE = r'''
import errno, json, os
written, err = 0, None
chunk = b"\xa5" * (64 * 1024)
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(chunk)
            f.flush()
            written += len(chunk)
except OSError as e:
    err = e.errno
print(json.dumps({"written": written, "errno": err}))
'''


def test_filling_the_tmpfs_gives_enospc(service, record):
    facts, result, seconds = run_probe(service, FILL_PROBE, disk_limit="16m")
    record("fill /tmp (disk_limit 16m)", {**facts, "exit_code": result["exit_code"]}, seconds)
    assert facts["errno"] == 28  # ENOSPC
    assert 15 * MiB <= facts["written"] <= 16 * MiB


HOLD_FILL = r'''
import json, os, time
open("/tmp/work/hold", "w").close()
open("/tmp/work/pending", "w").close()
written, err = 0, None
chunk = b"\x5a" * (1024 * 1024)
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(chunk)
            f.flush()
            written += len(chunk)
except OSError as e:
    err = e.errno
os.rename("/tmp/work/pending", "/tmp/work/filled")
while os.path.exists("/tmp/work/hold"):
    time.sleep(0.05)
print(json.dumps({"written": written, "errno": err}))
'''


def test_filling_the_tmpfs_leaves_the_host_disk_alone(service, record, tools):
    """256 MiB written to /tmp live in memory: the container's writable layer stays empty and the
    host's /var/lib/docker does not grow by anything like that (rough: other work shares the disk)."""
    before = tools.df_used_bytes("/var/lib/docker")
    t0 = time.monotonic()
    marker = f"fill-{uuid.uuid4().hex[:10]}"
    job = service.submit({"code": HOLD_FILL, "entrypoint": f"python3 main.py {marker}",
                          "disk_limit": "256m", "mem_limit": "512m", "timeout": 90})
    cid = tools.poll(lambda: tools.find_job_container(job, marker), 30, 0.1, "the job's container")
    tools.poll(lambda: "filled" in tools.docker("exec", cid, "ls", "/tmp/work", check=False), 60, 0.2,
               "the tmpfs to be full")
    during = tools.df_used_bytes("/var/lib/docker")
    info = tools.inspect(cid)
    upper = info["GraphDriver"]["Data"].get("UpperDir")
    upper_bytes = sum(p.stat().st_size for p in Path(upper).rglob("*")
                      if p.is_file() and not p.is_symlink()) if upper else 0
    tools.docker("exec", cid, "rm", "/tmp/work/hold")
    final = service.wait_job(job, 60)
    seconds = time.monotonic() - t0
    result = final["result"]
    facts = json.loads(result["stdout"])
    record("fill a 256m /tmp; host disk delta", {**facts, "df_delta_bytes": during - before,
                                                 "upperdir_bytes": upper_bytes, "status": final["status"]}, seconds)
    assert facts["errno"] == 28 and facts["written"] >= 250 * MiB, facts
    assert upper_bytes < MiB, f"{upper_bytes} bytes landed in the container's writable layer"
    assert during - before < 128 * MiB, f"/var/lib/docker grew by {(during - before) // MiB} MiB while /tmp held 256 MiB"


HOST_PROBE = r'''
import json, os, socket
def read(path):
    try:
        with open(path, "rb") as f: return f.read().decode(errors="replace")
    except Exception as e: return "ERR " + type(e).__name__
print(json.dumps({
    "hostname": read("/etc/hostname").strip(),
    "shadow": read("/etc/shadow"),
    "machine_id": read("/etc/machine-id").strip(),
    "sockets": [p for p in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
                            "/var/run/docker", "/run/docker") if os.path.lexists(p)],
    "pid1": read("/proc/1/cmdline").replace("\0", " ").strip(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": dict(os.environ),
    "host_root_via_proc": read("/proc/1/root/etc/hostname").strip(),
    "block_devices": sorted(os.listdir("/dev")),
    "mount_sources": sorted({l.split()[0] for l in open("/proc/mounts")}),
}))
'''


def test_host_files_and_docker_socket_are_out_of_reach(service, record):
    facts, result, seconds = run_probe(service, HOST_PROBE)
    host_hostname = socket.gethostname()
    record("read host files / docker socket",
           {k: facts[k] for k in ("hostname", "shadow", "sockets", "pid1", "host_root_via_proc")}
           | {"processes": len(facts["pids"])}, seconds)
    assert facts["sockets"] == [], facts["sockets"]
    assert facts["hostname"] != host_hostname
    host_shadow = Path("/etc/shadow").read_bytes() if Path("/etc/shadow").exists() else b""
    assert facts["shadow"].startswith("ERR"), "the container could read an /etc/shadow"
    if host_shadow:
        assert facts["shadow"] != host_shadow.decode(errors="replace")
    host_machine_id = Path("/etc/machine-id").read_text().strip() if Path("/etc/machine-id").exists() else None
    if host_machine_id:
        assert facts["machine_id"] != host_machine_id
    # its own pid namespace: docker-init is PID 1 and only the run's own processes are visible
    assert "docker-init" in facts["pid1"] or "tini" in facts["pid1"], facts["pid1"]
    assert len(facts["pids"]) < 20, facts["pids"]
    assert facts["host_root_via_proc"] != host_hostname
    # no service secret or configuration leaks into the sandbox
    env_text = json.dumps(facts["env"])
    assert "hostile-key" not in env_text and "DATABASE_PATH" not in env_text, facts["env"]
    assert "sda" not in facts["block_devices"] and "vda" not in facts["block_devices"], facts["block_devices"]


def test_no_network_leaves_only_loopback(service, record):
    code = ("import json, os, socket\n"
            "err = None\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
            "except OSError as e:\n"
            "    err = e.errno\n"
            "print(json.dumps({'ifaces': sorted(os.listdir('/sys/class/net')), 'connect_errno': err}))\n")
    facts, result, seconds = run_probe(service, code)
    record("allow_network false: interfaces", facts, seconds)
    assert facts["ifaces"] == ["lo"]
    assert facts["connect_errno"] is not None


def test_no_state_survives_between_runs(service, record):
    """Every run gets a fresh container (warm ones included): what one run leaves in /tmp, HOME
    or the work dir, or as a background process, is not there for the next."""
    marker = uuid.uuid4().hex
    plant = ("import os, subprocess, sys\n"
             f"for p in ('/tmp/planted-{marker}', os.path.expanduser('~/planted-{marker}'), 'planted-{marker}'):\n"
             "    open(p, 'w').write('secret')\n"
             f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', '{marker}'], start_new_session=True)\n"
             "print(os.uname().nodename)\n")
    look = ("import json, os\n"
            "found = [os.path.join(r, n) for d in ('/tmp', os.path.expanduser('~'), '.')\n"
            "         for r, _, names in os.walk(d) for n in names if 'planted-' in n]\n"
            "procs = [open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()]\n"
            f"print(json.dumps({{'found': found, 'sleeper': any('{marker}' in c for c in procs), 'host': os.uname().nodename}}))\n")
    hosts, leaks = [], []
    t0 = time.monotonic()
    for _ in range(3):
        r, _s = service.run({"code": plant})
        assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
        hosts.append(r.json()["stdout"].strip())
        r, _s = service.run({"code": look})
        assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
        facts = json.loads(r.json()["stdout"])
        hosts.append(facts["host"])
        if facts["found"] or facts["sleeper"]:
            leaks.append(facts)
    record("plant files + a daemon, look for them in the next run (x3)", {"leaks": leaks, "containers": len(set(hosts))},
           time.monotonic() - t0)
    assert leaks == []
    assert len(set(hosts)) == len(hosts), f"a container served more than one run: {hosts}"
