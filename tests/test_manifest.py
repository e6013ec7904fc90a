"""The results manifest (:mod:`ketamine_meta.io.manifest`): SHA-256 of every output, and the
outputs edited by hand since the pipeline wrote them."""

from __future__ import annotations

import hashlib

from ketamine_meta.io.manifest import HEADER, MANIFEST, edited_files, manifest_text, sha256_file


def test_sha256_of_a_file():
    assert sha256_file(__file__) == hashlib.sha256(open(__file__, "rb").read()).hexdigest()


def test_the_manifest_lists_each_path_once_sorted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.csv").write_text("x\n1\n")
    (tmp_path / "a.csv").write_text("")
    text = manifest_text(["b.csv", "a.csv", "b.csv"])
    empty, b = hashlib.sha256(b"").hexdigest(), hashlib.sha256(b"x\n1\n").hexdigest()
    assert text == f"{HEADER}\na.csv\t{empty}\t0\nb.csv\t{b}\t4\n"


def test_an_edited_file_is_named_and_a_missing_one_is_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text(f"{name}\n")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(manifest_text(["a.csv", "b.csv", "c.csv"]))
    assert edited_files(manifest) == []
    (tmp_path / "b.csv").write_text("edited by hand\n")
    (tmp_path / "c.csv").unlink()
    assert edited_files(manifest) == ["b.csv"]


def test_no_manifest_yet_means_nothing_edited(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(MANIFEST) == "results/manifest.tsv"
    assert edited_files() == []
