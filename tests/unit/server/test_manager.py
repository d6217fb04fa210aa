"""ModelManager with fake servables (no TensorFlow): policies, availability-preserving order, failures and
retries, labels rules, request references across unloads, status."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tensorflow_serving.apis import model_pb2

from toolkit.server import config as cfg
from toolkit.server.errors import Code, ServingError
from toolkit.server.manager import ManagerOptions, ModelManager, State
from toolkit.server.metrics import ServerMetrics


class FakeServable:
    """Just enough of Servable for the manager: refcount and close."""

    def __init__(self, name: str, version: int, path: str) -> None:
        self.name, self.version, self.path = name, version, path
        self.refs = 0
        self.closed = False  # no new references
        self.freed = False  # closed after the last reference was released
        self.lock = threading.Condition()

    def acquire(self) -> bool:
        with self.lock:
            if self.closed:
                return False
            self.refs += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.refs -= 1
            self.lock.notify_all()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            while self.refs:
                self.lock.wait()
            self.freed = True


class Loader:
    def __init__(self, fail: dict[int, int] | None = None) -> None:
        self.fail = dict(fail or {})  # version -> number of failing attempts
        self.calls: list[int] = []
        self.loaded: dict[int, FakeServable] = {}

    def __call__(self, name: str, version: int, path: str) -> FakeServable:
        self.calls.append(version)
        if self.fail.get(version, 0) > 0:
            self.fail[version] -= 1
            raise ServingError(Code.NOT_FOUND, f"cannot load {version}")
        servable = FakeServable(name, version, path)
        self.loaded[version] = servable
        return servable


def _config(base: Path, extra: str = "", name: str = "m") -> cfg.ModelServerConfig:
    return cfg.parse_model_server_config(
        f'model_config_list {{ config {{ name: "{name}" base_path: "{base}" model_platform: "tensorflow" {extra} }} }}'
    )


def _manager(loader: Loader, **options: object) -> ModelManager:
    opts = ManagerOptions(load_retry_interval_micros=0, **options)  # type: ignore[arg-type]
    return ModelManager(opts, loader, ServerMetrics())  # type: ignore[arg-type]


def _states(manager: ModelManager, name: str = "m") -> dict[int, State]:
    return {r.version: r.state for r in manager.version_status(name, None)}


def _spec(name: str = "m", version: int | None = None, label: str | None = None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    return spec


def test_latest_policy_loads_new_then_unloads_old(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    loader = Loader()
    manager = _manager(loader)
    manager.apply_config(_config(tmp_path))
    manager.poll_once()
    assert _states(manager) == {1: State.AVAILABLE}
    from tests.support.live_server import wait_for

    poller = threading.Thread(target=manager.poll_once)
    with manager.servable(_spec(version=1)) as held:  # a request in flight on v1 during the switch
        (tmp_path / "2").mkdir()
        poller.start()
        # v2 loads first; then v1 goes UNLOADING and waits for our reference before it is closed
        wait_for(lambda: _states(manager).get(1) == State.UNLOADING, timeout=10, what="v1 UNLOADING")
        assert _states(manager)[2] == State.AVAILABLE
        assert held.closed and not held.freed
        with manager.servable(_spec()) as latest:
            assert latest.version == 2
    poller.join(10)
    assert held.freed
    assert _states(manager) == {2: State.AVAILABLE, 1: State.END}
    with pytest.raises(ServingError) as info, manager.servable(_spec(version=1)):
        pass
    assert info.value.message == "Servable not found for request: Specific(m, 1)"


def test_failed_load_is_retried_then_reported_and_not_retried(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    loader = Loader(fail={1: 2})
    manager = _manager(loader, max_num_load_retries=1)
    manager.apply_config(_config(tmp_path))
    manager.poll_once()
    (record,) = manager.version_status("m", None)
    assert record.state == State.END and record.error is not None
    assert record.error.message == "cannot load 1"
    assert loader.calls == [1, 1]  # one attempt + one retry
    manager.poll_once()
    assert loader.calls == [1, 1]  # not retried while still aspired
    with pytest.raises(ServingError) as info:
        manager.wait_until_available(["m"], timeout=1)
    assert "1 servable(s) did not become available" in info.value.message


def test_failed_new_version_keeps_the_old_one(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    loader = Loader(fail={2: 99})
    manager = _manager(loader, max_num_load_retries=0)
    manager.apply_config(_config(tmp_path))
    manager.poll_once()
    (tmp_path / "2").mkdir()
    manager.poll_once()
    assert _states(manager) == {2: State.END, 1: State.AVAILABLE}
    with manager.servable(_spec()) as servable:
        assert servable.version == 1


def test_all_versions_removed_unloads_everything(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    manager = _manager(Loader())
    manager.apply_config(_config(tmp_path))
    manager.poll_once()
    (tmp_path / "1").rename(tmp_path / "1.old")
    manager.poll_once()
    assert _states(manager) == {1: State.END}


def test_missing_base_path_keeps_loaded_versions(tmp_path: Path) -> None:
    (tmp_path / "a" / "1").mkdir(parents=True)
    manager = _manager(Loader())
    manager.apply_config(_config(tmp_path / "a"))
    manager.poll_once()
    (tmp_path / "a").rename(tmp_path / "b")
    manager.poll_once()
    assert _states(manager) == {1: State.AVAILABLE}


def test_labels_rules(tmp_path: Path) -> None:
    for v in ("1", "2"):
        (tmp_path / v).mkdir()
    manager = _manager(Loader())
    manager.apply_config(_config(tmp_path, "model_version_policy { specific { versions: 1 } }"))
    manager.poll_once()
    labelled = _config(tmp_path, 'model_version_policy { specific { versions: 1 } } version_labels { key: "stable" value: 1 }')
    manager.apply_config(labelled)
    with manager.servable(_spec(label="stable")) as servable:
        assert servable.version == 1
    with pytest.raises(ServingError) as info:
        manager.apply_config(_config(tmp_path, 'version_labels { key: "canary" value: 2 }'))
    assert info.value.code == Code.FAILED_PRECONDITION
    assert info.value.message == (
        "Request to assign label to version 2 of model m, which is not currently available for inference"
    )
    with pytest.raises(ServingError) as info:
        with manager.servable(_spec(label="canary")):
            pass
    assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, "Unrecognized servable version label: canary")


def test_allow_flag_permits_new_labels_only(tmp_path: Path) -> None:
    for v in ("1", "2", "3"):
        (tmp_path / v).mkdir()
    manager = _manager(Loader(), allow_version_labels_for_unavailable_models=True)
    manager.apply_config(_config(tmp_path, 'model_version_policy { specific { versions: 1 } } version_labels { key: "canary" value: 2 }'))
    manager.poll_once()
    # re-stating the same label -> same unavailable version is fine
    manager.apply_config(_config(tmp_path, 'model_version_policy { specific { versions: 1 } } version_labels { key: "canary" value: 2 }'))
    with pytest.raises(ServingError) as info:
        manager.apply_config(_config(tmp_path, 'version_labels { key: "canary" value: 3 }'))
    assert info.value.code == Code.FAILED_PRECONDITION
    # a label on a version that is not loaded resolves but gives NOT_FOUND
    with pytest.raises(ServingError) as info:
        with manager.servable(_spec(label="canary")):
            pass
    assert (info.value.code, info.value.message) == (Code.NOT_FOUND, "Servable not found for request: Specific(m, 2)")


def test_status_and_lookup_errors(tmp_path: Path) -> None:
    manager = _manager(Loader())
    with pytest.raises(ServingError) as info:
        manager.version_status("nope", None)
    assert info.value.message == "Could not find any versions of model nope"
    with pytest.raises(ServingError) as info, manager.servable(_spec(name="")):
        pass
    assert info.value.message == "ModelSpec has no name specified."


def test_removed_model_is_unloaded(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    manager = _manager(Loader())
    manager.apply_config(_config(tmp_path))
    manager.poll_once()
    other = _config(tmp_path, name="other")
    added = manager.apply_config(other)
    assert added == ["other"]
    assert _states(manager, "m") == {1: State.END}
    with pytest.raises(ServingError) as info, manager.servable(_spec()):
        pass
    assert info.value.message == "Servable not found for request: Latest(m)"


def test_reload_reports_a_new_model_that_fails_to_load_as_model_s(tmp_path: Path) -> None:
    """Start-up says "N servable(s) did not become available"; a reload goes through ServerCore's
    WaitUntilModelsAvailable, which says "N model(s) ..." with the same {{{name: .. version: ..} due to error: ..}, }."""
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "n" / "4").mkdir(parents=True)
    loader = Loader(fail={4: 99})
    manager = _manager(loader, max_num_load_retries=0)
    manager.apply_config(_config(tmp_path / "m"))
    manager.poll_once()
    manager.wait_until_available(["m"], timeout=1)
    both = cfg.parse_model_server_config(
        f'model_config_list {{ config {{ name: "m" base_path: "{tmp_path / "m"}" model_platform: "tensorflow" }} '
        f'config {{ name: "n" base_path: "{tmp_path / "n"}" model_platform: "tensorflow" }} }}'
    )
    with pytest.raises(ServingError) as info:
        manager.reload_config(both, timeout=5)
    assert info.value.code == Code.UNKNOWN
    assert info.value.message.startswith(
        "1 model(s) did not become available: {{{name: n version: 4} due to error: "
    ), info.value.message
    assert info.value.message.endswith("cannot load 4}, }")


def test_reload_with_a_wrong_base_path_answers_at_once_with_the_file_system_error(tmp_path: Path) -> None:
    """A reload that removes a model and adds one whose base path does not exist: the poll stops at that path, so
    the added model cannot load; the caller gets TF's file-system error at once instead of waiting out its deadline.
    The config stays installed (the removed model is unloaded), as after any failed load."""
    (tmp_path / "m" / "1").mkdir(parents=True)
    loader = Loader()
    manager = _manager(loader)
    manager.apply_config(_config(tmp_path / "m"))
    manager.poll_once()
    manager.wait_until_available(["m"], timeout=1)
    missing = tmp_path / "nowhere"
    done = threading.Event()
    errors: list[ServingError] = []

    def reload() -> None:
        try:
            manager.reload_config(_config(missing, name="n"), timeout=60)
        except ServingError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=reload, daemon=True).start()
    assert done.wait(10), "reload_config still waiting: it would hang the caller until its 60 s deadline"
    assert errors and errors[0].code == Code.INVALID_ARGUMENT
    assert errors[0].message.startswith(f"Could not find base path {missing} for servable n"), errors[0].message
    assert manager.model_names() == ["n"] and _states(manager, "m") == {1: State.END}
    (missing / "3").mkdir(parents=True)  # the path appears: the next poll loads it
    assert manager.poll_once() is None
    manager.wait_until_available(["n"], timeout=5)
