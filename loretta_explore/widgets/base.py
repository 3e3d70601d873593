"""The container every UI returns, and how a figure gets into it.

Every UI is an :class:`Explorer` (a VBox) with the same handles, so tests and lessons can drive
it without a browser: ``ui.controls`` (name -> widget), ``ui.readout`` (HTML with the current
numbers), ``ui.output`` (an Output holding the figure), ``ui.state`` (the latest numbers),
``ui.update()``. Figures are static matplotlib PNGs inside the Output widget, so they render in
JupyterLab, classic Notebook and Colab alike.
"""

from __future__ import annotations

import base64
import html
import io
import threading
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["Explorer", "error_html", "lines", "show_figure", "slider"]

BUSY = "<span style='color:#888'>computing...</span>"
WIDE = {"description_width": "initial"}


def _kernel_main_thread() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return (
        getattr(ip, "kernel", None) is not None
        and threading.current_thread() is threading.main_thread()
    )


def show_figure(output: widgets.Output, fig, dpi: int = 100) -> bytes:
    """Replace what `output` shows with `fig` as a PNG; close the figure; return the PNG bytes.

    Why two paths: inside a kernel, on its main thread, ``with output: display(...)`` is what
    works everywhere (JupyterLab, Notebook, Colab). Outside a kernel (tests) or from a training
    thread that context does not exist, so the Output's ``outputs`` are set directly, which
    ipywidgets syncs to the page like any other trait.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    png = buffer.getvalue()
    if _kernel_main_thread():
        from IPython.display import Image, display

        with output:
            output.clear_output(wait=True)
            display(Image(data=png, format="png"))
    else:
        data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"}
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
    return png


def error_html(message: str) -> str:
    """A problem as the page shows it: red, escaped, in one block."""
    return f"<div style='color:#b00;font-family:monospace;white-space:pre-wrap'>{html.escape(message)}</div>"


class Explorer(widgets.VBox):
    """Controls, a status line, a readout and a figure, recomputed when a control changes.

    ``compute(ui, source)`` returns ``(readout_html, figure_or_None, state_dict)``; `source` is
    the control that changed (None for a full refresh). A setting that cannot work shows its
    error in the readout (and ``state["error"]``) instead of a traceback in a hidden log.
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.Widget],
        compute: Callable,
        title: str = "",
        extra: tuple = (),
    ):
        self.controls = dict(controls)
        self.readout, self.status = widgets.HTML(), widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.state: dict = {}
        self.figure, self.png = None, None
        self._compute, self._quiet = compute, 0
        head = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(
            head + list(self.controls.values()) + [self.status, self.readout, *extra, self.output]
        )
        for control in self.controls.values():
            if not isinstance(control, widgets.Button):
                control.observe(self._changed, names="value")

    def _changed(self, change) -> None:
        if not self._quiet:
            self.update(source=change["owner"])

    def set_quietly(self, control, **traits) -> None:
        """Change a control without triggering another update (e.g. a slider that follows another)."""
        self._quiet += 1
        try:
            for name, value in traits.items():
                setattr(control, name, value)
        finally:
            self._quiet -= 1

    def update(self, source=None) -> None:
        """Recompute the numbers and redraw the figure."""
        self.status.value = BUSY
        try:
            readout, fig, state = self._compute(self, source)
        except Exception as err:  # noqa: BLE001  (a bad setting: say why in the page)
            self.state["error"] = f"{type(err).__name__}: {err}"
            self.readout.value = error_html(self.state["error"])
            self.status.value = ""
            return
        self.state = {"error": None, **state}  # compute may report a problem it worked around
        self.readout.value = readout
        if fig is not None:
            self.figure = fig
            self.png = show_figure(self.output, fig)
        self.status.value = ""


def slider(kind, description: str, value, lo, hi, step=1, **kw):
    """A slider that updates on release (a drag does not queue a hundred recomputations)."""
    return kind(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style=WIDE,
        layout=widgets.Layout(width="440px"),
        **kw,
    )


def lines(*rows: str) -> str:
    """Readout rows in monospace, one per line."""
    return (
        "<div style='font-family:monospace;line-height:1.5;white-space:pre'>"
        + "<br>".join(rows)
        + "</div>"
    )
