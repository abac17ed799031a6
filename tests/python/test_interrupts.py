"""Blocking calls from Python: Ctrl-C ends waits and follows cleanly (the job keeps running), and
other Python threads run while one thread waits inside the core (the GIL is released)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import mlcore

SCRIPT = textwrap.dedent("""
    import sys, mlcore
    mlcore.init(sys.argv[1], project="ci")
    job = mlcore.jobs.get(sys.argv[2])
    try:
        if sys.argv[3] == "follow":
            print("ready", flush=True)
            for line in job.logs(follow=True):
                pass
        else:
            print("ready", flush=True)
            job.wait()
    except KeyboardInterrupt:
        print("interrupted", job.state, flush=True)
        sys.exit(130)
    print("not interrupted", flush=True)
""")


@pytest.fixture
def long_job(backend, tmp_path):
    mlcore.init(backend, project="ci")
    mlcore.client().create_project("ci")
    job = mlcore.jobs.submit(["sh", "-c", "echo started; sleep 120"], name="long", project="ci")
    for line in job.logs(follow=True):
        if line.text == "started":
            break
    yield job
    if job.refresh().state not in mlcore.jobs.FINAL_STATES:
        job.cancel(wait=True, timeout=60)


@pytest.mark.parametrize("call", ["follow", "wait"])
def test_ctrl_c_ends_a_wait_or_follow_and_leaves_the_job_running(backend, long_job, call):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, backend, long_job.id, call],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # inside the blocking call (not a timing assertion: any moment will do)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert out.strip() == "interrupted RUNNING", (out, err)
    assert long_job.refresh().state == "RUNNING"


def test_other_threads_run_while_one_follows(long_job):
    stop = threading.Event()

    def follow():
        for _line in long_job.logs(follow=True):
            if stop.is_set():
                break
        stop.set()

    follower = threading.Thread(target=follow)
    follower.start()
    # Pure-Python work on this thread while the follower sits in the core: it progresses only if
    # the follower released the GIL.
    deadline = time.monotonic() + 0.5
    count = 0
    while time.monotonic() < deadline:
        count += 1
    assert count > 10_000
    assert not stop.is_set()  # the follow is still open (the job prints nothing more)
    stop.set()
    long_job.cancel(wait=True, timeout=60)  # ends the follow
    follower.join(timeout=30)
    assert not follower.is_alive()
