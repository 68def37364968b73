"""Small computations used by the service."""

import math

TAX_RATE = 0.2
CATEGORIES = ("office", "kitchen", "home", "tech")


def validate_item(data):
    name = str(data.get("name", "")).strip()
    if not name:
        raise ValueError("name is required")
    category = data.get("category", "office")
    if category not in CATEGORIES:
        raise ValueError("unknown category %r" % category)
    price = float(data.get("price", 0))
    if price <= 0:
        raise ValueError("price must be positive")
    qty = int(data.get("qty", 0))
    if qty < 0:
        raise ValueError("qty must not be negative")
    return name, category, price, qty


def price_with_tax(price):
    return round(price * (1 + TAX_RATE), 2)


def stock_value(item):
    return price_with_tax(item["price"]) * item["qty"]


def moving_average(values, window):
    out = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def forecast(sales, days):
    """A deliberately naive forecast: smooth the history, then extend the trend day by day."""
    smooth = moving_average(sales, 7)
    history = list(smooth)
    for _ in range(days):
        recent = history[-7:]
        slope = (recent[-1] - recent[0]) / max(len(recent) - 1, 1)
        history.append(max(0.0, history[-1] + slope * 0.5))
    return history[len(smooth):]
