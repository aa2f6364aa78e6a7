"""The Footer, greyed in place."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, KeyGroup

Key = tuple[str, str, str, bool]  # key, action, description, enabled


class KeyFooter(Footer):
    """Textual's Footer builds its keys' widgets again whenever the bindings may have changed:
    each focus change, and each cursor move onto another kind of row. When the same keys show
    and only which of them apply changed, this greys them in place, since a rebuild lays out
    the whole screen again."""

    def bindings_changed(self, screen: Screen[object]) -> None:
        widgets = list(self.query(FooterKey))
        keys = self._keys(screen)
        same = (
            self._bindings_ready
            and self.is_attached
            and screen is self.screen
            and not self.query(KeyGroup)
            and [(w.key, w.action, w.description) for w in widgets] == [key[:3] for key in keys]
        )
        if not same:
            super().bindings_changed(screen)
            return
        for widget, (*_, enabled) in zip(widgets, keys, strict=True):
            widget._disabled = not enabled  # what a click on it checks
            widget.set_class(not enabled, "-disabled")

    def _keys(self, screen: Screen[object]) -> list[Key]:
        """What Footer.compose would show, in its order: the first shown binding of each
        action, then the command palette's."""
        first: dict[str, Key] = {}
        for _, binding, enabled, _ in screen.active_bindings.values():
            if binding.show:
                key = (binding.key, binding.action, binding.description, enabled)
                first.setdefault(binding.action, key)
        keys = list(first.values())
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            _, binding, enabled, _ = palette
            keys.append((binding.key, binding.action, binding.description, enabled))
        return keys
