"""Several "hosts" on one machine, for the multi-host scenarios (issue 16).

A host is a network namespace `crmh-<name>` joined to this one by a veth pair, /30 each:
host number i has 10.77.i.1 on this side (the link `crmh-<name>`) and 10.77.i.2 inside
(`eth0`). No namespace has a default route, so a wrong address fails as unreachable instead of
leaving the machine. The hosts share this machine's Docker engine: its socket is a path, which
every namespace reaches; the runs use no network of the host. A host named in `own_engines`
has an engine of its own instead, as a real host does: a second dockerd started inside its
namespace (`nsenter --net`, so it shares this mount namespace and its cgroups), with its own data
and exec roots under /var/tmp/crmh-docker-<host>, socket, an empty daemon.json, and its own
docker0 and iptables, both inside the namespace (this namespace's docker0 is never touched);
`engine_images` are copied into it (`docker save | docker load`, ~30 s for the python image the
first time; the data root is kept as a cache between runs; other images and the deployment's
containers are removed).

PostgreSQL is a throw-away server of its own (scripts/postgres-server.sh with PG_DATA_DIR
/var/tmp/code-runner-postgres-multihost, PG_PORT 55433), listening on 127.0.0.1 and on this
side's veth addresses only, so the API and worker hosts reach it over a non-loopback address
(10.77.i.1), each from its own address; each run gets a fresh database, dropped at the end, and
the server is stopped at the end.

APIs listen on their host's inside address (http://10.77.i.2:8000). `RoundRobinProxy` puts
them behind one loopback URL, alternating backends per request, as a load balancer does.

A partition (`cut`) drops the host's traffic silently (iptables DROP of what arrives, at both
ends of its link), as a pulled cable does: nobody gets an error, the packets just vanish.

Everything is removed at the end, leftovers of an earlier run at the start: processes,
namespaces, links, firewall rules, the database, the server.
"""
from __future__ import annotations

import glob
import http.client
import http.server
import itertools
import os
import signal
import socketserver
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

import requests

from chaoslib import REPO, Context, Proc, ScenarioFailure, stop_processes, wait_until

PREFIX = "crmh"
PG_PORT = 55433
PG_DATA_DIR = "/var/tmp/code-runner-postgres-multihost"
PG_SOCKET_DIR = PG_DATA_DIR + "-socket"
API_PORT = 8000
RULE_COMMENT = "code-runner-multihost"
SERVER_SCRIPT = os.path.join(REPO, "scripts", "postgres-server.sh")
# Service settings a host's processes must not inherit from the caller's environment.
SERVICE_SETTINGS = ("WORKERS", "MAX_QUEUE_DEPTH", "WORKER_CONCURRENCY", "RUN_WAIT_SLACK", "LOG_LEVEL", "DATABASE_PATH",
                    "DATABASE_URL", "DATABASE_POOL_SIZE", "HOST", "PORT", "WORKER_HOST", "CODE_RUNNER_API_KEYS",
                    "AUTH_TOKEN", "LEASE_SECONDS", "POOL_SIZE")


def sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise ScenarioFailure(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    return out


@dataclass
class Host:
    name: str
    index: int

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def link(self) -> str:
        """The veth end on this side (the inside end is `eth0` in the namespace)."""
        return f"{PREFIX}-{self.name}"

    @property
    def outside(self) -> str:
        return f"10.77.{self.index}.1"

    @property
    def inside(self) -> str:
        return f"10.77.{self.index}.2"


def remove_leftovers() -> None:
    """Engines, namespaces, links and rules an earlier run left (killed before its clean-up)."""
    for pidfile in glob.glob(f"/var/tmp/{PREFIX}-docker-*/docker.pid"):
        try:
            pid = int(open(pidfile).read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.dirname(pidfile).encode() not in f.read():
                    continue  # a stale file: that pid is someone else's now
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 30, f"the leftover dockerd {pid} to stop")
        except (OSError, ValueError):
            pass
        except ScenarioFailure:
            os.kill(pid, signal.SIGKILL)
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX + "-"):
            sh("ip", "netns", "del", name, check=False)
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1 and parts[1].strip().split("@")[0].startswith(PREFIX + "-"):
            sh("ip", "link", "del", parts[1].strip().split("@")[0], check=False)
    for chain in ("INPUT", "OUTPUT"):
        for rule in sh("iptables", "-S", chain, check=False).stdout.splitlines():
            if RULE_COMMENT in rule:
                sh("iptables", *rule.replace("-A", "-D", 1).split(), check=False)


class Cluster:
    """The hosts, the database and the processes of one multi-host deployment."""

    def __init__(self, ctx: Context, api_hosts: int = 2, worker_hosts: int = 2, lease: float = 10,
                 api_keys: str = "chaos-key", env: dict[str, str] | None = None,
                 own_engines: tuple[str, ...] = (), engine_images: tuple[str, ...] = ("code-runner-python",)):
        self.ctx = ctx
        self.dir = os.path.join(ctx.run_dir, "cluster")
        os.makedirs(self.dir, exist_ok=True)
        names = [f"api{i + 1}" for i in range(api_hosts)] + [f"wk{i + 1}" for i in range(worker_hosts)]
        self.hosts = {name: Host(name, i + 1) for i, name in enumerate(names)}
        self.lease = lease
        self.database = f"cr_multihost_{os.getpid()}"
        self.procs: dict[str, Proc] = {}  # process name (api1, wk1-a) -> process
        self.proc_host: dict[str, str] = {}
        self.cut_hosts: set[str] = set()
        self.proxy: RoundRobinProxy | None = None
        self.own_engines = own_engines
        self.engine_images = engine_images
        self.engines: dict[str, Proc] = {}  # host -> its own dockerd
        self.env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
        self.env.update({"CODE_RUNNER_API_KEYS": api_keys, "RUNTIME_DIR": os.path.join(REPO, "runtimes"),
                         "LEASE_SECONDS": str(lease)})
        self.env.update(env or {})
        ctx.cleanups.append(self.close)
        self._build()

    # ---- topology

    def server(self, command: str) -> str:
        """scripts/postgres-server.sh `command` (start, stop, restart-fast, …) on this server."""
        env = dict(os.environ, PG_DATA_DIR=PG_DATA_DIR, PG_PORT=str(PG_PORT), PG_SOCKET_DIR=PG_SOCKET_DIR,
                   PG_LISTEN_EXTRA=",".join(h.outside for h in self.hosts.values()))
        out = subprocess.run(["bash", SERVER_SCRIPT, command], capture_output=True, text=True, timeout=180, env=env)
        if out.returncode != 0 and command != "status":
            raise ScenarioFailure(f"postgres-server.sh {command} failed: {out.stderr.strip()[-600:]}")
        return out.stdout.strip()

    def _build(self) -> None:
        remove_leftovers()
        # A server left running listens on addresses that vanished with their namespaces.
        self.server("stop")
        for host in self.hosts.values():
            peer = f"{host.link}-p"
            sh("ip", "netns", "add", host.netns)
            sh("ip", "link", "add", host.link, "type", "veth", "peer", "name", peer)
            sh("ip", "link", "set", peer, "netns", host.netns)
            sh("ip", "-n", host.netns, "link", "set", peer, "name", "eth0")
            sh("ip", "addr", "add", f"{host.outside}/30", "dev", host.link)
            sh("ip", "link", "set", host.link, "up")
            sh("ip", "-n", host.netns, "addr", "add", f"{host.inside}/30", "dev", "eth0")
            sh("ip", "-n", host.netns, "link", "set", "eth0", "up")
            sh("ip", "-n", host.netns, "link", "set", "lo", "up")
        self.server("start")
        self.admin(f"CREATE DATABASE {self.database} OWNER code_runner")
        for host in self.own_engines:
            self._start_engine(host)

    # ---- engines of their own

    @staticmethod
    def engine_root(host: str) -> str:
        return f"/var/tmp/{PREFIX}-docker-{host}"

    def engine_socket(self, host: str) -> str:
        return os.path.join(self.engine_root(host), "docker.sock")

    def docker(self, host: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The docker CLI against `host`'s engine (this machine's, unless it has its own)."""
        prefix = ["-H", f"unix://{self.engine_socket(host)}"] if host in self.engines else []
        return sh("docker", *prefix, *argv, check=False, timeout=timeout)

    def _start_engine(self, host: str) -> None:
        root = self.engine_root(host)
        os.makedirs(root, exist_ok=True)
        config = os.path.join(root, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")
        log_path = os.path.join(self.dir, f"dockerd-{host}.log")
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.hosts[host].netns}", "dockerd",
                                      "--config-file", config, "--data-root", os.path.join(root, "data"),
                                      "--exec-root", os.path.join(root, "exec"),
                                      "--pidfile", os.path.join(root, "docker.pid"),
                                      "-H", f"unix://{self.engine_socket(host)}"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc = Proc(f"dockerd-{host}", popen, log_path)
        self.ctx.track(proc)
        self.engines[host] = proc

        def answers() -> bool:
            if not proc.alive():
                raise ScenarioFailure(f"dockerd of {host} exited:\n{proc.log()[-2000:]}")
            return self.docker(host, "info", timeout=10).returncode == 0
        wait_until(answers, 60, f"the engine of {host} to answer")
        # It starts with `engine_images` alone: whatever an earlier run left in the cache goes.
        listed = self.docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        extra = [name for name in listed if name.split(":")[0] not in self.engine_images]
        if extra:
            self.docker(host, "rmi", "-f", *extra)
        for image in self.engine_images:
            mine = sh("docker", "image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
            theirs = self.docker(host, "image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
            if mine == theirs:
                continue
            copy = subprocess.run(f"docker save {image} | docker -H unix://{self.engine_socket(host)} load",
                                  shell=True, capture_output=True, text=True, timeout=600)
            if copy.returncode != 0:
                raise ScenarioFailure(f"could not copy {image} into {host}'s engine: {copy.stderr.strip()[-400:]}")

    def _stop_engines(self) -> None:
        for host, proc in self.engines.items():
            if not proc.alive():
                continue
            ids = self.docker(host, "ps", "-aq", "--filter", "label=code-runner.deployment", timeout=30).stdout.split()
            if ids:
                self.docker(host, "rm", "-f", *ids, timeout=60)
            proc.signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill9()

    def close(self) -> None:
        """Stops every process, then removes the proxy, rules, namespaces, database and server."""
        self.stop_all()
        self._stop_engines()
        if self.proxy is not None:
            self.proxy.stop()
        for name in list(self.cut_hosts):
            self.heal(name)
        for host in self.hosts.values():
            sh("ip", "netns", "del", host.netns, check=False)
            sh("ip", "link", "del", host.link, check=False)
        try:
            self.admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        except ScenarioFailure as error:
            print(f"[multihost] could not drop {self.database}: {error}", flush=True)
        self.server("stop")
        remove_leftovers()

    def database_url(self, host: str) -> str:
        """The URL a process on `host` uses: the server's address on that host's link."""
        return f"postgres://code_runner:code-runner-test@{self.hosts[host].outside}:{PG_PORT}/{self.database}"

    def api_url(self, host: str) -> str:
        return f"http://{self.hosts[host].inside}:{API_PORT}"

    # ---- processes

    def _spawn(self, name: str, host: str, argv: list[str], env: dict[str, str]) -> Proc:
        log_path = os.path.join(self.dir, f"{name}.log")
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(["ip", "netns", "exec", self.hosts[host].netns, *argv], cwd=self.dir, env=env,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc = Proc(name, popen, log_path)  # `ip netns exec` execs the program: the pid is the program's
        self.ctx.track(proc)
        self.procs[name] = proc
        self.proc_host[name] = host
        return proc

    def start_api(self, host: str, env: dict[str, str] | None = None) -> Proc:
        environment = dict(self.env, HOST=self.hosts[host].inside, PORT=str(API_PORT),
                           DATABASE_URL=self.database_url(host), **(env or {}))
        proc = self._spawn(host, host, [os.path.join(self.ctx.bin_dir, "code-runner-api")], environment)

        def up() -> bool:
            if not proc.alive():
                raise ScenarioFailure(f"API {host} exited with {proc.popen.returncode}:\n{proc.log()[-2000:]}")
            try:
                return http_session().get(self.api_url(host) + "/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_until(up, 60, f"the API on {host} to answer /health")
        return proc

    def start_worker(self, host: str, worker_id: str, env: dict[str, str] | None = None, wait: bool = True) -> Proc:
        environment = dict(self.env, WORKER_HOST=host, DATABASE_URL=self.database_url(host), **(env or {}))
        if host in self.engines:
            environment["DOCKER_SOCKET"] = self.engine_socket(host)
        proc = self._spawn(worker_id, host, [os.path.join(self.ctx.bin_dir, "code-runner-worker"), "--worker-id", worker_id],
                           environment)
        if wait:
            def ready() -> bool:
                if not proc.alive():
                    raise ScenarioFailure(f"worker {worker_id} exited with {proc.popen.returncode}:\n{proc.log()[-2000:]}")
                return "worker started" in proc.log()
            wait_until(ready, 60, f"worker {worker_id} on {host} to start")
        return proc

    def on_host(self, host: str) -> list[Proc]:
        return [p for name, p in self.procs.items() if self.proc_host[name] == host and p.alive()]

    def kill9_host(self, host: str) -> list[str]:
        """kill -9 of every process of `host`, as a power cut does to them; returns their names."""
        killed = [p for p in self.on_host(host)]
        for proc in killed:
            proc.kill9()
        return [p.name for p in killed]

    def stop_all(self, timeout: float = 30) -> None:
        stop_processes(list(self.procs.values()), timeout)

    def start(self, workers: dict[str, list[str]]) -> None:
        """Every API host's API, then the workers named per worker host (`{"wk1": ["wk1-a"]}`),
        until api1's `/health` lists them all."""
        for host in self.hosts:
            if host.startswith("api"):
                self.start_api(host)
        for host, ids in workers.items():
            for worker_id in ids:
                self.start_worker(host, worker_id)
        self.wait_hosts("api1", {host: len(ids) for host, ids in workers.items()})

    def submit(self, api_host: str, marker: str, code: str, auth: dict[str, str]) -> str:
        """POST /jobs of a python job on `api_host` under the Idempotency-Key `marker`; its id."""
        r = http_session().post(self.api_url(api_host) + "/jobs", headers={**auth, "Idempotency-Key": marker}, timeout=30,
                                json={"image": "python", "code": code})
        if r.status_code != 202:
            raise ScenarioFailure(f"POST /jobs on {api_host} answered {r.status_code}: {r.text[:300]}")
        return r.json()["job_id"]

    def health(self, api_host: str) -> dict:
        return http_session().get(self.api_url(api_host) + "/health", timeout=10).json()

    def wait_hosts(self, api_host: str, workers: dict[str, int], timeout: float = 60) -> dict:
        """Until `/health` on `api_host` lists at least `workers[host]` live workers per host."""
        def enough() -> dict | None:
            health = self.health(api_host)
            seen = {h.get("host"): h.get("workers", 0) for h in health.get("hosts", [])}
            ok = all(seen.get(host, 0) >= count for host, count in workers.items()) and health.get("docker_connected")
            return health if ok else None
        return wait_until(enough, timeout, f"/health on {api_host} to list workers {workers}")

    # ---- the network

    def _cut_rules(self, host: str) -> list[tuple[list[str], list[str]]]:
        """Where a cut drops packets, as (command prefix, rule): on arrival at either end, so
        that every sender's packets leave and vanish, as over a dead cable (a drop on the way out
        would be a local error that the sender's kernel sees, and TCP would wait on its persist
        timer instead of retransmitting)."""
        action = ["-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"]
        return [([], ["INPUT", "-i", self.hosts[host].link, *action]),
                (["ip", "netns", "exec", self.hosts[host].netns], ["INPUT", "-i", "eth0", *action])]

    def cut(self, host: str) -> None:
        """Drops everything between `host` and the rest, silently, in both directions."""
        for prefix, rule in self._cut_rules(host):
            sh(*prefix, "iptables", "-I", *rule)
        self.cut_hosts.add(host)

    def heal(self, host: str) -> None:
        for prefix, rule in self._cut_rules(host):
            sh(*prefix, "iptables", "-D", *rule, check=False)
        self.cut_hosts.discard(host)

    # ---- the database

    def admin(self, sql: str, database: str | None = None) -> str:
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-h", PG_SOCKET_DIR, "-p", str(PG_PORT), "-d", database or "postgres", "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise ScenarioFailure(f"psql failed: {out.stderr.strip()[-500:]}")
        return out.stdout.rstrip("\n")  # not strip(): a row may end in an empty column

    def rows(self, sql: str) -> list[list[str]]:
        """The rows of a query on the deployment's database, as text."""
        text = self.admin(sql, self.database)
        return [line.split("\t") for line in text.splitlines()] if text else []

    def sessions(self) -> dict[str, int]:
        """The deployment's sessions on the server, by client address ('socket' for none)."""
        rows = self.admin(f"SELECT coalesce(host(client_addr), 'socket'), count(*) FROM pg_stat_activity "
                          f"WHERE datname = '{self.database}' AND backend_type = 'client backend' GROUP BY 1")
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in rows.splitlines()} if rows else {}

    def count_jobs(self, where: str) -> int:
        """How many of the deployment's jobs match the SQL condition `where`."""
        return int(self.rows(f"SELECT count(*) FROM jobs WHERE {where}")[0][0])

    def job_row(self, public_id: str) -> dict[str, Any]:
        found = self.rows("SELECT state, attempts, coalesce(lease_owner, '') FROM jobs "
                          f"WHERE public_id = '{public_id}'")
        if not found:
            return {}
        state, attempts, owner = found[0]
        return {"state": state, "attempts": int(attempts), "lease_owner": owner}

    def deployment(self) -> str:
        return self.rows("SELECT value FROM deployment WHERE key = 'id'")[0][0]

    def containers(self) -> list[dict[str, str]]:
        """The deployment's containers, with their host and worker labels."""
        out = sh("docker", "ps", "-a", "--no-trunc", "--filter", f"label=code-runner.deployment={self.deployment()}",
                 "--format", '{{.ID}}\t{{.Label "code-runner.host"}}\t{{.Label "code-runner.worker"}}\t{{.State}}')
        rows = []
        for line in out.stdout.splitlines():
            cid, host, worker, state = (line.split("\t") + ["", "", "", ""])[:4]
            rows.append({"id": cid, "host": host, "worker": worker, "state": state})
        return rows

    def remove_containers(self) -> None:
        try:
            ids = [c["id"] for c in self.containers()]
        except (ScenarioFailure, IndexError, subprocess.SubprocessError):
            return
        if ids:
            sh("docker", "rm", "-f", *ids, check=False)


class ContainerHosts:
    """Which host each of the deployment's containers belongs to (on this machine's engine):
    `host_of(hostname)` maps the hostname a program printed (its container id's first 12
    characters) to the container's `code-runner.host` label. It follows the engine's `create`
    events from the start, plus a listing of the containers already there (the warm ones): no
    container is missed, however short-lived."""

    def __init__(self, cluster: Cluster):
        self.seen: dict[str, str] = {}
        deployment = cluster.deployment()
        self.events = subprocess.Popen(
            ["docker", "events", "--filter", "type=container", "--filter", "event=create",
             "--filter", f"label=code-runner.deployment={deployment}",
             "--format", '{{.ID}} {{index .Actor.Attributes "code-runner.host"}}'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        cluster.ctx.cleanups.append(self.stop)  # also when the scenario fails half-way
        for c in cluster.containers():  # after the events started: nothing falls between the two
            self.seen[c["id"][:12]] = c["host"]

    def _read(self) -> None:
        assert self.events.stdout is not None
        for line in self.events.stdout:
            parts = line.split()
            if len(parts) == 2:
                self.seen[parts[0][:12]] = parts[1]

    def host_of(self, hostname: str) -> str:
        return self.seen.get(hostname, "?")

    def stop(self) -> None:
        if self.events.poll() is None:
            self.events.terminate()
            self.events.wait(timeout=10)
        self.reader.join(timeout=5)


def http_session() -> requests.Session:
    """A session that ignores proxy settings of the environment (the hosts are local)."""
    session = requests.Session()
    session.trust_env = False
    return session


class RoundRobinProxy:
    """An HTTP/1.1 reverse proxy on 127.0.0.1 that sends each request to the next backend in
    turn (one upstream connection per request) and counts what each backend answered."""

    def __init__(self, backends: list[str]):
        self.backends = backends
        self.counts = {b: 0 for b in backends}
        self.failures = 0
        turn = itertools.cycle(backends)
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def forward(self) -> None:
                with lock:
                    backend = next(turn)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive", "host")}
                host, port = backend.removeprefix("http://").split(":")
                upstream = http.client.HTTPConnection(host, int(port), timeout=600)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                except OSError as error:
                    with lock:
                        proxy.failures += 1
                    self.send_response_only(502)
                    message = f'{{"detail": "proxy: {backend} failed: {error}"}}'.encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
                finally:
                    upstream.close()
                with lock:
                    proxy.counts[backend] += 1
                self.send_response_only(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
