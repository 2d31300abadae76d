"""The download queue against the loopback Hub: one at a time, pause, resume, cancel, restart."""

import threading
import time

import pytest

from app.library import download_queue as dq

REPO = "tester/tiny-GGUF"


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def slow_file(loopback, gguf_bytes):
    """A 2 MB GGUF the server trickles out (~2.5 s), so there is time to pause or cancel."""
    loopback.repos[REPO]["files"]["slow.Q4_0.gguf"] = gguf_bytes + b"\0" * 2_000_000
    loopback.file_behaviour["slow.Q4_0.gguf"] = "slow"
    return "slow.Q4_0.gguf"


@pytest.fixture
def queue_factory():
    made = []

    def make(**kwargs):
        made.append(dq.DownloadQueue(**kwargs))
        return made[-1]
    yield make
    for q in made:
        q.close()


def state(q, job_id):
    return next(j for j in q.snapshot() if j.id == job_id)


def test_downloads_run_in_order_and_install(loopback, hearth_home, queue_factory):
    q = queue_factory()
    first = q.add(REPO, "tiny.Q4_0.gguf")
    second = q.add(REPO, "sub/dir/nested.Q8_0.gguf")
    wait_for(lambda: state(q, second.id).state == dq.DONE)
    assert state(q, first.id).state == dq.DONE
    assert (hearth_home / "models" / "tiny.Q4_0.gguf").exists()
    assert (hearth_home / "models" / "nested.Q8_0.gguf").exists()
    assert q.add(REPO, "tiny.Q4_0.gguf").id != first.id  # a finished job is not reused


def test_pause_then_resume_continues_from_the_bytes_on_disk(loopback, hearth_home, slow_file, queue_factory):
    q = queue_factory()
    job = q.add(REPO, slow_file)
    wait_for(lambda: state(q, job.id).done_bytes > 100_000)
    q.pause(job.id)
    wait_for(lambda: state(q, job.id).state == dq.PAUSED)
    kept = (hearth_home / "models" / f"{slow_file}.incomplete").stat().st_size
    assert kept > 0 and "paused at" in state(q, job.id).describe()
    q.resume(job.id)
    wait_for(lambda: state(q, job.id).state == dq.DONE)
    assert f"bytes={kept}-" in loopback.ranges
    assert (hearth_home / "models" / slow_file).read_bytes() == loopback.repos[REPO]["files"][slow_file]


def test_cancel_removes_the_partial_file(loopback, hearth_home, slow_file, queue_factory):
    q = queue_factory()
    job = q.add(REPO, slow_file)
    wait_for(lambda: state(q, job.id).done_bytes > 100_000)
    q.cancel(job.id)
    wait_for(lambda: not (hearth_home / "models" / f"{slow_file}.incomplete").exists())
    assert state(q, job.id).state == dq.CANCELLED
    assert not (hearth_home / "models" / slow_file).exists()


def test_a_download_survives_a_restart_paused_and_resumes(loopback, hearth_home, slow_file, queue_factory):
    q = queue_factory()
    job = q.add(REPO, slow_file)
    wait_for(lambda: state(q, job.id).done_bytes > 100_000)
    q.close()  # the app quits mid-transfer
    again = queue_factory()
    [restored] = again.snapshot()
    assert (restored.repo, restored.file, restored.state) == (REPO, slow_file, dq.PAUSED)
    time.sleep(0.3)
    assert again.snapshot()[0].state == dq.PAUSED  # nothing starts on the network unasked
    again.resume(restored.id)
    wait_for(lambda: state(again, restored.id).state == dq.DONE)
    assert (hearth_home / "models" / slow_file).read_bytes() == loopback.repos[REPO]["files"][slow_file]


def test_errors_are_readable_and_retry_works(loopback, hearth_home, queue_factory):
    offline = threading.Event()
    offline.set()
    q = queue_factory(offline=offline.is_set)
    job = q.add(REPO, "tiny.Q4_0.gguf")
    wait_for(lambda: state(q, job.id).state == dq.FAILED)
    assert "offline" in state(q, job.id).describe().lower()
    assert loopback.requests == []  # offline: not one request
    offline.clear()
    loopback.file_behaviour["tiny.Q4_0.gguf"] = "error 500"
    q.resume(job.id)
    wait_for(lambda: state(q, job.id).error is not None and "500" in state(q, job.id).error)
    loopback.file_behaviour.clear()
    q.resume(job.id)
    wait_for(lambda: state(q, job.id).state == dq.DONE)


def test_hostile_names_never_enter_the_queue(queue_factory):
    from app.errors import HearthError

    q = queue_factory()
    with pytest.raises(HearthError):
        q.add(REPO, "../../etc/passwd.gguf")
    assert q.snapshot() == []
