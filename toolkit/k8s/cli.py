"""``tfs k8s``: write (or ``--check``) the Kubernetes and KServe manifests of ``deploy/deployment.toml``."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("k8s", invoke_without_command=True)
@click.option("--deploy-dir", "deploy_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("deploy"),
              show_default=True, help="The deploy folder (deployment.toml, models/).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the manifests go (default: DEPLOY_DIR/k8s).")
@click.option("--bake", is_flag=True, help="Bake the models into an image: write a Dockerfile FROM the pinned "
              "image and run that image instead of mounting a PersistentVolumeClaim.")
@click.option("--cpu", is_flag=True, help="The CPU variant: the CPU image and no GPU limits.")
@click.option("--check", is_flag=True, help="Only check that the files in --out are what the spec renders to.")
@click.pass_context
def k8s_command(ctx: click.Context, deploy_dir: Path, out_dir: Path | None, bake: bool, cpu: bool,
                check: bool) -> None:
    """Render plain Kubernetes (Deployment, Service, ConfigMap, PVC) and KServe (InferenceService, ServingRuntime)
    manifests from deploy/deployment.toml, with the same image and flags as compose.yaml and `tfs up`."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.commands.common import fail_on
    from toolkit.config import SPEC_FILE
    from toolkit.deployment import load_spec
    from toolkit.k8s.files import RenderOptions, drift, rendered_files, write_files
    from toolkit.k8s.rules import ManifestError

    out = out_dir if out_dir is not None else deploy_dir / "k8s"
    options = RenderOptions(bake=bake, cpu=cpu)
    with fail_on(ManifestError):
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
