"""The one table of actions: bindings, Footer, help screen and command palette all read it.

Keeping them in one place means a key shown in the help is the key that works, and every
action the user can bind can also be found by name in ctrl+p.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from ..core.lineage import Kind
from ..core.states import State

BASE, DERIVATIVE, BACKUP, MISSING = Kind.BASE, Kind.DERIVATIVE, Kind.BACKUP, Kind.MISSING


@dataclass(frozen=True)
class Action:
    id: str
    keys: str
    description: str
    help: str
    footer: bool = False
    scope: str = "app"  # "app" actions are global; "tree" ones act on the focused tree
    kinds: tuple[Kind, ...] = ()  # the rows it works on (greyed out elsewhere); () is any
    # Handled as it arrives, before the keys queued after it go anywhere: a key that opens
    # an input hands it the rest of a burst.
    priority: bool = False

    @property
    def display_keys(self) -> str:
        names = {"slash": "/", "question_mark": "?", "exclamation_mark": "!", "escape": "esc"}
        return " / ".join(names.get(k, k) for k in self.keys.split(","))

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.id,
            self.description,
            show=self.footer,
            id=self.id,
            tooltip=self.help,
            priority=self.priority,
        )


NEXT_HELP = "jump to the next model that needs attention: " + ", ".join(
    s.word for s in State if s.needs_attention
)
REBUILD_ALL_HELP = (
    "rebuild every stale derivative, parents first (not pinned ones): untick any to skip"
)
PIN_HELP = "pin or unpin: R and autopilot leave the model and what is built on it alone"
CHECKS_HELP = "run the model's checks on its newest backup, then on it, each loaded alone"

MATRIX_HELP = (
    "each derivative by name × each server: its state and build there, missing, or differs"
    " (another recipe of that name)"
)

ACTIONS: tuple[Action, ...] = (
    Action("cursor_down", "j,down", "Down", "move to the next model", scope="tree"),
    Action("cursor_up", "k,up", "Up", "move to the previous model", scope="tree"),
    Action("collapse", "h,left", "Collapse", "fold the model's derivatives", scope="tree"),
    Action("expand", "l,right", "Expand", "unfold the model's derivatives", scope="tree"),
    Action("select_cursor", "enter", "Open", "fold or unfold, and show details", scope="tree"),
    Action("scroll_home", "g,home", "Top", "move to the first model", scope="tree"),
    Action("scroll_end", "G,end", "Bottom", "move to the last model", scope="tree"),
    Action("page_up", "pageup", "Page up", "move up a screenful", scope="tree"),
    Action("page_down", "pagedown", "Page down", "move down a screenful", scope="tree"),
    Action("next_attention", "exclamation_mark", "Next to fix", NEXT_HELP, True),
    Action("fold_all", "H", "Fold all", "fold every base: one row per base"),
    Action("unfold_all", "L", "Unfold all", "unfold every model"),
    Action(
        "rebuild",
        "r",
        "Rebuild",
        "rebuild the derivative from its current base",
        True,
        kinds=(DERIVATIVE,),
    ),
    Action("rebuild_all", "R", "All stale", REBUILD_ALL_HELP, True),
    Action("diff", "d", "Diff", "Modelfile diff: the model now vs after a rebuild", True),
    Action("toggle_diff", "v", "vs base", "diff this model against its base instead"),
    Action("next_change", "n", "Next change", "jump to the next change in the diff"),
    Action("previous_change", "N", "Previous change", "jump to the previous change in the diff"),
    Action("overview", "o", "Overview", "show the overview tab"),
    Action("params", "a", "Parameters", "show the parameters tab"),
    Action("history", "y", "History", "show the history tab"),
    Action("zoom", "z", "Zoom", "give the detail pane the whole screen (and back)"),
    Action("pull", "p", "Pull", "pull the newest version of a base model", kinds=(BASE, MISSING)),
    Action(
        "compare",
        "c",
        "Compare",
        "same prompt to the backup and the rebuilt model",
        kinds=(DERIVATIVE, BACKUP),
    ),
    Action(
        "rollback",
        "b",
        "Roll back",
        "restore the model from its newest backup",
        kinds=(DERIVATIVE, BACKUP),
    ),
    Action("delete_backup", "x", "Delete backup", "delete the selected backup", kinds=(BACKUP,)),
    Action(
        "edit",
        "e",
        "Edit recipe",
        "edit the recipe in $EDITOR (nothing is sent until r)",
        kinds=(DERIVATIVE,),
    ),
    Action(
        "track", "t", "Track", "adopt an untracked model: pick its base", kinds=(BASE, DERIVATIVE)
    ),
    Action("pin", "P", "Pin", PIN_HELP, kinds=(BASE, DERIVATIVE)),
    Action("run_checks", "C", "Checks", CHECKS_HELP, kinds=(BASE, DERIVATIVE, BACKUP)),
    Action("disk", "D", "Disk", "what each model, the backups and orphans hold on disk"),
    Action("matrix", "m", "Servers", MATRIX_HELP),
    Action(
        "filter",
        "slash",
        "Filter",
        "filter by name or state word (stale, update…)",
        True,
        priority=True,
    ),
    Action("clear_filter", "escape", "Clear filter", "clear the filter (or leave zoom)"),
    Action("help", "question_mark", "Help", "list every key", True),
    Action("command_palette", "ctrl+p", "Commands", "search every action by name"),
    Action("quit", "ctrl+q,q", "Quit", "leave the app", True),
)


KINDS = {a.id: a.kinds for a in ACTIONS if a.kinds}


def bindings(scope: str) -> list[BindingType]:
    return [a.binding() for a in ACTIONS if a.scope == scope]


def help_markdown() -> str:
    """The help screen's table, generated so it can never disagree with the bindings."""
    rows = "\n".join(f"| `{a.display_keys}` | {a.description} | {a.help} |" for a in ACTIONS)
    return (
        "# ollama-lineage keys\n\n"
        "| Key | Action | What it does |\n|---|---|---|\n"
        f"{rows}\n\n"
        "The tree keeps the keys whatever tab is open or zoomed: `j` `k` move to another model "
        "and the detail follows. The filter matches names and state words (`/stale`, "
        "`/update`). In dialogs `enter` confirms, `esc` cancels and `space` ticks.\n\n"
        "## States\n\n" + " · ".join(f"{s.symbol} {s.word}" for s in State) + "\n"
    )
