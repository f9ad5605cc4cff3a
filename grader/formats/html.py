"""A self-contained HTML page for students: per problem, the properties, each failure's
counterexample and diagnosis, and plots (inline SVG images, no external resource at all).

Plots: for a failed visible property whose counterexample has a slice (grader.feedback), the
student's function against the reference along one coordinate of the counterexample; and the
figures a problem's spec draws with its ``feedback_figures`` hook. The page carries a strict
Content-Security-Policy (no network, only its own inline style and script), so nothing in it, not
even text that came from the student's code, can load or run anything else.
"""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import jinja2

from grader.formats.common import counterexample_lines, points, visible
from grader.runner import RunResult, versions

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Marks the page as rendered once every plot has decoded (the headless-browser test reads it).
SCRIPT = ("window.addEventListener('load',function(){var ok=Array.prototype.every.call("
          "document.images,function(i){return i.complete&&i.naturalWidth>0;});"
          "document.body.setAttribute('data-rendered',ok?'ok':'broken-image');});")
STUDENT_COLOUR, REFERENCE_COLOUR = "#d62728", "#1f77b4"


def to_html(result: RunResult, *, show_hidden: bool = False) -> str:
    shown = visible(result, show_hidden)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    problems = [_problem_view(problem) for problem in shown.problems]
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    return environment.get_template("report.html.j2").render(
        result=shown, problems=problems, points=points, versions=versions(), script=SCRIPT,
        script_hash=f"sha256-{digest}", passed=sum(p.status == "passed" for p in shown.problems))


def _problem_view(problem) -> dict:
    properties = []
    for prop in problem.properties:
        cx = prop.counterexample
        plot = None
        if cx and cx.get("slice"):
            plot = _slice_plot(cx["slice"])
        properties.append({"prop": prop, "lines": [line.split(": ", 1) for line in counterexample_lines(cx)] if cx else [],
                           "plot": plot})
    figures = []
    for figure in problem.figures:
        image = _figure_plot(figure)
        if image:
            figures.append({"title": figure.get("title", ""), "caption": figure.get("caption", ""), "image": image})
    return {"problem": problem, "properties": properties, "figures": figures}


# --- plots (matplotlib's object API: no pyplot, no global backend) --------------------------------


def _svg(draw) -> str | None:
    import matplotlib
    from matplotlib.figure import Figure

    try:
        with matplotlib.rc_context({"svg.hashsalt": "grade", "font.size": 9}):
            figure = Figure(figsize=(6.0, 3.2), layout="constrained")
            draw(figure.subplots())
            buffer = io.BytesIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
    except Exception:  # noqa: BLE001 - a plot that cannot be drawn is left out, never a failed report
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _xy(xs, ys):
    import numpy as np

    return (np.array([np.nan if v is None else v for v in xs], dtype=float),
            np.array([np.nan if v is None else v for v in ys], dtype=float))


def _slice_plot(data: dict) -> str | None:
    def draw(axes):
        x, reference = _xy(data["x"], data["reference"])
        _, student = _xy(data["x"], data["student"])
        axes.plot(x, reference, color=REFERENCE_COLOUR, label="expected (reference)", linewidth=2)
        axes.plot(x, student, color=STUDENT_COLOUR, label="yours", linewidth=1.6, linestyle="--")
        axes.axvline(data["x0"], color="#555555", linewidth=0.8, linestyle=":", label="counterexample")
        axes.set_xlabel(data["x_label"])
        axes.set_ylabel(data["y_label"])
        axes.set_title(f"{data['function']} along {data['x_label']}, other inputs fixed", fontsize=9)
        axes.legend(fontsize=8)
        axes.grid(alpha=0.3)

    return _svg(draw)


def _figure_plot(figure: dict) -> str | None:
    def draw(axes):
        for series in figure["series"]:
            x, y = _xy(series["x"], series["y"])
            if series.get("kind") == "scatter":
                axes.scatter(x, y, s=6, alpha=0.6, label=series.get("label") or None)
            else:
                axes.plot(x, y, linewidth=1.5, label=series.get("label") or None)
        axes.set_xlabel(figure.get("xlabel", ""))
        axes.set_ylabel(figure.get("ylabel", ""))
        axes.set_title(figure.get("title", ""), fontsize=9)
        if any(s.get("label") for s in figure["series"]):
            axes.legend(fontsize=8)
        axes.grid(alpha=0.3)

    return _svg(draw)
