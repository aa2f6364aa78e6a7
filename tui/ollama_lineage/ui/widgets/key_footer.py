"""The Footer, greyed in place."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, KeyGroup


class KeyFooter(Footer):
    """Textual's Footer builds its keys' widgets again whenever the bindings may have changed:
    each focus change, and each cursor move onto another kind of row. When the same keys show
    and only which of them apply changed, this greys them in place, since a rebuild lays out
    the whole screen again.

    ``keep_keys``: keys that stop applying for a while (the tree's, while the filter field
    has the keys) stay where they are, greyed, rather than leave and come back.
    """

    def __init__(self, *, keep_keys: bool = False, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self.keep_keys = keep_keys

    def bindings_changed(self, screen: Screen[object]) -> None:
        widgets = list(self.query(FooterKey))
        shown = [(w.action, w.description) for w in widgets]
        keys = {(b.action, b.description): (b, enabled) for b, enabled in self._keys(screen)}
        if self.keep_keys:
            same = set(keys) <= set(shown) and [k for k in shown if k in keys] == list(keys)
        else:
            same = shown == list(keys)
        here = self._bindings_ready and self.is_attached and screen is self.screen
        if not (same and here and not self.query(KeyGroup)):
            super().bindings_changed(screen)
            return
        for widget, ident in zip(widgets, shown, strict=True):
            binding, enabled = keys.get(ident, (None, False))
            if binding is not None and binding.key != widget.key:  # ctrl+q while q is typed
                widget.key, widget.key_display = binding.key, self.app.get_key_display(binding)
                widget.refresh(layout=True)
            widget._disabled = not enabled  # what a click on it checks
            widget.set_class(not enabled, "-disabled")

    def _keys(self, screen: Screen[object]) -> list[tuple[Binding, bool]]:
        """What Footer.compose would show, in its order: the first shown binding of each
        action, then the command palette's."""
        first: dict[str, tuple[Binding, bool]] = {}
        for _, binding, enabled, _ in screen.active_bindings.values():
            if binding.show:
                first.setdefault(binding.action, (binding, enabled))
        keys = list(first.values())
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            keys.append((palette.binding, palette.enabled))
        return keys
