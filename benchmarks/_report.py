"""Turn the results dict into the short markdown report (``latest.md``)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["markdown", "targets"]


def _f(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict) for each target of the performance issue."""
    rows: list[tuple[str, str, str, str]] = []
    for row in results.get("requests", []):
        if row["bench"] != "get" or row["variant"] != "rate_limit=None":
            continue
        r, loop, c = row["ratios"], row["loop"], row["concurrency"]
        if c in (10, 50):
            for key, label in (("throughput", "throughput"), ("cpu_efficiency", "CPU/request")):
                # Judged on the median of per-repetition ratios (raw and SDK back to
                # back); the ratio of the two medians is shown beside it.
                value, of_medians = r.get(key + "_paired"), r[key]
                rows.append(
                    (
                        f"get c={c} {loop}: SDK/raw {label}",
                        f"{_f(value)} paired (ratio of medians {_f(of_medians)})",
                        ">= 0.90",
                        _verdict(None if value is None else value >= 0.90),
                    )
                )
            added = r["added_cpu_us"]
            rows.append(
                (
                    f"get c={c} {loop}: added client CPU",
                    f"{_f(added, '.1f')} µs",
                    "<= ~10 µs",
                    _verdict(None if added is None else added <= 10.0),
                )
            )
        if c == 200:
            value = r["p99"]
            rows.append(
                (
                    f"get c=200 {loop}: p99 SDK/raw",
                    _f(value),
                    "<= 1.00",
                    _verdict(None if value is None else value <= 1.0),
                )
            )
    models = results.get("models")
    if models:
        full = models["per_record_us"].get("full")
        if full:
            ours = full["structure"]["cattrs structure_session"]
            theirs = full["structure"]["pydantic model_validate"]
            rows.append(
                (
                    "structure_session, full record",
                    f"{_f(ours)} µs (pydantic {_f(theirs)} µs)",
                    "<= pydantic",
                    _verdict(None if ours is None or theirs is None else ours <= theirs),
                )
            )
        alone = _f(models["page_ms"].get("json.loads alone"))
        first_ms = models.get("page_first_ms", {})
        for key, label in (
            ("parse_page", "as installed (msgspec)"),
            ("parse_page, new fields", "records with 2 new fields"),
            ("parse_page, stdlib json", "stdlib json (PyPy's road)"),
        ):
            page = models["page_ms"].get(key)
            fallback = key == "parse_page, stdlib json"
            rows.append(
                (
                    f"parse_page, {models['page_size']} sessions, {label}",
                    f"{_f(page)} ms in a row, {_f(first_ms.get(key))} ms first"
                    f" (json.loads alone {alone} ms)",
                    "< 5 ms",
                    # Measured, not judged: json.loads alone takes about as long.
                    "not judged (fallback road)"
                    if fallback and page is not None
                    else _verdict(None if page is None else page < 5.0),
                )
            )
    for token in results.get("token", []):
        fetches = token["token_fetches_cold"]
        server = token.get("server_token_requests")
        ok = all(f == 1 for f in fetches) and server == 1
        rows.append(
            (
                f"token fetches, {token['calls']} cold calls ({token['loop']})",
                f"client {fetches}, server {server}",
                "1",
                _verdict(ok),
            )
        )
    return rows


def table_markdown(table: dict[str, Any]) -> list[str]:
    """The rows of ``bench_table``: anchor, SDK, their ratio, the target and the verdict."""
    lines = ["| metric | anchor | SDK | ratio | target | verdict |", "|---|---|---|---|---|---|"]
    for row in table["rows"]:
        verdict = _verdict(row["met"]) if row["target"] else ""
        lines.append(
            f"| {row['metric']} | {row['anchor']:,} | {row['sdk']:,} | {row['ratio']:.3f} |"
            f" {row['target']} | {verdict} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The whole report."""
    env = results["environment"]
    pk = env["packages"]
    settings = results["settings"]
    lines = [
        "# swoogo-async benchmarks",
        "",
        f"{results['timestamp']} · `{results['command']}` · {results.get('elapsed_s', 0):.0f} s",
        "",
        f"Python {env['python']} · aiohttp {pk['aiohttp']} · cattrs {pk['cattrs']} ·"
        f" attrs {pk['attrs']} · uvloop {pk['uvloop']} · pydantic {pk['pydantic']} ·"
        f" msgspec {pk['msgspec']} · {env['cpu_count']} cores · {env['platform']}",
        "",
        f"{settings['reps']} repetitions, {settings['requests_per_rep']} requests each, SDK"
        " and baseline alternating which goes first; medians. Server: fake Swoogo in its own"
        " process on loopback. CPU = `time.process_time()` of the client process per request."
        " Ratios are SDK/raw for throughput, raw/SDK for CPU (so 1.00 = no overhead), SDK/raw"
        " for latency. The SDK decodes responses with"
        f" {settings.get('sdk_json', 'stdlib')} in the request, token and bulk sections"
        " (msgspec: as installed on CPython; stdlib: PyPy's road).",
        "",
        "## Targets",
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(results)]
    if results.get("requests"):
        lines += [
            "",
            "## Request overhead (SDK against raw aiohttp)",
            "",
            "| loop | call | conc | variant | raw req/s | SDK req/s | thr ratio |"
            " raw CPU µs | SDK CPU µs | CPU ratio | added µs | raw p50/p99 ms |"
            " SDK p50/p99 ms | p99 ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in results["requests"]:
            raw, sdk, r = row["raw"], row["sdk"], row["ratios"]
            trunc = " (time-capped)" if raw["truncated"] or sdk["truncated"] else ""
            lines.append(
                f"| {row['loop']} | {row['bench']} | {row['concurrency']} |"
                f" {row['variant']}{trunc} | {_f(raw['rps'], '.0f')} | {_f(sdk['rps'], '.0f')} |"
                f" {_f(r['throughput'])} | {_f(raw['cpu_us'], '.0f')} |"
                f" {_f(sdk['cpu_us'], '.0f')} | {_f(r['cpu_efficiency'])} |"
                f" {_f(r['added_cpu_us'], '+.1f')} |"
                f" {_f(raw['p50_ms'])}/{_f(raw['p99_ms'])} |"
                f" {_f(sdk['p50_ms'])}/{_f(sdk['p99_ms'])} | {_f(r['p99'])} |"
            )
            if "sdk_unpaced" in row:
                lines.append(
                    f"| {row['loop']} | get | {row['concurrency']} | rate_limit=None (same"
                    f" server) | | {_f(row['sdk_unpaced']['rps'], '.0f')} | | |"
                    f" {_f(row['sdk_unpaced']['cpu_us'], '.0f')} | |"
                    f" pacing {_f(row['pacing_added_cpu_us'], '+.1f')} | | | |"
                )
    models = results.get("models")
    if models:
        lines += [
            "",
            "## Model cost per record (µs, median)",
            "",
            "| payload | cattrs structure | pydantic validate | msgspec convert |"
            " loads+structure | parse_session (bytes to Session) | pydantic json | msgspec json |"
            " json.loads | cattrs unstructure | pydantic dump | msgspec to_builtins |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, row in models["per_record_us"].items():
            st, de, un = row["structure"], row["decode"], row["unstructure"]
            lines.append(
                f"| {label} | {_f(st['cattrs structure_session'])} |"
                f" {_f(st['pydantic model_validate'])} | {_f(st['msgspec convert'])} |"
                f" {_f(de['json.loads + structure_session'])} |"
                f" {_f(de.get('parse_session'))} |"
                f" {_f(de['pydantic model_validate_json'])} | {_f(de['msgspec json.decode'])} |"
                f" {_f(de['json.loads alone'])} | {_f(un['cattrs unstructure_session'])} |"
                f" {_f(un['pydantic model_dump(json)'])} | {_f(un['msgspec to_builtins'])} |"
            )
        lines += [
            "",
            f"{models['page_size']}-session list page ({models['page_bytes'] / 1e6:.2f} MB),"
            f" {models.get('page_run', 1)} in a row:"
            + "; ".join(f" {k} {_f(v)} ms" for k, v in models["page_ms"].items())
            + ("; first page:" if models.get("page_first_ms") else "")
            + "; ".join(f" {k} {_f(v)} ms" for k, v in models.get("page_first_ms", {}).items()),
        ]
    if results.get("token"):
        lines += [
            "",
            "## Token single-flight",
            "",
            "| loop | cold calls | client fetches | server fetches (in-process run) |"
            " cold s | warm s | added wall µs/call | added CPU µs/call |"
            " added CPU µs/call, no network |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for t in results["token"]:
            lines.append(
                f"| {t['loop']} | {t['calls']} | {t['token_fetches_cold']} |"
                f" {t['server_token_requests']} | {_f(t['cold']['wall_s'])} |"
                f" {_f(t['warm']['wall_s'])} | {_f(t['added_wall_us_per_call'], '.1f')} |"
                f" {_f(t['added_cpu_us_per_call'], '.1f')} |"
                f" {_f(t['mock_transport']['added_cpu_us_per_call'], '+.2f')} |"
            )
    bulk = results.get("bulk")
    if bulk is not None:
        lines += ["", "## Bulk", ""]
        if bulk["status"] == "measured":
            lines.append(f"From `benchmarks/bench_bulk.py:{bulk['entry']}`: `{bulk['result']}`")
        elif bulk["status"] == "failed":
            lines.append(f"`benchmarks/bench_bulk.py` failed: `{bulk['error']}`")
        else:
            lines.append(bulk["note"])
    table = results.get("table")
    if table is not None:
        lines += ["", "## Issue 20's table (`python -m benchmarks.bench_table`)", ""]
        if table["status"] != "measured":
            lines.append(f"failed: `{table['error']}`")
        else:
            lines += table_markdown(table["result"])
    sections = (("pacing", "Pacing"), ("workers", "Several processes"), ("web", "Web app"))
    for name, title in sections:
        section = results.get(name)
        if section is None:
            continue
        script = f"python -m benchmarks.bench_{name} {' '.join(section['args'])}".rstrip()
        lines += ["", f"## {title}", "", f"`{script}`", ""]
        if section["status"] != "measured":
            lines.append(f"failed: `{section['error']}`")
            continue
        result = section["result"]
        for row in result if isinstance(result, list) else [result]:
            lines.append(f"- `{json.dumps(row)}`")
    return "\n".join(lines) + "\n"
