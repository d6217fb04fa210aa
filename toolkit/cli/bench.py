"""``tfs bench``: resolve the endpoints and the inputs, measure (``toolkit.bench``), print the table and write the
reports (light: no TensorFlow). Exit status: 0 ok, 1 error rate above --max-error-rate or the run cannot start, 2 a
level not stable, 3 a bad option."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from toolkit.bench.options import BadOption
from toolkit.errors import ToolkitError


class _ClickOptionError(BadOption):
    """click's own parameter error (unknown option, not a number) as a bad option: one line, exit status 3."""

    def __init__(self, message: str) -> None:
        ToolkitError.__init__(self, message)
        self.option = ""


class _BenchCommand(click.Command):
    """click's own parameter errors exit 3 with one line too, as the bench's own option checks do."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _ClickOptionError(exc.format_message()) from None


@click.command("bench", cls=_BenchCommand)
@click.option("--model", "-m", required=True, metavar="NAME", help="Model to load-test.")
@click.option("--version", "version", type=int, metavar="N", help="Model version (default: the server's choice).")
@click.option("--label", metavar="LABEL", help="Version label (instead of --version).")
@click.option("--signature", metavar="NAME", help="Signature (default: the test data's, else serving_default).")
@click.option("--grpc", "grpc_target", metavar="HOST:PORT", help="gRPC target (default: deploy/.tfs/endpoints.json).")
@click.option("--rest", "rest_url", metavar="URL", help="REST base URL, e.g. http://127.0.0.1:8501.")
@click.option("--protocol", metavar="grpc,rest", help="Protocols to measure [default: every one with an endpoint].")
@click.option("--deploy-dir", default="deploy", show_default=True, type=click.Path(path_type=Path),
              help="Deployment folder: models/ (kept test data) and .tfs/endpoints.json.")
@click.option("--repository", type=click.Path(path_type=Path),
              help="Host folder of the exported models [default: DEPLOY_DIR/models].")
@click.option("--inputs", "inputs_mode", default="auto", show_default=True, metavar="auto|testdata|signature",
              help="Where the request inputs come from: the version's kept test data, or the served signature.")
@click.option("--data", type=click.Path(path_type=Path), metavar="PATH",
              help="Inputs from an .npz file or a version folder's kept test data (overrides --inputs).")
@click.option("--batch", type=int, default=1, show_default=True, help="Batch size of synthesized inputs.")
@click.option("--concurrency", metavar="N,N,..", help="Concurrency sweep [default: 1,4,16].")
@click.option("--rate", metavar="R,R,..", help="Fixed request rates (requests/s) instead of a concurrency sweep.")
@click.option("--arrival", default="constant", show_default=True, metavar="constant|poisson",
              help="Gaps between requests in --rate mode.")
@click.option("--warmup", "warmup_s", type=float, default=1.0, show_default=True, help="Warm-up seconds per level.")
@click.option("--window", "window_s", type=float, default=2.0, show_default=True,
              help="Minimum seconds of one measurement window.")
@click.option("--window-requests", type=int, default=100, show_default=True,
              help="Minimum completed requests of one measurement window.")
@click.option("--stability", "stability_pct", type=float, default=10.0, show_default=True,
              help="Stable when throughput, p50 and p99 of the last 3 windows vary by at most this many percent.")
@click.option("--max-windows", type=int, default=10, show_default=True, help="Windows per level before giving up.")
@click.option("--max-seconds", type=float, default=300.0, show_default=True, help="Bound on the whole run.")
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True, help="Deadline per request (s).")
@click.option("--max-error-rate", type=float, default=0.0, show_default=True,
              help="Fraction of failed requests tolerated per level (above it: exit 1).")
@click.option("--processes", type=int, default=1, show_default=True, help="Load generator processes.")
@click.option("--ceiling/--no-ceiling", default=True, show_default=True,
              help="Measure the load generator's own ceiling against a trivial local server first.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a JSON report.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a CSV report.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw latency against throughput (one curve per protocol) into this PNG.")
@click.pass_context
def command(ctx: click.Context, model: str, version: int | None, label: str | None, signature: str | None,
                  grpc_target: str | None, rest_url: str | None, protocol: str | None, deploy_dir: Path,
                  repository: Path | None, inputs_mode: str, data: Path | None, batch: int,
                  concurrency: str | None, rate: str | None, arrival: str, warmup_s: float, window_s: float,
                  window_requests: int, stability_pct: float, max_windows: int, max_seconds: float,
                  timeout_s: float, max_error_rate: float, processes: int, ceiling: bool, json_path: Path | None,
                  csv_path: Path | None, plot_path: Path | None) -> None:
    """Load-test a live server over gRPC/REST: concurrency sweep or fixed rate, stable percentiles.

    Against TF Serving or tfs serve: a concurrency sweep or fixed request rates; each level warmed up, then measured in windows until throughput, p50 and p99 are stable.

    Reports throughput, latency p50/p90/p95/p99/max, errors by type and the client-side encode/wait/decode split.
    Exit status: 0 ok, 1 errors above --max-error-rate, 2 a level not stable, 3 a bad option."""
    for option, path in (("--json", json_path), ("--csv", csv_path), ("--plot", plot_path)):
        if path is not None:
            _check_writable(option, path)  # before anything is contacted or measured
    options, targets, inputs = _prepare(
        model, version, label, signature, grpc_target, rest_url, protocol, deploy_dir, repository, inputs_mode,
        data, batch, concurrency, rate, arrival, warmup_s, window_s, window_requests, stability_pct,
        max_windows, max_seconds, timeout_s, max_error_rate, processes, ceiling)
    if plot_path is not None:
        from toolkit._extras import require

        require("matplotlib", "gate", purpose="tfs bench --plot")

    from rich.console import Console

    from toolkit.bench.ceiling import measure_ceiling
    from toolkit.bench.runner import run_bench

    err = Console(stderr=True)
    live = err.is_terminal
    status = err.status("tfs bench: starting ...") if live else None

    def progress(line: str) -> None:
        if status is not None:
            status.update(f"tfs bench: {line}")

    if status is not None:
        status.start()
    started = time.perf_counter()  # --max-seconds bounds the whole run, the ceiling included
    try:
        ceiling_rps = {}
        if options.ceiling:
            progress("measuring the load generator's ceiling against a trivial server ...")
            ceiling_rps = measure_ceiling(targets, options)
        report = run_bench(targets, options, progress=progress, ceiling=ceiling_rps, started=started)
    finally:
        if status is not None:
            status.stop()
    report.inputs_source = inputs.source
    out = Console(width=None if sys.stdout.isatty() else 160)
    out.print(report.table())
    click.echo(f"inputs: {inputs.source}: " + ", ".join(f"{k} {v['dtype']}{v['shape']}"
                                                       for k, v in report.inputs.items()))
    for line in report.ceiling_lines():
        click.echo(line)
    m = report.machine
    click.echo(f"machine: {m['cpus']} CPUs, {m['cpu']}, load average {m['load_average_1m']}")
    for line in report.problems():
        click.echo(line)
    click.echo(report.summary_line())
    if json_path is not None:
        click.echo(f"JSON report: {report.write_json(json_path)}")
    if csv_path is not None:
        click.echo(f"CSV report: {report.write_csv(csv_path)}")
    if plot_path is not None:
        from toolkit.bench.plot import plot_report

        click.echo(f"plot: {plot_report(report, plot_path)}")
    ctx.exit(report.exit_code)


def _check_writable(option: str, path: Path) -> None:
    """A report path must be a file in an existing, writable folder: checked before a run that may take minutes."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise BadOption(option, "a file in an existing, writable folder", str(path))


class _SetupError(ToolkitError):
    """The run cannot start (server unreachable, model unknown while its signature is needed): exit status 1."""


def _prepare(model: str, version: int | None, label: str | None, signature: str | None, grpc_target: str | None,
             rest_url: str | None, protocol: str | None, deploy_dir: Path, repository: Path | None,
             inputs_mode: str, data: Path | None, batch: int, concurrency: str | None, rate: str | None,
             arrival: str, warmup_s: float, window_s: float, window_requests: int, stability_pct: float,
             max_windows: int, max_seconds: float, timeout_s: float, max_error_rate: float, processes: int,
             ceiling: bool) -> tuple[Any, dict[str, Any], Any]:
    from toolkit.bench.inputs import resolve_inputs
    from toolkit.bench.options import BenchOptions, check_int, parse_levels, parse_protocols
    from toolkit.bench.transport import Target

    if version is not None and label is not None:
        raise BadOption("--label", "either --version or --label, not both", label)
    if version is not None and version < 0:
        raise BadOption("--version", "an integer >= 0", version)
    check_int("--batch", batch, 1)
    if data is not None and not data.exists():
        raise BadOption("--data", "an existing .npz file or version folder", str(data))
    levels = parse_levels(concurrency, rate, arrival)
    endpoints = _endpoints(grpc_target, rest_url, deploy_dir)
    protocols = parse_protocols(protocol, endpoints)
    served = {p: e for p in protocols if (e := endpoints[p]) is not None}  # parse_protocols keeps only these
    options = BenchOptions(levels=levels, protocols=protocols, warmup_s=warmup_s, window_s=window_s,
                           window_requests=window_requests, stability=stability_pct / 100.0,
                           max_windows=max_windows, max_seconds=max_seconds, timeout_s=timeout_s,
                           max_error_rate=max_error_rate, processes=processes, ceiling=ceiling)
    repo = repository if repository is not None else deploy_dir / "models"
    model_dir = repo / model if "/" not in model and model not in ("", ".", "..") else None

    def metadata() -> Any:
        return _metadata(protocols[0], served[protocols[0]], model, version, label, timeout_s)

    inputs = resolve_inputs(inputs_mode, data=data, model_dir=model_dir, version=version, signature=signature,
                            batch=batch, metadata=metadata)
    sig = signature or inputs.signature
    targets = {p: Target(p, served[p], model, inputs.arrays, version, label, sig, timeout_s) for p in protocols}
    return options, targets, inputs


def _endpoints(grpc_target: str | None, rest_url: str | None, deploy_dir: Path) -> dict[str, str | None]:
    if grpc_target or rest_url:
        return {"grpc": grpc_target, "rest": rest_url}
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.state import ENDPOINTS_FILE, read_endpoints, state_dir

    try:
        recorded = read_endpoints(deploy_dir)
    except LaunchError as exc:
        raise BadOption("--grpc/--rest", "endpoints (or a readable deploy/.tfs/endpoints.json)", str(exc)) from None
    if recorded is None:
        raise BadOption("--grpc/--rest", f"a server endpoint (or {state_dir(deploy_dir) / ENDPOINTS_FILE} "
                        "from `tfs up`)", "none")
    return {"grpc": recorded.grpc or None, "rest": recorded.rest or None}


def _metadata(protocol: str, endpoint: str, model: str, version: int | None, label: str | None,
              timeout_s: float) -> Any:
    from clients.errors import TfsError

    try:
        if protocol == "grpc":
            from clients import GrpcClient

            with GrpcClient(endpoint, timeout=timeout_s) as client:
                return client.metadata(model, version=version, label=label)
        from clients import RestClient

        with RestClient(endpoint, timeout=timeout_s) as client:
            return client.metadata(model, version=version, label=label)
    except TfsError as exc:
        raise _SetupError(f"cannot read the signature of model {model!r} from {endpoint} to build inputs "
                          f"({type(exc).__name__}: {exc}); pass --data FILE.npz or a version folder") from None
