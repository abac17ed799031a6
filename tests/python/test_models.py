"""mlcore.models on a real local backend (per-test state and data cache): models, versions from a
run artifact and from a local directory, aliases, URIs, lineage, downloads through the data cache,
and the core's errors as mlcore exceptions."""

from __future__ import annotations

import filecmp
import os

import pytest

import mlcore
from mlcore import artifacts, data, models


@pytest.fixture
def client(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.delenv("MLC_RUN_ID", raising=False)
    for var in ("MLC_CACHE_DIR", "MLC_CACHE_COLD_DIR", "MLC_CACHE_CAPACITY"):
        monkeypatch.delenv(var, raising=False)
    c = mlcore.init(backend, project="ml")
    c.create_project("ml")
    yield c
    while mlcore.active_run() is not None:
        mlcore.end_run()
    c.close()


def same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def model_dir(root, seed: bytes = b"w"):
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 4}\n')
    (root / "weights" / "w.bin").write_bytes(seed * 50_000)
    return root


def from_run(tmp_path, name: str = "ranker"):
    """(run id, version) of ./model logged by a run and registered from it."""
    run = mlcore.start_run(name="train", system_metrics=False)
    mlcore.end_run()
    artifacts.log(model_dir(tmp_path / "model"), run=run.id, kind="model", progress=False)
    v = models.register(name, run=run.id, path="model", metrics={"val_auc": 0.91},
                        metadata={"framework": "pytorch"})
    return run.id, v


def test_create_list_get_update_rename_delete(client):
    m = models.create("ranker", description="CTR ranker", tags={"task": "ranking"})
    assert m.name == "ranker" and m.project == "ml" and m.tags["task"] == "ranking"
    models.create("resnet50", tags={"task": "vision"})
    with pytest.raises(mlcore.AlreadyExistsError):
        models.create("ranker")
    with pytest.raises(mlcore.InvalidArgumentError):
        models.create("9bad")
    assert [x.name for x in models.list()] == ["ranker", "resnet50"]
    assert [x.name for x in models.list(filter='tags.task = "vision"')] == ["resnet50"]
    assert [x.name for x in models.list(order_by="name desc")] == ["resnet50", "ranker"]
    with pytest.raises(mlcore.InvalidArgumentError):
        models.list(filter="nonsense ==")

    got = models.get("ranker")
    assert got.description == "CTR ranker" and int(got.latest_version or 0) == 0
    updated = models.update("ranker", description="new", tags={"owner": "ann"},
                            remove_tags=["task"])
    assert updated.description == "new" and dict(updated.tags) == {"owner": "ann"}
    with pytest.raises(mlcore.AbortedError):
        models.update("ranker", description="stale", expected_version=1)

    renamed = models.rename("ranker", "ranker2")
    assert renamed.name == "ranker2"
    with pytest.raises(mlcore.NotFoundError):
        models.get("ranker")
    models.delete("ranker2")
    with pytest.raises(mlcore.NotFoundError):
        models.get("ranker2")


def test_register_from_run_and_local_dir(client, tmp_path):
    models.create("ranker")
    run_id, v1 = from_run(tmp_path)
    assert int(v1.version) == 1 and v1.status == "MODEL_VERSION_STATUS_READY"
    assert v1.run_id == run_id and dict(v1.metrics) == {"val_auc": 0.91}
    assert v1.metadata.framework == "pytorch"

    seen: list[tuple[int, int]] = []
    v2 = models.register("ranker", path=model_dir(tmp_path / "v2", b"2"),
                         description="fine-tuned", parent="ranker/1",
                         progress=lambda d, t: seen.append((d, t)))
    assert int(v2.version) == 2 and v2.status == "MODEL_VERSION_STATUS_READY"
    assert v2.source.kind == "MODEL_SOURCE_KIND_UPLOAD" and len(v2.manifest_digest) == 64
    assert v2.parent_model_version.id == "ranker/1"
    assert seen and seen[-1][0] == seen[-1][1]

    assert [int(v.version) for v in models.versions("ranker")] == [2, 1]
    assert models.version("ranker", 2).description == "fine-tuned"
    with pytest.raises(mlcore.InvalidArgumentError):
        models.register("ranker")
    with pytest.raises(mlcore.InvalidArgumentError):
        models.register("ranker", path=tmp_path / "missing")
    with pytest.raises(mlcore.NotFoundError):
        models.register("nosuch", path=tmp_path / "v2")


def test_failed_upload_marks_the_version_failed(client, tmp_path):
    models.create("ranker")
    src = model_dir(tmp_path / "m")

    def cancel(done, total):
        return False

    with pytest.raises(mlcore.CancelledError):
        models.register("ranker", path=src, progress=cancel)
    v = models.version("ranker", 1)
    assert v.status == "MODEL_VERSION_STATUS_FAILED" and v.status_message


def test_aliases_and_resolve(client, tmp_path):
    models.create("ranker")
    from_run(tmp_path)
    models.register("ranker", path=model_dir(tmp_path / "v2", b"2"))
    first = models.set_alias("ranker", "champion", 1)
    assert int(first.previous_version or 0) == 0
    moved = models.set_alias("ranker", "champion", 2)
    assert int(moved.previous_version) == 1
    models.set_alias("ranker", "challenger", 1)
    assert {a.alias: int(a.version) for a in models.get("ranker").aliases} == {
        "challenger": 1, "champion": 2}

    assert int(models.resolve("models:/ranker@champion").version) == 2
    assert int(models.resolve("models:/ranker@latest").version) == 2
    assert int(models.resolve("models:/ranker/1").version) == 1
    with pytest.raises(mlcore.NotFoundError, match="champion"):
        models.resolve("models:/ranker@nope")
    with pytest.raises(mlcore.InvalidArgumentError):
        models.resolve("ranker@champion")
    with pytest.raises(mlcore.InvalidArgumentError):
        models.set_alias("ranker", "latest", 1)

    deleted = models.delete_alias("ranker", "champion")
    assert int(deleted.previous_version) == 2
    assert [a.alias for a in models.get("ranker").aliases] == ["challenger"]
    with pytest.raises(mlcore.NotFoundError):
        models.resolve("models:/ranker@champion")
    with pytest.raises(mlcore.FailedPreconditionError, match="challenger"):
        models.delete("ranker")
    models.delete("ranker", force=True)


def test_lineage(client, tmp_path):
    models.create("ranker")
    run_id, _ = from_run(tmp_path)
    models.register("ranker", path=model_dir(tmp_path / "v2", b"2"), parent=("ranker", 1))
    lin = models.lineage("ranker", 2)
    assert int(lin.version.version) == 2
    assert lin.parent.run.id == run_id and lin.parent.artifact.id
    assert models.lineage("ranker", 2, depth=1).parent is not None
    built = models.built_from("run", run_id)
    assert [int(v.version) for v in built] == [1]


def test_download_twice_second_from_hot_tier(client, tmp_path):
    models.create("ranker")
    from_run(tmp_path)
    models.set_alias("ranker", "champion", 1)
    out1 = models.download("models:/ranker@champion", tmp_path / "out1", progress=False)
    assert same_tree(tmp_path / "model", out1)
    assert data.load_result("models:/ranker@champion").source == "LOAD_SOURCE_HOT"
    out2 = models.download("ranker@champion", tmp_path / "out2", progress=False)
    assert same_tree(out1, out2)
    assert not (out2 / "config.json").is_symlink()
    with pytest.raises(mlcore.NotFoundError):
        models.download("models:/ranker@nope", tmp_path / "out3")
