"""Artifacts from Python on a real local backend: log/download round trips (whole and partial),
lineage, progress callbacks (and cancelling through them), unchanged re-uploads, Run.log_artifact
and the mapping of the core's errors to mlcore exceptions."""

from __future__ import annotations

import filecmp
import os

import pytest

import mlcore
from mlcore import artifacts


@pytest.fixture
def client(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("MLC_RUN_ID", raising=False)
    c = mlcore.init(backend, project="ml")
    c.create_project("ml")
    yield c
    while mlcore.active_run() is not None:
        mlcore.end_run()
    c.close()


@pytest.fixture
def model(tmp_path):
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 4}\n')
    (root / "weights" / "w.bin").write_bytes(os.urandom(3 << 20))
    (root / "weights" / "b.bin").write_bytes(b"bias" * 100)
    os.chmod(root / "config.json", 0o600)
    return root


def same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def new_run(name: str) -> str:
    run = mlcore.start_run(name=name, system_metrics=False)
    mlcore.end_run()
    return run.id


def test_log_download_round_trip_partial_and_list(client, model, tmp_path):
    run_id = new_run("train")
    art = artifacts.log(model, run=run_id, kind="model", labels={"step": 100}, progress=False)
    assert art.path == "model" and art.kind == "ARTIFACT_KIND_MODEL"
    assert int(art.file_count) == 3
    assert int(art.size_bytes) == (3 << 20) + 14 + 400
    assert art.owner.id == run_id and art.labels == {"step": "100"}

    dest = artifacts.download(art.id, tmp_path / "out", progress=False)
    assert dest == str(tmp_path / "out")
    assert same_tree(model, dest)
    assert os.stat(tmp_path / "out" / "config.json").st_mode & 0o777 == 0o600
    artifacts.download(art.id, tmp_path / "part", path="weights/b.bin", progress=False)
    assert os.listdir(tmp_path / "part") == ["weights"]
    assert os.listdir(tmp_path / "part" / "weights") == ["b.bin"]
    assert filecmp.cmp(model / "weights" / "b.bin", tmp_path / "part" / "weights" / "b.bin",
                       shallow=False)

    assert [a.id for a in artifacts.list(run=run_id)] == [art.id]
    assert [a.id for a in artifacts.list(prefix="mod", kind="model")] == [art.id]
    assert artifacts.list(kind="checkpoint") == []
    assert artifacts.get(art.id).manifest_digest == art.manifest_digest
    files = artifacts.manifest(art.id).entries
    assert [f.path for f in files] == ["config.json", "weights/b.bin", "weights/w.bin"]


def test_lineage_records_the_consumer(client, model, tmp_path):
    producer = new_run("train")
    consumer = new_run("eval")
    art = artifacts.log(model, run=producer, progress=False)
    assert artifacts.lineage(art.id).consumers is None
    artifacts.download(art.id, tmp_path / "in", for_run=consumer, progress=False)
    lineage = artifacts.lineage(art.id)
    assert lineage.producer.id == producer
    assert [c.id for c in lineage.consumers] == [consumer]
    assert lineage.consumers[0].kind == "OBJECT_KIND_RUN"


def test_progress_callback_sees_increasing_bytes_and_the_total(client, model, tmp_path):
    run_id = new_run("train")
    seen: list[tuple[int, int]] = []
    art = artifacts.log(model, run=run_id, progress=lambda done, total: seen.append((done, total)))
    assert seen, "the callback was never called"
    dones = [d for d, _ in seen]
    assert dones == sorted(dones)
    assert seen[-1][0] == seen[-1][1] > 0
    down: list[tuple[int, int]] = []
    artifacts.download(art.id, tmp_path / "out", progress=lambda d, t: down.append((d, t)))
    assert [d for d, _ in down] == sorted(d for d, _ in down)
    assert down[-1] == (int(art.size_bytes), int(art.size_bytes))


def test_a_raising_callback_cancels_and_propagates(client, model, tmp_path):
    run_id = new_run("train")

    class Stop(Exception):
        pass

    def boom(done, total):
        raise Stop(f"stop at {done}/{total}")

    with pytest.raises(Stop, match="stop at"):
        artifacts.log(model, run=run_id, progress=boom)
    assert artifacts.list(run=run_id) == []
    with pytest.raises(mlcore.CancelledError):
        artifacts.log(model, run=run_id, progress=lambda d, t: False)
    art = artifacts.log(model, run=run_id, progress=False)
    with pytest.raises(Stop):
        artifacts.download(art.id, tmp_path / "out", progress=boom)


def test_unchanged_reupload_stores_the_same_manifest(client, model):
    run_id = new_run("train")
    first = artifacts.log(model, run=run_id, name="v1", progress=False)
    again = artifacts.log(model, run=run_id, name="v2", progress=False)
    assert first.manifest_digest == again.manifest_digest
    assert first.id != again.id


def test_run_log_artifact(client, model, tmp_path):
    with mlcore.start_run(name="fit", system_metrics=False) as run:
        art = run.log_artifact(model, name="checkpoints/step-10", kind="checkpoint",
                               labels={"step": 10})
    assert art.owner.id == run.id and art.path == "checkpoints/step-10"
    assert art.kind == "ARTIFACT_KIND_CHECKPOINT"
    offline = mlcore.start_run(name="away", offline=True, system_metrics=False)
    try:
        with pytest.raises(mlcore.FailedPreconditionError, match="offline"):
            offline.log_artifact(model)
    finally:
        mlcore.end_run()


def test_errors_map_to_mlcore_exceptions(client, model, tmp_path):
    run_id = new_run("train")
    artifacts.log(model, run=run_id, progress=False)
    (model / "config.json").write_text("{}")
    with pytest.raises(mlcore.AlreadyExistsError):
        artifacts.log(model, run=run_id, progress=False)
    evil = tmp_path / "evil"
    evil.mkdir()
    os.symlink("/etc/passwd", evil / "link")
    with pytest.raises(mlcore.InvalidArgumentError, match="link"):
        artifacts.log(evil, run=run_id, progress=False)
    with pytest.raises(mlcore.InvalidArgumentError):
        artifacts.log(model, run=run_id, name="../up", progress=False)
    with pytest.raises(mlcore.InvalidArgumentError, match="owner"):
        artifacts.log(model, progress=False)
    with pytest.raises(mlcore.InvalidArgumentError, match="kind"):
        artifacts.log(model, run=run_id, kind="weird", progress=False)
    with pytest.raises(mlcore.NotFoundError):
        artifacts.log(model, run="r000000000000", progress=False)
    with pytest.raises(mlcore.NotFoundError):
        artifacts.log(tmp_path / "missing", run=run_id, progress=False)
    with pytest.raises(mlcore.NotFoundError):
        artifacts.get("a-missing")
    art = artifacts.list(run=run_id)[0]
    artifacts.delete(art.id)
    with pytest.raises(mlcore.NotFoundError):
        artifacts.get(art.id)
    report = artifacts.gc(dry_run=True)
    assert report.dry_run is True and int(report.blobs_removed or 0) == 0


def test_progress_true_draws_a_tqdm_bar(client, model, capsys):
    pytest.importorskip("tqdm")  # installed by scripts/setup.sh
    run_id = new_run("bar")
    art = artifacts.log(model, run=run_id, progress=True)
    err = capsys.readouterr().err
    assert "upload" in err and "3.00M" in err, err  # the bar knew the 3 MiB total
    artifacts.download(art.id, str(model.parent / "bar-out"), progress=True)
    assert "%" in capsys.readouterr().err
