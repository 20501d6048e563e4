"""Build what ``sam deploy`` uploads, and check it fits in Lambda.

``python -m infra.package build`` (``make package``):

- ``build/dependencies-layer/python``: the runtime packages pinned in requirements.lock (the same
  versions, hash-checked, that ``make install`` puts in the test virtualenv), as manylinux x86_64
  wheels (glibc <= 2.34, Amazon Linux 2023) for the functions' Python (3.12), installed ``--no-deps`` from a filtered copy of the
  lock. Left out: what the Lambda runtime provides (boto3, botocore, s3transfer, jmespath and
  what only they need; botocore alone is ~90 MB unzipped), chalice's CLI dependencies (the
  function needs only ``chalice.app``, stdlib only), phonenumbers' geocoding and carrier data (what
  ``phonenumberslite`` leaves out) and Kiwi's model (``kiwipiepy-model``, ~100 MB,
  published only as a source archive, read from S3 instead). The lock's ``# via`` annotations say
  which package needs which, so nothing is listed twice;
- ``build/core-layer/python``: the domain package (``layers/core/python``, CoreLayer's
  ``ContentUri``), copied without caches and compiled like the dependencies layer: Lambda extracts
  layers to a read-only /opt, so a layer without .pyc files is compiled again at every cold start;
- the layers' bytecode, compiled by an interpreter of the target version (``compileall``,
  ``unchecked-hash`` .pyc: valid whatever the zip's file times) so a cold start does not compile
  it; without such an interpreter on the machine the build says so and ships sources only;
- ``build/kiwi-model``: the model files the service uses (the multi-word dictionary is never
  loaded), taken from the installed ``kiwipiepy_model``, for ``upload-model``;
- ``build/api``: the Chalice app's code;
- then every function of template.yaml is measured (its code, the core layer and the
  dependencies layer, unzipped) against Lambda's 250 MB limit, and the build fails above it.

``--python-version 3.11 --out DIR`` builds the same for another interpreter elsewhere (the smoke
test, tests/smoke, uses it when the machine has no 3.12).

``python -m infra.package upload-model --stack NAME`` (run by ``make deploy`` after ``sam deploy``)
copies build/kiwi-model to the stack's CatalogBucket under ``models/kiwi/``, where functions read
it at cold start (``sos1379.text.kiwi_model_path``).
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LAYER = BUILD / "dependencies-layer" / "python"
#: CoreLayer: the sources in the repository, the deployable copy (compiled) in build/.
CORE_LAYER_SOURCE = ROOT / "layers" / "core"
CORE_LAYER_BUILD = "core-layer"
MODEL = BUILD / "kiwi-model"
LOCK = ROOT / "requirements.lock"
LAMBDA_PYTHON = "3.12"  # template.yaml's Globals Runtime
#: The SDK the python3.12 Lambda runtime bundles (no layer carries it, RUNTIME_PROVIDED): the smoke
#: test (tests/smoke) runs every function with exactly these. Checked against the runtime by a
#: function printing ``boto3.__version__`` (docs/deploy.md, "The runtime's boto3"); AWS moves it
#: forward now and then, never back, so an older pin than the dev virtualenv's (requirements.lock)
#: catches calls the runtime cannot make. requirements.txt's boto3 floor must not exceed it
#: (tests/unit/test_package.py).
LAMBDA_RUNTIME_SDK = {"boto3": "1.40.4", "botocore": "1.40.4"}
#: Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to 2.34 fits
#: (numpy >= 2.3 publishes manylinux_2_28 wheels only).
LAMBDA_PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MODEL_PREFIX = "models/kiwi/"
MODEL_SKIP = {"multi.dict", "__init__.py", "_version.py"}  # multi.dict: load_multi_dict=False

#: In the python3.12 runtime already (with what only they need, reached through them).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath"}
#: Installed without the dependencies the lock gives them: chalice.app is stdlib only.
NO_DEPS = {"chalice"}
#: Never in the layer: Kiwi's model comes from S3 (``upload-model``).
LEFT_OUT = {"kiwipiepy-model"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(line: str) -> str:
    return canonical(re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].strip())


@dataclass
class Pin:
    """One entry of a uv/pip-compile lock file."""
    name: str
    version: str
    marker: str = ""
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)  # canonical names, or "-r requirements.txt"

    def requirement(self) -> str:
        line = f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")
        return " \\\n    ".join([line, *(f"--hash={h}" for h in self.hashes)])


def read_lock(text: str) -> dict[str, Pin]:
    """Pins of a lock written by ``uv pip compile --generate-hashes`` (``make lock``)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        entry = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", raw)
        if entry:
            current = Pin(canonical(entry.group(1)), entry.group(2), (entry.group(3) or "").strip())
            pins[current.name] = current
            in_via = False
        elif current is None:
            continue
        elif line.startswith("--hash="):
            current.hashes.append(line[len("--hash="):].rstrip(" \\"))
        elif line.startswith("# via"):
            rest = line[len("# via"):].strip()
            in_via = not rest
            if rest:
                current.via.add(rest if rest.startswith("-") else canonical(rest))
        elif in_via and line.startswith("#   "):
            item = line[4:].strip()
            current.via.add(item if item.startswith("-") else canonical(item))
        elif not line.startswith("#"):
            in_via = False
    return pins


def layer_pins(pins: dict[str, Pin], requirements: list[str]) -> list[Pin]:
    """The pins the dependencies layer installs: requirements.txt's packages and everything they
    need (by the lock's ``# via``), minus the runtime's, chalice's CLI deps and Kiwi's model."""
    children: dict[str, set[str]] = {}
    for pin in pins.values():
        for parent in pin.via:
            children.setdefault(parent, set()).add(pin.name)
    roots = [_name(line.split("#", 1)[0]) for line in requirements if line.split("#", 1)[0].strip()]
    wanted: set[str] = set()
    todo = [r for r in roots if r in pins]
    while todo:
        name = todo.pop()
        if name in wanted or name in RUNTIME_PROVIDED or name in LEFT_OUT:
            continue
        wanted.add(name)
        if name not in NO_DEPS:
            todo.extend(children.get(name, ()))
    return [pins[name] for name in sorted(wanted)]


def _pip(target: Path, requirements: Path, python_version: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps",
                    "--require-hashes", *(f"--platform={p}" for p in LAMBDA_PLATFORMS), "--python-version", python_version,
                    "--implementation", "cp", "--only-binary=:all:", "--target", str(target),
                    "-r", str(requirements)], check=True)


def _runs_as(python: str, version: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.12") on this machine: PATH, then pyenv's versions (a
    pyenv shim of a version that is not active fails to run, so each candidate is tried)."""
    candidates = [shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")))
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and _runs_as(candidate, version):
            return candidate
    return None


def compile_bytecode(directory: Path, python_version: str) -> str | None:
    """Compile ``directory`` with an interpreter of ``python_version``; the interpreter used, or
    None when the machine has none (a .pyc is only valid for the version that wrote it)."""
    python = sys.executable if python_version == f"{sys.version_info[0]}.{sys.version_info[1]}" \
        else find_python(python_version)
    if python is None:
        return None
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    str(directory)], check=True, stdout=subprocess.DEVNULL)
    return python


def build_core_layer(out: Path, python_version: str) -> str | None:
    """Copy the domain package to ``out/core-layer/python`` and compile it for ``python_version``
    (the interpreter used, or None when the machine has none)."""
    core = out / CORE_LAYER_BUILD
    shutil.rmtree(core, ignore_errors=True)
    shutil.copytree(CORE_LAYER_SOURCE / "python", core / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return compile_bytecode(core / "python", python_version)


def missing_bytecode(directory: Path, python_version: str) -> list[Path]:
    """The .py files under ``directory`` without a .pyc of ``python_version`` next to them."""
    import importlib.util

    tag = f"cpython-{python_version.replace('.', '')}"
    missing = []
    for source in sorted(directory.rglob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.with_name(cached.name.replace(sys.implementation.cache_tag, tag)).exists():
            missing.append(source)
    return missing


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def function_sizes(layer: Path = LAYER) -> dict[str, int]:
    """Unzipped bytes of every function: its code, the core layer and the dependencies layer."""
    from infra.template import load_template

    template = load_template(ROOT / "template.yaml")
    core = layer.parent.parent / CORE_LAYER_BUILD
    layers = dir_size(core if core.exists() else CORE_LAYER_SOURCE) + dir_size(layer.parent)
    sizes = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            code = ROOT / resource["Properties"]["CodeUri"]
            sizes[logical_id] = dir_size(code) + layers
    return sizes


def build(out: Path | None = None, python_version: str = LAMBDA_PYTHON) -> int:
    """Build the layer, the API folder and the model into ``out`` (default build/)."""
    out = Path(out or BUILD)
    layer = out / "dependencies-layer" / "python"
    model = out / "kiwi-model"
    for old in (layer.parent, out / "api", model):
        shutil.rmtree(old, ignore_errors=True)
    layer.mkdir(parents=True)
    pins = layer_pins(read_lock(LOCK.read_text(encoding="utf-8")),
                      (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    locked = out / "dependencies-layer.lock"
    locked.write_text("\n".join(pin.requirement() for pin in pins) + "\n", encoding="utf-8")
    _pip(layer, locked, python_version)
    # phonenumbers' geocoding, carrier and time-zone data (~40 MB) are never imported: the layer
    # carries what phonenumberslite would (same module), at the version the tests ran.
    prune = ["bin", "numpy/**/tests", "phonenumbers/geodata", "phonenumbers/carrierdata", "phonenumbers/tzdata"]
    for junk in [*layer.rglob("__pycache__"), *(p for pattern in prune for p in layer.glob(pattern))]:
        shutil.rmtree(junk, ignore_errors=True)
    compiled_by = compile_bytecode(layer, python_version)
    if compiled_by:
        print(f"layer bytecode compiled by {compiled_by} (Python {python_version})")
    else:
        print(f"no Python {python_version} on this machine: the layer ships without bytecode "
              f"(install python{python_version} and rebuild to compile it)", file=sys.stderr)

    core_compiled_by = build_core_layer(out, python_version)
    if core_compiled_by:
        print(f"core layer bytecode compiled by {core_compiled_by} (Python {python_version})")

    import kiwipiepy_model

    model.mkdir(parents=True)
    for path in Path(kiwipiepy_model.__file__).parent.iterdir():
        if path.is_file() and path.name not in MODEL_SKIP:
            shutil.copy2(path, model / path.name)
    (out / "api").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", out / "api" / "app.py")

    sizes = function_sizes(layer)
    width = max(map(len, sizes))
    print(f"{len(pins)} packages from requirements.lock in the layer")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"{name:<{width}}  {size / 2**20:7.1f} MiB unzipped (limit {LAMBDA_UNZIPPED_LIMIT / 2**20:.0f})")
    print(f"{'kiwi model (S3)':<{width}}  {dir_size(model) / 2**20:7.1f} MiB")
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
    b = sub.add_parser("build", help="build the layers and the model, check the sizes")
    b.add_argument("--out", type=Path, default=BUILD, help="output folder (default build/)")
    b.add_argument("--python-version", default=LAMBDA_PYTHON, help="target Python (default: Lambda's 3.12)")
    up = sub.add_parser("upload-model", help="upload build/kiwi-model to a deployed stack")
    up.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.out, args.python_version)
    return upload_model(args.stack)


if __name__ == "__main__":
    sys.exit(main())
