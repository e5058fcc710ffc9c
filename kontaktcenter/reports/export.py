"""The service report as files: CSV (RFC 4180, UTF-8 with BOM so Excel reads å, ä, ö) and XLSX
(XlsxWriter: real number, percentage and date cells). Both hold :func:`report.summary`'s rows,
the numbers the page and the API show."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import xlsxwriter

from kontaktcenter.reports.report import ServiceReport, summary

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ("från", "till", "avsnitt", "mått", "värde", "enhet")


def filename(report: ServiceReport, extension: str) -> str:
    period = report.filters.period
    return f"servicerapport-{period.first.isoformat()}-{period.last.isoformat()}.{extension}"


def _filters_text(report: ServiceReport) -> str:
    f = report.filters
    parts = []
    if f.department_id is not None:
        parts.append(f"förvaltning={f.department_id}")
    if f.case_type_id is not None:
        parts.append(f"ärendetyp={f.case_type_id}")
    if f.channel is not None:
        parts.append(f"kanal={f.channel.value}")
    return ", ".join(parts) or "inga"


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """RFC 4180 CSV in UTF-8 with a BOM (so Excel reads å, ä, ö)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_csv(report: ServiceReport) -> bytes:
    period = report.filters.period
    first, last = period.first.isoformat(), period.last.isoformat()
    return csv_bytes(
        HEADER,
        (
            (first, last, section, measure, value, unit)
            for section, measure, value, unit in summary(report)
        ),
    )


def as_xlsx(report: ServiceReport) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Servicerapport")
    bold = book.add_format({"bold": True})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    percent = book.add_format({"num_format": "0.0%"})
    number = book.add_format({"num_format": "0.0"})
    period = report.filters.period
    sheet.write(0, 0, "Servicerapport", bold)
    sheet.write(1, 0, "Från")
    sheet.write_datetime(1, 1, _midnight(period.first), day)
    sheet.write(2, 0, "Till")
    sheet.write_datetime(2, 1, _midnight(period.last), day)
    sheet.write(3, 0, "Filter")
    sheet.write(3, 1, _filters_text(report))
    sheet.write_row(5, 0, ("avsnitt", "mått", "värde", "enhet"), bold)
    for row, (section, measure, value, unit) in enumerate(summary(report), start=6):
        sheet.write_string(row, 0, section)
        sheet.write_string(row, 1, measure)  # a queue's name in it is text, never a formula
        if value is None:
            sheet.write_blank(row, 2, None)
        elif unit == "%":
            sheet.write_number(row, 2, value / 100, percent)
        elif isinstance(value, float):
            sheet.write_number(row, 2, value, number)
        else:
            sheet.write_number(row, 2, value)
        sheet.write(row, 3, unit)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 3, 12)
    book.close()
    return buffer.getvalue()


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)
