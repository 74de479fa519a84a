"""The HTML report (``--dr-html``): one self-contained page, a timeline picture per experiment.

Everything comes from the JSON report's data (:meth:`RunReport.as_dict`, or a ``--dr-report`` file
read back), so :func:`render_html` also renders merged or older reports. The pictures are drawn with
matplotlib's SVG backend (no GUI, text as paths: no font is needed to view them) and inlined; the
page loads nothing from elsewhere (its Content-Security-Policy forbids it).
"""
from __future__ import annotations

import html
import io
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.durations import format_duration
from pytest_drtest.measure import Availability, Result, Segment
from pytest_drtest.report import assessment_lines, display_id, summary_lines

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

OK, FAILED, WRITE_FAILED, READ_FAILED = "#2e7d32", "#c62828", "#ef6c00", "#f9a825"
REGION_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#4e342e")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _unit(span: float) -> tuple[float, str]:
    """One unit for a whole picture: seconds, minutes or hours by the span shown."""
    if span <= 180:
        return 1.0, "s"
    if span <= 3 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def events(experiment: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(seconds after the fault, label, detail) of the phases and milestones, in time order."""
    measured = dict(experiment.get("measured") or {})
    measured.setdefault("milestones", [])
    if not any(m.get("kind") == "fault" for m in measured["milestones"]):
        measured["milestones"] = [{"t": 0.0, "kind": "fault", "detail": experiment.get("fault", "")}, *measured["milestones"]]
    return Result.from_dict(measured).events()


def timeline_figure(experiment: dict[str, Any]) -> Figure:
    """The picture of one experiment: probe outcomes and serving region over modeled time, the fault,
    the recovery milestones (numbered as in the table under it), RTO and RPO against their objectives,
    and the lost writes."""
    from matplotlib.figure import Figure

    measured = experiment.get("measured") or {}
    objectives = experiment.get("objectives") or {}
    timeline = measured.get("timeline") or {}
    segments = [Segment.from_dict(s) for s in timeline.get("segments", [])]
    lost = [float(w["t"]) for w in timeline.get("lost", []) + timeline.get("discarded", [])]  # discarded: after the fault
    rto, rpo = measured.get("rto_s"), float(measured.get("rpo_s") or 0.0)
    rto_obj, rpo_obj = objectives.get("rto_s"), objectives.get("rpo_s")
    marks = events(experiment)

    last = max([s.t1 for s in segments] + [t for t, _, _ in marks] + [rto or 0.0, 1.0])
    right = last * 1.08 + 1.0
    left_needed = max(rpo, max((-t for t in lost), default=0.0))
    left = -max(left_needed * 1.15, right * 0.15)
    first = min((s.t0 for s in segments), default=left)
    left = max(left, first - (right - left) * 0.02) if left_needed == 0 else left
    scale, unit = _unit(max(right, -left))

    regions = sorted({s.region for s in segments if s.region and s.ok})
    colours = {r: REGION_COLOURS[i % len(REGION_COLOURS)] for i, r in enumerate(regions)}
    lanes = ["probe"] + [f"served by {r}" for r in regions] + ["lost writes"]
    height = 2.2 + 0.42 * len(lanes)
    fig = Figure(figsize=(11, height), dpi=100)
    ax: Axes = fig.add_subplot(1, 1, 1)
    ys = {name: len(lanes) - 1 - i for i, name in enumerate(lanes)}

    step = _interval(segments)
    for s in segments:
        start, width = (s.t0 - step / 2) / scale, max((s.t1 - s.t0) + step, step) / scale
        colour = OK if s.ok else FAILED if not s.write_ok and not s.read_ok else WRITE_FAILED if not s.write_ok else READ_FAILED
        ax.broken_barh([(start, width)], (ys["probe"] - 0.35, 0.7), facecolors=colour, linewidth=0)
        if s.ok and s.region in colours:
            ax.broken_barh([(start, width)], (ys[f"served by {s.region}"] - 0.35, 0.7), facecolors=colours[s.region], linewidth=0)
    if lost:
        ax.scatter([t / scale for t in lost], [ys["lost writes"]] * len(lost), marker="x", s=28, color=FAILED, linewidths=1.2, zorder=3)

    ax.set_xlim(left / scale, right / scale)
    ax.set_ylim(-2.4, len(lanes) - 0.2)
    ax.set_yticks([ys[n] for n in lanes], lanes)
    ax.set_xlabel(f"time from the fault ({unit}), modeled" if measured.get("modeled", True) else f"time from the fault ({unit})")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    # fault and milestones: one line each, numbered as in the table below the picture
    ax.axvline(0, color="black", linewidth=1.6)
    top = len(lanes) - 0.45
    groups: list[tuple[float, list[int]]] = []
    for number, (t, text, _) in enumerate(marks, start=1):
        if text != "fault":
            ax.axvline(t / scale, color="#555555", linewidth=0.8, linestyle=":" if number > 1 else "-")
        if groups and abs(t - groups[-1][0]) <= (right - left) * 0.012:
            groups[-1][1].append(number)
        else:
            groups.append((t, [number]))
    for i, (t, numbers) in enumerate(groups):
        ax.annotate(
            ",".join(map(str, numbers)) if len(numbers) <= 4 else f"{numbers[0]}-{numbers[-1]}",
            (t / scale, top + (0.28 if i % 2 else 0.0)), ha="center", va="bottom", fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#555555", "linewidth": 0.6},
            annotation_clip=False,
        )

    # RTO: from the fault to recovery, against its objective
    y_rto, y_rpo = -1.0, -1.9
    if rto is not None:
        met = rto_obj is None or rto <= rto_obj
        ax.annotate("", xy=(rto / scale, y_rto), xytext=(0, y_rto),
                    arrowprops={"arrowstyle": "<->", "color": OK if met else FAILED, "linewidth": 1.4})
        ax.text(rto / scale / 2, y_rto + 0.12, f"RTO {format_duration(rto)}", ha="center", va="bottom", fontsize=8.5,
                color=OK if met else FAILED)
    else:
        ax.text(0.01, y_rto, "  never recovered", transform=ax.get_yaxis_transform(), fontsize=8.5, color=FAILED, va="center")
    _objective(ax, rto_obj, +1, y_rto, scale, left, right, f"RTO objective {format_duration(rto_obj)}")
    # RPO: the oldest lost acknowledged write before the fault, against its objective
    met = rpo_obj is None or rpo <= rpo_obj
    if rpo > 0:
        ax.annotate("", xy=(-rpo / scale, y_rpo), xytext=(0, y_rpo),
                    arrowprops={"arrowstyle": "<->", "color": OK if met else FAILED, "linewidth": 1.4})
    ax.text(-rpo / scale / 2 if rpo > 0 else 0, y_rpo + 0.12, f"RPO {format_duration(rpo)}", ha="center" if rpo > 0 else "right",
            va="bottom", fontsize=8.5, color=OK if met else FAILED)
    _objective(ax, rpo_obj, -1, y_rpo, scale, left, right, f"RPO objective {format_duration(rpo_obj)}")

    handles = _legend(fig, colours)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5, frameon=False)
    title = f"{experiment.get('id') or display_id(str(experiment.get('test', '')))} — {experiment.get('fault', '')}"
    ax.set_title(title, fontsize=10, loc="left")
    fig.subplots_adjust(left=0.14, right=0.83, top=1 - 0.45 / height, bottom=0.7 / height)
    return fig


def _interval(segments: list[Segment]) -> float:
    steps = [(s.t1 - s.t0) / (s.n - 1) for s in segments if s.n > 1 and s.t1 > s.t0]
    if steps:
        return sorted(steps)[len(steps) // 2]
    gaps = [b.t0 - a.t1 for a, b in itertools.pairwise(segments) if b.t0 > a.t1]
    return min(gaps) if gaps else 1.0


def _objective(ax: Axes, value: float | None, sign: int, y: float, scale: float, left: float, right: float, text: str) -> None:
    if value is None:
        return
    x = sign * value
    if left <= x <= right:
        ax.axvline(x / scale, color="#37474f", linewidth=1.0, linestyle="--")
        ax.text(x / scale, y - 0.3, text, ha="right" if sign > 0 else "left", va="top", fontsize=8, color="#37474f")
    else:  # beyond the picture: say so at its edge
        edge = right if x > right else left
        arrow = "→" if x > right else "←"
        ax.text(edge / scale, y - 0.3, f"{text} {arrow}" if x > right else f"{arrow} {text}", ha="right" if x > right else "left",
                va="top", fontsize=8, color="#37474f")


def _legend(fig: Figure, colours: dict[str, str]) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(color=OK, label="probe ok"), Patch(color=FAILED, label="write and read failed"),
        Patch(color=WRITE_FAILED, label="write failed"), Patch(color=READ_FAILED, label="read wrong or failed"),
    ]
    handles += [Patch(color=c, label=f"served by {r}") for r, c in colours.items()]
    handles += [
        Line2D([], [], color=FAILED, marker="x", linestyle="none", label="lost write (acked)"),
        Line2D([], [], color="black", linewidth=1.6, label="fault"),
        Line2D([], [], color="#555555", linestyle=":", label="milestone (numbered)"),
        Line2D([], [], color="#37474f", linestyle="--", label="objective"),
    ]
    return handles


def svg_of(fig: Figure, prefix: str) -> str:
    """The figure as an inline ``<svg>`` whose ids are unique in the page (prefixed)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": prefix}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)  # RDF about the generator: not needed
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    return text.replace("<svg ", f'<svg class="timeline" role="img" aria-label="timeline of {html.escape(prefix)}" ', 1)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _settings_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    profile = data.get("profile") or {}
    overrides = profile.get("overrides") or {}
    sources = sorted(set(overrides.values()))
    rows = [
        ("backend", str(data.get("backend"))),
        ("seed", str(data.get("seed"))),
        ("regions (option)", f"{(data.get('regions') or {}).get('primary')} (primary), {(data.get('regions') or {}).get('dr')} (dr)"),
        ("clock", f"{data.get('clock')}, starting {data.get('clock_start')}"),
        ("latency profile", "published defaults" + ("; overridden by " + ", ".join(sources) if sources else "")),
    ]
    if overrides:
        rows.append(("overrides", ", ".join(f"{k} ({v})" for k, v in overrides.items())))
    for s in data.get("scenarios", []):
        latency = s.get("latency") or {}
        regions = s.get("regions") or {}
        rows.append((f"scenario {s.get('name')}", f"{s.get('strategy')}, {regions.get('primary')} -> {regions.get('dr')}, {s.get('source')}"
                     + (f", [latency] {', '.join(f'{k} = {v}' for k, v in latency.items())}" if latency else "")))
    policy = data.get("policy")
    if policy:
        entries = ", ".join(f"{k}: RTO {format_duration(v['rto_s'])} RPO {format_duration(v['rpo_s'])}" for k, v in policy["entries"].items())
        rows.append(("resiliency policy", f"{policy['name']} ({policy['source']}): {entries}"))
    plugin = data.get("plugin") or {}
    rows.append(("pytest-drtest", f"{plugin.get('version')}, report schema {data.get('schema')}, written {data.get('created')}"))
    machine = data.get("machine") or {}
    rows.append(("machine", f"Python {machine.get('python')}, {machine.get('platform')}"))
    return rows


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       color: #212121; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
svg.timeline { width: 100%; height: auto; display: block; }
pre { background: #fafafa; border: 1px solid #eee; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
.failures li { color: #c62828; }
"""


def render_html(data: dict[str, Any]) -> str:
    """The page for a report's data."""
    experiments = data.get("experiments", [])
    restores = data.get("restores", [])
    failed = sum(1 for e in experiments if not e.get("passed")) + sum(1 for r in restores if not r.get("passed"))
    verdict = "PASS" if not failed else f"FAIL ({failed})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pytest-drtest report: {html.escape(verdict)}</title>",
        f"<style>{STYLE}</style></head><body>",
        (f'<h1>pytest-drtest: {len(experiments)} experiment(s), {len(restores)} restore check(s) — '
         f'<span class="{"pass" if not failed else "fail"}">{html.escape(verdict)}</span></h1>'),
        "<h2>Run</h2>",
        _table(("setting", "value"), _settings_rows(data), "settings"),
        "<h2>Summary</h2>",
        "<pre>" + html.escape("\n".join(summary_lines(data))) + "</pre>",
    ]
    for index, e in enumerate(experiments, start=1):
        parts.append(_experiment_section(e, index))
    if restores:
        parts.append('<h2 id="restores">Restore checks</h2>')
        parts.append(_table(
            ("restore", "source", "target", "as of", "items", "unexpected", "new", "source untouched", "duration", "verdict", "made by", "not restored"),
            [(r["kind"], r["source"], r["target"], r.get("restore_time", ""), f"{r['items_matched']}/{r['items_expected']}",
              r.get("unexpected_items", 0), "yes" if r.get("new_resource") else "NO",
              {True: "yes", False: "NO", None: "unknown (region down)"}[r.get("source_untouched")],
              format_duration(r.get("duration_s")), "PASS" if r.get("passed") else "FAIL",
              (f"{r['made_by']} (validation {r.get('validation_status') or '-'})" if r.get("made_by")
               else display_id(str(r.get("test", "")))),
              ", ".join(r.get("not_restored", []))) for r in restores],
            "restores",
        ))
    assessed = assessment_lines(data)
    if assessed:
        parts.append("<h2>Assessment</h2><pre>" + html.escape("\n".join(assessed)) + "</pre>")
    for key, heading in (("comparison", "Comparison with the previous run"), ("gate", "Gate")):
        block = data.get(key)
        if block and block.get("lines"):
            parts.append(f"<h2>{heading}</h2><pre>" + html.escape("\n".join(block["lines"])) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _experiment_section(e: dict[str, Any], index: int) -> str:
    measured = e.get("measured") or {}
    objectives = e.get("objectives") or {}
    sources = objectives.get("sources") or {}
    fig = timeline_figure(e)
    ident = str(e.get("id") or display_id(str(e.get("test", ""))))
    passed = bool(e.get("passed"))
    rows = [
        ("RTO", "never" if measured.get("rto_s") is None else format_duration(measured["rto_s"]),
         format_duration(objectives.get("rto_s")), sources.get("rto", "-")),
        ("RPO", format_duration(measured.get("rpo_s")), format_duration(objectives.get("rpo_s")), sources.get("rpo", "-")),
        ("availability", Availability.from_dict(measured.get("availability")).describe(),
         "-" if objectives.get("availability") is None else f"{objectives['availability'] * 100:g}%", sources.get("availability", "-")),
        ("lost writes", str(measured.get("lost_writes", 0)), "", ""),
        ("writes discarded after the fault", str(measured.get("discarded_writes", 0)),
         str(objectives.get("discarded", 0)), sources.get("discarded", "default: none")),
    ]
    if measured.get("conflict_overwrites"):
        rows.append(("conflict overwrites", str(measured["conflict_overwrites"]), "", ""))
    if measured.get("stale_reads"):
        rows.append(("stale reads (cache)", str(measured["stale_reads"]), "", ""))
    cdn = measured.get("cdn") or {}
    if cdn.get("reads"):
        rows.append(("reads through CloudFront: failed over / failed / longest wait",
                     (f"{cdn.get('failed_over', 0)} / {cdn.get('failed', 0)} of {cdn['reads']} / "
                      f"{format_duration(cdn.get('wait_s_max', 0.0))}"), "", ""))
    out = [
        f'<section class="experiment" id="experiment-{index}">',
        f'<h2>{html.escape(ident)} — <span class="{"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span></h2>',
        f"<p>strategy {html.escape(str(e.get('strategy')))}, fault {html.escape(str(e.get('fault')))}"
        + (f", disruption type {html.escape(str(e['disruption']))}" if e.get("disruption") else "")
        + (f", judged by policy {html.escape(str(e['policy']))} entry {html.escape(str(e['policy_entry']))}" if e.get("policy_entry") else "")
        + f", test <code>{html.escape(str(e.get('test')))}</code></p>",
        f'<figure>{svg_of(fig, f"x{index}")}</figure>',
        _table(("figure", "measured", "objective", "objective from"), rows, "figures"),
    ]
    if e.get("failures"):
        out.append('<ul class="failures">' + "".join(f"<li>{html.escape(f)}</li>" for f in e["failures"]) + "</ul>")
    out.append(_table(("#", "after the fault", "event", "detail"),
                      [(i, f"+{t:.1f} s", text, detail) for i, (t, text, detail) in enumerate(events(e), start=1)], "events"))
    lost = (measured.get("timeline") or {}).get("lost", [])
    objects = (measured.get("timeline") or {}).get("lost_objects", [])
    if lost:
        shown = lost[:50]
        items = int(measured.get("lost_writes", len(lost))) - len(measured.get("lost_objects", []))
        out.append(f"<p>{len(lost) if len(lost) == items else items} lost write(s):"
                   " acknowledged, then missing after the recovery</p>")
        out.append(_table(("sequence", "key", "acknowledged"), [(w["seq"], w["key"], f"{float(w['t']):+.1f} s") for w in shown], "lost"))
        if len(lost) > len(shown):
            out.append(f"<p>… and {len(lost) - len(shown)} more (all in the JSON report)</p>")
    if objects:
        out.append(f"<p>{len(measured.get('lost_objects', objects))} lost object(s): written to the topology's buckets, "
                   "then not in the bucket the application reads after the recovery (or not with that ETag)</p>")
        out.append(_table(("object", "written"), [(o["key"], f"{float(o['t']):+.1f} s") for o in objects[:50]], "lost-objects"))
    conflicts = (measured.get("timeline") or {}).get("conflicts", [])
    if conflicts:
        shown = conflicts[:50]
        out.append(f"<p>{measured.get('conflict_overwrites', len(conflicts))} conflict overwrite(s): acknowledged, then "
                   "silently replaced by a later write of another region (last writer wins)</p>")
        out.append(_table(("sequence", "key", "acknowledged"),
                          [(w["seq"], w["key"], f"{float(w['t']):+.1f} s") for w in shown], "conflicts"))
        if len(conflicts) > len(shown):
            out.append(f"<p>… and {len(conflicts) - len(shown)} more (all in the JSON report)</p>")
    out.append("</section>")
    return "\n".join(out)


def write_html(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
