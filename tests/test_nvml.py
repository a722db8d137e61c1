"""GPU facts from NVML: one clean line where there is no driver (CI, laptops), a GPU picker where there is."""

from __future__ import annotations

from conftest import wait_for
from textual.app import App
from textual.widgets import Input, SelectionList

from specgen.engine import nvml
from tui.screens.modals import RunOptionsScreen


def test_without_a_driver_there_is_one_line_and_no_gpu():
    found = nvml.facts()
    if found.gpus:  # on a GPU machine this test has nothing to say
        return
    assert found.absent and "\n" not in found.absent
    assert nvml.sample() == [] and nvml.sample([0]) == []


def test_gpu_label_marks_busy_ones_and_bf16_needs_ampere():
    free = nvml.Gpu(
        index=0,
        name="NVIDIA H100 80GB HBM3",
        memory_total=80 * 2**30,
        memory_free=79 * 2**30,
        utilization=0,
        compute_capability=(9, 0),
        processes=0,
    )
    busy = nvml.Gpu(
        index=1,
        name="Tesla V100",
        memory_total=16 * 2**30,
        memory_free=2 * 2**30,
        utilization=97,
        compute_capability=(7, 0),
        processes=1,
    )
    assert free.label() == "0: NVIDIA H100 80GB HBM3, 79/80 GiB free, 0% busy" and free.bf16
    assert busy.label().endswith("(in use)") and not busy.bf16
    assert nvml.run_gpus("0,2") == [0, 2] and nvml.run_gpus("all") is None and nvml.run_gpus("none") == []


async def test_launch_dialog_offers_a_gpu_list_when_nvml_knows_them():
    gpus = [
        nvml.Gpu(
            index=i,
            name="NVIDIA H100",
            memory_total=80 * 2**30,
            memory_free=(10 if i == 1 else 79) * 2**30,
            utilization=0,
            compute_capability=(9, 0),
        )
        for i in range(3)
    ]
    results = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RunOptionsScreen("", "", "0", ""), results.append)

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen.is_mounted)
        dialog = app.screen
        dialog._show_gpus(gpus)  # what the NVML worker hands over on a GPU machine
        picker = dialog.query_one("#opt-gpu-list", SelectionList)
        await wait_for(pilot, lambda: not picker.has_class("hidden"))
        assert not picker.has_class("hidden") and dialog.query_one("#opt-gpus", Input).has_class("hidden")
        assert picker.selected == [0]  # the typed default, ticked
        assert "(in use)" in str(picker.get_option_at_index(1).prompt)
        picker.select(2)
        dialog.query_one("#opt-network", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: results)
    assert results and results[0][2] == "0,2" and results[0][4] is None
