"""gRPC-only reload_config through our own ModelServerConfig messages, against a live ``tfs serve`` of its own
(the shared session server must not be reconfigured): add a model, label it, get TF Serving's validation errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clients import AsyncGrpcClient, GrpcClient, InvalidInputError, ModelNotFoundError


def _config(entries: dict[str, Path] | list[tuple[str, Path]], labels: dict[str, int] | None = None) -> str:
    """ModelServerConfig text for (name, base_path) entries, policy all, optional labels on every entry."""
    blocks = []
    for name, path in entries.items() if isinstance(entries, dict) else entries:
        label_text = "".join(f' version_labels {{ key: "{k}" value: {v} }}' for k, v in (labels or {}).items())
        blocks.append(
            f'config {{ name: "{name}" base_path: "{path}" model_platform: "tensorflow"'
            f" model_version_policy {{ all {{}} }}{label_text} }}"
        )
    return "model_config_list { " + " ".join(blocks) + " }"


@pytest.fixture(scope="module")
def server(tfs_repo: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.support.live_server import start_tfs_serve

    config = tmp_path_factory.mktemp("clients_reload") / "models.config"
    config.write_text(_config({"half_plus_two": tfs_repo / "half_plus_two"}))
    live = start_tfs_serve([f"--model_config_file={config}"], rest=False, ready_models={"half_plus_two": [1, 2]})
    yield live
    live.stop()


def test_reload_adds_a_model_and_labels(server, tfs_repo: Path) -> None:  # type: ignore[no-untyped-def]
    with GrpcClient(server.grpc_target) as client:
        with pytest.raises(ModelNotFoundError, match=r"Latest\(tf1\)"):
            client.predict({"x": [1.0]}, "tf1")
        metrics = client.reload_config(
            _config({"half_plus_two": tfs_repo / "half_plus_two", "tf1": tfs_repo / "half_plus_two_tf1"}),
            metric_names=[":tensorflow:serving:model_load_count"],
        )
        assert set(metrics) <= {":tensorflow:serving:model_load_count"}
        # The RPC returns once the new model is AVAILABLE.
        np.testing.assert_allclose(client.predict({"x": [2.0]}, "tf1")["y"], [3.0])
        client.reload_config(
            _config({"half_plus_two": tfs_repo / "half_plus_two"}, labels={"stable": 1})
        )
        np.testing.assert_allclose(client.predict({"x": [2.0]}, "half_plus_two", label="stable")["y"], [3.0])
        with pytest.raises(ModelNotFoundError):
            client.predict({"x": [1.0]}, "tf1")


async def test_reload_errors_are_mapped(server, tfs_repo: Path) -> None:  # type: ignore[no-untyped-def]
    async with AsyncGrpcClient(server.grpc_target) as client:
        with pytest.raises(InvalidInputError, match="Only ModelConfigList is currently supported") as exc:
            await client.reload_config("")
        assert exc.value.code == "INVALID_ARGUMENT"
        entry = ("half_plus_two", tfs_repo / "half_plus_two")
        duplicate = _config([entry, entry])
        with pytest.raises(InvalidInputError, match="multiple times"):
            await client.reload_config(duplicate)
        assert (await client.status("half_plus_two"))[0].available
