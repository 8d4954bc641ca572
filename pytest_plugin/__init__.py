"""pytest plugin for client authors (fixtures, markers, `--crmock-*` options): arrives with its own issue.

Kept as an empty package now so the wheel layout, the layering test and ARCHITECTURE.md already name it.
"""
