"""What the Lambda dependencies layer is built from (infra.package)."""
from infra.package import split_requirements


def test_layer_leaves_out_runtime_boto3_and_installs_chalice_and_kiwi_alone_when_split():
    with_deps, alone = split_requirements([
        "# runtime", "boto3>=1.35", "chalice>=1.31", "pydantic[email]>=2.7", "phonenumbers>=8.13",
        "kiwipiepy>=0.20  # morphology", "bm25s>=0.2.10", ""])
    assert alone == ["chalice>=1.31", "kiwipiepy>=0.20"]
    assert "pydantic[email]>=2.7" in with_deps and "bm25s>=0.2.10" in with_deps
    assert "phonenumberslite>=8.13" in with_deps  # same module, without geocoding and carrier data
    assert not any(r.startswith(("boto3", "chalice", "kiwipiepy", "phonenumbers>")) for r in with_deps)
    assert {"tqdm", "numpy"} <= set(with_deps)  # kiwipiepy's own dependencies, model excepted


def test_every_runtime_requirement_lands_in_the_layer_or_the_runtime_when_the_project_file_is_split():
    from pathlib import Path

    lines = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text(encoding="utf-8").splitlines()
    with_deps, alone = split_requirements(lines)
    wanted = {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}
    placed = set(with_deps) | set(alone) | {"boto3>=1.35"}
    placed |= {r.replace("phonenumberslite", "phonenumbers") for r in with_deps}
    assert wanted <= placed
