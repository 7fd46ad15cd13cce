"""Robustness: bad corpus files (generated here, nothing binary committed), hostile questions through
the real Engine, and broken configuration files."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from assistant.config import load_settings
from tests.conftest import CORPUS, REPO, write_config

DOC000 = "000_db59d6f0fba66678.txt"
DOC002 = "002_20041eb3cb8715ee.txt"
PDF_GOV = "上海市普陀区人民政府办公室25年预算.pdf"


def minimal_pdf(content: bytes, encrypt: bool = False) -> bytes:
    """A one-page PDF whose page draws ``content`` (no fonts: no text layer); optionally with a
    Standard security handler whose user password is not empty (an encrypted PDF)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    if encrypt:
        objs.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    extra = b" /Encrypt 5 0 R /ID [<" + b"ab" * 16 + b"> <" + b"ab" * 16 + b">]" if encrypt else b""
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, extra, xref)
    )
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# file name -> (bytes, expected: "skip" or "index")
def bad_files() -> dict[str, tuple[bytes, str]]:
    rnd = random.Random(8)
    good = (CORPUS / DOC002).read_bytes()
    text = good.decode("utf-8")
    return {
        "empty.txt": (b"", "skip"),
        "blank.md": (b"  \n\n\t\n", "skip"),
        "binary.txt": (bytes(rnd.randrange(256) for _ in range(4000)), "skip"),
        "nul.txt": (b"abc\x00def" * 100, "skip"),
        "notpdf.pdf": (b"hello, this is not a PDF", "skip"),
        "truncated.pdf": ((CORPUS / PDF_GOV).read_bytes()[:4096], "skip"),
        "garbage.pdf": (b"%PDF-1.7\n" + bytes(rnd.randrange(256) for _ in range(3000)), "skip"),
        "encrypted.pdf": (minimal_pdf(b"72 72 200 100 re S", encrypt=True), "skip"),
        "scanned.pdf": (minimal_pdf(b"0.5 g 72 72 300 200 re f"), "skip"),
        "fake.docx": (_zip({"hello.txt": b"not office xml", "data.csv": b"1,2,3"}), "skip"),
        "notzip.docx": (b"PK\x03\x04 not really a zip", "skip"),
        "latin1.txt": ("Budget 2021 café ".encode("latin-1") + bytes(range(0x80, 0xA0)) * 50, "skip"),
        "gbk 报告.txt": (text.encode("gbk"), "index"),
        "gb18030.txt": ((text + "\n㐀𠀀\n").encode("gb18030"), "index"),
        "utf16 带BOM.txt": (text.encode("utf-16"), "index"),
        "utf16le.txt": ("Budget report 2021 预算\n".encode("utf-16-le") * 30, "index"),
        "长行.txt": (
            ("某某县财政局2021年部门预算\n" + "数" * 300_000 + "\n" + "1,234.00 " * 20_000 + "\n").encode(),
            "index",
        ),
        "无表格 说明.txt": (
            "某某县水务局2021年度部门预算说明\n本单位负责水务管理。\n今年没有变化。\n".encode(),
            "index",
        ),
        "control\u0007chars.txt": (
            (text[:3000] + "\x1b[31m红色\x1b[0m\x07 收入 100\n" + text[3000:6000]).encode(),
            "index",
        ),
        "notes.xlsx": (b"PK\x03\x04", "skip"),
    }


@pytest.fixture(scope="module")
def bad_index(tmp_path_factory):
    """`assistant index --no-embed` over a corpus of good and bad files (and links, a FIFO, a
    duplicate, a 50 MB text file); returns (root, returncode, stdout, stderr, elapsed seconds)."""
    root = tmp_path_factory.mktemp("badfiles")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / DOC000).write_bytes((CORPUS / DOC000).read_bytes())
    (corpus / "峨山 副本 (duplicate).txt").write_bytes((CORPUS / DOC000).read_bytes())
    for name, (data, _) in bad_files().items():
        (corpus / name).write_bytes(data)
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("某某县2021年预算 外部文件\n", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside / "secret.txt")
    (corpus / "linkdir").symlink_to(outside, target_is_directory=True)
    (corpus / "dangling.txt").symlink_to(root / "nowhere.txt")
    os.mkfifo(corpus / "fifo.txt")
    with (corpus / "huge.txt").open("wb") as fh:  # 50 MB, written in blocks
        block = ("一般公共服务支出 201 1,234,567.89 2,345.00\n" * 1000).encode()
        for _ in range(50 * 2**20 // len(block) + 1):
            fh.write(block)
    cfg = write_config(root, [corpus], root / "index")
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--config", str(cfg), "index", "--no-embed"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return root, p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


def test_each_bad_file_gives_one_clear_line(bad_index):
    root, rc, out, err, elapsed = bad_index
    assert rc == 1, err
    assert "Traceback" not in err + out
    skipped = {}
    for line in err.splitlines():
        if line.startswith("skipped "):
            name, _, reason = line[len("skipped ") :].partition(": ")
            assert name not in skipped, f"two lines for {name}"
            skipped[name] = reason
    expected = {n for n, (_, what) in bad_files().items() if what == "skip"}
    expected |= {"link.txt", "linkdir", "dangling.txt", "fifo.txt", "huge.txt"}
    assert expected <= set(skipped), f"not skipped: {expected - set(skipped)}\n{err}"
    for name, reason in skipped.items():
        assert reason.strip() and name not in reason, (name, reason)  # the cause, not the name again
    assert "encrypted" in skipped["encrypted.pdf"]
    assert "OCR" in skipped["scanned.pdf"] or "text layer" in skipped["scanned.pdf"]
    assert "too large" in skipped["huge.txt"]
    assert "symbolic link" in skipped["link.txt"] and "symbolic link" in skipped["linkdir"]
    assert "empty" in skipped["empty.txt"] and "binary" in skipped["binary.txt"]
    assert elapsed < 120


def test_every_other_report_is_indexed(bad_index):
    root, rc, out, err, _ = bad_index
    from assistant.store.db import load_reports, open_store

    con = open_store(root / "index")
    docs = {r.doc for r in load_reports(con)}
    con.close()
    wanted = {DOC000} | {n for n, (_, what) in bad_files().items() if what == "index"}
    assert wanted <= docs, f"missing: {wanted - docs}\n{err}"
    assert "secret.txt" not in docs
    # the duplicate is indexed once, and both names are listed
    assert "峨山 副本 (duplicate).txt" not in docs
    assert (
        f"duplicate content: 峨山 副本 (duplicate).txt = {DOC000}" in out
        or f"duplicate content: {DOC000} = 峨山 副本 (duplicate).txt" in out
    )


def test_symlinks_followed_when_configured(tmp_path):
    from assistant.store.corpus import corpus_files

    corpus = tmp_path / "corpus"
    (tmp_path / "outside").mkdir()
    corpus.mkdir()
    (tmp_path / "outside" / "a.txt").write_text("x\n", encoding="utf-8")
    (corpus / "link.txt").symlink_to(tmp_path / "outside" / "a.txt")
    (corpus / "dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    cfg = write_config(tmp_path, [corpus], tmp_path / "index")
    cfg.write_text(cfg.read_text(encoding="utf-8") + "follow_symlinks = true\n", encoding="utf-8")
    files, skipped = corpus_files(load_settings(cfg))
    assert [p.name for p in files] == ["a.txt", "link.txt"] and not skipped


def test_loading_is_bounded_and_linear(tmp_path):
    from assistant.ingest.loaders import IngestError, load_document
    from assistant.parse.facts import parse_document

    rows = "".join(
        f"  {i % 97}、一般公共服务支出{i} 201{i % 100:02d} {i}.00 {i * 3}.50\n" for i in range(1500)
    )
    times = []
    for n in (1, 3):
        p = tmp_path / f"rows{n}.txt"
        p.write_text("某某县财政局2021年部门决算\n" + rows * n, encoding="utf-8")
        t0 = time.perf_counter()
        parse_document(load_document(p))
        times.append(time.perf_counter() - t0)
    assert times[1] < 6 * times[0] + 1.0, times  # 3× the text, not 9× the time
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(60 * 2**20)  # sparse: no 60 MB written
    t0 = time.perf_counter()
    with pytest.raises(IngestError, match="too large"):
        load_document(big)
    assert time.perf_counter() - t0 < 1


# ------------------------------------------------------------------------------ questions

HOSTILE = [
    "",
    "   ",
    "\n\t\r",
    "问" * 10_000,
    "峨山" * 5000,
    "\x00\x01\x02\x1b[31m\x7f",
    "？？？！！！。。。",
    "……——「」",
    "!!!???...",
    "What is the 三公经费 of 峨山县医保局 in 2021?",
    "峨山县医保局２０２１年三公经费",
    "２０２１年",
    "0" * 400,
    "9" * 50 + "年",
    "-1年三公经费",
    "峨山县医保局99999年三公经费",
    "%s %d {0} ${x}",
    "'; DROP TABLE facts; --",
    "峨山县医保局2021年" + "的" * 3000 + "三公经费",
    "\u202e\u200b\ufeff三公经费",
    "峨山县医保局2021年三公经费占比多少比上年增减多少合计多少最大的是哪个",
    "𠀀𠀁𠀂",
    "一般公共服务支出" * 200,
]


@pytest.mark.parametrize("question", HOSTILE, ids=range(len(HOSTILE)))
def test_engine_survives_hostile_questions(engine, question):
    t0 = time.perf_counter()
    answer = engine.ask(question)
    assert answer.kind in ("lookup", "computed", "retrieval", "clarify", "not_found")
    assert isinstance(answer.text, str) and answer.text
    assert time.perf_counter() - t0 < 10


def test_blank_and_punctuation_questions_ask_for_clarification(engine):
    for q in ("", "   ", "？？？！！！。。。", "\x00\x01"):
        assert engine.ask(q).kind == "clarify"


def test_full_width_digits_are_understood(engine):
    answer = engine.ask("峨山县医保局２０２１年三公经费")
    assert [v.value for v in answer.values][:1] == ["5406.00"], answer.text


# ------------------------------------------------------------------------------ configuration


def _index_with(cfg: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--config", str(cfg), "index", "--no-embed"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


BAD_CONFIGS = {
    "invalid TOML": ("[paths\ncorpus = [", "invalid TOML"),
    "unknown key": ("[paths]\ncorpuss = ['corpus']\n", "paths.corpuss"),
    "unknown section": ("[pathz]\ncorpus = ['corpus']\n", "pathz"),
    "wrong type": ("[chunking]\nsize = 'big'\n", "chunking.size"),
    "wrong type list": ("[paths]\ncorpus = 3\n", "paths.corpus"),
    "section not a table": ("retrieval = 5\n", "retrieval"),
    "out of range": ("[chunking]\nsize = 10\n", "chunking.size"),
    "not UTF-8": ("[paths]\nindex = 'x'\n".encode("utf-16").decode("latin-1"), "config.toml"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_one_clear_line(tmp_path, case):
    text, needle = BAD_CONFIGS[case]
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(text.encode("latin-1") if case == "not UTF-8" else text.encode("utf-8"))
    p = _index_with(cfg, tmp_path)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in p.stderr, p.stderr
    assert str(cfg) in lines[0] and needle in lines[0], lines[0]
    assert not (tmp_path / "index").exists()


def test_missing_default_config_means_defaults_said_once(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / DOC000).write_bytes((CORPUS / DOC000).read_bytes())
    p = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "index", "--no-embed"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("not found") == 1 and "default" in p.stderr
    assert (tmp_path / "index" / "facts.sqlite").exists()


def test_missing_named_config_is_an_error(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / DOC000).write_bytes((CORPUS / DOC000).read_bytes())
    p = _index_with(tmp_path / "missing.toml", tmp_path)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing.toml'}: config file not found (check --config, or leave it out to use "
        "./config.toml)"
    ]
    assert not (tmp_path / "index").exists()


def test_bad_environment_override_names_the_variable(tmp_path, monkeypatch):
    from assistant.config import ConfigError

    monkeypatch.setenv("ASSISTANT_CHUNKING_SIZE", "abc")
    with pytest.raises(ConfigError, match="ASSISTANT_CHUNKING_SIZE"):
        load_settings(write_config(tmp_path, [tmp_path], tmp_path / "index"))
