"""Library code for the enginecg benchmark: on PYTHONPATH, outside the script's directory, so the
default policy does not trace it (as a site-packages module)."""


def scale(x):
    return x * 3


def shift(x):
    return x + 7


def clip(x):
    return x if x < 1000 else x % 1000


def step(x):
    return clip(shift(scale(x)))


def work(n):
    """n iterations of 4 small calls each (plus this one): library code, nothing traced."""
    total = 0
    for i in range(n):
        total += step(i)
    return total
