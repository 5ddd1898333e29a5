"""The sync as it runs on a portal: queued when a change commits, run by real `ckan jobs worker`
processes — one of them killed in the middle — and resumed by `ckan budgetod datagouv sync --all`."""
from __future__ import annotations

import threading

import ckan.model as model
import pytest

from ckanext.budgetod.datagouv import jobs, sync
from ckanext.budgetod.datagouv.sync import state
from tests.support.ckan_datagouv import (
    CRACH_CA,
    CRACH_DM,
    MOHON_CFU,
    ckan_process,
    ended,
    kill_with_descendants,
    only_copies,
    udata_state,
)
from tests.support.udata_standin import Fault, UdataStandIn

pytestmark = pytest.mark.usefixtures("portal")

PROCESS_TIMEOUT = 180


def queued(queue) -> list[tuple[str, tuple]]:
    return [(job.func_name, tuple(job.args)) for job in queue.jobs]


def finish(process) -> str:
    output, _ = process.communicate(timeout=PROCESS_TIMEOUT)
    return output


def test_a_committed_change_queues_a_sync_that_a_worker_runs(portal, udata, empty_jobs_queue, subprocess_ini):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    # One job per committed change (the creation, then the documents), none for what rolls back.
    sync_job = "ckanext.budgetod.datagouv.jobs.sync_dataset"
    assert queued(empty_jobs_queue) == [(sync_job, (mohon["id"],))] * 2
    jobs.dataset_changed(mohon["id"])
    model.Session.rollback()
    model.Session.commit()
    assert len(empty_jobs_queue.jobs) == 2
    assert state.get(mohon["id"]).status == state.STATUS_PENDING

    with ended(ckan_process(subprocess_ini, "jobs", "worker", "--burst")) as worker:
        output = finish(worker)

    assert worker.returncode == 0, output
    assert empty_jobs_queue.jobs == []
    model.Session.expire_all()
    row = state.get(mohon["id"])
    assert (row.status, row.attempts, row.message) == (state.STATUS_OK, 0, "")
    [remote] = udata.datasets()
    assert row.udata_dataset_id == remote["id"]
    assert len(remote["resources"]) == 3
    assert udata.violations == []


def stop_at(udata: UdataStandIn, fault: Fault) -> threading.Event:
    """Script ``fault`` (a stall after the write is applied); the event is set when the stand-in
    plays it: the write is done, its answer held back — the moment to kill the process."""
    reached = threading.Event()
    play = udata._play

    def playing(handler, call, played):
        if played is fault:
            reached.set()
        play(handler, call, played)

    udata._play = playing
    udata.script(fault)
    return reached


KILL_POINTS = {
    # The udata dataset exists, its id is not saved yet: found again by its extra.
    "dataset-created": Fault("stall", after_write=True, method="POST", path="/datasets/"),
    # The CSV is uploaded, its metadata not written: adopted by file name and checksum.
    "csv-uploaded": Fault("stall", after_write=True, method="POST", path="/datasets/[^/]+/upload/"),
    # A resource's metadata written, the id map not saved: found by its extra.
    "resource-described": Fault("stall", after_write=True, method="PUT", path="/datasets/[^/]+/resources/[^/]+/"),
}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_worker_killed_mid_sync_is_completed_by_the_next_run(portal, udata, empty_jobs_queue, subprocess_ini,
                                                               point):
    crach = portal.budget("21560046100010", 2021, "CRACH", "56046", [CRACH_CA, CRACH_DM])
    reached = stop_at(udata, KILL_POINTS[point])

    with ended(ckan_process(subprocess_ini, "jobs", "worker", "--burst")) as worker:
        assert reached.wait(PROCESS_TIMEOUT), "the worker never reached the kill point"
        kill_with_descendants(worker.pid)  # the worker and the process running the job
        worker.wait()

    model.Session.expire_all()
    interrupted = state.get(crach["id"])
    assert (interrupted.status, interrupted.attempts) == (state.STATUS_PENDING, 1)
    assert interrupted.last_success is None

    with ended(ckan_process(subprocess_ini, "budgetod", "datagouv", "sync", "--all")) as run:
        output = finish(run)

    assert run.returncode == 0, output
    published = udata_state(udata)
    assert only_copies(published)
    [copy] = published[crach["id"]]
    assert set(copy["resources"]) == {resource["id"] for resource in portal.show(crach["id"])["resources"]}
    assert all(resource["extras"][sync.KEY_RESOURCE] for remote in udata.datasets()
               for resource in remote["resources"])
    model.Session.expire_all()
    row = state.get(crach["id"])
    assert (row.status, row.attempts) == (state.STATUS_OK, 0)
    assert row.udata_dataset_id == udata.datasets()[0]["id"]

    writes = udata.write_calls
    with ended(ckan_process(subprocess_ini, "budgetod", "datagouv", "sync", "--all")) as again:
        output = finish(again)
    assert again.returncode == 0, output
    assert udata.write_calls == writes
    assert udata.violations == []
