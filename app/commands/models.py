"""``hearth models``: what is installed, read from each file's GGUF header."""

from __future__ import annotations

from pathlib import Path

from app import hardware
from app.commands.output import print_json
from app.config import load_settings
from app.library.fit import fit
from app.gguf.header import human_bytes, human_count
from app.library.registry import ModelRegistry
from app.library.speed import describe_speed


def run_models(args) -> int:
    registry = ModelRegistry()
    if args.models_command == "list":
        return _list(registry, args.json)
    if args.models_command == "search":
        return _search(args)
    if args.models_command == "files":
        return _files(args)
    if args.models_command == "catalog":
        return _catalog(args)
    if args.models_command == "scan":
        return _scan(registry, args)
    if args.models_command == "pull":
        return _pull(args)
    if args.models_command == "import":
        model = registry.import_model(Path(args.path), copy=args.copy)
        how = "copied into the models folder" if args.copy else "used in place, not copied"
        print(f"Imported {model.id} ({model.info.size_label}, {model.info.quantization}): {how}.")
        return 0
    if args.models_command == "rm":
        model = registry.remove(args.id)
        what = "forgotten (the file was left where it is)" if model.source == "imported" else "deleted"
        print(f"{model.id}: {what}.")
        return 0
    return 2


def _fit_columns(model, context_length: int, available: int | None, profile) -> dict:
    from app.library.shape import shape_from_header

    if model.info is None:
        return {"memory_bytes": None, "fit": None}
    estimate = fit(model.info, context_length, available)
    shape = shape_from_header(model.info)
    speed = None
    if profile is not None and not model.info.is_embedding_model:
        speed = round(profile.shape_tokens_per_s(shape), 1)
    return {"memory_bytes": estimate.need_bytes, "fit": estimate.verdict, "fit_context": context_length,
            "moe": shape.moe.as_dict() if shape.moe else None, "read_bytes_per_token": shape.read_bytes,
            "tokens_per_s": speed}


def _list(registry: ModelRegistry, as_json: bool) -> int:
    from app.library.speed import machine_profile

    context_length = load_settings().context_length
    _total, available = hardware.memory_bytes()
    profile = machine_profile(measure=False)  # speeds only once measured (the library or `models catalog` do)
    rows = []
    for model in registry.models():
        row = model.as_dict()
        row.update(_fit_columns(model, context_length, available, profile))
        rows.append(row)
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("No models installed.")
        return 0
    header = ("ID", "SIZE", "ARCH", "PARAMS", "QUANT", "CONTEXT", "FITS?", "FILE")
    table = [header]
    for row in rows:
        if row["problem"]:
            table.append((row["id"], "-", "-", "-", "-", "-", "-", f"{row['file']}  [unusable: {row['problem']}]"))
            continue
        label = row["id"] + (" (starter)" if row["source"] == "starter" else "")
        params = row["size_label"] + (f" ({human_count(row['moe']['active_params'])} active)" if row["moe"] else "")
        table.append((label, human_bytes(row["size_bytes"]), row["architecture"], params,
                      row["quantization"], str(row["context_length"] or "?"),
                      f"{row['fit']} ({human_bytes(row['memory_bytes'])})", row["file"]))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header) - 1)]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + str(r[-1]))
    return 0


def _search(args) -> int:
    from app.library import hub

    results = hub.search(args.query, args.sort, max(1, min(args.limit, 100)), offline=load_settings().offline)
    if args.json:
        print_json([vars(r) for r in results])
        return 0
    if not results:
        print(f"No GGUF repositories match {args.query!r}.")
    for r in results:
        print(f"{r.id:60s} {r.downloads:>10,} downloads {r.likes:>6,} likes  {(r.last_modified or '')[:10]}")
    return 0


def _files(args) -> int:
    from app.library import hub

    details = hub.repo_details(args.repo, offline=load_settings().offline)
    estimator = _estimator()
    from app.library.shape import params_of_model

    params = params_of_model([(f.size, f.quantization) for f in details.files])  # one model, many quantizations
    estimates = [estimator.for_file(f.size, f.quantization, params=params) for f in details.files]
    if args.json:
        print_json({"id": details.id, "license": details.license, "description": details.description,
                    "downloads": details.downloads, "likes": details.likes,
                    "files": [dict(vars(f), **_estimate_columns(e)) for f, e in zip(details.files, estimates)]})
        return 0
    print(f"{details.id}  (license: {details.license or 'not stated'}, {details.downloads:,} downloads)")
    if not details.files:
        print("No GGUF files in this repository.")
    for f, e in zip(details.files, estimates):
        split = f"  ({len(f.parts)} parts)" if len(f.parts) > 1 else ""
        print(f"  {f.quantization:10s} {human_bytes(f.size):>10s}  {e.fit.verdict:10s} "
              f"{describe_speed(e.tokens_per_s):>12s}  {f.name}{split}")
    return 0


def _estimator():
    """Fit and speed for files not yet downloaded; measures this machine once (cached)."""
    import sys

    from app.library import speed
    from app.library.catalog import Estimator

    profile = speed.machine_profile(measure=False)
    if profile is None:
        print("Measuring this machine once for speed estimates (a few seconds)…", file=sys.stderr)
        profile = speed.machine_profile()
    return Estimator(load_settings().context_length, profile)


def _estimate_columns(estimate) -> dict:
    return {"fit": estimate.fit.verdict, "memory_bytes": estimate.fit.need_bytes,
            "tokens_per_s": round(estimate.tokens_per_s, 1) if estimate.tokens_per_s else None}


def _catalog(args) -> int:
    from app.library.catalog import load_catalog

    catalog = load_catalog()
    total, _available = hardware.memory_bytes()
    estimator = _estimator()
    rows, plans = [], []
    for m in catalog.models:
        pick = m.recommended_file(total)
        shape = m.shape(pick)
        estimate = estimator.for_shape(shape, m.is_embedding)
        offload = estimator.offload(shape, m.is_embedding)
        plans.append(offload)
        rows.append({"id": m.id, "name": m.name, "uses": list(m.uses), "purpose": m.purpose, "repo": m.repo,
                     "license": m.license, "context_length": m.context_length, "template": m.template,
                     "reasoning": vars(m.reasoning) if m.reasoning else None,
                     "moe": m.moe.as_dict() if m.moe else None, "source": m.source,
                     "file": pick.file, "quantization": pick.quantization, "size_bytes": pick.size_bytes,
                     "sha256": pick.sha256, "read_bytes_per_token": shape.read_bytes,
                     **_estimate_columns(estimate),
                     "offload": offload.as_dict() if offload else None,
                     "files": [{"file": f.file, "quantization": f.quantization, "size_bytes": f.size_bytes,
                                "sha256": f.sha256, "for_ram_gb": f.for_ram_gb} for f in m.files]})
    if args.json:
        print_json({"made": catalog.made, "gpu": estimator.gpu.name if estimator.gpu else None, "models": rows})
        return 0
    print(f"Recommended for this machine (catalog of {catalog.made}); download with: hearth models pull REPO FILE")
    for m, r, plan in zip(catalog.models, rows, plans):
        speed_text = "embedding" if m.is_embedding else describe_speed(r["tokens_per_s"])
        active = f"  [MoE, {m.moe.active_params / 1e9:.1f}B active]" if m.moe else ""
        print(f"  {m.purpose:9s} {r['name']:32s} {r['quantization']:7s} {human_bytes(r['size_bytes']):>9s} "
              f"{r['fit']:10s} {speed_text:>12s}  {r['repo']} {r['file']}{active}")
        if plan:
            print(f"{'':12s}GPU: {plan.describe()}")
    if estimator.gpu is None:
        print("Speeds are for this machine's CPU; no NVIDIA GPU was found for an offload estimate.")
    return 0


def _pull(args) -> int:
    import sys

    from app.library import download

    interactive = sys.stderr.isatty()

    def show(progress):
        if interactive:
            sys.stderr.write(f"\r{progress.describe():60s}")
            sys.stderr.flush()

    try:
        path = download.pull(args.repo, args.file, on_progress=show, offline=load_settings().offline)
    except KeyboardInterrupt:
        print(f"\nhearth: download of {args.file} paused; run the same command to resume", file=sys.stderr)
        return 130
    finally:
        if interactive:
            sys.stderr.write("\n")
    from app.library.registry import model_id_for

    print(f"Installed {model_id_for(path)} ({human_bytes(path.stat().st_size)}, SHA-256 verified): {path}")
    return 0


def _scan(registry: ModelRegistry, args) -> int:
    from app.library.other_tools import scan

    found = scan()
    installed = {m.path.resolve() for m in registry.models(read_headers=False)}
    rows = [{"tool": f.tool, "name": f.name, "file": str(f.path), "size_bytes": f.size, "id": f.suggested_id,
             "in_use": f.path in installed} for f in found]
    if args.use:
        for f, row in zip(found, rows):
            if not row["in_use"]:
                registry.import_model(f.path, model_id=f.suggested_id)
                row["in_use"] = True
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("No GGUF models found in the Hugging Face cache, LM Studio, Ollama or GPT4All folders.")
        return 0
    for row in rows:
        state = "in use" if row["in_use"] else "not used yet"
        print(f"{row['tool']:10s} {row['name']:50s} {human_bytes(row['size_bytes']):>10s}  {state}  {row['file']}")
    if not args.use and any(not r["in_use"] for r in rows):
        print("Use them in place, without copies: hearth models scan --use")
    return 0
