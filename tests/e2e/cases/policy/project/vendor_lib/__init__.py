"""Third-party code the project uses: not in the policy."""


def round_money(amount, adjust):
    return round(adjust(amount), 2)


def _fmt(amount):
    return "%.2f" % amount


def render(amount):
    return "<" + _fmt(amount) + ">"
