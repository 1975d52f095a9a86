"""How Python started in the page (localwebai.boot), read from pyodide-boot.js's record."""

from localwebai.boot import NORMAL, SNAPSHOT, SNAPSHOT_AFTER_IDLE_S, BootRecord, IdleWait


def test_a_normal_start_saves_a_snapshot_for_the_next_visit():
    record = BootRecord.from_js({"source": "normal", "snapshotError": None})
    assert record == BootRecord(NORMAL, None)
    assert record.should_save_snapshot
    message = record.ready_message(3.24)
    assert message == "Python ready in 3.2 s (first start). Pick a model to load."


def test_a_start_from_the_snapshot_saves_none():
    record = BootRecord.from_js({"source": "snapshot"})
    assert record.source == SNAPSHOT and not record.should_save_snapshot
    assert "(from its saved start)" in record.ready_message(1.5)


def test_a_snapshot_that_failed_to_restore_is_a_normal_start_that_saves_again():
    record = BootRecord.from_js({"source": "normal", "snapshotError": "invalid magic number"})
    assert record.snapshot_error == "invalid magic number" and record.should_save_snapshot


def test_an_unknown_source_counts_as_a_normal_start():
    assert BootRecord.from_js({}).source == NORMAL


def test_the_snapshot_waits_until_the_page_has_been_idle_long_enough():
    wait = IdleWait()
    assert not wait.long_enough("ready", 10.0)
    assert not wait.long_enough("loading", 10.0 + SNAPSHOT_AFTER_IDLE_S)  # a load began
    assert not wait.long_enough("model-ready", 20.0)  # idle again: the wait starts over
    assert not wait.long_enough("generating", 20.0 + SNAPSHOT_AFTER_IDLE_S)
    assert not wait.long_enough("model-ready", 30.0)
    assert wait.long_enough("model-ready", 30.0 + SNAPSHOT_AFTER_IDLE_S)
