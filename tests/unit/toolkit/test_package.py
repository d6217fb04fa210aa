"""``tfs pack`` / ``tfs unpack``: deterministic single-file packages with a manifest, verified and published through
the normal export path; tampered, truncated and path-escaping archives are refused and publish nothing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.unit.toolkit.test_cli import run_tfs  # noqa: E402
from tests.unit.toolkit.test_export import X, export_affine  # noqa: E402
from toolkit.cli import main  # noqa: E402
from toolkit.export.errors import ExportError, ExportValidationError, VersionExistsError  # noqa: E402
from toolkit.export.testdata import load_test_data  # noqa: E402
from toolkit.package import MANIFEST_NAME, PackageError, pack, unpack  # noqa: E402


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """affine version 1, exported with sample inputs (so its test data is kept inside)."""
    repository = tmp_path_factory.mktemp("repo")
    export_affine(repository, sample_inputs={"x": X})
    return repository


@pytest.fixture(scope="module")
def package(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack(repo, "affine/1", tmp_path_factory.mktemp("pkg") / "affine-1.tfs.tar.gz").path


def _rewrite(source: Path, target: Path, change: Callable[[tarfile.TarInfo, bytes], tuple[tarfile.TarInfo, bytes] | None],
             extra: list[tuple[tarfile.TarInfo, bytes]] = ()) -> Path:  # type: ignore[assignment]
    """Copy a package entry by entry through ``change`` (None drops the entry), then append ``extra`` entries."""
    with tarfile.open(source, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            changed = change(member, data)
            if changed is not None:
                info, payload = changed
                info.size = len(payload) if info.isreg() else 0
                dst.addfile(info, io.BytesIO(payload) if info.isreg() else None)
        for info, payload in extra:
            dst.addfile(info, io.BytesIO(payload) if info.isreg() else None)
    return target


def _entry(name: str, kind: bytes = tarfile.REGTYPE, payload: bytes = b"", linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(payload)
    return info, payload


def _nothing_published(target_repo: Path) -> bool:
    return not target_repo.exists() or not any(target_repo.rglob("saved_model.pb"))


def test_packing_is_deterministic_and_the_manifest_covers_every_file(repo: Path, package: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)  # new inodes and mtimes
    for path in copy.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    again = pack(copy, "affine", tmp_path / "again.tfs.tar.gz")  # NAME alone: the latest version
    assert again.version == 1 and again.path.read_bytes() == package.read_bytes()
    with tarfile.open(package, "r:gz") as tar:
        names = tar.getnames()
        assert names[0] == MANIFEST_NAME and names[1:] == sorted(names[1:])
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(0, 0, 0, "")}
        manifest = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
        for entry in manifest["files"]:
            assert hashlib.sha256(tar.extractfile(f"model/{entry['path']}").read()).hexdigest() == entry["sha256"]  # type: ignore[union-attr]
    version_files = sorted(p.relative_to(repo / "affine" / "1").as_posix()
                           for p in (repo / "affine" / "1").rglob("*") if p.is_file())
    assert [f["path"] for f in manifest["files"]] == version_files
    assert "assets.extra/tfs_test_data/meta.json" in version_files and manifest["test_data"] is True
    assert manifest["name"] == "affine" and manifest["version"] == 1
    assert manifest["tensorflow_version"] and manifest["toolkit_version"]
    assert manifest["signatures"]["serving_default"]["inputs"]["x"]["dtype"] == "float32"


def test_unpack_publishes_a_validated_version_with_the_packaged_test_data(package: Path, tmp_path: Path) -> None:
    target = tmp_path / "models"
    result = unpack(package, target)
    assert (result.name, result.version) == ("affine", 1) and result.validated_with == "expected outputs"
    assert any("kept inside" in note for note in result.notes)
    np.testing.assert_array_equal(load_test_data(result.path).inputs["x"], X)  # type: ignore[union-attr]
    again = unpack(package, target, name="affine2", version=5)
    assert again.path == target.resolve() / "affine2" / "5" and (again.path / "saved_model.pb").is_file()
    with pytest.raises(VersionExistsError, match="affine2/5 already exists"):
        unpack(package, target, name="affine2", version=5)
    steps: list[str] = []
    reporter = SimpleNamespace(step_started=lambda step, description: steps.append(step),
                               step_finished=lambda step, seconds: steps.append(f"{step} done"))
    assert unpack(package, target, name="affine2", version=5, force=True,
                  progress=reporter).version == 5  # atomic replacement
    assert steps[-2:] == ["publish", "publish done"] and "validate done" in steps  # the export's steps, told
    assert unpack(package, target).version == 2  # the next version of the packaged name


def test_a_changed_file_fails_its_checksum_and_nothing_is_published(package: Path, tmp_path: Path) -> None:
    def flip(member: tarfile.TarInfo, data: bytes):  # type: ignore[no-untyped-def]
        if member.name == "model/saved_model.pb":
            data = data[:-1] + bytes([data[-1] ^ 1])
        return member, data

    tampered = _rewrite(package, tmp_path / "tampered.tfs.tar.gz", flip)
    with pytest.raises(PackageError, match=r"model/saved_model.pb: sha256: expected [0-9a-f]{64}, got"):
        unpack(tampered, tmp_path / "models")
    assert _nothing_published(tmp_path / "models")
    extra = _rewrite(package, tmp_path / "extra.tfs.tar.gz", lambda m, d: (m, d), [_entry("model/extra.txt", payload=b"x")])
    with pytest.raises(PackageError, match="model/extra.txt: not listed in the manifest"):
        unpack(extra, tmp_path / "models")
    dropped = _rewrite(package, tmp_path / "dropped.tfs.tar.gz",
                       lambda m, d: None if m.name == "model/saved_model.pb" else (m, d))
    with pytest.raises(PackageError, match="saved_model.pb: listed in the manifest but missing"):
        unpack(dropped, tmp_path / "models")
    assert _nothing_published(tmp_path / "models")


def test_consistent_but_wrong_test_data_fails_validation(package: Path, tmp_path: Path) -> None:
    """Re-hashed manifest, altered expected outputs: the checksums pass, the re-run validation does not."""
    with tarfile.open(package, "r:gz") as tar:
        manifest = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
    buffer = io.BytesIO()
    np.savez(buffer, y=np.full((2, 2), 99.0, dtype=np.float32))
    wrong = buffer.getvalue()
    for entry in manifest["files"]:
        if entry["path"] == "assets.extra/tfs_test_data/expected.npz":
            entry.update(size=len(wrong), sha256=hashlib.sha256(wrong).hexdigest())

    def swap(member: tarfile.TarInfo, data: bytes):  # type: ignore[no-untyped-def]
        if member.name == MANIFEST_NAME:
            return member, json.dumps(manifest).encode()
        return member, (wrong if member.name.endswith("tfs_test_data/expected.npz") else data)

    with pytest.raises(ExportValidationError, match="nothing was published"):
        unpack(_rewrite(package, tmp_path / "wrong.tfs.tar.gz", swap), tmp_path / "models")
    assert _nothing_published(tmp_path / "models")


@pytest.mark.parametrize("entry, message", [
    (_entry("../evil.txt", payload=b"x"), "path escapes the package"),
    (_entry("model/../../evil.txt", payload=b"x"), "path escapes the package"),
    (_entry("/tmp/evil.txt", payload=b"x"), "absolute path refused"),
    (_entry("model/link", tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link to '/etc/passwd' refused"),
    (_entry("model/hard", tarfile.LNKTYPE, linkname="tfs-package.json"), "hard link"),
    (_entry("model/dev", tarfile.CHRTYPE), "device, fifo or other special file refused"),
    (_entry("elsewhere.txt", payload=b"x"), "expected tfs-package.json or a path under model/"),
])
def test_escaping_and_special_entries_are_refused(package: Path, tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes],
                                                  message: str) -> None:
    bad = _rewrite(package, tmp_path / "bad.tfs.tar.gz", lambda m, d: (m, d), [entry])
    with pytest.raises(PackageError, match=message):
        unpack(bad, tmp_path / "models")
    assert _nothing_published(tmp_path / "models") and not (tmp_path / "evil.txt").exists()


def test_truncated_damaged_and_missing_archives(package: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.tfs.tar.gz"
    truncated.write_bytes(package.read_bytes()[: package.stat().st_size // 2])
    with pytest.raises(PackageError, match="truncated or damaged"):
        unpack(truncated, tmp_path / "models")
    (tmp_path / "junk.tfs.tar.gz").write_bytes(b"not a package at all")
    with pytest.raises(PackageError, match="truncated or damaged"):
        unpack(tmp_path / "junk.tfs.tar.gz", tmp_path / "models")
    with pytest.raises(PackageError, match="no such package file"):
        unpack(tmp_path / "missing.tfs.tar.gz", tmp_path / "models")
    no_manifest = _rewrite(package, tmp_path / "nm.tfs.tar.gz", lambda m, d: None if m.name == MANIFEST_NAME else (m, d))
    with pytest.raises(PackageError, match="no tfs-package.json"):
        unpack(no_manifest, tmp_path / "models")
    assert _nothing_published(tmp_path / "models")


def test_pack_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no version 9; versions on disk are \\[1\\]"):
        pack(repo, "affine/9", tmp_path / "x.tfs.tar.gz")
    with pytest.raises(PackageError, match="NAME or NAME/VERSION"):
        pack(repo, "affine/v1", tmp_path / "x.tfs.tar.gz")
    with pytest.raises(ExportError, match="got a folder"):
        pack(repo, "affine", tmp_path)
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_cli_pack_unpack_and_refusal(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "affine-1.tfs.tar.gz"
    assert main(["pack", "affine/1", "-o", str(out), "--repository", str(repo)]) == 0
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in capsys.readouterr().out
    assert main(["unpack", str(out), "--repository", str(tmp_path / "models"), "--name", "copy"]) == 0
    assert "published copy version 1" in capsys.readouterr().out
    assert (tmp_path / "models" / "copy" / "1" / "saved_model.pb").is_file()
    bad = _rewrite(out, tmp_path / "bad.tfs.tar.gz", lambda m, d: (m, d), [_entry("../evil", payload=b"x")])
    proc = run_tfs("unpack", str(bad), "--repository", str(tmp_path / "other"))  # the real console entry
    assert proc.returncode == 1 and "path escapes the package" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "other").exists()
