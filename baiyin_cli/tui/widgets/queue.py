"""The petition queue: a virtual list over any number of petitions.

Only what is on screen exists as text. The widget knows the total count and keeps a small
cache of *pages* (PAGE_SIZE rows in urgency order); `render_line` draws a row from the cache
or a placeholder, and the pages around the viewport are fetched by thread workers:

* page k follows page k-1 by a keyset cursor (`after=` the petition that ends page k-1),
  so scrolling reads an index range; a jump (End, a far PageDown) asks by offset once (the
  service skips index entries, not rows) and goes on by cursor from there;
* a load is two reads: the *window* (the pages under the viewport, one transaction) paints
  at once, whatever the size of the queue; the *tally* (the total, which sizes the scrollbar,
  and the header counts, which scan the scope) follows. Until it does, the list is as long
  as what was read. Each replaces the cache atomically, so rows never flicker and the cursor
  stays on the petition it was on;
* every result carries the generation it was asked for; anything older than the current
  query is dropped (filters typed quickly never show stale rows).

Moving the cursor touches no database: a keypress repaints two lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from baiyin_cli import timeutil
from baiyin_cli.i18n import L
from baiyin_cli.tui import fmt
from baiyin_cli.tui.gateway import Filters, Gateway, Row, Tally, Window

PAGE_SIZE = 50
MAX_PAGES = 80  # rows kept in memory: at most 4,000
MAX_INFLIGHT = 3


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    width: int  # 0: takes the rest
    right: bool = False

    @property
    def title(self) -> str:
        return L(self.zh, self.en)


COLUMNS: tuple[Column, ...] = (
    Column("mark", "", "", 2),
    Column("number", "编号", "Number", 17),
    Column("category", "类别", "Category", 13),
    Column("grid", "网格", "Grid", 15),
    Column("assignee", "承办人", "Assignee", 9),
    Column("status", "状态", "State", 13),
    Column("countdown", "时限", "Deadline", 16),
    Column("text", "内容", "Text", 0),
)

MARKS = {"overdue": "●", "due_soon": "●", "on_time": "●", "stopped": "○"}


MIN_TEXT = 12  # below this the text column is dropped rather than shown as a stub
NARROW_DROPS = ("text", "grid", "category", "assignee")  # what goes first when the room shrinks


@lru_cache(maxsize=16)
def layout(width: int) -> list[tuple[Column, int]]:
    """Each column with its width at this width: the text column takes the rest; a narrow list
    (the workers panel open, a small terminal) drops the text, then the grid, the category..."""
    cols = list(COLUMNS)
    for key in NARROW_DROPS:
        fixed = sum(c.width + 1 for c in cols if c.width)
        flexible = any(not c.width for c in cols)
        if fixed + (MIN_TEXT if flexible else -1) <= width:
            break
        cols = [c for c in cols if c.key != key]
    rest = max(width - sum(c.width + 1 for c in cols if c.width), 0)
    return [(c, c.width or rest) for c in cols]


def header_text(width: int) -> str:
    return " ".join(fmt.fit(c.title, w) for c, w in layout(width))[:width]


class PetitionQueue(ScrollView, can_focus=True, inherit_bindings=False):
    """A virtual list of petitions in urgency order.

    It takes none of ScrollView's scrolling keys: arrows, PageUp/PageDown, Home/End move the
    cursor (the screen binds them, see keys.py) and the view follows it.
    """

    DEFAULT_CSS = """
    PetitionQueue {
        overflow-x: hidden;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    COMPONENT_CLASSES = {
        "petition-queue--cursor",
        "petition-queue--overdue",
        "petition-queue--due_soon",
        "petition-queue--on_time",
        "petition-queue--stopped",
        "petition-queue--loading",
        "petition-queue--dim",
    }

    cursor: reactive[int] = reactive(0, repaint=False)

    class Highlighted(Message):
        """The cursor is on another petition (or on none)."""

        def __init__(self, row: Row | None) -> None:
            super().__init__()
            self.row = row

    class Selected(Message):
        """Enter on a petition."""

        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    class Windowed(Message):
        """The rows under the viewport arrived (with who is working and the change marker)."""

        def __init__(self, window: Window) -> None:
            super().__init__()
            self.window = window

    class Counted(Message):
        """The total and the header counts arrived."""

        def __init__(self, tally: Tally) -> None:
            super().__init__()
            self.tally = tally

    class Failed(Message):
        """A load failed with a user error (the text is already localised)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, gateway: Gateway, filters: Filters, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.gateway = gateway
        self.filters = filters
        self.now: datetime = timeutil.now()
        self.total: int | None = None  # rows known so far (None: nothing read yet for this query)
        self.counted = False  # the total is the tally's, not just what was read
        self._gen = 0  # the query (filters): bumped by set_filters
        self._snap = 0  # the read of that query: bumped by every (re)load
        self._pages: dict[int, list[Row]] = {}
        self._inflight: set[int] = set()
        self._follow: str | None = None  # the petition number the cursor should stay on
        self._last_highlight: object = object()
        self.on_clock: Callable[[Row, datetime], dict[str, Any]] = gateway.clock
        # Drawing caches: a row's fitted cells (they change with the row's version or the width),
        # its clock (once a second), the component styles (until the stylesheet changes).
        self._cells: LRUCache[tuple[str, int, int], list[str]] = LRUCache(1024)
        self._clocks: LRUCache[tuple[str, int, int], dict[str, Any]] = LRUCache(1024)
        self._styles: dict[str, Style] = {}  # "" is the widget's own style
        self._width_for: Size | None = None
        self._pages_wanted = False
        self._content_width = 0

    # ------------------------------------------------------------ data

    @property
    def generation(self) -> int:
        return self._gen

    def row_at(self, index: int) -> Row | None:
        page, i = divmod(index, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None or i >= len(rows):
            return None
        return rows[i]

    @property
    def current(self) -> Row | None:
        if not self.total:
            return None
        return self.row_at(self.cursor)

    def set_filters(self, filters: Filters) -> None:
        """A new query: start from the top."""
        self.filters = filters
        self._gen += 1
        self._pages.clear()
        self._inflight.clear()
        self._follow = None
        self.total = None
        self.counted = False
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._set_virtual_height(0)
        self.refresh()
        self._load_snapshot()

    def reload(self) -> None:
        """The same query again (after an action, on the refresh timer): keep the place."""
        cur = self.current
        if cur is not None:
            self._follow = cur.number
        self._load_snapshot()

    def _window(self) -> tuple[int, int]:
        top = int(self.scroll_offset.y)
        height = max(self.size.height, 1)
        first = top // PAGE_SIZE
        last = (top + height) // PAGE_SIZE
        return first, last - first + 1

    def _load_snapshot(self) -> None:
        self._snap += 1
        gen = self._gen
        first, count = self._window()
        filters = self.filters
        follow = self._follow

        def window() -> tuple[int, Window]:
            return gen, self.gateway.window(filters, first_page=first, pages=count, page_size=PAGE_SIZE,
                                            follow=follow)

        def tally() -> tuple[int, Tally]:
            return gen, self.gateway.tally(filters)

        self.run_worker(window, name="window", group="queue-window", thread=True, exclusive=True,
                        exit_on_error=False)
        self.run_worker(tally, name="tally", group="queue-tally", thread=True, exclusive=True,
                        exit_on_error=False)

    def _want_pages(self) -> None:
        if self.total is None or self.total == 0:
            return
        top = int(self.scroll_offset.y)
        height = max(self.size.height, 1)
        first = max(top // PAGE_SIZE - 1, 0)
        last = min((top + height) // PAGE_SIZE + 1, (self.total - 1) // PAGE_SIZE)
        # The visible pages first, then the neighbours.
        visible = range(top // PAGE_SIZE, min((top + height) // PAGE_SIZE, last) + 1)
        order = list(visible) + [p for p in range(first, last + 1) if p not in visible]
        for page in order:
            if len(self._inflight) >= MAX_INFLIGHT:
                break
            if page in self._pages or page in self._inflight:
                continue
            self._fetch_page(page)

    def _fetch_page(self, page: int) -> None:
        gen = self._gen
        prev = self._pages.get(page - 1)
        after = prev[-1].position if prev and len(prev) == PAGE_SIZE else None
        snap = self._snap
        filters = self.filters
        self._inflight.add(page)

        def job() -> tuple[int, int, int, list[Row]]:
            rows = self.gateway.page(
                filters, after=after, offset=None if after else page * PAGE_SIZE, limit=PAGE_SIZE
            )
            return gen, snap, page, rows

        self.run_worker(job, name="page", group="queue-pages", thread=True, exit_on_error=False)

    def _evict(self) -> None:
        if len(self._pages) <= MAX_PAGES:
            return
        here = int(self.scroll_offset.y) // PAGE_SIZE
        for page in sorted(self._pages, key=lambda p: abs(p - here), reverse=True)[
            : len(self._pages) - MAX_PAGES
        ]:
            del self._pages[page]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group not in ("queue-window", "queue-tally", "queue-pages"):
            return
        event.stop()
        if event.state == WorkerState.ERROR:
            if worker.group == "queue-pages":
                self._inflight.clear()
            self.post_message(self.Failed(self.gateway.error_text(worker.error)))
            return
        if event.state != WorkerState.SUCCESS or worker.result is None:
            return
        if worker.group == "queue-window":
            gen, window = worker.result
            if gen == self._gen:
                self._apply_window(window)
        elif worker.group == "queue-tally":
            gen, tally = worker.result
            if gen == self._gen:
                self._apply_tally(tally)
        else:
            gen, snap, page, rows = worker.result
            self._inflight.discard(page)
            if gen == self._gen and snap != self._snap:
                # Asked before a reload: older than the window that replaced the cache. Dropped,
                # or it would paint a petition as it was before (an action, another terminal).
                self._want_pages()
            elif gen == self._gen:
                self._pages[page] = rows
                if not self.counted:
                    self._grow(page, rows)
                self._evict()
                self.refresh()
                self._announce()
                self._want_pages()

    def _grow(self, page: int, rows: list[Row]) -> None:
        """Before the tally: the list is as long as what was read (and one more page if it was full)."""
        seen = page * PAGE_SIZE + len(rows)
        if len(rows) == PAGE_SIZE:
            seen += 1  # a row to move to: reaching it reads the next page
        if self.total is None or seen > self.total:
            self.total = seen
            self._set_virtual_height(seen)

    def _apply_window(self, window: Window) -> None:
        self._pages = dict(window.pages)
        self._inflight.clear()
        if not self.counted:
            self.total = None
            if not window.pages:
                self.total = 0
            for page in sorted(window.pages):
                self._grow(page, window.pages[page])
            if not window.more and window.pages:
                last = max(window.pages)
                self.total = last * PAGE_SIZE + len(window.pages[last])
                self._set_virtual_height(self.total)
        if self._follow is not None and window.follow_index is not None:
            self.cursor = window.follow_index
        self._follow = None
        self.cursor = min(self.cursor, max((self.total or 1) - 1, 0))
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Windowed(window))
        self._announce(force=True)
        self._want_pages()

    def _apply_tally(self, tally: Tally) -> None:
        self.total = tally.total
        self.counted = True
        self._set_virtual_height(tally.total)
        self.cursor = min(self.cursor, max(tally.total - 1, 0))
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Counted(tally))
        self._announce()
        self._want_pages()

    def _set_virtual_height(self, rows: int) -> None:
        self.virtual_size = Size(self.size.width, rows)

    # ------------------------------------------------------------ moving

    def validate_cursor(self, value: int) -> int:
        if not self.total:
            return 0
        return max(0, min(value, self.total - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)
        self._scroll_cursor_into_view()
        self._announce()

    def _scroll_cursor_into_view(self) -> None:
        height = self.size.height
        if height <= 0:
            return
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _announce(self, force: bool = False) -> None:
        row = self.current
        key = (row.number, row.version, row.status) if row else None
        if force or key != self._last_highlight:
            self._last_highlight = key
            self.post_message(self.Highlighted(row))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Paint first (placeholders where pages are missing), then ask for them: a worker that
        # starts now would compete with this frame for the interpreter.
        if not self._pages_wanted:
            self._pages_wanted = True
            self.call_after_refresh(self._want_pages_after_paint)

    def _want_pages_after_paint(self) -> None:
        self._pages_wanted = False
        self._want_pages()

    def on_resize(self, event: events.Resize) -> None:
        self._set_virtual_height(self.total or 0)
        self._want_pages()

    def move(self, delta: int) -> None:
        self.cursor = self.cursor + delta

    def move_page(self, direction: int) -> None:
        step = max(self.size.height - 1, 1)
        self.cursor = self.cursor + direction * step

    def move_edge(self, end: bool) -> None:
        self.cursor = (self.total or 1) - 1 if end else 0

    def tick(self, now: datetime) -> None:
        """The clock moved: repaint the countdowns (no query)."""
        self.now = now
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if self.total and 0 <= index < self.total:
            if index == self.cursor and event.chain >= 2 and self.current is not None:
                self.post_message(self.Selected(self.current))
            self.cursor = index

    def select_current(self) -> None:
        if self.current is not None:
            self.post_message(self.Selected(self.current))

    # ------------------------------------------------------------ drawing

    def _width(self) -> int:
        size = self.size
        if size != self._width_for:
            self._width_for, self._content_width = size, self.scrollable_content_region.width
        return self._content_width

    def _base(self) -> Style:
        base = self._styles.get("")
        if base is None:
            base = self._styles[""] = self.rich_style
        return base

    def render_line(self, y: int) -> Strip:
        width = self._width()
        index = int(self.scroll_offset.y) + y
        base = self._base()
        if self.total is None:
            if y == 0:
                return self._plain(L("正在加载…", "Loading…"), width, "petition-queue--loading")
            return Strip.blank(width, base)
        if self.total == 0:
            if y == 0:
                return self._plain(
                    L("没有符合条件的诉求", "No petitions match"), width, "petition-queue--dim"
                )
            return Strip.blank(width, base)
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            return self._plain("  " + "·" * 3, width, "petition-queue--loading")
        return self._row_strip(row, index, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, component: str, partial: bool = True) -> Style:
        """A component's style (partial: only what it sets, to lay over the row's)."""
        key = component if partial else component + ":full"
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self.get_component_rich_style(component, partial=partial)
        return style

    def _plain(self, text: str, width: int, component: str) -> Strip:
        style = self._base() + self._style(component, partial=False)
        return Strip([Segment(fmt.fit(text, width), style)], width)

    def _clock(self, row: Row) -> dict[str, Any]:
        key = (row.number, row.version, int(self.now.timestamp()))
        clock = self._clocks.get(key)
        if clock is None:
            clock = self._clocks[key] = self.on_clock(row, self.now)
        return clock

    def _fitted(self, row: Row, width: int) -> list[str]:
        """The row's cells that do not move with the clock, fitted to their columns."""
        key = (row.number, row.version, width)
        cells = self._cells.get(key)
        if cells is None:
            texts = {
                "number": row.number,
                "category": row.category_label,
                "grid": row.grid_label,
                "assignee": row.assignee_label or "—",
                "status": row.status_label,
                "text": row.summary,
            }
            cells = self._cells[key] = [fmt.fit(texts.get(col.key, ""), w) for col, w in layout(width)]
        return cells

    def _row_strip(self, row: Row, index: int, width: int) -> Strip:
        clock = self._clock(row)
        urgency = clock.get("urgency", "stopped")
        base = self._base()
        if index == self.cursor:
            base = base + self._style("petition-queue--cursor", partial=False)
            if not self.has_focus:
                base = base + Style(dim=True)
        tone = base + self._style(f"petition-queue--{urgency}")
        dim = base + self._style("petition-queue--dim")
        cells = self._fitted(row, width)
        segments: list[Segment] = []
        for (col, w), cell in zip(layout(width), cells, strict=True):
            style = base
            if col.key == "mark":
                cell = fmt.fit(MARKS.get(urgency, " "), w)
                style = tone
            elif col.key == "assignee" and not row.assignee_label:
                style = dim
            elif col.key == "countdown":
                text = fmt.countdown(clock.get("kind"), clock.get("due"), self.now)
                style = tone
                if not text:
                    text = row.waiting_label
                    style = dim
                cell = fmt.fit(text, w)
            segments.append(Segment(cell, style))
            segments.append(Segment(" ", base))
        strip = Strip(segments[:-1])
        return strip.adjust_cell_length(width, base)
