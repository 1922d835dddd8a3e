"""The `grid` command line: one module per noun, each exposing `build() -> typer.Typer`.

Command modules import only typer and light helpers at module level; services, models,
SQLAlchemy and rich tables are imported inside command bodies so `grid --help` stays fast.
Help texts are picked by language when the tree is built (`main.make_app`).
"""
