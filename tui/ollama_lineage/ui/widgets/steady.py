"""Redraws for text that changes at every cursor move but seldom changes height.

A layout pass arranges every widget on the screen again, which costs more than the cursor
move that changed the text; Textual's Static asks for one at each update. These ask only
when the widget's height at its width would change, or when it shows at all.
"""

from __future__ import annotations

from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Static


def repaint(widget: Widget) -> None:
    """Redraw ``widget``; lay the screen out again only if its height would move."""
    if not _shown(widget):
        widget.refresh()  # the pass that shows it (a tab switched to) measures it then
        return
    region = widget.content_region
    widget.refresh(layout=not region.width or _height(widget) != region.height)


def update(static: Static, content: VisualType) -> None:
    """The old text and the new measured at today's width: a layout only when they differ
    (the widget's own max-height may clip both alike). The same text again does nothing:
    callers ask every second, or at every cursor move."""
    if static.content == content:
        return
    if not _shown(static):
        static.update(content, layout=False)  # measured by the pass that shows it
        return
    before = _height(static)
    static.update(content, layout=False)
    if not static.content_region.width or _height(static) != before:
        static.refresh(layout=True)


def _height(widget: Widget) -> int:
    region = widget.content_region
    return widget.get_content_height(region.size, widget.app.size, region.width)


def _shown(widget: Widget) -> bool:
    """Displayed, and so are all its containers (an inactive tab's pane is not)."""
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))
