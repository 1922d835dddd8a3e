"""The Textual triage app (`grid triage`). Imports nothing: `baiyin_cli.tui.app` is loaded only when the
command runs, so the rest of grid never pays for Textual."""
