"""A stand-in for ``kubectl`` in the ``tfs k8s smoke`` tests (there is no cluster here). ``write_fake_kubectl`` puts
an executable ``kubectl`` into a folder; it runs ``main`` below, which appends each call (argv, pid) as a JSON line
to ``$FAKE_KUBECTL_LOG`` and answers as kubectl does, with kubectl's own error texts:

- ``config current-context`` / ``config get-contexts -o name NAME``: ``$FAKE_KUBECTL_CONTEXT`` ("" = none set).
- ``apply``, ``rollout status``, ``wait``: succeed, unless ``$FAKE_KUBECTL_FAIL`` names the verb.
- ``get pods``: ``pod/<first label value>-predictor-00001``.
- ``port-forward ... LOCAL:REMOTE ...``: listens on 127.0.0.1:LOCAL and really relays each connection, byte for
  byte, to the address ``$FAKE_KUBECTL_FORWARD`` (a JSON object) gives for REMOTE, until SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GLOBAL_FLAGS_WITH_VALUE = {"--context", "-n", "--namespace", "--address"}

ERRORS = {
    "apply": ('The Deployment "tfs-serving" is invalid: spec.template.spec.containers[0].resources.requests[nvidia.com/'
              'gpu]: Invalid value: "2": must be equal to nvidia.com/gpu limit of 1'),
    "rollout": "error: timed out waiting for the condition",
    "wait": "error: timed out waiting for the condition on inferenceservices/planet",
    "port-forward": "error: unable to forward port because pod is not running. Current status=Pending",
}


def write_fake_kubectl(folder: Path) -> Path:
    """An executable ``folder/kubectl`` running ``main`` with this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kubectl"
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
                    "from tests.support.fake_kubectl import main\nsys.exit(main(sys.argv[1:]))\n")
    path.chmod(0o755)
    return path


def read_calls(log: Path) -> list[dict[str, object]]:
    """Every recorded call, in order: ``{"argv": [...], "pid": N}``."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _positional(argv: list[str]) -> list[str]:
    """The arguments that are not flags (``--context X``, ``-n X`` and ``--flag=value`` dropped)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in GLOBAL_FLAGS_WITH_VALUE or arg in {"-f", "-l", "-o"}:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (sink, source):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(listener: socket.socket, upstream: tuple[str, int] | None) -> None:
    while True:
        client, _ = listener.accept()
        try:
            if upstream is None:
                raise OSError("no upstream")
            server = socket.create_connection(upstream, timeout=5)
            server.settimeout(None)
        except OSError:
            client.close()  # as kubectl does when the pod refuses: the local connection just closes
            continue
        threading.Thread(target=_relay, args=(client, server), daemon=True).start()
        threading.Thread(target=_relay, args=(server, client), daemon=True).start()


def port_forward(mappings: list[str]) -> int:
    if "port-forward" in os.environ.get("FAKE_KUBECTL_FAIL", ""):
        print(ERRORS["port-forward"], file=sys.stderr)
        return 1
    forward = json.loads(os.environ.get("FAKE_KUBECTL_FORWARD", "{}"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for mapping in mappings:
        local, remote = mapping.split(":")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(local)))
        listener.listen(16)
        target = forward.get(remote)
        upstream = (target.rsplit(":", 1)[0], int(target.rsplit(":", 1)[1])) if target else None
        threading.Thread(target=_serve, args=(listener, upstream), daemon=True).start()
        print(f"Forwarding from 127.0.0.1:{local} -> {remote}", flush=True)
    stop.wait()
    return 0


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_KUBECTL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": argv, "pid": os.getpid()}) + "\n")
    words = _positional(argv)
    verb = words[0] if words else ""
    failing = os.environ.get("FAKE_KUBECTL_FAIL", "").split(",")
    context = os.environ.get("FAKE_KUBECTL_CONTEXT", "")
    if words[:2] == ["config", "current-context"]:
        if not context:
            print("error: current-context is not set", file=sys.stderr)
            return 1
        print(context)
        return 0
    if words[:2] == ["config", "get-contexts"]:
        wanted = words[2] if len(words) > 2 else context
        if wanted != context:
            print(f"error: context {wanted} not found", file=sys.stderr)
            return 1
        print(wanted)
        return 0
    if verb in ("apply", "rollout", "wait") and verb in failing:
        if verb == "rollout":
            print('Waiting for deployment "tfs-serving" rollout to finish: 0 of 1 updated replicas are available...')
        print(ERRORS[verb], file=sys.stderr)
        return 1
    if verb == "apply":
        files = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-f"]
        for path in files:
            print(f"{Path(path).stem} configured")
        return 0
    if verb == "rollout":
        print(f'deployment "{words[2].split("/", 1)[1]}" successfully rolled out')
        return 0
    if verb == "wait":
        print(f"{words[1]} condition met")
        return 0
    if verb == "get":
        selector = argv[argv.index("-l") + 1]
        print(f"pod/{selector.split(',')[0].split('=')[1]}-predictor-00001")
        return 0
    if verb == "port-forward":
        return port_forward([w for w in words[2:] if ":" in w])
    print(f"fake kubectl: unexpected call {argv}", file=sys.stderr)
    return 3
