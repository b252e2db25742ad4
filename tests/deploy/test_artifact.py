"""The deployment zip, built as deploying builds it, would load and work on Lambda's python3.13 runtime.

(a) every ELF file needs GLIBC <= 2.34 and links only what the image provides
    (deploy.lambda_image, with its sources) or what the zip ships;
(b) unpacked and mounted at /var/task, run by `python3.13 -I -S` with only boto3
    beside it, the runtime's loader path and the stage's environment exactly as
    deploy.configure wrote it (deploy.lambda_local): it imports, detects and
    extracts one file of every family and handles a recorded S3 event against the
    emulator to PROCESSED;
and each of these fails when the package is broken on purpose.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deploy import artifact, bytecode, lambda_image, lambda_local
from tests.deploy.conftest import STAGE
from tests.support import families, samples

PROBE = Path(lambda_local.__file__).with_name("lambda_probe.py")
RECORDED_EVENT = Path(__file__).parent / "events" / "s3-object-created.json"
MINUTES = "The committee approved the budget for the new library after a long debate about the roof."
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "docpipe-test", "AWS_SECRET_ACCESS_KEY": "docpipe-test"}
# Extension modules that may fail to import on the runtime, and why nothing docpipe does needs them.
MAY_FAIL = {
    "PIL._imagingtk": "needs tkinter, which a server Python (Lambda's, Debian's minimal) lacks; docpipe never draws",
    "pypdfium2_raw.libpdfium": "PDFium, a C library pypdfium2 loads through ctypes, not a Python module (no PyInit_); "
    "test_one_file_of_every_family_is_detected_and_extracted_by_the_packaged_code shows it loaded and laying out text",
}


@pytest.fixture(scope="module")
def unpacked(packaged: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task-root")
    with zipfile.ZipFile(packaged.zip) as zf:
        zf.extractall(root)
    return root


@pytest.fixture(scope="module")
def runtime_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lambda_local.runtime_site(tmp_path_factory.mktemp("runtime") / "site-packages")


def stage_environment(packaged: Any) -> dict[str, str]:
    """The variables configure wrote for the stage, read back from the packaged project's config."""
    config = json.loads((packaged.project / ".chalice" / "config.json").read_text())
    env: dict[str, str] = config["stages"][STAGE]["environment_variables"]
    return env


def probe(
    package: Path, site: Path, env: dict[str, str], *args: str, function: str = "on_upload", expect_ok: bool = True
) -> Any:
    full = lambda_local.environment(env, f"docpipe-{STAGE}-{function}", CREDENTIALS)
    proc = lambda_local.run(package, PROBE, list(args), full, site)
    results = [line[len("PROBE-RESULT ") :] for line in proc.stdout.splitlines() if line.startswith("PROBE-RESULT ")]
    if not expect_ok:
        return proc
    assert proc.returncode == 0 and results, proc.stderr[-4000:]
    return json.loads(results[-1])


def test_every_native_file_needs_only_what_the_python313_image_provides(packaged, unpacked):
    report = artifact.check_tree(unpacked)
    assert report.ok, report.problems
    paths = {f.path for f in report.files}
    assert {"lib/libmagic.so.1", "cryptography/hazmat/bindings/_rust.abi3.so"} <= paths
    assert any(p.startswith("PIL/_imaging.") for p in paths)
    # The only native code allowed to be unloadable is Pillow's AVIF codec (deploy.artifact.OPTIONAL).
    assert all(line.startswith(tuple(artifact.OPTIONAL)) for line in report.optional)
    assert "lib/libz.so.1" not in paths  # the image's zlib is used (lambda_image)


def test_the_package_imports_under_the_runtime_with_only_boto3_beside_it(packaged, unpacked, runtime_site):
    result = probe(unpacked, runtime_site, stage_environment(packaged), "imports")
    assert result["sys_path"][:2] == [lambda_image.TASK_ROOT, lambda_local.RUNTIME_SITE]
    assert not any("site-packages" in p and not p.startswith("/var/lang") for p in result["sys_path"])
    assert set(result["failed"]) <= set(MAY_FAIL), result["failed"]
    assert len(result["extension_modules"]) >= 10
    assert result["handlers"] == [
        "on_backfill",
        "on_producer_event",
        "on_records",
        "on_reprocess",
        "on_upload",
        "sweep",
    ]
    # the packaged libmagic, not the one a system library folder would offer first
    assert result["libmagic"] == [f"{lambda_image.TASK_ROOT}/lib/libmagic.so.1"]
    assert result["magic_module"] == f"{lambda_image.TASK_ROOT}/magic/__init__.py"
    assert result["pdf"] == "application/pdf"


def test_one_file_of_every_family_is_detected_and_extracted_by_the_packaged_code(
    packaged, unpacked, runtime_site, tmp_path
):
    built = families.build()
    built["minutes.pdf"] = (samples.text_pdf([MINUTES]), "pdf")
    for name, (data, _) in built.items():
        (tmp_path / name).write_bytes(data)
    result = probe(unpacked, runtime_site, stage_environment(packaged), "extract", str(tmp_path))
    native = result.pop("_native")
    got = {name: r.get("family") or r.get("error") for name, r in result.items()}
    assert got == {name: family for name, (_, family) in built.items()}
    assert result["photo.jpg"]["metadata"]["width"] == 64
    assert native["libmagic"] == [f"{lambda_image.TASK_ROOT}/lib/libmagic.so.1"]
    assert any("libjpeg" in lib for lib in native["pillow"])  # Pillow's bundled codecs, from the package
    # a PDF's text, laid out by the packaged PDFium in the sandbox's worker, its language detected
    assert result["minutes.pdf"]["text"]["text"] == MINUTES and result["minutes.pdf"]["text"]["language"] == "en"
    assert native["pdfium"] == [f"{lambda_image.TASK_ROOT}/pypdfium2_raw/libpdfium.so"]


def test_a_recorded_s3_event_is_handled_to_processed_against_the_emulator(
    packaged, unpacked, runtime_site, infra_stack, tmp_path
):
    outputs = infra_stack["outputs"]
    s3 = infra_stack["aws"]["s3"]
    key = "uploads/annual report.pdf"
    put = s3.put_object(Bucket=outputs["BucketName"], Key=key, Body=samples.pdf(pages=3))
    head = s3.head_object(Bucket=outputs["BucketName"], Key=key)
    event = json.loads(RECORDED_EVENT.read_text())
    event.update(
        account=outputs["AccountId"], region=outputs["Region"], resources=[f"arn:aws:s3:::{outputs['BucketName']}"]
    )
    event["detail"]["bucket"]["name"] = outputs["BucketName"]
    event["detail"]["object"].update(
        key=key.replace(" ", "+"), size=head["ContentLength"], etag=put["ETag"].strip('"'),
        **({"version-id": put["VersionId"]} if put.get("VersionId") else {}),
    )  # fmt: skip
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = {**stage_environment(packaged), "AWS_ENDPOINT_URL": infra_stack["endpoint"]}
    result = probe(unpacked, runtime_site, env, "invoke", "on_upload", str(tmp_path / "event.json"))
    (outcome,) = result["outcomes"]
    assert outcome["status"] == "PROCESSED", outcome

    from chalicelib.aws.repository import DynamoRepository

    document = DynamoRepository(infra_stack["aws"]["dynamodb"], outputs["TableName"]).get(outcome["doc_id"])
    assert document is not None and document.status == "PROCESSED"
    assert document.metadata["family"] == "pdf" and document.metadata["page_count"] == 3


def test_the_packaged_modules_load_from_their_precompiled_bytecode(packaged, unpacked, runtime_site):
    modules = ["chalicelib.ingest", "chalicelib.extraction.extract", "PIL.Image", "pypdf"]
    result = probe(unpacked, runtime_site, stage_environment(packaged), "cold", *modules)
    assert packaged.pyc > 300
    assert result["modules"] > 100
    assert result["without_pyc"] == []


# --- broken on purpose ------------------------------------------------------------------------------


def test_without_magic_the_packaged_libmagic_finds_no_database(packaged, unpacked, runtime_site):
    env = {k: v for k, v in stage_environment(packaged).items() if k != "MAGIC"}
    proc = probe(unpacked, runtime_site, env, "imports", expect_ok=False)
    assert proc.returncode != 0
    assert "could not find any valid magic files" in proc.stderr


def test_loading_libmagic_by_soname_picks_the_system_library_first_and_fails(packaged, unpacked, runtime_site):
    env = {k: v for k, v in stage_environment(packaged).items() if k != "DOCPIPE_LIBMAGIC"}
    proc = probe(unpacked, runtime_site, env, "imports", expect_ok=False)
    assert proc.returncode != 0
    assert "magic files" in proc.stderr  # another libmagic cannot read the packaged database


def test_a_host_built_extension_module_is_refused(packaged, unpacked, tmp_path):
    """What a wheel built on this machine (linux_x86_64, not manylinux) would put in the package."""
    tree = tmp_path / "package"
    shutil.copytree(unpacked, tree, symlinks=True)
    source = tmp_path / "hostonly.c"
    source.write_text(
        textwrap.dedent(
            """
            #include <Python.h>
            #include <bzlib.h>
            #include <stdlib.h>
            static PyObject *draw(PyObject *self, PyObject *args) {
                return PyLong_FromUnsignedLong(arc4random() ^ (unsigned long)BZ2_bzlibVersion());
            }
            static PyMethodDef methods[] = {{"draw", draw, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "hostonly", NULL, -1, methods};
            PyMODINIT_FUNC PyInit_hostonly(void) { return PyModule_Create(&module); }
            """
        )
    )
    import sysconfig

    target = tree / f"hostonly{sysconfig.get_config_var('EXT_SUFFIX')}"
    compiled = subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(target), "-lbz2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    report = artifact.check_tree(tree)
    problems = [p for p in report.problems if p.startswith("hostonly")]
    assert any("needs GLIBC_2.36" in p for p in problems), report.problems
    assert any("links libbz2.so.1.0" in p for p in problems), report.problems
    assert artifact.main([str(tree)]) == 1


def test_a_package_for_the_other_architecture_is_refused_file_by_file(unpacked):
    report = artifact.check_tree(unpacked, "arm64")
    wrong = {p.split(":", 1)[0] for p in report.problems if "built for EM_X86_64, not EM_AARCH64" in p}
    assert wrong == {f.path for f in report.files}  # the optional AVIF codec included


def test_bytecode_is_written_for_the_runtime_python_only():
    assert f"cpython-{''.join(map(str, lambda_image.PYTHON))}" == bytecode.CACHE_TAG
    assert sys.version_info[:2] == lambda_image.PYTHON
