"""grid: grid-based community governance (网格化基层治理) from the terminal.

This package imports nothing at load time; `grid --help` must stay fast.
"""

__version__ = "0.1.0"
