"""`python -m baiyin_cli` runs `grid`."""

from baiyin_cli.cli.main import run

run()
