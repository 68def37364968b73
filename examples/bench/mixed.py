"""Benchmark workload: dict and str work through many small functions and methods.

Builds a deterministic text, counts and groups words, renders records: the shape of ordinary
application code (many short calls, a generator, a method or two), about 1-2 s without glass.
"""

import sys

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
         "pi rho sigma tau upsilon phi chi psi omega").split()


def lcg(seed):
    """A tiny deterministic pseudo-random stream (no stdlib module in the hot path)."""
    while True:
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        yield seed


def make_line(rng, width):
    parts = []
    for _ in range(width):
        word = WORDS[next(rng) % len(WORDS)]
        if next(rng) % 5 == 0:
            word = word.capitalize() + ","
        parts.append(word)
    return " ".join(parts) + "."


def normalize(word):
    return word.strip(".,;:!?").lower()


def tokenize(line):
    return [normalize(w) for w in line.split()]


class Record:
    __slots__ = ("word", "count", "first")

    def __init__(self, word, first):
        self.word = word
        self.count = 0
        self.first = first

    def add(self):
        self.count += 1

    def key(self):
        return (-self.count, self.word)

    def render(self):
        return "%-10s %6d (first at line %d)" % (self.word, self.count, self.first)


def count_words(lines):
    records = {}
    for n, line in enumerate(lines):
        for word in tokenize(line):
            rec = records.get(word)
            if rec is None:
                rec = records[word] = Record(word, n)
            rec.add()
    return records


def group_by_initial(records):
    groups = {}
    for rec in records.values():
        groups.setdefault(rec.word[0], []).append(rec.word)
    return {k: sorted(v) for k, v in groups.items()}


def report(records):
    top = sorted(records.values(), key=Record.key)[:5]
    return [rec.render() for rec in top]


def run(lines_count, rounds):
    rng = lcg(42)
    lines = [make_line(rng, 12) for _ in range(lines_count)]
    out = []
    for _ in range(rounds):
        records = count_words(lines)
        groups = group_by_initial(records)
        out = report(records) + ["%d groups" % len(groups)]
    return out


if __name__ == "__main__":
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    for line in run(6000 * scale, 60):
        print(line)
