"""Build the local stand-in for ``tensorflow/serving`` (no registry is reachable, so the official image can't be pulled).

The image is ``FROM scratch``: a root filesystem holding bash and the host's shared libraries that bash, the Python
interpreter and every extension module in the virtualenv link against, plus the official entrypoint contract from
``docker/standin/``. The interpreter, the virtualenv and the repository are bind-mounted read-only at run time
(``standin_mounts``), so the image stays a few tens of MB (the ``vfs`` driver copies it for every container).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
CONTEXT_DIR = REPO_ROOT / "docker" / "standin"
STANDIN_TAG = "tfs-toolkit/serving-standin:test"
CONTENT_LABEL = "org.tfs-toolkit.standin.content"


def _shared_objects() -> list[Path]:
    """Every ELF file whose dependencies the container needs: bash, the interpreter (and libpython), the standard
    library's extension modules and every ``*.so`` in the virtualenv's site-packages."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    files = [Path(shutil.which("bash") or "/bin/bash"), Path(os.path.realpath(sys.executable))]
    roots = [Path(sys.base_prefix) / "lib" / version / "lib-dynload"]
    roots += [Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    for root in roots:
        files.extend(p for p in root.rglob("*.so*") if p.is_file() and not p.is_symlink())
    return files


def _system_libraries() -> list[Path]:
    """Shared libraries outside the bind-mounted trees (``ldd``), plus the dynamic loader."""
    mounted = [str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix, REPO_ROOT)]
    libs: set[str] = set()
    files = [str(f) for f in _shared_objects()]
    for start in range(0, len(files), 200):
        out = subprocess.run(["ldd", *files[start : start + 200]], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
                libs.add(parts[2])
            elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
                libs.add(parts[0])
    return sorted(Path(p) for p in libs if not any(p.startswith(m + "/") for m in mounted))


def _rootfs_tar(libraries: list[Path]) -> bytes:
    """A merged-/usr root filesystem: /bin, /lib and /lib64 are links into /usr, like Debian and Ubuntu."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("usr", "usr/bin", "usr/lib", "usr/lib64", "usr/lib/x86_64-linux-gnu", "etc", "models", "config"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        for name in ("bin", "lib", "lib64", "sbin"):
            add_link(name, f"usr/{'bin' if name in ('bin', 'sbin') else name}")
        add_file("usr/bin/bash", Path(shutil.which("bash") or "/bin/bash").read_bytes())
        add_link("usr/bin/sh", "bash")
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", 0o644)
        add_file("etc/group", b"root:x:0:\n", 0o644)
        for lib in libraries:
            # /lib/x86_64-linux-gnu/libc.so.6 -> usr/lib/x86_64-linux-gnu/libc.so.6 (dereferenced)
            name = str(lib).lstrip("/")
            if not name.startswith("usr/"):
                name = "usr/" + name
            add_file(name, lib.read_bytes(), 0o755)
    return buf.getvalue()


def build_context(dest: Path) -> str:
    """Write the build context into ``dest`` and return a digest of its content (for the image cache)."""
    dest.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for name in ("Dockerfile", "tf_serving_entrypoint.sh", "tensorflow_model_server"):
        data = (CONTEXT_DIR / name).read_bytes()
        digest.update(name.encode() + b"\0" + data)
        shutil.copy2(CONTEXT_DIR / name, dest / name)
    rootfs = dest / "rootfs"
    libraries = _system_libraries()
    for lib in libraries:
        digest.update(str(lib).encode() + b"\0" + str(lib.stat().st_size).encode())
    with tarfile.open(fileobj=io.BytesIO(_rootfs_tar(libraries))) as tar:
        tar.extractall(rootfs)  # our own archive, built just above
    return digest.hexdigest()[:16]


def ensure_standin_image(client, workdir: Path) -> str:  # type: ignore[no-untyped-def]
    """Build (or reuse, when the same content was built already) the stand-in image; return its tag."""
    import docker.errors

    digest = build_context(workdir / "standin-context")
    try:
        image = client.images.get(STANDIN_TAG)
        if image.labels.get(CONTENT_LABEL) == digest:
            return STANDIN_TAG
    except docker.errors.ImageNotFound:
        pass
    client.images.build(
        path=str(workdir / "standin-context"), tag=STANDIN_TAG, labels={CONTENT_LABEL: digest}, rm=True, forcerm=True
    )
    return STANDIN_TAG


def standin_mounts() -> list[tuple[str, str]]:
    """(host path, container path) pairs to bind read-only: the interpreter, the virtualenv, the repository."""
    paths = {str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve()), str(REPO_ROOT)}
    # Drop paths already covered by another mount (e.g. .venv inside the repository).
    kept = sorted(p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths))
    return [(p, p) for p in kept]


def standin_environment(listen_host: str = "127.0.0.1") -> dict[str, str]:
    """Environment the stand-in needs: which interpreter runs the runtime, and where it listens."""
    return {
        "TFS_STANDIN_PYTHON": str(Path(sys.prefix) / "bin" / "python"),
        "TFS_STANDIN_HOST": listen_host,
        "PYTHONPATH": str(REPO_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
