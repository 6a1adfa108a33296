"""The console's theme setting, checked against Textual's themes before a screen opens.

Here, not in planner_tui/settings.py: the settings stay headless, and only what runs or checks a console
imports Textual."""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES

from planner_tui.settings import Settings


def check_theme(settings: Settings) -> None:
    """Raise SettingsError when the theme is not one Textual knows."""
    if settings.theme is not None and settings.theme not in BUILTIN_THEMES:
        themes = ", ".join(sorted(BUILTIN_THEMES))
        raise settings.rejected("theme", f"unknown Textual theme (the themes are {themes})")
