"""``tfs k8s``: write (or ``--check``) the Kubernetes and KServe manifests of ``deploy/deployment.toml``;
``tfs k8s smoke``: deploy them on a cluster and run the smoke checks through port-forwards."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._common import DEPLOY_DIR_OPTION
from toolkit.cli._smoke_report import check_options, print_report


@click.group("k8s", invoke_without_command=True)
@DEPLOY_DIR_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the manifests go (default: DEPLOY_DIR/k8s).")
@click.option("--bake", is_flag=True, help="Bake the models into an image: write a Dockerfile FROM the pinned "
              "image and run that image instead of mounting a PersistentVolumeClaim.")
@click.option("--cpu", is_flag=True, help="The CPU variant: the CPU image and no GPU limits.")
@click.option("--check", is_flag=True, help="Only check that the files in --out are what the spec renders to.")
@click.pass_context
def command(ctx: click.Context, deploy_dir: Path, out_dir: Path | None, bake: bool, cpu: bool,
                check: bool) -> None:
    """Write Kubernetes and KServe manifests from deploy/deployment.toml (--check: verify).

    Renders plain Kubernetes (Deployment, Service, ConfigMap, PVC) and KServe (InferenceService, ServingRuntime)
    manifests from deploy/deployment.toml, with the same image and flags as compose.yaml and `tfs up`."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.deployment import load_spec
    from toolkit.k8s.files import RenderOptions, drift, rendered_files, write_files
    from toolkit.serving_config import SPEC_FILE

    out = out_dir if out_dir is not None else deploy_dir / "k8s"
    options = RenderOptions(bake=bake, cpu=cpu)
    spec = load_spec(deploy_dir / SPEC_FILE)
    files = rendered_files(spec, deploy_dir / "models", options)
    if check:
        stale = drift(out, files)
        if stale:
            raise click.ClickException(
                f"out of date in {out}: {', '.join(stale)}; run `tfs k8s{options.describe()}`"
            )
        click.echo(f"{out}: {len(files)} files up to date")
        return
    written, removed = write_files(out, files)
    for path in written:
        click.echo(f"wrote {path}")
    for path in removed:
        click.echo(f"removed {path} (no longer rendered)")


@command.command("smoke")
@DEPLOY_DIR_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where `tfs k8s` wrote the manifests (default: DEPLOY_DIR/k8s).")
@click.option("--kserve", is_flag=True, help="Apply and smoke the KServe manifests instead of the plain ones.")
@click.option("--bake", is_flag=True, help="The manifests were written with --bake (the image holds the models).")
@click.option("--cpu", is_flag=True, help="The manifests were written with --cpu.")
@click.option("--context", "context", metavar="NAME", help="kubectl context (default: the current one).")
@click.option("--kubectl", "kubectl_path", default="kubectl", show_default=True, metavar="PATH",
              help="The kubectl to run.")
@click.option("--rollout-timeout", type=click.IntRange(min=1), default=600, show_default=True,
              help="Seconds the rollout (or the InferenceService's Ready condition) may take.")
@check_options
@click.pass_context
def k8s_smoke_command(ctx: click.Context, deploy_dir: Path, out_dir: Path | None, kserve: bool, bake: bool,
                      cpu: bool, context: str | None, kubectl_path: str, rollout_timeout: int,
                      models: tuple[str, ...], wait_s: float, p99_ms: float | None, latency_requests: int,
                      call_timeout_s: float, junit: Path | None, json_path: Path | None) -> None:
    """On a cluster: `kubectl apply` the manifests `tfs k8s` wrote (plain, or --kserve), wait for the rollout,
    port-forward the gRPC and REST ports to 127.0.0.1, and run the `tfs smoke` checks through them.

    Exit status: 0 every check passed; 1 apply refused, rollout timed out, port-forward failed or a check failed;
    2 kubectl missing, no context, manifests missing or out of date, or another usage error."""
    from toolkit.deployment import SpecError, load_spec
    from toolkit.k8s.files import RenderOptions
    from toolkit.k8s.kubectl import SETUP_EXIT, Kubectl, KubectlError
    from toolkit.k8s.smoke import ClusterOptions, run_cluster_smoke
    from toolkit.serving_config import SPEC_FILE
    from toolkit.smoke.runner import SmokeOptions

    kubectl = Kubectl(kubectl_path, context)
    try:
        spec = load_spec(deploy_dir / SPEC_FILE)
    except (SpecError, OSError) as exc:
        raise KubectlError(str(exc), SETUP_EXIT) from None
    report = run_cluster_smoke(
        kubectl, spec, deploy_dir, out_dir if out_dir is not None else deploy_dir / "k8s",
        RenderOptions(bake=bake, cpu=cpu), kserve=kserve, models=models,
        smoke=SmokeOptions(wait_s=wait_s, p99_ms=p99_ms, latency_requests=latency_requests,
                           call_timeout_s=call_timeout_s),
        cluster=ClusterOptions(rollout_timeout_s=rollout_timeout), echo=click.echo)
    print_report(report, junit, json_path)
    ctx.exit(report.exit_code)
