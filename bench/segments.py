"""Time campaigns.compose.segments on 100,000 rendered texts: `.venv/bin/python bench/segments.py`.

The mix is a template campaign's: mostly 1-part GSM renders, some with an extension character,
some UCS-2 (Cyrillic, a pasted curly quote, an emoji) and some multipart. Prints the time of
count() per text over the whole mix and per kind, and of count_rendered() over the mix.
"""

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a plain script

from core.sms_parts import count, count_rendered

N = 100_000
NAMES = ["Anna", "Bob", "Dmitry", "Aigerim", "José", "Erlan", "Mariya", "Timur", "Li", "Saule"]
# kind: (share of the texts, template)
KINDS = {
    "1-part GSM": (0.80, "Hi {name}, your order #{n} ships on {d}.11. Track: crier.example/t/{n}"),
    "1-part GSM with €": (0.06, "{name}, 20% off over €{n} until Sunday! Reply STOP to opt out"),
    "1-part UCS-2 Cyrillic": (0.05, "Здравствуйте, {name}! Ваш заказ №{n} доставят {d}.11."),
    "1-part UCS-2 curly quote": (0.02, "Hi {name}, don\u2019t miss your visit on {d}.11 at 10:00"),
    "1-part UCS-2 emoji": (0.02, "Hi {name} \U0001f389 your order #{n} has shipped!"),
    "3-part GSM with [ ]": (0.05, "Dear {name}, " + "statement {n} is ready [see app]. " * 9),
}


def render(template: str, rng: random.Random) -> str:
    return template.format(name=rng.choice(NAMES), n=rng.randint(1, 99999), d=rng.randint(1, 30))


def per_text(texts: list[str], fn: Callable[[str], object]) -> float:
    """Best of five runs, in µs per text."""
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        timings.append(time.perf_counter() - start)
    return min(timings) / len(texts) * 1e6


def main() -> None:
    rng = random.Random(5)
    shares = [share for share, _ in KINDS.values()]
    kinds = rng.choices(list(KINDS), shares, k=N)
    texts = [render(KINDS[kind][1], rng) for kind in kinds]

    print(f"count():  {per_text(texts, count):.2f} µs per text over {N:,} mixed texts")
    for kind, (share, template) in KINDS.items():
        sample = [render(template, rng) for _ in range(10_000)]
        info = count(sample[0])
        print(
            f"  {share:4.0%} {kind:25} {per_text(sample, count):5.2f} µs"
            f"  ({info.encoding}, {info.parts} part{'s' * (info.parts > 1)})"
        )
    start = time.perf_counter()
    summary = count_rendered(texts)
    elapsed = time.perf_counter() - start
    print(
        f"count_rendered(): {elapsed * 1e3:.0f} ms for {N:,} texts:"
        f" parts {summary.min_parts}-{summary.max_parts}, total {summary.total_parts:,};"
        f" GSM-7 {summary.gsm7_messages:,}, UCS-2 {summary.ucs2_messages:,}"
    )


if __name__ == "__main__":
    main()
