"""SIGKILL during export, at KILLS random points (seeded): no integer-named folder is ever partial, and the next export
cleans up what the dead exporter left.

Each export re-publishes a tiny SavedModel (copy, test data, fsync, rename) in a child forked from one warm
process, so a run costs a fraction of a second instead of a TensorFlow import. The forked children never run
TensorFlow (copy and protobuf parsing only); the clean-process validation (a fresh interpreter, about 10 s here) is
replaced in the fork server by a check of the sample inputs' shape, so the kills land in the copy, fsync and
rename steps, where a partial folder could appear. The real validation is covered by tests/unit/toolkit/test_export.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.live_server import REPO_ROOT, server_env

KILLS = 24
MAX_ATTEMPTS = 120
SEED = 7

FORK_SERVER = textwrap.dedent("""
    import os, sys
    import numpy as np
    import toolkit.export as export
    from toolkit.savedmodel import read_signatures

    source, repo = sys.argv[1], sys.argv[2]
    read_signatures(source)  # imports the protobuf modules (and TensorFlow's package) once, before forking
    x = np.ones(3, np.float32)
    # stands in for the clean-process validation (see the test's docstring); outputs follow y = 0.5x + 2
    export.run_in_clean_process = lambda path, sig, inputs, tags="serve": {"y": inputs["x"] * 0.5 + 2.0}
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                export.export_model(source, "m", repo, sample_inputs=x, expected_outputs={"y": x * 0.5 + 2.0},
                                    warmup=False)
            finally:
                os._exit(0)
        print("pid", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print("exit", pid, status, flush=True)
""")


def _tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def _check_versions(model_dir: Path, source_files: dict[str, int]) -> list[int]:
    """Every integer-named folder holds the whole SavedModel (each source file, same size) and its test data."""
    versions = []
    for child in model_dir.iterdir():
        if not child.name.isdigit():
            continue
        files = _tree(child)
        missing = {k: v for k, v in source_files.items() if files.get(k) != v}
        assert not missing, f"partial version folder {child}: missing or short {sorted(missing)}"
        assert "assets.extra/tfs_test_data/meta.json" in files, f"{child}: no test data beside the SavedModel"
        versions.append(int(child.name))
    return sorted(versions)


def test_sigkill_during_export_leaves_no_partial_version(rel_repo: Path, tmp_path: Path) -> None:
    source = rel_repo / "half" / "1"
    source_files = _tree(source)
    repo = tmp_path / "repo"
    proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER, str(source), str(repo)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=server_env(), cwd=str(REPO_ROOT))
    rng = random.Random(SEED)
    kills = completed = 0
    durations: list[float] = []
    try:
        def run(delay: float | None) -> bool:
            """One export; SIGKILL it after ``delay`` s (None: let it finish). True if the kill interrupted it."""
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            words = proc.stdout.readline().split()  # type: ignore[union-attr]
            assert words and words[0] == "pid", f"fork server said {words}"
            pid, start = int(words[1]), time.monotonic()
            if delay is not None:
                time.sleep(delay)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            words = proc.stdout.readline().split()  # type: ignore[union-attr]
            assert words[:2] == ["exit", str(pid)], words
            durations.append(time.monotonic() - start)
            return os.WIFSIGNALED(int(words[2]))

        for _ in range(2):  # unkilled runs: how long an export takes here
            assert not run(None)
        typical = sorted(durations)[0]
        attempts = 0
        while kills < KILLS and attempts < MAX_ATTEMPTS:
            attempts += 1
            if run(rng.uniform(0, typical * 1.2)):
                kills += 1
            else:
                completed += 1
            versions = _check_versions(repo / "m", source_files)
        assert kills >= KILLS, f"only {kills} of {attempts} kills landed inside an export"
        assert not run(None)  # the next export after the last kill
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=30)
    leftovers = [p.name for p in (repo / "m").iterdir() if not p.name.isdigit()]
    versions = _check_versions(repo / "m", source_files)
    print(f"\nEXPORT KILL: {kills} SIGKILLs inside an export (typical export {typical:.2f} s), {completed} finished "
          f"first; versions published {len(versions)}; leftovers {leftovers}")
    assert leftovers == [], f"the last export did not clean up after the killed ones: {leftovers}"
    assert versions == list(range(1, len(versions) + 1)), versions
