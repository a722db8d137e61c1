from __future__ import annotations

from textual.widgets import DataTable

from tui.app import DepthnetApp


async def test_app_starts_and_shows_the_pairing_table():
    app = DepthnetApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#pairs", DataTable)
        assert table.row_count == 10
        await pilot.press("d")
        assert app.theme == "textual-light"
        await pilot.press("q")
    assert app.return_code == 0
