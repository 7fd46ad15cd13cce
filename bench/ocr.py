"""OCR figures: the two offline engines on rendered pages of the corpus PDFs, and the indexing time of
a 30-page scanned report.

    python -m bench.ocr engines [--every N]   # RapidOCR vs tesseract: characters and numbers recovered, pages/s
    python -m bench.ocr index                 # a 30-page image-only PDF: load+parse cold (no cache) and warm

The text layer of a page is the loader's own lines of it (words grouped into cells, as indexed).
Characters: the multiset of its non-space characters (normalised) found in the OCR text. Numbers: the
multiset of its numeric tokens (1,234.56 → 1234.56; two or more characters) found among the OCR's. Both engines read the same pages; pages/s is wall time for render + recognise
in one process with the engine's default threads (2 cores). Nothing here is a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PDFS = sorted((ROOT / "corpus").glob("*.pdf"))
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _chars(text: str) -> Counter[str]:
    from assistant.ingest.normalize import normalize_text

    return Counter(ch for ch in normalize_text(text) if not ch.isspace())


def _numbers(text: str) -> Counter[str]:
    return Counter(t for t in (m.replace(",", "") for m in NUMBER.findall(text)) if len(t) >= 2)


def _recall(ref: Counter[str], got: Counter[str]) -> tuple[int, int]:
    return sum((ref & got).values()), sum(ref.values())


def _rapidocr(image) -> str:  # noqa: ANN001
    import numpy as np

    from assistant.ingest.ocr import _engine

    result, _ = _engine(os.cpu_count() or 1)(np.asarray(image))
    return "\n".join(str(r[1]) for r in result or [])


def _tesseract(image) -> str:  # noqa: ANN001
    with tempfile.NamedTemporaryFile(suffix=".png") as fh:
        image.save(fh.name)
        out = subprocess.run(
            ["tesseract", fh.name, "stdout", "-l", "chi_sim"], capture_output=True, check=True
        )
    return out.stdout.decode("utf-8", "replace")


def engines(every: int) -> None:
    import pypdfium2

    from assistant.ingest.loaders import load_document

    runs = [("rapidocr-onnxruntime (PP-OCRv4), 200 dpi", _rapidocr, 200)]
    if shutil.which("tesseract"):
        runs.append(("tesseract 5 chi_sim (Debian), 300 dpi", _tesseract, 300))
    else:
        print(
            "tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim): measured RapidOCR only"
        )
    pages = []
    for pdf_path in PDFS:
        doc = load_document(pdf_path)
        for page_no in range(1, max(sl.page or 1 for sl in doc.lines) + 1, every):
            layer = "\n".join(sl.raw.replace("\t", " ") for sl in doc.lines if sl.page == page_no)
            pages.append((pdf_path, page_no - 1, layer))
    print(f"{len(pages)} pages (every {every}th of {', '.join(p.name for p in PDFS)})")
    print("| engine | characters recovered | numbers recovered | pages/s |")
    print("|---|---|---|---|")
    for name, read, dpi in runs:
        got_c = ref_c = got_n = ref_n = 0
        start = time.perf_counter()
        for pdf_path, i, layer in pages:
            doc = pypdfium2.PdfDocument(str(pdf_path))
            image = doc[i].render(scale=dpi / 72).to_pil().convert("RGB")
            doc.close()
            text = read(image)
            c, rc = _recall(_chars(layer), _chars(text))
            n, rn = _recall(_numbers(layer), _numbers(text))
            got_c, ref_c, got_n, ref_n = got_c + c, ref_c + rc, got_n + n, ref_n + rn
        secs = time.perf_counter() - start
        print(
            f"| {name} | {got_c / ref_c:.1%} ({got_c}/{ref_c}) | {got_n / ref_n:.1%} ({got_n}/{ref_n}) | "
            f"{len(pages) / secs:.3f} |",
            flush=True,
        )


def scanned_pdf(out: Path, n_pages: int = 30, dpi: int = 200) -> Path:
    """An image-only PDF of ``n_pages`` pages rendered from the corpus PDFs (no text layer)."""
    import pypdfium2

    images: list[Image.Image] = []
    for pdf_path in PDFS:
        doc = pypdfium2.PdfDocument(str(pdf_path))
        for i in range(len(doc)):
            if len(images) < n_pages:
                images.append(doc[i].render(scale=dpi / 72).to_pil().convert("L"))
        doc.close()
    images[0].save(out, save_all=True, append_images=images[1:], resolution=dpi)
    return out


def index(n_pages: int) -> None:
    from assistant.ingest.loaders import load_document
    from assistant.parse.facts import parse_document

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ASSISTANT_OCR_CACHE_DIR"] = str(Path(tmp) / "ocr-cache")
        pdf = scanned_pdf(Path(tmp) / "scanned.pdf", n_pages)
        print(
            f"scanned report: {n_pages} pages, {pdf.stat().st_size / 2**20:.1f} MiB, {os.cpu_count()} cores"
        )
        for label in ("cold (nothing cached: OCR on all cores)", "warm (OCR cache by page-image hash)"):
            start = time.perf_counter()
            parsed = parse_document(load_document(pdf))
            secs = time.perf_counter() - start
            print(
                f"{label}: {secs:.1f} s load + parse ({n_pages / secs:.2f} pages/s), "
                f"{len(parsed.tables)} tables, {len(parsed.facts)} facts",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    e = sub.add_parser("engines")
    e.add_argument("--every", type=int, default=3, help="every Nth page of each PDF (default 3)")
    i = sub.add_parser("index")
    i.add_argument("--pages", type=int, default=30)
    args = ap.parse_args(argv)
    if args.what == "engines":
        engines(args.every)
    else:
        index(args.pages)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
