"""``tfs config``: write models.config, monitoring.config and batching.config from deploy/deployment.toml."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("config")
@click.option("--deploy-dir", default="deploy", show_default=True, type=click.Path(path_type=Path),
              help="Folder holding deployment.toml and models/.")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path),
              help="Deployment spec (default: DEPLOY_DIR/deployment.toml).")
def command(deploy_dir: Path, spec_path: Path | None) -> None:
    """Generate models.config, monitoring.config and batching.config.

    From the deployment spec: validated, written atomically, round-trip checked; prints the server flags."""
    from toolkit.deployment import load_spec
    from toolkit.serving_config import SPEC_FILE, generate_config, server_flags

    spec = load_spec(spec_path or deploy_dir / SPEC_FILE)  # read once, for the files and the flags
    generated = generate_config(deploy_dir, spec)
    for path in (generated.models_config, generated.monitoring_config, generated.batching_config):
        if path is not None:
            click.echo(f"wrote {path}")
    click.echo("server flags: " + " ".join(server_flags(spec)))
