"""Several fetch consumers importing documents of one dataset at the same time lose no resource."""
from __future__ import annotations

import threading
import time

import ckan.model as model
import ckan.plugins as plugins
import pytest
import sqlalchemy as sa
from ckan.tests import helpers

from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject

from ckanext.budgetod.portal import publish
from tests.support.ckan_harvest import create_source, dataset
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db")

DATASET = "budget-21560046100010-2021"
DECISIONS = range(1, 9)


@pytest.fixture
def decisions_server():
    """Eight modifying decisions of one budget and year: eight documents of one dataset."""
    original = (SHARED_TOTEM / "crach-principal-dm2-2021.xml").read_bytes()
    assert original.count(b'<NumDec V="2"/>') == 1
    files = {f"/dm{number}.xml": original.replace(b'<NumDec V="2"/>', f'<NumDec V="{number}"/>'.encode())
             for number in DECISIONS}
    with LocalServer(files=files) as server:
        yield server


def _consume_fetch_queue(app, errors: list) -> None:
    """What `ckan harvester fetch-consumer` does with each message, until the queue is empty."""
    try:
        with app.flask_app.test_request_context():
            consumer = queue.get_fetch_consumer()
            while True:
                method, channel, body = consumer.basic_get(queue.get_fetch_queue_name())
                if body is None:
                    return
                queue.fetch_callback(channel, method, None, body)
    except BaseException as error:  # noqa: BLE001 - the main thread asserts on what this thread raised
        errors.append(error)
    finally:
        model.Session.remove()


def test_two_fetch_consumers_importing_one_dataset_keep_every_resource(
        app, sysadmin, organization, decisions_server):
    source = create_source(sysadmin, organization, decisions_server.url("/"),
                           {"urls": [decisions_server.url(f"/dm{number}.xml") for number in DECISIONS]})
    job = helpers.call_action("harvest_job_create", source_id=source["id"])  # on the gather queue
    gather = queue.get_gather_consumer()
    method, channel, body = gather.basic_get(queue.get_gather_queue_name())
    queue.gather_callback(channel, method, None, body)  # puts the objects on the fetch queue

    errors: list = []
    consumers = [threading.Thread(target=_consume_fetch_queue, args=(app, errors)) for _ in range(2)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join()
    helpers.call_action("harvest_jobs_run", source_id=source["id"])

    assert errors == []
    objects = model.Session.query(HarvestObject).filter_by(harvest_job_id=job["id"]).all()
    assert len(objects) == len(DECISIONS)
    assert {harvest_object.state for harvest_object in objects} == {"COMPLETE"}
    published = dataset(DATASET)
    keys = {f"21560046100010-2021-02-{number}" for number in DECISIONS}
    assert {resource["budgetod_document"] for resource in published["resources"]} == keys
    assert len(published["resources"]) == 3 * len(DECISIONS)
    extras = {extra["key"]: extra["value"] for extra in published["extras"]}
    assert extras["budgetod_etapes"] == ", ".join(f"décision modificative n° {number}" for number in DECISIONS)


def _waiting_for_advisory_lock(connection) -> bool:
    return connection.execute(sa.text(
        "select count(*) from pg_locks where locktype = 'advisory' and not granted")).scalar() > 0


def test_an_import_waits_for_the_lock_of_its_dataset_before_reading_it(
        app, sysadmin, organization, decisions_server):
    source = create_source(sysadmin, organization, decisions_server.url("/dm1.xml"))
    job = helpers.call_action("harvest_job_create", source_id=source["id"], run=False)
    harvester = plugins.get_plugin("budgetod_harvester")
    [object_id] = queue.gather_stage(harvester, HarvestJob.get(job["id"]))
    model.Session.commit()

    def import_in_another_consumer():
        with app.flask_app.test_request_context():
            queue.fetch_and_import_stages(harvester, HarvestObject.get(object_id))
            model.Session.remove()

    # Another writer holds the dataset's lock, in a transaction of its own.
    holder = model.meta.engine.connect()
    transaction = holder.begin()
    holder.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": publish.dataset_lock_key(DATASET)})
    consumer = threading.Thread(target=import_in_another_consumer)
    consumer.start()
    with model.meta.engine.connect() as observer:
        deadline = time.monotonic() + 60
        while not _waiting_for_advisory_lock(observer):
            assert consumer.is_alive() and time.monotonic() < deadline, "the import never waited for the lock"
            consumer.join(0.05)
    assert model.Package.get(DATASET) is None  # nothing written while the lock is held
    transaction.commit()
    holder.close()
    consumer.join()

    # CKAN's session keeps loaded objects across commits: read what the consumer wrote.
    model.Session.expire_all()
    assert HarvestObject.get(object_id).state == "COMPLETE"
    assert len(dataset(DATASET)["resources"]) == 3
