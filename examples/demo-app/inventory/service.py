"""Business logic: what the routes call."""

from inventory import helpers, repository


def list_items(conn):
    return repository.all_items(conn)


def get_item(conn, item_id):
    item = repository.find_item(conn, item_id)
    if item is not None:
        item["price_with_tax"] = helpers.price_with_tax(item["price"])
    return item


def create_item(conn, data):
    name, category, price, qty = helpers.validate_item(data)
    item_id = repository.insert_item(conn, name, category, price, qty)
    return get_item(conn, item_id)


def category_summary(conn, category):
    values = []
    for item in repository.iter_items(conn, category):
        values.append(helpers.stock_value(item))
    return {"items": len(values), "stock_value": round(sum(values), 2),
            "p90_value": round(helpers.percentile(values, 0.9), 2)}


def item_outlook(conn, item):
    sales = repository.daily_sales(conn, item["id"])
    # Repeat the history to give the forecast something to chew on (the slow part).
    history = sales * 20
    predicted = helpers.forecast(history, 60)
    return {"id": item["id"], "name": item["name"],
            "next_30_days": round(sum(predicted[:30]), 1)}


def build_report(conn):
    by_category = {}
    for category in helpers.CATEGORIES:
        by_category[category] = category_summary(conn, category)
    outlook = []
    for item in repository.iter_items(conn):
        if item["id"] <= 12:
            outlook.append(item_outlook(conn, item))
    outlook.sort(key=lambda o: -o["next_30_days"])
    return {"categories": by_category, "top_outlook": outlook[:5]}


def sync_with_supplier(conn):
    count = len(repository.all_items(conn))
    raise RuntimeError("supplier sync failed after %d items: connection refused" % count)
