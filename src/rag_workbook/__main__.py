"""`python -m rag_workbook` runs the command line."""

from rag_workbook.cli import script

if __name__ == "__main__":
    script()
