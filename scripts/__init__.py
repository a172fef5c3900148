"""Book tooling: building, exporting, timing and checking the workbook's chapters.

Not part of ``trustworthy_lib`` (learners never import it). The modules are run as
scripts (``python scripts/build_book.py``, ``python -m scripts.check_claims``) and
imported by the tests and the instructor notes as ``scripts.<module>`` from the
repository root.
"""
