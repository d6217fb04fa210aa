"""Changes under load on one live server: a new version published (latest policy swaps 1 -> 2), a label moved by a
config reload, and config reloads that add and then remove a model. Load: LOAD_THREADS gRPC threads and one REST
thread, a request every 5 ms each. Asserted: 0 failed requests on the models that stay, and every answer comes from
a version valid at that moment (its value matches the version it reports, and no request started after a version
was unloaded, or after a label moved, is answered by the old version).

Versions are told apart by value: y = 0.5x + 2 (version 1) and 0.5x + 3 (version 2), x = 2.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import model_management_pb2, predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.support import models
from tests.support.live_server import start_tfs_serve, wait_for

LOAD_THREADS = 2
VALUE = {1: 3.0, 2: 4.0}  # version -> y for x = 2
MAX_LOAD_S = 120


@dataclass
class Answer:
    start: float
    end: float
    version: int | None  # None: REST (the value tells the version)
    value: float | None
    error: str = ""


@dataclass
class Load:
    """Request loops against one model (by version label or latest) until stopped."""

    server: object
    model: str
    label: str = ""
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _grpc(self) -> None:
        stub = self.server.prediction_stub()  # type: ignore[attr-defined]
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        if self.label:
            request.model_spec.version_label = self.label
        request.inputs["x"].dtype = 1
        request.inputs["x"].tensor_shape.dim.add().size = 1
        request.inputs["x"].float_val.append(2.0)
        end = time.monotonic() + MAX_LOAD_S
        while not self.stop.is_set() and time.monotonic() < end:
            start = time.monotonic()
            try:
                response = stub.Predict(request, timeout=30)
                self.answers.append(Answer(start, time.monotonic(), response.model_spec.version.value,
                                           response.outputs["y"].float_val[0]))
            except grpc.RpcError as exc:
                self.answers.append(Answer(start, time.monotonic(), None, None, f"{exc.code().name}: {exc.details()}"))
            self.stop.wait(0.005)

    def _rest(self) -> None:
        path = f"/v1/models/{self.model}" + (f"/labels/{self.label}" if self.label else "") + ":predict"
        end = time.monotonic() + MAX_LOAD_S
        with httpx.Client(base_url=self.server.rest_url, timeout=30) as client:  # type: ignore[attr-defined]
            while not self.stop.is_set() and time.monotonic() < end:
                start = time.monotonic()
                try:
                    reply = client.post(path, json={"instances": [2.0]})
                    if reply.status_code == 200:
                        self.answers.append(Answer(start, time.monotonic(), None, reply.json()["predictions"][0]))
                    else:
                        self.answers.append(Answer(start, time.monotonic(), None, None, f"{reply.status_code}: {reply.text}"))
                except httpx.HTTPError as exc:
                    self.answers.append(Answer(start, time.monotonic(), None, None, repr(exc)))
                self.stop.wait(0.005)

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._grpc, daemon=True) for _ in range(LOAD_THREADS)]
        self.threads.append(threading.Thread(target=self._rest, daemon=True))
        for thread in self.threads:
            thread.start()
        wait_for(lambda: len(self.answers) >= 20, timeout=30, what=f"load on {self.model}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=40)

    def failures(self) -> list[str]:
        return [a.error for a in self.answers if a.error]

    def version_of(self, answer: Answer) -> int:
        by_value = {v: k for k, v in VALUE.items()}
        version = by_value.get(answer.value)  # type: ignore[arg-type]
        assert version is not None, f"answer {answer.value} is from no known version"
        assert answer.version in (None, version), f"reported version {answer.version} but value {answer.value}"
        return version


def _config(root: Path, names: dict[str, str], extra: dict[str, str] | None = None) -> model_server_config_pb2.ModelServerConfig:
    text = models.models_config_text({name: root / base for name, base in names.items()}, extra)
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def _reload(server, config) -> None:  # type: ignore[no-untyped-def]
    request = model_management_pb2.ReloadConfigRequest(config=config)
    server.model_stub().HandleReloadConfigRequest(request, timeout=60)


@pytest.fixture(scope="module")
def swap_env(rel_repo: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("swap_repo")
    models.copy_version(rel_repo / "half" / "1", root / "swap", 1)
    for version in (1, 2):
        models.copy_version(rel_repo / "half" / str(version), root / "lab", version)
    models.copy_version(rel_repo / "half" / "2", root / "extra", 2)
    config = root / "models.config"
    labels = {"lab": 'model_version_policy { all {} } version_labels { key: "stable" value: 1 }'}
    config.write_text(models.models_config_text({"swap": root / "swap", "lab": root / "lab"}, labels))
    server = start_tfs_serve([f"--model_config_file={config}", "--file_system_poll_wait_seconds=1",
                              "--allow_version_labels_for_unavailable_models"],
                             ready_models={"swap": [1], "lab": [1, 2]})
    yield server, root
    server.stop()


def test_hot_swap_of_a_new_version_under_load(swap_env, rel_repo: Path) -> None:  # type: ignore[no-untyped-def]
    server, root = swap_env
    with Load(server, "swap") as load:
        models.copy_version(rel_repo / "half" / "2", root / "swap", 2)  # atomic publish: .tmp-2 then rename
        wait_for(lambda: server.version_states("swap") == {2: 30, 1: 50}, timeout=60, what="v2 AVAILABLE, v1 END")
        unloaded = time.monotonic()
        time.sleep(0.5)
    versions = [load.version_of(a) for a in load.answers if not a.error]
    late_v1 = [a for a in load.answers if not a.error and a.start > unloaded and load.version_of(a) == 1]
    print(f"\nHOT SWAP: {len(load.answers)} requests, {len(load.failures())} failed, "
          f"v1 answers {versions.count(1)}, v2 answers {versions.count(2)}")
    assert load.failures() == []
    assert versions.count(1) and versions.count(2)
    assert late_v1 == [], "answers from version 1 for requests started after it was unloaded"


def test_label_move_under_load(swap_env) -> None:  # type: ignore[no-untyped-def]
    server, root = swap_env
    labels = 'model_version_policy {{ all {{}} }} version_labels {{ key: "stable" value: {} }}'
    with Load(server, "lab", label="stable") as load:
        time.sleep(0.3)
        before = time.monotonic()
        _reload(server, _config(root, {"swap": "swap", "lab": "lab"}, {"lab": labels.format(2)}))
        moved = time.monotonic()
        time.sleep(0.5)
    ok = [a for a in load.answers if not a.error]
    print(f"\nLABEL MOVE: {len(load.answers)} requests, {len(load.failures())} failed")
    assert load.failures() == []
    assert all(load.version_of(a) == 1 for a in ok if a.end < before)
    assert all(load.version_of(a) == 2 for a in ok if a.start > moved)
    assert any(a.start > moved for a in ok)


def test_config_reload_adding_and_removing_a_model_under_load(swap_env) -> None:  # type: ignore[no-untyped-def]
    server, root = swap_env
    labels = {"lab": 'model_version_policy { all {} } version_labels { key: "stable" value: 2 }'}
    stub = server.prediction_stub()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "extra"
    request.inputs["x"].dtype = 1
    request.inputs["x"].tensor_shape.dim.add().size = 1
    request.inputs["x"].float_val.append(2.0)
    with Load(server, "swap") as steady, Load(server, "lab", label="stable") as labelled:
        _reload(server, _config(root, {"swap": "swap", "lab": "lab", "extra": "extra"}, labels))
        assert stub.Predict(request, timeout=30).outputs["y"].float_val[0] == VALUE[2]  # added, AVAILABLE at once
        time.sleep(0.3)
        _reload(server, _config(root, {"swap": "swap", "lab": "lab"}, labels))
        with pytest.raises(grpc.RpcError) as gone:
            stub.Predict(request, timeout=30)
        time.sleep(0.3)
    print(f"\nRELOAD: {len(steady.answers) + len(labelled.answers)} requests on the models that stay, "
          f"{len(steady.failures()) + len(labelled.failures())} failed")
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    assert steady.failures() == [] and labelled.failures() == []
    assert all(labelled.version_of(a) == 2 for a in labelled.answers)
