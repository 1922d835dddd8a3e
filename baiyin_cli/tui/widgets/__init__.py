"""Widgets of the triage app: the virtual queue, the summary, the key bar, the workers panel."""
