"""The pull stage: directory, local archive and http(s) URL sources, and checksum failures."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import REPO, copy_repo, run_snakemake, tree_digest
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    build_archive,
    check_sha256,
    select_package,
    sha256_hex,
    unpack_archive,
)

RAW = REPO / "data" / "raw"


def package_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in RAW.iterdir() if p.is_file()}


def test_archive_is_byte_reproducible_and_round_trips():
    files = select_package(package_files(), "data/raw")
    first, second = build_archive(files, "pkg"), build_archive(files, "pkg")
    assert first == second
    assert unpack_archive(first, "x") == files


def test_checksum_mismatch_is_refused():
    with pytest.raises(PackageSourceError, match="SHA-256 mismatch"):
        check_sha256(b"abc", "0" * 64, "release.tar.gz")
    check_sha256(b"abc", sha256_hex(b"abc"), "release.tar.gz")


def test_archive_with_path_traversal_is_refused(tmp_path):
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.csv")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(PackageSourceError, match="unsafe archive member"):
        unpack_archive(raw.getvalue(), "evil.tar.gz")


def test_missing_resource_is_refused():
    files = package_files()
    del files["outcomes.csv"]
    with pytest.raises(PackageSourceError, match=r"outcomes\.csv"):
        select_package(files, "data/raw")


@pytest.fixture
def served_archive(tmp_path):
    """A released archive served over HTTP on 127.0.0.1 by a server the test starts."""
    folder = tmp_path / "www"
    folder.mkdir()
    archive = build_archive(select_package(package_files(), "data/raw"), "ketamine-meta-data")
    (folder / "ketamine-meta-data.tar.gz").write_bytes(archive)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ketamine-meta-data.tar.gz"
    yield url, sha256_hex(archive)
    server.shutdown()
    server.server_close()


def set_source(repo: Path, source: str, sha256: str | None) -> None:
    config = repo / "config" / "config.yaml"
    text = config.read_text()
    text = text.replace("source: data/raw", f"source: {source}")
    text = text.replace("sha256: null", f"sha256: {sha256 or 'null'}")
    config.write_text(text)


@pytest.mark.pipeline
def test_pull_from_url_gives_the_same_results(tmp_path, served_archive, pipeline_run):
    url, digest = served_archive
    repo = copy_repo(tmp_path / "repo")
    set_source(repo, url, digest)
    # Everything after validate is a function of the validated tables, which the shared clean
    # run (pipeline_run) turned into the committed results: equal tables, equal results.
    result = run_snakemake(repo, "--forceall", "--until", "validate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert tree_digest(repo / "data/processed/validated") == tree_digest(
        pipeline_run / "data/processed/validated"
    )
    pulled = tree_digest(repo / "data/processed/package")
    pulled.pop(".snakemake_timestamp")  # Snakemake's marker on directory outputs
    assert pulled == {k: sha256_hex(v) for k, v in select_package(package_files(), "raw").items()}


@pytest.mark.pipeline
def test_pull_from_url_with_wrong_checksum_writes_nothing(tmp_path, served_archive):
    url, _ = served_archive
    repo = copy_repo(tmp_path / "repo")
    set_source(repo, url, "f" * 64)
    before = tree_digest(repo / "results")
    # As `make` does in a fresh checkout: no provenance record, so everything is rebuilt.
    result = run_snakemake(repo, "--forceall")
    assert result.returncode != 0
    assert "SHA-256 mismatch" in result.stdout + result.stderr
    assert not (repo / "data/processed/package").exists()
    assert tree_digest(repo / "results") == before


def _release(out: Path) -> tuple[Path, str]:
    """`make release` into ``out`` (its record beside it, never into the repository): the
    archive and the checksum its .sha256 file gives."""
    result = subprocess.run(
        [sys.executable, "tools/release_data.py", "--out", str(out), "--records", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    archive = Path(result.stdout.splitlines()[0])
    digest = (out / f"{archive.name}.sha256").read_text().split()[0]
    return archive, digest


def test_release_archive_is_byte_reproducible_and_named_by_version(tmp_path):
    first, digest = _release(tmp_path / "a")
    second, again = _release(tmp_path / "b")
    version = json.loads((RAW / "datapackage.json").read_text())["version"]
    assert first.name == f"ketamine-meta-data-{version}.tar.gz"
    assert digest == again == sha256_hex(first.read_bytes()) == sha256_hex(second.read_bytes())
    unpacked = unpack_archive(first.read_bytes(), first.name)
    assert unpacked == select_package(package_files(), "raw")


@pytest.mark.pipeline
def test_the_config_pulls_the_release(tmp_path, pipeline_run):
    archive, digest = _release(tmp_path / "dist")
    repo = copy_repo(tmp_path / "repo")
    set_source(repo, str(archive), digest)
    result = run_snakemake(repo, "--forceall", "--until", "validate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert tree_digest(repo / "data/processed/validated") == tree_digest(
        pipeline_run / "data/processed/validated"
    )
