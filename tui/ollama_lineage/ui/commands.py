"""ctrl+p: every action in the table, found by its name or its help text."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .actions import ACTIONS


class ActionsProvider(Provider):
    def _commands(self) -> list[tuple[str, str, str]]:
        return [
            (f"{a.description} ({a.display_keys})", a.help, a.id)
            for a in ACTIONS
            if a.scope == "app" and a.id != "command_palette"
        ]

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = max(matcher.match(title), matcher.match(help_text))
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.app.run_action, action),
                    help=help_text,
                )
