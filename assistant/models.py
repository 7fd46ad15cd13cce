"""Records that cross module boundaries: Document lines, Report metadata, Table, Fact, Chunk, Query,
Answer, Citation. Money is always Decimal, never float."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ReportKind = Literal["预算", "决算"]
# 部门: a 部门预算/决算 (the department with its subordinate units); 单位: a 单位预算/决算 (the organ alone).
ReportScope = Literal["部门", "单位"]
AnswerKind = Literal["lookup", "computed", "retrieval", "clarify", "not_found"]


class Record(BaseModel):
    """Base: immutable-by-convention records that reject unknown fields."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Cell(Record):
    """One cell of a table row as laid out on a PDF/DOCX page (x positions in points; 0 when unknown)."""

    text: str
    x0: float = 0.0
    x1: float = 0.0


class SourceLine(Record):
    """One line of a document after normalisation, with its provenance.

    ``line`` is the 1-based line number in the stored text of the file (for PDFs: in the text
    extracted page after page); ``page`` is the 1-based PDF page or None. ``text`` is normalised for
    matching (width folding, doubled characters collapsed); ``raw`` is what the file shows, kept for
    display. ``cells`` holds the cells of a table row when the layout is known (PDF words grouped by
    gaps, DOCX table cells); text exports have none and are split by the row parser.
    """

    line: int
    page: int | None = None
    text: str
    raw: str
    cells: list[Cell] | None = None
    ocr: bool = False  # read by OCR from a page image (its numbers are flagged ``ocr``)


class Document(Record):
    """A loaded corpus file: its lines and what went wrong while loading."""

    doc: str  # file name, as QA files refer to it
    path: str
    sha256: str
    filetype: Literal["txt", "pdf", "docx", "html", "xlsx", "xls"]
    encoding: str | None = None
    lines: list[SourceLine]
    warnings: list[str] = Field(default_factory=list)


class Report(Record):
    """Metadata of one report, found from its content."""

    doc: str
    path: str
    sha256: str
    department: str | None = None
    aliases: list[str] = Field(default_factory=list)
    year: int | None = None
    kind: ReportKind | None = None
    title: str | None = None
    scope: ReportScope = "部门"
    copies: list[str] = Field(default_factory=list)  # other file names with byte-identical content
    warnings: list[str] = Field(default_factory=list)


class TableRow(Record):
    """A parsed row: label, classification code, and the numbers by column (None = empty cell)."""

    label: str
    code: str | None = None
    values: list[Decimal | None]
    columns: list[str] = Field(default_factory=list)  # column name of each value (its side of the table)
    line: int
    line_end: int | None = None
    page: int | None = None
    snippet: str
    column_uncertain: bool = False


class Table(Record):
    """A standard table found in a report (公开01表 …), its unit and columns."""

    doc: str
    table_id: str  # e.g. "公开01表" or a name derived from the title
    schema_name: str | None = None  # the standard table it was recognised as (schemas.py)
    title: str
    unit: str | None = None  # 元 / 万元
    columns: list[str] = Field(default_factory=list)
    rows: list[TableRow] = Field(default_factory=list)
    line_start: int
    line_end: int
    failed_checks: list[str] = Field(default_factory=list)
    # Its cells are only some of the numbers on its lines (绩效指标 rows read for their 指标值 alone):
    # the other numbers there stay numeric mentions.
    partial: bool = False


class Fact(Record):
    """One number from a report, with everything needed to cite it."""

    doc: str
    department: str | None = None
    year: int | None = None
    kind: ReportKind | None = None
    metric: str  # canonical metric name (lexicon) or the row label when the lexicon has none
    label: str  # as written in the report
    code: str | None = None  # classification code (201, 2010301, 30101 …)
    qualifier: str | None = None  # 预算数 / 决算数 / 基本支出 / 项目支出 / 比上年增减 …
    value: Decimal
    unit: str  # 元, 万元, %, 人, 辆, 批次, 人次 …
    value_yuan: Decimal | None = None  # money normalised to 元
    source: Literal["table", "narrative"]
    table_id: str | None = None
    line: int
    line_end: int | None = None
    page: int | None = None
    snippet: str
    flags: list[str] = Field(default_factory=list)  # column_uncertain, conflict, check_failed


class Mention(Record):
    """A number written in a report that no fact holds (a sentence's 救助人次, 参保人数, 资助标准 …): the
    value, its unit as written and the phrase it quantifies, with its line (parse/mentions.py)."""

    doc: str
    line: int
    page: int | None = None
    value: Decimal
    unit: str  # as written: 人, 人次, 个, 台, 辆, %, 元, 万元, 亿元 …
    phrase: str  # the words before the number in its clause: 特困人员参保缴费资助标准
    snippet: str  # the sentence (or table line) it was read from
    bound: str | None = None  # ≥ ≤ > < 约 … written before the number: not an exact figure


class Chunk(Record):
    """A passage of a report for retrieval, with its section path and line span."""

    doc: str
    chunk_id: int
    text: str
    section: str = ""
    line_start: int
    line_end: int
    page: int | None = None
    department: str | None = None
    year: int | None = None
    kind: ReportKind | None = None


class Query(Record):
    """A question understood: what to look up and what to do with it."""

    text: str
    departments: list[str] = Field(default_factory=list)  # canonical department names
    year: int | None = None
    kind: ReportKind | None = None
    metric: str | None = None
    metric_terms: list[str] = Field(default_factory=list)
    qualifier: str | None = None  # 预算数 / 决算数 / 调整预算数
    column: str | None = None  # a table column named in the question: 基本支出, 项目支出, 人员经费 …
    operation: Literal[
        "value",
        "change",
        "share",
        "rate",
        "sum",
        "difference",
        "compare",
        "rank_max",
        "rank_min",
        "list",
        "text",
    ] = "value"
    mentions_other: bool = False  # named a department/year the corpus does not have
    relative_year: str | None = None  # 去年 / 今年 …: resolved against the reports' own year by the engine
    # The question's content words no slot and no function word explains ("特困人员缴费资助标准"): a
    # number is stated with confidence only when this is empty.
    residue: list[str] = Field(default_factory=list)
    expected_unit: str | None = None  # 多少人 → 人, 多少钱 → 元, 百分之几 → %, 几个 → 个 …
    scope: ReportScope | None = None  # 单位 (单位预算, 本级) or 部门 when the question names one
    clarify_departments: list[str] = Field(default_factory=list)  # a name two departments tie for: ask which


class LineHit(Record):
    """A report line found for a question's unexplained words: where it is, how well it matched,
    the numbers of the asked unit it states and the numbers it states without a unit."""

    doc: str
    line: int
    line_end: int
    page: int | None = None
    text: str
    score: float  # share of the question's unexplained words the line holds
    context: float = 1.0  # share of the question's metric words it holds
    numbers: list[tuple[str, str | None]] = Field(default_factory=list)
    bare: list[str] = Field(default_factory=list)
    phrase: str | None = None  # a numeric mention's phrase: the words its one number quantifies
    bound: str | None = None  # ≥ ≤ 约 … written before a mention's number: a limit, not a figure


class Citation(Record):
    doc: str
    line_start: int
    line_end: int
    page: int | None = None
    snippet: str
    alt_docs: list[str] = Field(default_factory=list)  # byte-identical copies of ``doc`` (same report)


class ValueCitation(Record):
    doc: str
    line: int
    page: int | None = None
    snippet: str
    alt_docs: list[str] = Field(default_factory=list)  # byte-identical copies of ``doc`` (same report)


class AnswerValue(Record):
    value: str  # decimal string, as the report states it
    unit: str
    metric: str
    qualifier: str | None = None
    department: str | None = None
    year: int | None = None
    citation: ValueCitation
    flags: list[str] = Field(default_factory=list)


class Answer(Record):
    """What the assistant says: the shape of ../shared/qa/FORMAT.md's answer object."""

    question: str
    kind: AnswerKind
    text: str
    values: list[AnswerValue] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    derivation: list[str] = Field(default_factory=list)  # how a computed value was obtained

    @field_validator("citations")
    @classmethod
    def _cite_each_passage_once(cls, citations: list[Citation]) -> list[Citation]:
        # Two inputs of one computation often stand on the same lines: the passage is cited once.
        seen: set[tuple[str, int, int, str]] = set()
        unique = []
        for c in citations:
            key = (c.doc, c.line_start, c.line_end, c.snippet)
            if key not in seen:
                seen.add(key)
                unique.append(c)
        return unique
