"""The container healthcheck: healthy only when every configured model reports a version ``AVAILABLE`` over REST.

The official CPU image has no curl, so the probe is plain bash (``/dev/tcp``, builtins only: no grep, no cat). It
reads the server's own flags from ``/proc/1/cmdline`` (the entrypoint script is PID 1 and keeps its arguments), so
it follows ``--rest_api_port``, ``--model_config_file`` and ``--model_name`` overrides (the last occurrence wins, as in
TF Serving's parser; ``TFS_HEALTHCHECK_CMDLINE`` points elsewhere for tests), then asks ``GET /v1/models/<name>`` for each model name in the config file.
"""

from __future__ import annotations

from dataclasses import dataclass

HEALTHCHECK_SCRIPT = r"""port=8501; cfg=""; names=("${MODEL_NAME:-model}")
mapfile -d '' -t argv < "${TFS_HEALTHCHECK_CMDLINE:-/proc/1/cmdline}"
for a in "${argv[@]}"; do
  case "$a" in
    --rest_api_port=*) port="${a#*=}" ;;
    --model_config_file=*) cfg="${a#*=}" ;;
    --model_name=*) names=("${a#*=}") ;;
  esac
done
if [[ -n "$cfg" ]]; then
  names=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^[[:space:]]*name:[[:space:]]*\"([^\"]+)\" ]]; then names+=("${BASH_REMATCH[1]}"); fi
  done < "$cfg"
fi
(( ${#names[@]} > 0 )) || exit 1
for n in "${names[@]}"; do
  exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
  printf 'GET /v1/models/%s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$n" >&3
  body=""; IFS= read -r -d '' -t 5 body <&3; exec 3<&-
  [[ "$body" == HTTP/1.[01]\ 200* && "$body" == *AVAILABLE* ]] || exit 1
done
exit 0
"""
"""Bash source of the probe (exit 0 = healthy). Compose needs ``$`` doubled; ``compose_escape`` does that."""


@dataclass(frozen=True)
class Healthcheck:
    """Docker healthcheck settings, in seconds (the SDK wants nanoseconds: ``to_docker``)."""

    interval: float = 5.0
    timeout: float = 10.0
    retries: int = 3
    start_period: float = 300.0

    @property
    def test(self) -> list[str]:
        return ["CMD", "bash", "-c", HEALTHCHECK_SCRIPT]

    def to_docker(self) -> dict[str, object]:
        """The ``healthcheck`` argument of ``docker.containers.create``."""
        ns = 1_000_000_000
        return {
            "test": self.test,
            "interval": int(self.interval * ns),
            "timeout": int(self.timeout * ns),
            "retries": self.retries,
            "start_period": int(self.start_period * ns),
        }


def compose_escape(text: str) -> str:
    """Compose interpolates ``$VAR``; a literal ``$`` is written ``$$``."""
    return text.replace("$", "$$")
