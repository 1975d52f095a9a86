"""How Python started in the page (localwebai.boot), read from pyodide-boot.js's record."""

from localwebai.boot import NORMAL, SNAPSHOT, BootRecord


def test_a_start_from_the_snapshot():
    record = BootRecord.from_js({"source": "snapshot", "snapshotError": None})
    assert record == BootRecord(SNAPSHOT, None)
    message = record.ready_message(1.24)
    assert message == "Python ready in 1.2 s (from its snapshot). Pick a model to load."


def test_a_snapshot_that_did_not_restore_leaves_a_full_start_and_its_reason():
    record = BootRecord.from_js({"source": "normal", "snapshotError": "invalid magic number"})
    assert record == BootRecord(NORMAL, "invalid magic number")
    assert "(full start)" in record.ready_message(3.2)


def test_an_unknown_source_counts_as_a_normal_start():
    assert BootRecord.from_js({}).source == NORMAL
