"""What screens tell the app: the app only redraws and says things; the screens do the work.

``ModelsChanged`` and ``Redraw`` are coalesced (``can_replace``, as toolong does): a burst of
progress lines or streamed tokens costs one repaint, not one per line or token.
"""

from __future__ import annotations

from textual.message import Message


class ModelsChanged(Message):
    """A flow changed models on the server: redraw the tree (and reload the detail)."""

    def __init__(self, reload_detail: bool = True) -> None:
        super().__init__()
        self.reload_detail = reload_detail

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ModelsChanged) and (
            message.reload_detail or not self.reload_detail
        )


class FlowFailed(Message):
    """A flow failed: the app says so (unless its dialog does) and keeps it in the History."""

    def __init__(self, flow: str, name: str | None, error: BaseException, quiet: bool) -> None:
        super().__init__()
        self.flow = flow
        self.name = name
        self.error = error
        self.quiet = quiet


class Redraw(Message):
    """A screen's own note to repaint ``part`` from its state; one pending per part."""

    bubble = False

    def __init__(self, part: str) -> None:
        super().__init__()
        self.part = part

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Redraw) and message.part == self.part
