"""The Performance panel: its rows, the details tooltip, and plots whose curves may skip a sample."""
from app.window.performance import PerformancePanel


def test_rows_tooltip_and_plots(qtbot):
    panel = PerformancePanel()
    qtbot.addWidget(panel)
    panel.show_rows([("runs on", "CPU fp32, torch")], "runs: CPU fp32, torch")
    assert "CPU fp32, torch" in panel.readout.text() and panel.readout.toolTip() == "runs: CPU fp32, torch"
    panel.add_sample(display=30.0, inference=29.0)  # the first result: no latency
    panel.add_sample(display=30.0, inference=29.0, network=10.0, **{"end to end": 40.0})
    x, y = panel.curves["end to end"].getData()
    assert list(x) == [2.0] and list(y) == [40.0]  # drawn at its own sample, aligned with the rates
    assert list(panel.curves["display"].getData()[0]) == [1.0, 2.0]
    for value in [40.0] * 30 + [20000.0]:  # one stall of the machine
        panel.add_sample(network=10.0, **{"end to end": value})
    top = panel.latency_plot.getViewBox().viewRange()[1][1]
    assert 40.0 < top < 100.0  # the spike leaves the scale; the other samples stay readable
    panel.set_plots_visible(False)
    assert not panel.rate_plot.isVisibleTo(panel) and not panel.latency_plot.isVisibleTo(panel)
