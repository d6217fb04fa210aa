"""``tfs export``: publish a model file, SavedModel folder or the built-in example as a new version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from toolkit.cli._common import REPOSITORY_OPTION, load_arrays, load_json_object, parse_pairs

LOADS_TENSORFLOW = True


@click.command("export")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--name", help="Model name (folder under the repository). Defaults to the source's stem (for a "
              "numbered version folder: its model folder's name).")
@REPOSITORY_OPTION
@click.option("--version", "version", type=int, help="Version number (default: next integer).")
@click.option("--force", is_flag=True, help="Replace an existing version (atomically).")
@click.option("--example", type=click.Choice(["planet"]), help="Export a built-in example model instead of SOURCE.")
@click.option("--sample-inputs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=".npz (one array per input) or .npy (single input) sample inputs to validate with.")
@click.option("--expected-outputs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=".npz of expected outputs (compared within --rtol/--atol).")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="Relative tolerance of the output comparison.")
@click.option("--atol", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="Absolute tolerance of the output comparison.")
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"inputs": [{"name", "dtype", "shape"}], "outputs": [...]} the signature must match.')
@click.option("--rename", multiple=True, metavar="OLD=NEW", help="Rename a Keras input/output in the signature.")
@click.option("--input", "graph_inputs", multiple=True, metavar="ALIAS=TENSOR",
              help="TF1 frozen graph (.pb) / checkpoint (.meta): a signature input, e.g. x=x:0.")
@click.option("--output", "graph_outputs", multiple=True, metavar="ALIAS=TENSOR",
              help="TF1 frozen graph / checkpoint: a signature output, e.g. y=y:0.")
@click.option("--signature-name", default="serving_default", show_default=True,
              help="Signature the sample data is validated against, kept for and warmed up with.")
@click.option("--no-persist-test-data", is_flag=True, help="Do not keep the sample data inside the version.")
@click.option("--no-warmup", is_flag=True, help="Do not write assets.extra/tf_serving_warmup_requests.")
@click.option("--allow-custom-ops", is_flag=True,
              help="Export even if the model uses ops stock TensorFlow Serving lacks (they are listed).")
@click.option("--op-library", "op_libraries", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A custom op library (.so) the validating process loads with tf.load_op_library.")
@click.option("--jit-compile", is_flag=True, help="Export the serving function with jit_compile=True (XLA); a model "
              "XLA cannot compile fails now. TF Serving runs it only with --xla_cpu_compilation_enabled=true.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(source: Path | None, name: str | None, repository: Path, version: int | None, force: bool,
                   example: str | None, sample_inputs: Path | None, expected_outputs: Path | None, rtol: float,
                   atol: float, spec_file: Path | None, rename: tuple[str, ...], graph_inputs: tuple[str, ...],
                   graph_outputs: tuple[str, ...], signature_name: str,
                   no_persist_test_data: bool, no_warmup: bool, allow_custom_ops: bool,
                   op_libraries: tuple[str, ...], jit_compile: bool, as_json: bool) -> None:
    """Export a model into a numbered, validated version folder.

    SOURCE is a .keras/.h5 file, a SavedModel folder, a TF1 frozen graph .pb or a checkpoint .meta; it is published
    as REPOSITORY/NAME/VERSION, validated and atomic. On a terminal, a live display on stderr shows each step (load,
    save, validate in a clean process, warmup, publish) with its time; piped, nothing but the result is printed."""
    from toolkit.cli._progress import export_steps_shown
    from toolkit.export import export_model
    from toolkit.export.progress import StepReporter

    if (source is None) == (example is None):
        raise click.UsageError("give exactly one of SOURCE or --example")
    if expected_outputs is not None and sample_inputs is None and example is None:
        raise click.UsageError("--expected-outputs needs --sample-inputs: the expected outputs are compared with "
                               "what the exported model returns for those inputs")
    tf1_graph = source is not None and source.suffix in (".pb", ".meta") and source.is_file()
    if tf1_graph and not (graph_inputs and graph_outputs):
        raise click.UsageError(f"{source} is a TF1 graph: name its tensors with --input ALIAS=TENSOR and "
                               f"--output ALIAS=TENSOR (e.g. --input x=x:0 --output y=y:0); "
                               f"got {len(graph_inputs)} --input and {len(graph_outputs)} --output")
    if (graph_inputs or graph_outputs) and not tf1_graph:
        raise click.UsageError(f"--input / --output name tensors of a TF1 frozen graph (.pb) or checkpoint (.meta); "
                               f"expected such a file as SOURCE, got {source or '--example ' + str(example)}")
    mapping = parse_pairs(rename, "--rename")
    spec = load_json_object(spec_file, "--spec") if spec_file else {}
    unknown = sorted(set(spec) - {"inputs", "outputs"})
    if unknown:
        raise click.BadParameter(f"expected keys 'inputs' and/or 'outputs', got unknown key(s) {unknown}",
                                 param_hint="--spec")
    inputs: Any = load_arrays(sample_inputs, "--sample-inputs") if sample_inputs else None  # or one array
    if inputs is not None and list(inputs) == ["arr_0"]:
        inputs = inputs["arr_0"]  # a bare .npy: the single input
    expected = load_arrays(expected_outputs, "--expected-outputs") if expected_outputs else None
    model: object = source
    if tf1_graph and source is not None:
        from toolkit.export import Checkpoint, FrozenGraph

        kind = FrozenGraph if source.suffix == ".pb" else Checkpoint
        model = kind(source, inputs=parse_pairs(graph_inputs, "--input"), outputs=parse_pairs(graph_outputs, "--output"))
    with export_steps_shown() as display:
        if example == "planet":
            from toolkit.examples import planet

            steps = StepReporter(display)
            steps.begin("load")
            model = planet.build_planet_model()
            steps.end()
            name = name or "planet"
            if inputs is None:
                inputs = planet.sample_images()
        name = name or (default_name(source) if source is not None else None)
        result = export_model(
            model, name=name or "model", repository=repository, version=version, force=force,
            sample_inputs=inputs, expected_outputs=expected, rtol=rtol, atol=atol,
            input_spec=spec.get("inputs"), output_spec=spec.get("outputs"), name_mapping=mapping or None,
            signature_name=signature_name, persist_test_data=not no_persist_test_data, warmup=not no_warmup,
            allow_custom_ops=allow_custom_ops, op_libraries=op_libraries, jit_compile=jit_compile, progress=display,
        )
    if as_json:
        click.echo(json.dumps({"path": str(result.path), "name": result.name, "version": result.version,
                               "validated_with": result.validated_with,
                               "persisted_test_data": result.persisted_test_data,
                               "warmup_records": result.warmup_records, "notes": result.notes,
                               "custom_ops": result.custom_ops,
                               "signatures": {k: v.to_json() for k, v in result.signatures.items()}}, indent=2))
        return
    click.echo(f"published {result.name} version {result.version} -> {result.path}")
    click.echo(f"  validated with: {result.validated_with}; warmup records: {result.warmup_records}; "
               f"test data kept: {'yes' if result.persisted_test_data else 'no'}")
    for note in result.notes:
        click.echo(f"  note: {note}")


def default_name(source: Path) -> str:
    """The model name when --name is not given: the source's stem, except for a numbered version folder
    (``models/planet/3``), which is named after its model folder (``planet``), not ``3``."""
    resolved = source.resolve()
    if resolved.is_dir() and resolved.name.isdigit() and resolved.parent.name:
        return resolved.parent.name
    return source.stem
