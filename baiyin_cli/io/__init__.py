"""Importers and exporters: CSV (UTF-8/GBK/GB18030), XLSX, JSON Lines, Open311, HTML/Markdown."""
