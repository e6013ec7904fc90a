"""Locating, verifying and unpacking a data package (``evidence.package_source``).

The ``pull`` stage end to end (directory, archive and URL sources in the workflow) is in
``test_pull.py``, hostile paths, bounds and slow servers in ``test_hardening.py``. Here each
function on inputs built in the test: how a source is classified, the checksum, the
archive's fixed metadata and its round trip, which files a package keeps, what a descriptor
must hold, and a download from a server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import json
import tarfile
import threading

import pytest

from ketamine_meta.evidence import package_source
from ketamine_meta.evidence.package_source import (
    DESCRIPTOR,
    PACKAGE_DOCS,
    PackageSourceError,
    build_archive,
    check_sha256,
    download,
    package_members,
    parse_descriptor,
    select_package,
    sha256_hex,
    source_kind,
    unpack_archive,
)

#: SHA-256 of b"abc" (FIPS 180-2, appendix B.1).
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def descriptor(*paths: str) -> bytes:
    return json.dumps({"name": "pkg", "resources": [{"path": p} for p in paths]}).encode()


FILES = {
    DESCRIPTOR: descriptor("studies.csv", "tables/arms.csv"),
    "studies.csv": b"study_id\nAmes2020\n",
    "tables/arms.csv": b"study_id,arm_id\nAmes2020,ket\n",
}


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("data/raw", "directory"),
        ("/abs/path/package", "directory"),
        ("release.tar.gz", "archive"),
        ("dist/release.tgz", "archive"),
        ("https://example.org/release.tar.gz", "url"),
        ("http://example.org/pkg", "url"),
        ("ftp://example.org/release.tar.gz", "archive"),
    ],
)
def test_a_source_is_classified_by_its_scheme_then_its_suffix(source, kind):
    assert source_kind(source) == kind


def test_the_checksum_is_sha256_in_lowercase_hex():
    assert sha256_hex(b"abc") == ABC_SHA256
    check_sha256(b"abc", ABC_SHA256.upper(), "release.tar.gz")  # either case is accepted
    with pytest.raises(PackageSourceError, match=r"release\.tar\.gz: data\.sha256 must be set"):
        check_sha256(b"abc", None, "release.tar.gz")
    with pytest.raises(PackageSourceError) as refused:
        check_sha256(b"abd", ABC_SHA256, "release.tar.gz")
    assert f"expected {ABC_SHA256}, got {sha256_hex(b'abd')}; nothing was written" in str(
        refused.value
    )


def test_an_archive_has_fixed_metadata_sorted_members_under_its_root():
    archive = build_archive(FILES, "pkg-1.0")
    # A gzip stream whose header (bytes 4-7, MTIME) carries no timestamp.
    assert archive[:2] == b"\x1f\x8b" and archive[4:8] == bytes(4)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [f"pkg-1.0/{name}" for name in sorted(FILES)]
    assert {(m.mode, m.mtime, m.uid, m.gid) for m in members} == {(0o644, 0, 0, 0)}


def test_an_archive_round_trips_and_its_root_is_stripped():
    assert unpack_archive(build_archive(FILES, "pkg"), "a.tar.gz") == FILES
    # The same files under another root: another archive, the same files.
    other = build_archive(FILES, "other")
    assert other != build_archive(FILES, "pkg")
    assert unpack_archive(other, "b.tar.gz") == FILES


def _tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def test_files_at_the_top_or_under_two_roots_are_kept_as_they_are():
    flat = {"datapackage.json": b"{}", "studies.csv": b"x\n"}
    assert unpack_archive(_tar_gz(flat), "flat.tar.gz") == flat
    two_roots = {"a/datapackage.json": b"{}", "b/studies.csv": b"x\n"}
    assert unpack_archive(_tar_gz(two_roots), "two.tar.gz") == two_roots


def test_a_link_in_an_archive_is_refused():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        link = tarfile.TarInfo("pkg/studies.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(PackageSourceError, match=r"unsafe archive member 'pkg/studies\.csv'"):
        unpack_archive(raw.getvalue(), "link.tar.gz")


@pytest.mark.parametrize("data", [b"not an archive", gzip.compress(b"not a tar file" * 100), b""])
def test_bytes_that_are_no_tar_gz_are_refused(data):
    with pytest.raises(PackageSourceError, match=r"x\.tar\.gz: not a readable \.tar\.gz archive"):
        unpack_archive(data, "x.tar.gz")


def test_a_package_keeps_its_resources_and_docs_and_nothing_else():
    files = {**FILES, "README.md": b"# pkg\n", "LICENSE.md": b"CC0\n", "notes.txt": b"draft\n"}
    kept = select_package(files, "release")
    assert list(kept) == [DESCRIPTOR, "studies.csv", "tables/arms.csv", "README.md", "LICENSE.md"]
    assert set(PACKAGE_DOCS) - set(kept) == {"CHANGELOG.md"}
    with pytest.raises(PackageSourceError, match=r"release: no datapackage\.json"):
        select_package({"studies.csv": b""}, "release")


def test_the_members_are_the_descriptor_then_its_resources_in_order():
    assert package_members(descriptor("b.csv", "a.csv")) == [DESCRIPTOR, "b.csv", "a.csv"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"resources": []}', "pkg: datapackage.json: no 'resources' list"),
        (b"[1, 2]", "no 'resources' list"),
        (b'{"resources": [{"name": "a"}]}', "resources[0] has no 'path' string"),
        (b'{"resources": [{"path": 3}]}', "resources[0] has no 'path' string"),
        (b'{"resources": [{"path": "a.csv"}, "b.csv"]}', "resources[1] has no 'path' string"),
        (b'{"resources": [{"path": "../a.csv"}]}', "resources[0].path, value '../a.csv'"),
        (b'\xff{"resources": []}', "not UTF-8 text (byte 0)"),
    ],
)
def test_a_descriptor_without_usable_resources_is_refused_naming_the_entry(data, message):
    with pytest.raises(PackageSourceError) as refused:
        parse_descriptor(data, "pkg")
    assert message in str(refused.value)


def test_a_descriptor_with_a_byte_order_mark_is_read():
    assert parse_descriptor(b"\xef\xbb\xbf" + descriptor("a.csv"), "pkg")["name"] == "pkg"


def test_a_descriptor_over_the_bound_is_refused_unparsed(monkeypatch):
    monkeypatch.setattr(package_source, "MAX_DESCRIPTOR_BYTES", 10)
    with pytest.raises(PackageSourceError, match=r"datapackage\.json: \d+ bytes, more than"):
        parse_descriptor(descriptor("a.csv"), "")


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1 by a server the test starts, and its URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_download_is_the_served_body(served):
    folder, url = served
    archive = build_archive(FILES, "pkg")
    (folder / "release.tar.gz").write_bytes(archive)
    assert download(f"{url}/release.tar.gz") == archive


def test_a_download_over_the_bound_or_missing_is_refused(served, monkeypatch):
    folder, url = served
    (folder / "big.bin").write_bytes(bytes(5000))
    monkeypatch.setattr(package_source, "MAX_PACKAGE_BYTES", 1000)
    with pytest.raises(PackageSourceError, match="more than 1000 bytes; nothing was written"):
        download(f"{url}/big.bin")
    with pytest.raises(PackageSourceError, match=r"download failed \(HTTP Error 404"):
        download(f"{url}/absent.tar.gz")
