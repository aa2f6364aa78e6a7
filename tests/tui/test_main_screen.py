"""What a user sees on the main screen, and the keys that move around it."""

from __future__ import annotations

import re

from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Static, TabbedContent

from ollama_lineage.core.diff import side_by_side
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services.detail import HISTORY_PAGE
from ollama_lineage.ui.actions import ACTIONS, help_markdown
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.help import HelpScreen
from ollama_lineage.ui.widgets.diff_view import DiffView
from ollama_lineage.ui.widgets.lineage_tree import LineageTree
from ollama_lineage.ui.widgets.status_line import StatusLine

from .conftest import AppFactory, cursor, names, ready, row, rows, select, wait_for


def shown(app: LineageApp) -> str | None:
    detail = app.main.detail.detail
    return detail.node.name if detail else None


def status(app: LineageApp) -> str:
    return str(app.main.query_one(StatusLine).render())


async def test_tree_shows_lineage_with_state_words(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        assert "fresh" in row(app, "qwq:latest_20K")
        assert "fresh" in row(app, "qwq:latest_20K-coder")
        assert "stale" in row(app, "llama3.2:latest-mario")
        assert "orphaned" in row(app, "mistral:7b-long")
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        order = names(app)
        assert order.index("qwq:latest") < order.index("qwq:latest_20K")
        assert order.index("qwq:latest_20K") < order.index("qwq:latest_20K-coder")


async def test_tree_columns_line_up_and_words_are_whole_at_80(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        fake.copy("qwq:latest_20K", "qwq:latest_20K.bak-20250101-120000")  # a long backup name
        await wait_for(pilot, lambda: "backup" in " ".join(rows(app)))
        tree = app.main.lineage
        starts = set()
        for line, name in enumerate(names(app)):
            model = tree.snapshot.nodes[name]
            full = tree.line_text(line).rstrip()  # guides, fold icon and label, as drawn
            assert len(full) <= tree.scrollable_content_region.width, full
            assert model.name in full and model.state.word in full
            starts.add(full.index(model.state.word, full.index(model.name)))
        assert len(starts) == 1, "every state word starts in the same column"


async def test_keys_move_fold_and_open_the_diff(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest")
        before = len(rows(app))
        await pilot.press("h")
        assert len(rows(app)) == before - 2
        await pilot.press("l")
        assert len(rows(app)) == before
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d")
        assert app.main.detail.query_one(TabbedContent).active == "diff"
        view = app.main.detail.query_one(DiffView)
        await wait_for(pilot, lambda: "# weights" in view.text)


async def test_diff_shows_hunks_with_every_changed_value_whole_at_80x24(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"))
        await select(pilot, "qwq:latest_20K")
        await pilot.press("d")
        view = app.main.detail.query_one(DiffView)
        await wait_for(pilot, lambda: "unchanged lines" in view.text)
        detail = app.main.detail.detail
        assert detail is not None and detail.after is not None
        changed = [r for r in side_by_side(detail.current, detail.after) if r.kind != "same"]
        assert changed
        words = set(view.text.split())
        for diff_row in changed:  # no value is cut: each word of a changed line is shown
            assert set(diff_row.left.split()) <= words, diff_row.left
            assert set(diff_row.right.split()) <= words, diff_row.right
        assert len(view.text.splitlines()) < len(detail.current.splitlines())  # folded
        assert all(len(line) <= view.size.width for line in view.text.splitlines())


async def test_n_and_shift_n_jump_between_changes(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d", "v")
        view = app.main.detail.query_one(DiffView)
        await wait_for(pilot, lambda: view.change_count >= 2 and view.change_lines)
        tops = []
        for _ in range(view.change_count):
            await pilot.press("n")
            await pilot.pause()
            tops.append(view.scroll_offset.y)
        assert tops == sorted(tops) and len(set(tops)) > 1
        assert f"at {view.change_count} of {view.change_count}" in view.position
        await pilot.press("N")
        assert view.current == view.change_count - 2


async def test_the_diff_is_redrawn_on_resize(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(200, 50)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d")
        view = app.main.detail.query_one(DiffView)
        await wait_for(pilot, lambda: "after rebuild" in view.text)
        assert view.side_by_side
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: view.size.width <= 80)
        await wait_for(pilot, lambda: "after rebuild" in view.text)
        assert all(len(line) <= view.size.width for line in view.text.splitlines())
        assert "# weights" in view.text


async def test_below_120_columns_the_detail_stacks_under_the_tree(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        tree, detail = app.main.lineage.region, app.main.detail.region
        assert detail.y >= tree.bottom and detail.width == 80
        await pilot.resize_terminal(140, 40)
        await wait_for(pilot, lambda: app.main.detail.region.x >= app.main.lineage.region.right)


async def test_status_line_says_host_counts_poll_and_filter(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        await wait_for(pilot, lambda: "polled" in status(app))
        text = status(app)
        host = app.settings.host.split("://")[1]
        assert host in text
        assert re.search(r"1 stale\b", text) and "1 orphaned" in text
        assert "1 update available" in text and "fresh" not in text
        await pilot.press("slash", *"stale", "enter")
        count = app.main.query_one("#filter-count", Static)
        await wait_for(pilot, lambda: str(count.render()) == "1 shown · esc clears")
        assert "filter" not in status(app)  # the status line keeps its height: the count is here


async def test_filter_matches_state_words_and_esc_clears_it(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        everything = len(rows(app))
        await pilot.press("slash", *"stale", "enter")
        assert names(app) == ["llama3.2:latest", "llama3.2:latest-mario"]
        await pilot.press("escape")  # on the tree, the filter applied
        assert len(rows(app)) == everything
        await pilot.press("slash", *"update", "enter")
        assert names(app) == ["qwq:latest"]
        await pilot.press("slash", "escape")  # Esc in the open field clears it too
        assert len(rows(app)) == everything
        await pilot.press("slash", *"mario", "enter")
        assert names(app) == ["llama3.2:latest", "llama3.2:latest-mario"]


async def test_the_detail_never_shows_a_model_the_filter_hid(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        await pilot.press("slash", *"mario", "enter")
        await wait_for(pilot, lambda: shown(app) == cursor(app))
        assert shown(app) in ("llama3.2:latest", "llama3.2:latest-mario")
        await pilot.press("slash", *"nosuch", "enter")
        await wait_for(pilot, lambda: shown(app) is None)
        message = app.main.query_one("#tree-message")
        assert message.display and "No model matches “nosuch”" in str(message.render())


async def test_an_empty_server_says_so(make_app: AppFactory, fake_empty: FakeOllama) -> None:
    app = make_app(host=fake_empty.url, registry=fake_empty.registry_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main.polled_at is not None)
        message = app.main.query_one("#tree-message")
        await wait_for(pilot, lambda: message.display)
        assert "No models on" in str(message.render())
        assert "0 models" in status(app)


async def test_next_attention_key_visits_each_model_to_fix_unfolding(
    make_app: AppFactory,
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("H")  # fold everything: the key must unfold to reach them
        assert len(rows(app)) == len(app.main.lineage.snapshot.roots)
        wanted = [n.name for n in app.main.lineage.snapshot.walk() if n.state.needs_attention]
        assert len(wanted) >= 2
        visited = []
        for _ in wanted:
            await pilot.press("exclamation_mark")
            visited.append(cursor(app))
        assert visited == wanted
        await pilot.press("exclamation_mark")
        assert cursor(app) == wanted[0]  # round again
        await wait_for(pilot, lambda: shown(app) == wanted[0])


async def test_fold_all_and_unfold_all(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        everything = len(rows(app))
        await select(pilot, "qwq:latest_20K-coder")
        await pilot.press("H")
        assert names(app) == list(app.main.lineage.snapshot.roots)
        assert cursor(app) == "qwq:latest"  # where the cursor's model went
        await pilot.press("L")
        assert len(rows(app)) == everything


async def test_focus_is_never_lost(make_app: AppFactory) -> None:
    """After zoom, tab switches, a dialog and a resize, j/k still move the cursor."""
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        tree = app.main.lineage

        async def moves() -> None:
            here = tree.cursor_line
            await pilot.press("j")
            await wait_for(pilot, lambda: tree.cursor_line == here + 1)
            await pilot.press("k")
            await wait_for(pilot, lambda: tree.cursor_line == here)
            assert isinstance(app.screen.focused, LineageTree)

        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("z")
        await moves()
        await wait_for(pilot, lambda: shown(app) == cursor(app))
        await pilot.press("z", "d", "a", "y", "o", "d")
        await moves()
        await pilot.click("#diff-view")  # a click on the detail does not take the keys
        await moves()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await moves()
        await pilot.resize_terminal(200, 50)
        await moves()
        await pilot.resize_terminal(80, 24)
        await moves()


async def test_d_always_opens_after_rebuild_and_v_does_not_stick(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(120, 40)) as pilot:
        app = await ready(pilot)
        view = app.main.detail.query_one(DiffView)
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d", "v")
        await wait_for(pilot, lambda: "base llama3.2:latest" in view.text)
        await select(pilot, "qwq:latest_20K")
        await pilot.press("d")
        await wait_for(pilot, lambda: "after rebuild" in view.text)
        assert not app.main.detail.against_base
        await pilot.press("v")
        await wait_for(pilot, lambda: "base qwq:latest" in view.text)
        await pilot.press("d")
        await wait_for(pilot, lambda: "after rebuild" in view.text)


async def test_help_lists_every_binding(make_app: AppFactory) -> None:
    """Every key that does something on the main screen is in the help, with its action."""
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        bound = app.screen.active_bindings
        assert len(bound) >= len(ACTIONS)
        text = help_markdown()
        by_id = {a.id: a for a in ACTIONS}
        for key, active in bound.items():
            action = by_id.get(active.binding.action)
            assert action is not None, f"{key} runs {active.binding.action}, not in the table"
            assert key in action.keys.split(",")
            row_text = f"| `{action.display_keys}` | {action.description} |"
            assert row_text in text, f"{key} is not in the help"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action_and_nothing_else(
    make_app: AppFactory,
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        found = app.screen.query_one(CommandList)
        expected = {
            f"{a.description} ({a.display_keys})"
            for a in ACTIONS
            if a.scope == "app" and a.id != "command_palette"
        }
        await wait_for(pilot, lambda: found.option_count == len(expected))
        offered = {str(o.prompt).split("\n")[0] for o in found.options}
        assert offered == expected  # no Keys, Maximize or Screenshot of Textual's own
        await pilot.press(*"all stale")
        await wait_for(pilot, lambda: "All stale" in str(found.options[0].prompt))
        await pilot.press("enter")
        from ollama_lineage.ui.screens.rebuild import RebuildScreen

        await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
        modal = app.screen
        assert isinstance(modal, RebuildScreen)
        assert modal.names == ["llama3.2:latest-mario"]


async def test_history_tab_shows_a_page_and_says_where_the_rest_is(make_app: AppFactory) -> None:
    """A model with a long past: the pane reads its newest events, not all of them."""
    async with make_app().run_test(size=(120, 40)) as pilot:
        app = await ready(pilot)
        store, host = app.session.store, app.settings.host_key
        for _ in range(HISTORY_PAGE + 5):
            await store.finish_event(
                await store.start_event(host, "phi4:latest", "pull"), "success"
            )
        await select(pilot, "phi4:latest")
        await pilot.press("y")
        table = app.main.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == HISTORY_PAGE + 1)
        last = [str(cell) for cell in table.get_row_at(HISTORY_PAGE)]
        assert last[-1] == "older events: ollama-lineage history phi4:latest"


async def test_pages_drawn_ahead_of_the_screen_are_what_a_fresh_draw_shows(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    """The pages above and below the screen are drawn while idle, so PageDown only copies
    lines: each copied line must be its own row, with the cursor only where the cursor is."""
    for i in range(24):  # bases of their own: a move onto a base redraws its whole branch
        fake.create_from_file(f"local{i:02}:latest", f"local{i}.gguf")
    async with make_app().run_test(size=(80, 14)) as pilot:
        app = await ready(pilot)
        tree = app.main.lineage
        tree.focus()
        assert tree.last_line > 2 * tree.size.height  # several pages to move through
        for key in ["pagedown", "pagedown", "k", "pageup", "j", "j", "pagedown", "pageup"]:
            await pilot.press(key)
            await pilot.pause()
            top, width = tree.scroll_offset.y, tree.size.width
            for y in range(min(tree.size.height, tree.last_line + 1 - top)):
                assert tree.render_line(y).text == tree._draw(top + y, width).text, (key, y)
                assert tree.render_line(y) == tree._draw(top + y, width), (key, y)


async def test_the_overview_is_whole_on_every_row_as_the_cursor_moves(
    make_app: AppFactory,
) -> None:
    """The Overview's texts are redrawn in place unless their height changes: moving between
    a short reason and one that wraps, each text still gets every line it needs, and the
    facts start below the state, never over it."""
    async with make_app().run_test(size=(80, 30)) as pilot:
        app = await ready(pilot)
        overview = app.main.query_one("#overview")
        heights = set()
        for name in [*names(app), *reversed(names(app))]:
            await select(pilot, name)
            await pilot.pause()
            for part in ("title", "state", "facts"):
                text = overview.query_one(f"#overview-{part}")
                region = text.content_region
                needs = text.get_content_height(region.size, app.size, region.width)
                assert region.height == needs, (name, part, region.height, needs)
            state, facts = (overview.query_one(f"#overview-{p}").region for p in ("state", "facts"))
            assert facts.y >= state.bottom, name
            heights.add(state.height)
        assert len(heights) > 1  # some reason wrapped and some did not: both ways were tried

        # The parameters changed while their tab was hidden: shown, they are measured anew.
        tall = max(names(app), key=lambda n: len(app.main.lineage.snapshot.nodes[n].children))
        await select(pilot, tall)
        await pilot.press("a")
        await pilot.pause()
        table = app.main.query_one("#params-table")
        region = table.content_region
        assert region.height > 1
        assert region.height == table.get_content_height(region.size, app.size, region.width)
