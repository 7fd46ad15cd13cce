"""OCR of PDF pages that have no text layer (scanned reports), offline, with word boxes.

A page is rendered with pypdfium2 (installed with pdfplumber) and read by RapidOCR (PP-OCRv4 detection
and recognition models shipped inside the ``rapidocr-onnxruntime`` wheel; see README "Reports in other
forms" for why this engine and not tesseract). Each recognised text run keeps its box, converted to PDF points,
in the shape of a pdfplumber word (``text x0 x1 top bottom size``), so the PDF loader rebuilds lines
and cells from positions exactly as for a text layer.

Results are cached by the hash of the rendered page image (and the engine and resolution), so an
unchanged file is never OCR'd twice: the cache lives in ``$ASSISTANT_OCR_CACHE_DIR`` or
``~/.cache/report-assistant/ocr``. Pages not in the cache are recognised on all cores (one process per
page, one inference thread each), as `assistant index` parses files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "OcrUnavailable",
    "ocr_available",
    "ocr_pdf_pages",
    "ocr_cache_dir",
    "scanned_pages",
    "page_ranges",
    "ENGINE_ID",
]

# 200 dpi: 9-10pt table digits are ~28 px high, which PP-OCR reads (100 % of the text layer's
# characters on the corpus PDFs, bench/ocr.py); more pixels only cost detection time.
DPI = 200
# Text runs recognised with less confidence are dropped: a wrong digit is worse than a missing one.
MIN_SCORE = 0.8
# A detected box is about this many times the height of its glyphs (measured on the corpus PDFs:
# 15.2pt boxes around 10.5pt glyphs).
BOX_PER_GLYPH = 1.45
ENGINE_ID = f"rapidocr-onnxruntime/PP-OCRv4/dpi{DPI}/runs-v1"
CACHE_ENV = "ASSISTANT_OCR_CACHE_DIR"


# A page with fewer characters than this over an image covering most of it is a scan (a portal's
# stamp or page number laid over the image is not its text).
SCAN_MAX_CHARS = 30
SCAN_MIN_IMAGE_SHARE = 0.5


class OcrUnavailable(Exception):
    """The OCR engine is not installed (the message says what to install)."""


def scanned_pages(pdf: Any) -> list[int]:
    """1-based numbers of the pdfplumber PDF's pages without a text layer: no characters, or a few
    over an image covering most of the page."""
    out = []
    for n, page in enumerate(pdf.pages, 1):
        chars = [c for c in page.chars if not c["text"].isspace()]
        if chars and len(chars) >= SCAN_MAX_CHARS:
            continue
        if chars:
            area = float(page.width * page.height) or 1.0
            covered = sum(
                max(0.0, float(im["x1"] - im["x0"])) * max(0.0, float(im["bottom"] - im["top"]))
                for im in page.images
            )
            if covered / area < SCAN_MIN_IMAGE_SHARE:
                continue
        out.append(n)
    return out


def page_ranges(pages: list[int]) -> str:
    """[1, 2, 3, 5] → '1–3, 5' (page lists in messages)."""
    if not pages:
        return ""
    parts: list[str] = []
    start = prev = pages[0]
    for n in [*pages[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}–{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def ocr_cache_dir() -> Path:
    """Where OCR results are cached (``$ASSISTANT_OCR_CACHE_DIR`` or ~/.cache/report-assistant/ocr)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path("~/.cache/report-assistant/ocr").expanduser()


def ocr_available() -> bool:
    """True when the OCR engine can be imported."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except Exception:  # noqa: BLE001 — a broken opencv/onnxruntime install raises other types too
        return False
    return True


@lru_cache(maxsize=1)
def _engine(threads: int) -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except Exception as exc:  # noqa: BLE001
        raise OcrUnavailable("OCR engine not installed (pip install rapidocr-onnxruntime)") from exc
    # pages are upright in published reports: the 180° classifier only costs time
    return RapidOCR(use_cls=False, intra_op_num_threads=threads, inter_op_num_threads=1)


def _render(pdf: Any, page_no: int) -> Any:
    """The page as an RGB PIL image at DPI."""
    page = pdf[page_no - 1]
    try:
        return page.render(scale=DPI / 72).to_pil().convert("RGB")
    finally:
        page.close()


def _image_key(image: Any) -> str:
    h = hashlib.sha256(ENGINE_ID.encode())
    h.update(f"{image.size[0]}x{image.size[1]}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def _recognise(image: Any, threads: int) -> list[list[Any]]:
    """What the engine read on one page image: [x0, top, x1, bottom] in pixels, text, score."""
    import numpy as np

    result, _ = _engine(threads)(np.asarray(image))
    out = []
    for box, text, score in result or []:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        out.append(
            [
                [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)],
                str(text),
                round(float(score), 4),
            ]
        )
    return out


# Amounts with thousands separators come back from the recogniser as "82, 096, 797. 42", or cut into
# runs ("1,097," | "073.43"), or glued to the label of a tight column ("行政单位医疗782,855.28").
_SPACED_SEPARATOR = re.compile(r"(?<=\d)\s*([,.])\s*(?=\d)")
_DANGLING = re.compile(r"\d[,.]$")
_LEADING_DIGIT = re.compile(r"^[,.]?\d")
_TRAILING_AMOUNT = re.compile(r"^(.*[\u4e00-\u9fff）)])(-?\d{1,3}(?:,\d{3})+\.\d{2}|-?\d+\.\d{2})$")
_GLUED_AMOUNT = re.compile(r"-?[\d,]*?\d\.\d{2}")
_NUMERIC = re.compile(r"^[-\d,.]*\d[-\d,.]*$")
_WELL_FORMED = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def _clean_text(text: str) -> str:
    text = text.strip().replace("，", ",").replace("．", ".")
    return _SPACED_SEPARATOR.sub(r"\1", text)


def _merge_fragments(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join an amount cut into runs: "1,097," + "073.43" on one line, next to each other."""
    out: list[dict[str, Any]] = []
    for w in sorted(words, key=lambda w: (w["x0"], w["top"])):
        for prev in reversed(out):
            same_line = abs((prev["top"] + prev["bottom"]) - (w["top"] + w["bottom"])) / 2 < 0.45 * w["size"]
            near = -0.5 * w["size"] <= w["x0"] - prev["x1"] < 1.5 * w["size"]
            if (
                same_line
                and near
                and (
                    _DANGLING.search(prev["text"]) or (prev["text"][-1:].isdigit() and w["text"][:1] in ",.")
                )
                and _LEADING_DIGIT.match(w["text"])
            ):
                prev["text"] = _clean_text(prev["text"] + w["text"])
                prev["x1"] = w["x1"]
                break
        else:
            out.append(dict(w))
    return out


def _split_word(w: dict[str, Any], parts: list[str], widths: list[float]) -> list[dict[str, Any]]:
    """``w`` cut into words ``parts``, its width shared out by their ``widths`` (in character units)."""
    out, x, total = [], w["x0"], sum(widths) or 1.0
    for part, width in zip(parts, widths, strict=True):
        x1 = x + (w["x1"] - w["x0"]) * width / total
        out.append(w | {"text": part, "x0": round(x, 2), "x1": round(x1 - 0.5 * w["size"], 2)})
        x = x1
    return out


def _split_amounts(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A label and an amount recognised as one run, or two amounts of tight columns glued together
    ("82,096,797.4282,096,797.42": an amount ends at its two decimals), become separate words."""
    out = []
    for w in words:
        m = _TRAILING_AMOUNT.match(w["text"])
        if m:
            out.extend(_split_word(w, [m.group(1), m.group(2)], [2.0 * len(m.group(1)), len(m.group(2))]))
            continue
        if _NUMERIC.match(w["text"]) and w["text"].count(".") > 1:
            parts = _GLUED_AMOUNT.findall(w["text"])
            if "".join(parts) == w["text"]:
                out.extend(_split_word(w, parts, [float(len(p)) for p in parts]))
                continue
        out.append(w)
    return out


def _drop_malformed_lines(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A line with a malformed amount ("1,0973", "82,"): none of its numbers can be placed safely, so
    they are all dropped (the label stays; a missing number is better than a wrong one)."""
    bad = [w for w in words if _NUMERIC.match(w["text"]) and not _WELL_FORMED.match(w["text"])]
    if not bad:
        return words

    def on_bad_line(w: dict[str, Any]) -> bool:
        return any(
            abs((b["top"] + b["bottom"]) - (w["top"] + w["bottom"])) / 2 < 0.45 * b["size"] for b in bad
        )

    return [w for w in words if not (any(ch.isdigit() for ch in w["text"]) and on_bad_line(w))]


def _words(runs: list[list[Any]]) -> list[dict[str, Any]]:
    """Recognised runs as pdfplumber words in points, amounts mended (see above).

    The detector pads a box by an amount that grows with its length, so its top and bottom wander by
    a point or two; the centre does not. Words get a glyph height of box / BOX_PER_GLYPH around the
    centre, which puts a short number and a long label of one table row on the same top, and lose the
    padding at their sides, so the gap between two runs is the gap between their glyphs (two amounts of
    tight columns stay apart).
    """
    scale = 72 / DPI
    words = []
    for (x0, top, x1, bottom), text, score in runs:
        text = _clean_text(text)
        if not text or score < MIN_SCORE:
            continue
        centre = (top + bottom) / 2 * scale
        size = (bottom - top) * scale / BOX_PER_GLYPH
        pad = min(
            (bottom - top) * scale / 2 - size / 2, (x1 - x0) * scale / 4
        )  # the box's padding, each side
        words.append(
            {
                "text": text,
                "x0": round(x0 * scale + pad, 2),
                "x1": round(x1 * scale - pad, 2),
                "top": round(centre - size / 2, 2),
                "bottom": round(centre + size / 2, 2),
                "size": round(size, 2),
            }
        )
    words = _drop_malformed_lines(_split_amounts(_merge_fragments(words)))
    return sorted(words, key=lambda w: (w["top"], w["x0"]))


def _cache_read(key: str) -> list[list[Any]] | None:
    path = ocr_cache_dir() / key[:2] / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("engine") != ENGINE_ID
        or not isinstance(data.get("runs"), list)
    ):
        return None
    return data["runs"]


def _cache_write(key: str, runs: list[list[Any]]) -> None:
    folder = ocr_cache_dir() / key[:2]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"engine": ENGINE_ID, "runs": runs}, fh, ensure_ascii=False)
        os.replace(tmp, folder / f"{key}.json")  # atomic: a reader never sees half a result
    except OSError:
        pass  # a read-only cache only costs time


def _ocr_one(args: tuple[str, int, int]) -> tuple[int, list[list[Any]]]:
    """Render, recognise and cache one page (runs in a worker process)."""
    import pypdfium2

    path, page_no, threads = args
    pdf = pypdfium2.PdfDocument(path)
    try:
        image = _render(pdf, page_no)
    finally:
        pdf.close()
    runs = _recognise(image, threads)
    _cache_write(_image_key(image), runs)
    return page_no, runs


def ocr_pdf_pages(path: Path, pages: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Words of each listed 1-based page of the PDF at ``path`` (an empty list: OCR found nothing).

    Cached pages are read from the cache; the others are recognised, on all cores when there are
    several. Raise OcrUnavailable when the engine is missing and a page needs it.
    """
    import pypdfium2

    out: dict[int, list[list[Any]]] = {}
    todo: list[int] = []
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        for page_no in pages:
            cached = _cache_read(_image_key(_render(pdf, page_no)))
            if cached is None:
                todo.append(page_no)
            else:
                out[page_no] = cached
    finally:
        pdf.close()
    if todo:
        out.update(_run(path, todo))
    return {n: _words(out[n]) for n in sorted(out)}


def _run(path: Path, todo: list[int]) -> list[tuple[int, list[list[Any]]]]:
    """Recognise the pages ``todo`` (not in the cache), on all cores when there are several."""
    if not ocr_available():
        raise OcrUnavailable("OCR engine not installed (pip install rapidocr-onnxruntime)")
    cores = os.cpu_count() or 1
    workers = min(cores, len(todo))
    if workers < 2:
        return [_ocr_one((str(path), page_no, cores)) for page_no in todo]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_ocr_one, [(str(path), n, 1) for n in todo]))
