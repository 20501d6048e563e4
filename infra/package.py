"""Build what ``sam deploy`` uploads, and check it fits in Lambda.

``python -m infra.package build`` (``make package``):

- ``build/dependencies-layer/python``: requirements.txt as manylinux x86_64 wheels for python3.12,
  except what Lambda must not carry: boto3/botocore (the runtime has them; botocore alone is ~90 MB
  unzipped), chalice's CLI dependencies (the function needs only ``chalice.app``: chalice goes in
  with ``--no-deps``), phonenumbers' geocoding and carrier data (``phonenumberslite`` is the same
  module without them) and Kiwi's model (``kiwipiepy_model``, ~100 MB, published only as a source
  archive);
- ``build/kiwi-model``: the model files the service uses (the multi-word dictionary is never
  loaded), taken from the installed ``kiwipiepy_model``, for ``upload-model``;
- ``build/api``: the Chalice app's code;
- then every function of template.yaml is measured (its code, the core layer and the
  dependencies layer, unzipped) against Lambda's 250 MB limit, and the build fails above it.

``python -m infra.package upload-model --stack NAME`` (run by ``make deploy`` after ``sam deploy``)
copies build/kiwi-model to the stack's CatalogBucket under ``models/kiwi/``, where functions read
it at cold start (``sos1379.text.kiwi_model_path``).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LAYER = BUILD / "dependencies-layer" / "python"
MODEL = BUILD / "kiwi-model"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MODEL_PREFIX = "models/kiwi/"
MODEL_SKIP = {"multi.dict", "__init__.py", "_version.py"}  # multi.dict: load_multi_dict=False

_RUNTIME_PROVIDED = {"boto3"}  # the python3.12 runtime ships boto3 and botocore
_NO_DEPS = {"chalice", "kiwipiepy"}  # chalice.app is stdlib only; kiwipiepy's model comes from S3
_REPLACED = {"phonenumbers": "phonenumberslite"}
_EXTRA = ["tqdm", "numpy"]  # kiwipiepy's own dependencies besides the model


def _name(line: str) -> str:
    return re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].strip().lower()


def split_requirements(lines: list[str]) -> tuple[list[str], list[str]]:
    """(installed with their dependencies, installed alone) for the Lambda layer."""
    with_deps, alone = [], []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name = _name(line)
        if name in _RUNTIME_PROVIDED:
            continue
        if name in _NO_DEPS:
            alone.append(line)
        elif name in _REPLACED:
            with_deps.append(_REPLACED[name] + line[len(name):])
        else:
            with_deps.append(line)
    return with_deps + _EXTRA, alone


def _pip(target: Path, specs: list[str], *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--platform",
                    "manylinux2014_x86_64", "--python-version", "3.12", "--implementation", "cp",
                    "--only-binary=:all:", "--target", str(target), *extra, *specs], check=True)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def function_sizes() -> dict[str, int]:
    """Unzipped bytes of every function: its code, the core layer and the dependencies layer."""
    from infra.template import load_template

    template = load_template(ROOT / "template.yaml")
    layers = dir_size(ROOT / "layers" / "core") + dir_size(LAYER.parent)
    sizes = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            code = ROOT / resource["Properties"]["CodeUri"]
            sizes[logical_id] = dir_size(code) + layers
    return sizes


def build() -> int:
    shutil.rmtree(BUILD / "dependencies-layer", ignore_errors=True)
    shutil.rmtree(BUILD / "api", ignore_errors=True)
    shutil.rmtree(MODEL, ignore_errors=True)
    LAYER.mkdir(parents=True)
    with_deps, alone = split_requirements((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    _pip(LAYER, with_deps)
    _pip(LAYER, alone, "--no-deps")
    for junk in [*LAYER.glob("bin"), *LAYER.rglob("__pycache__"), *LAYER.glob("numpy/**/tests")]:
        shutil.rmtree(junk, ignore_errors=True)

    import kiwipiepy_model

    MODEL.mkdir(parents=True)
    for path in Path(kiwipiepy_model.__file__).parent.iterdir():
        if path.is_file() and path.name not in MODEL_SKIP:
            shutil.copy2(path, MODEL / path.name)
    (BUILD / "api").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", BUILD / "api" / "app.py")

    sizes = function_sizes()
    width = max(map(len, sizes))
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"{name:<{width}}  {size / 2**20:7.1f} MiB unzipped (limit {LAMBDA_UNZIPPED_LIMIT / 2**20:.0f})")
    print(f"{'kiwi model (S3)':<{width}}  {dir_size(MODEL) / 2**20:7.1f} MiB")
    over = [n for n, s in sizes.items() if s > LAMBDA_UNZIPPED_LIMIT]
    if over:
        print(f"over Lambda's unzipped limit: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


def upload_model(stack: str, session=None) -> int:
    """Copy build/kiwi-model to the stack's CatalogBucket (output CatalogBucketName)."""
    import boto3

    session = session or boto3.session.Session()
    outputs = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    bucket = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "CatalogBucketName"), None)
    if not bucket:
        print(f"stack {stack} has no CatalogBucketName output", file=sys.stderr)
        return 1
    files = sorted(p for p in MODEL.iterdir() if p.is_file()) if MODEL.exists() else []
    if not files:
        print("no build/kiwi-model: run `make package` first", file=sys.stderr)
        return 1
    s3 = session.client("s3")
    for path in files:
        s3.upload_file(str(path), bucket, MODEL_PREFIX + path.name)
    print(f"uploaded {len(files)} model files to s3://{bucket}/{MODEL_PREFIX}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the layers and the model, check the sizes")
    up = sub.add_parser("upload-model", help="upload build/kiwi-model to a deployed stack")
    up.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    return build() if args.command == "build" else upload_model(args.stack)


if __name__ == "__main__":
    sys.exit(main())
