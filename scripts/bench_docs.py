#!/usr/bin/env python3
"""Document Q&A benchmark: indexing throughput against raw embedding, query latency, recall@5.

1. Indexing: a generated corpus (Markdown files and a multi-page PDF) indexed by
   Hearth (reader process, chunking, embedding process, SQLite + FTS5) against
   embedding the very same passages with llama-cpp-python directly, one
   process, one at a time, same model and thread count. Target ratio >= 0.9.
2. Query latency at 10,000 and 100,000 passages (random unit vectors and
   generated text stored through the real store), excluding the question's own
   embedding: p50 and p95. Targets 20 ms and 50 ms.
3. Recall@5 on a small labelled question set over a real-language corpus.

Uses ../shared/models/all-MiniLM-L6-v2-f16.gguf when present (a real embedding
model), else --model PATH.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-bench-docs-"))

from app.config import Settings  # noqa: E402
from app.docs import service  # noqa: E402
from app.docs.chunking import chunk_sections  # noqa: E402
from app.docs.indexer import Indexer, embedding_threads, walk  # noqa: E402
from app.docs.parsers import parse  # noqa: E402
from app.docs.retrieval import search  # noqa: E402
from app.docs.store import CollectionStore  # noqa: E402
from app.library.registry import ModelRegistry  # noqa: E402

TOPICS = ["backups", "payroll", "parking", "vacation", "security badges", "printers", "laptops", "expenses",
          "travel", "onboarding", "fire drills", "the canteen", "VPN access", "code review", "deployments",
          "incident response", "password rotation", "meeting rooms", "shipping", "refunds"]

# (question, file that answers it) over the labelled corpus written by labelled_corpus().
LABELLED = [
    ("How long are backups kept?", "backups.md"),
    ("When is salary paid each month?", "payroll.md"),
    ("Where can visitors leave their car?", "parking.md"),
    ("How many days of annual leave do employees get?", "vacation.md"),
    ("What should I do if I lose my access card?", "badges.md"),
    ("Which printer supports colour printing?", "printers.md"),
    ("How often are laptops replaced?", "laptops.md"),
    ("What is the limit for a dinner on expenses?", "expenses.md"),
    ("Which airline class is allowed for long flights?", "travel.md"),
    ("What happens on a new hire's first day?", "onboarding.md"),
    ("Where do we gather during a fire alarm?", "fire.md"),
    ("When does the canteen serve lunch?", "canteen.md"),
    ("How do I connect to the company network from home?", "vpn.md"),
    ("How many approvals does a pull request need?", "review.md"),
    ("Are production releases allowed on Fridays?", "deploy.md"),
    ("Who is paged when the site goes down?", "incident.md"),
    ("How often must passwords be changed?", "passwords.md"),
    ("How do I book a meeting room?", "rooms.md"),
    ("Which courier do we use for parcels?", "shipping.md"),
    ("How long do customers have to ask for their money back?", "refunds.md"),
]
TEXTS = {
    "backups.md": "# Backups\n\nNightly backups start at 2 am. Snapshots are retained for 30 days, then deleted.",
    "payroll.md": "# Payroll\n\nSalaries are transferred on the 25th of every month; payslips arrive by email.",
    "parking.md": "# Parking\n\nGuests park in zone C next to the main entrance; staff use the underground garage.",
    "vacation.md": "# Vacation\n\nEveryone has 27 days of paid holiday per year, plus public holidays.",
    "badges.md": "# Security badges\n\nReport a missing badge to reception at once so it can be blocked.",
    "printers.md": "# Printers\n\nThe HP on floor 3 prints in colour; the others are black and white only.",
    "laptops.md": "# Laptops\n\nCompany notebooks are renewed every three years by the IT desk.",
    "expenses.md": "# Expenses\n\nMeals with clients are refunded up to 60 euros per person for an evening meal.",
    "travel.md": "# Travel\n\nBusiness class may be booked for flights over eight hours; otherwise economy.",
    "onboarding.md": "# Onboarding\n\nNewcomers meet their buddy, collect equipment and join the welcome lunch.",
    "fire.md": "# Fire drills\n\nWhen the alarm sounds, leave by the stairs and assemble in the north car park.",
    "canteen.md": "# Canteen\n\nHot meals are served from 11:30 to 14:00 on weekdays.",
    "vpn.md": "# Remote access\n\nInstall WireGuard and import the profile from the IT portal to reach the intranet.",
    "review.md": "# Code review\n\nEvery merge request must be approved by two reviewers before it lands.",
    "deploy.md": "# Deployments\n\nNo releases to production after Thursday noon, to protect the weekend.",
    "incident.md": "# Incident response\n\nThe on-call engineer receives the alert and leads the outage call.",
    "passwords.md": "# Passwords\n\nAccount secrets are rotated every 90 days; reuse of the last five is blocked.",
    "rooms.md": "# Meeting rooms\n\nReserve rooms through the calendar by adding the room as a guest.",
    "shipping.md": "# Shipping\n\nParcels go out with DHL Express; the pickup is at 4 pm.",
    "refunds.md": "# Refunds\n\nBuyers can return goods within 14 days for a full reimbursement.",
}


def synthetic_corpus(folder: Path, files: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    words = ("policy team office staff request approve month week customer system report access manager "
             "update process review schedule budget invoice device network account support service").split()
    for i in range(files):
        topic = TOPICS[i % len(TOPICS)]
        parts = [f"# {topic.title()} {i}"]
        for s in range(6):
            parts.append(f"## Section {s}\n\n" + " ".join(rng.choice(words) for _ in range(70)) + f" about {topic}.")
        (folder / f"doc{i:04d}.md").write_text("\n\n".join(parts), encoding="utf-8")
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for page in range(40):
        pdf.add_page()
        pdf.multi_cell(0, 6, " ".join(rng.choice(words) for _ in range(150)))
    pdf.output(str(folder / "manual.pdf"))


def bench_indexing(model, threads: int, files: int) -> None:
    from llama_cpp import Llama

    folder = Path(tempfile.mkdtemp(prefix="corpus-"))
    synthetic_corpus(folder, files)
    texts = [c.embedding_text() for p, problem in walk([folder]) if problem is None
             for c in chunk_sections(parse(p))]
    pages = 40
    settings = Settings()
    # Direct: the same passages, the same model and threads, one process, one at a time.
    llm = Llama(model_path=str(model.path), embedding=True, n_ctx=512, n_batch=512, n_ubatch=512,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.embed(texts[0])
    started = time.perf_counter()
    for text in texts:
        llm.embed(text)
    direct_s = time.perf_counter() - started
    del llm
    service.add_paths("bench", [folder]).close()
    store = CollectionStore("bench")
    indexer = Indexer(store, settings, model)
    indexer.embedder()  # loading the model is not indexing; the direct side loaded outside its timing too
    started = time.perf_counter()
    result = indexer.sync()
    hearth_s = time.perf_counter() - started
    indexer.close()
    store.close()
    assert result.chunks == len(texts), (result.chunks, len(texts))
    direct_rate, hearth_rate = len(texts) / direct_s, result.chunks / hearth_s
    print(f"indexing: {result.indexed} files ({pages} PDF pages), {result.chunks} passages, {threads} thread(s)")
    print(f"  direct embedding  {direct_rate:7.1f} passages/s")
    print(f"  hearth indexing   {hearth_rate:7.1f} passages/s, {pages / hearth_s:.1f} pages/s overall "
          f"(parse + chunk + embed + store)")
    print(f"  ratio {hearth_rate / direct_rate:.3f}  (target >= 0.9)")


def bench_latency(dim: int, sizes: list[int], queries: int = 100) -> None:
    import numpy as np

    from app.docs.chunking import Chunk

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(5000)]
    for size in sizes:
        name = f"latency{size}"
        store = CollectionStore(name, create=True)
        store.set_meta("dim", str(dim))
        store.set_meta("embedding_native", "1")
        per_file = 1000
        for f in range(size // per_file):
            chunks = [Chunk(" ".join(rng.choice(words, 60)), None, 1, 3, "") for _ in range(per_file)]
            vectors = rng.standard_normal((per_file, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.replace_file(f"/corpus/{f}.md", 1, 1.0, str(f), chunks, vectors)
        store.matrix()  # loaded once, as a running app holds it
        times = []
        for _ in range(queries):
            q = rng.standard_normal(dim).astype(np.float32)
            q /= np.linalg.norm(q)
            question = " ".join(rng.choice(words, 8))
            started = time.perf_counter()
            search(store, q, question, 5)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
        print(f"query latency at {size:>7,} passages: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
              f"(targets 20 / 50 ms; question embedding excluded)")
        store.close()


def bench_recall(model) -> None:
    folder = Path(tempfile.mkdtemp(prefix="labelled-"))
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    synthetic_corpus(folder, 60, seed=11)  # distractors
    service.add_paths("labelled", [folder]).close()
    store = CollectionStore("labelled")
    indexer = Indexer(store, Settings(), model)
    indexer.sync()
    indexer.close()
    store.close()
    searcher = service.Searcher()
    hits_at_5 = 0
    for question, expected in LABELLED:
        found = [Path(h.file).name for h in searcher.search(["labelled"], question, 5)]
        hits_at_5 += expected in found
    searcher.close()
    print(f"recall@5: {hits_at_5}/{len(LABELLED)} = {hits_at_5 / len(LABELLED):.2f} "
          f"({len(LABELLED)} labelled questions, 60 distractor files)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2-f16.gguf"))
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    model = ModelRegistry().resolve(args.model)
    threads = embedding_threads()
    print(f"model {model.path.name}, {threads} embedding thread(s)")
    bench_indexing(model, threads, args.files)
    bench_latency(384, [int(s) for s in args.sizes.split(",")])
    bench_recall(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
