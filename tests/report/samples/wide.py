"""Many small calls under one root, for the bounded-memory paths of the tree and flame graph
reports: root() calls branch() 200 times and each branch() calls twig() 10 times (2,202 spans
with <module>)."""


def twig():
    return 1


def branch():
    for _ in range(10):
        twig()


def root():
    for _ in range(200):
        branch()


if __name__ == "__main__":
    root()
