#!/usr/bin/env python3
"""disk-full: the database's filesystem fills up, then goes read-only.

  A. disk full: the database lives on a 4 MiB tmpfs mounted for the test. After a baseline job,
     the filesystem is filled to the last byte and 300 KiB jobs are submitted until one is
     refused (at most 8). Expected: POST /jobs answers 503 with a JSON `detail` quickly (no hang,
     no 500, no stack trace or SQL in the answer); GET /health still answers. The filler is
     removed: POST /jobs works again and the job completes; `PRAGMA integrity_check` is ok.
  B. read-only filesystem: the database lives on a 16 MiB ext4 image (loop device) mounted with
     errors=remount-ro; the kernel is made to remount it read-only under the running service
     (/sys/fs/ext4/<dev>/trigger_fs_error; a plain `mount -o remount,ro` is refused while
     SQLite holds files open for writing). Expected: POST /jobs answers 503 with a JSON
     `detail`, reads (GET /jobs/{id}) still work. Recovery: stop the service, unmount, e2fsck,
     mount read-write, start again: the old jobs are readable, new jobs complete, integrity ok.

Needs root (mount, losetup). Every mount made here is unmounted at the end.
"""
import json
import os
import subprocess
import sys

import requests

from chaoslib import Context, ScenarioFailure, main, now, wait_until

BIG = "print(1)\n#" + "x" * 300_000 + "\n"
HANG = 20.0


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise ScenarioFailure(f"{' '.join(argv)} failed: {out.stderr.strip()}")
    return out


def unmount(path: str) -> None:
    if subprocess.run(["mountpoint", "-q", path]).returncode == 0:
        if sh("umount", path, check=False).returncode != 0:
            sh("umount", "-l", path, check=False)


def attempt(svc, label: str, code: str, path: str = "/jobs") -> dict:
    started = now()
    try:
        r = svc.http.post(svc.url + path, json={"code": code, "image": "python"}, timeout=HANG)
        entry = {"label": label, "status": r.status_code, "seconds": round(now() - started, 2), "body": r.text[:600],
                 "content_type": r.headers.get("content-type")}
    except requests.RequestException as error:
        entry = {"label": label, "status": "no answer", "seconds": round(now() - started, 2), "body": repr(error)[:300]}
    return entry


def judge_refusal(ctx: Context, part: str, entry: dict) -> None:
    """A refused write must be a quick 503 with a clean JSON detail."""
    status, body = entry["status"], entry["body"]
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    clean = isinstance(detail, str) and not any(w in body for w in ("SQL", "sqlite", "GRDB", "INSERT", "Error("))
    ctx.check(status == 503 and clean,
              f"{part}: {entry['label']} answered {status} in {entry['seconds']}s with {body!r} "
              f"(expected a 503 with a clear JSON detail)")


def part_disk_full(ctx: Context) -> None:
    mnt = os.path.join(ctx.run_dir, "tmpfs")
    os.makedirs(mnt, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", "size=4m", "chaos-diskfull", mnt)
    ctx.cleanups.append(lambda: unmount(mnt))
    svc = ctx.service("disk-full", db_path=os.path.join(mnt, "db.sqlite"))
    svc.start_api()
    svc.start_worker("f1")
    svc.wait_workers(1)
    baseline = svc.submit_ok("print('before')")
    ctx.count(svc.wait_final([baseline], 30))

    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for _ in range(8192):  # bounded: 4 MiB / 512 B
            os.write(fd, b"\0" * 512)
    except OSError:
        pass  # ENOSPC: the filesystem is full
    finally:
        os.close(fd)
    ctx.metric("A_free_bytes_after_fill", os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize)

    tries, accepted = [], []
    refused = None
    for i in range(8):
        entry = attempt(svc, f"POST /jobs #{i + 1} (300 KiB) on a full disk", BIG)
        tries.append(entry)
        if entry["status"] == 202:
            accepted.append(json.loads(entry["body"])["job_id"])
            continue
        refused = entry
        break
    ctx.metric("A_attempts", [{k: e[k] for k in ("label", "status", "seconds", "body")} for e in tries])
    if refused is None:
        ctx.check(False, "A: eight 300 KiB jobs were accepted on a full 4 MiB filesystem (no refusal seen)")
    else:
        judge_refusal(ctx, "A", refused)
    run_entry = attempt(svc, "POST /run on a full disk", "print(2)", path="/run")
    ctx.metric("A_run_on_full_disk", run_entry)
    ctx.check(run_entry["status"] != "no answer", f"A: POST /run hung on a full disk: {run_entry}")
    try:
        health = requests.get(svc.url + "/health", timeout=HANG)
        ctx.metric("A_health_on_full_disk", [health.status_code, health.text[:300]])
    except requests.RequestException as error:
        ctx.check(False, f"A: GET /health did not answer on a full disk: {error!r}")

    os.remove(filler)
    recovered = attempt(svc, "POST /jobs after freeing space", "print('after')")
    ctx.metric("A_after_free", recovered)
    ids = list(accepted)
    if ctx.check(recovered["status"] == 202, f"A: no recovery after freeing space: {recovered}"):
        ids.append(json.loads(recovered["body"])["job_id"])
    views = svc.wait_final(ids, 60)
    ctx.count(views, sent=len(ids) + (1 if refused else 0) + 1)  # + the refused one + POST /run
    ctx.result["lost"] -= (1 if refused else 0) + 1  # refused requests were answered, not lost
    for job_id, view in views.items():
        ctx.check(view.get("status") == "completed", f"A: job {job_id} ended {view.get('status')}: {view}")
    svc.stop_all()
    integrity = svc.integrity()
    ctx.metric("A_integrity", integrity)
    ctx.check(integrity == "ok", f"A: integrity_check says {integrity!r}")
    unmount(mnt)


def part_read_only(ctx: Context) -> None:
    image = os.path.join(ctx.run_dir, "ro.img")
    mnt = os.path.join(ctx.run_dir, "ext4")
    os.makedirs(mnt, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    sh("mkfs.ext4", "-q", "-F", image)
    sh("mount", "-o", "loop,errors=remount-ro", image, mnt)
    ctx.cleanups.append(lambda: unmount(mnt))
    device = sh("findmnt", "-no", "SOURCE", mnt).stdout.strip()
    svc = ctx.service("read-only", db_path=os.path.join(mnt, "db.sqlite"))
    svc.start_api()
    svc.start_worker("r1")
    svc.wait_workers(1)
    before = svc.submit_ok("print('before')")
    ctx.count(svc.wait_final([before], 30))
    sh("sync")  # `before` is on disk; `unsynced` (below) is only in the page cache when the fs fails
    unsynced = svc.submit_ok("print('unsynced')")
    ctx.count(svc.wait_final([unsynced], 30))

    with open(f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error", "w") as f:
        f.write("chaos: make the database filesystem read-only\n")
    wait_until(lambda: {"ro", "emergency_ro"} & set(sh("findmnt", "-no", "OPTIONS", mnt).stdout.strip().split(",")), 10,
               "the kernel to remount the filesystem read-only")
    refusal = attempt(svc, "POST /jobs on a read-only filesystem", "print('ro')")
    ctx.metric("B_post_jobs_read_only", refusal)
    judge_refusal(ctx, "B", refusal)
    run_entry = attempt(svc, "POST /run on a read-only filesystem", "print('ro')", path="/run")
    ctx.metric("B_post_run_read_only", run_entry)
    ctx.check(run_entry["status"] != "no answer", f"B: POST /run hung on a read-only filesystem: {run_entry}")
    try:
        read = svc.http.get(f"{svc.url}/jobs/{before}", timeout=HANG)
        ctx.metric("B_get_job_read_only", [read.status_code, read.text[:200]])
        ctx.check(read.status_code == 200, f"B: GET /jobs/{before} answered {read.status_code} on a read-only fs")
    except requests.RequestException as error:
        ctx.check(False, f"B: GET /jobs/{{id}} did not answer on a read-only fs: {error!r}")
    try:
        health = requests.get(svc.url + "/health", timeout=HANG)
        ctx.metric("B_health_read_only", [health.status_code, health.text[:300]])
    except requests.RequestException as error:
        ctx.check(False, f"B: GET /health did not answer on a read-only fs: {error!r}")
    ctx.metric("B_worker_alive_while_read_only", svc.workers["r1"].alive())
    ctx.metric("B_log_lines", svc.grep_logs("error", "critical", "readonly", "read-only")[:8])

    # Recovery the way an operator does it: stop, fsck, mount read-write, start.
    svc.stop_all()
    sh("umount", mnt)
    fsck = sh("e2fsck", "-fy", image, check=False)
    ctx.metric("B_e2fsck_exit", fsck.returncode)
    sh("mount", "-o", "loop,errors=remount-ro", image, mnt)
    svc.start_api()
    svc.start_worker("r2")
    svc.wait_workers(1)
    old = svc.http.get(f"{svc.url}/jobs/{before}", timeout=30)
    ctx.check(old.status_code == 200 and old.json().get("status") == "completed",
              f"B: job {before} (synced before the failure) reads {old.status_code} {old.text[:300]}")
    lost = svc.http.get(f"{svc.url}/jobs/{unsynced}", timeout=30)
    ctx.metric("B_unsynced_job_after_recovery", [lost.status_code, lost.text[:160]])
    if lost.status_code == 404:
        ctx.note(f"B: job {unsynced}, answered and completed but not yet fsynced when the filesystem failed, is gone "
                 "after recovery (synchronous=NORMAL: WAL commits are durable against process crashes, not OS-level "
                 "failures)")
    after = attempt(svc, "POST /jobs after recovery", "print('after')")
    ctx.metric("B_after_recovery", after)
    ids = []
    if ctx.check(after["status"] == 202, f"B: no recovery after remounting read-write: {after}"):
        ids.append(json.loads(after["body"])["job_id"])
    views = svc.wait_final(ids, 60)
    ctx.count(views, sent=len(ids) + 2)  # + the refused POST /jobs and POST /run
    ctx.result["lost"] -= 2
    if lost.status_code == 404:
        ctx.result["lost"] += 1
    for job_id, view in views.items():
        ctx.check(view.get("status") == "completed", f"B: job {job_id} ended {view}")
    svc.stop_all()
    integrity = svc.integrity()
    ctx.metric("B_integrity", integrity)
    ctx.check(integrity == "ok", f"B: integrity_check says {integrity!r}")
    unmount(mnt)


def run(ctx: Context) -> None:
    if os.geteuid() != 0:
        raise ScenarioFailure("needs root (mount, losetup)")
    part_disk_full(ctx)
    part_read_only(ctx)


if __name__ == "__main__":
    sys.exit(main("disk-full", run))
