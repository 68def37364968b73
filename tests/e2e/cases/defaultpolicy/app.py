"""No policy file: glass traces the program's own code and not the standard library."""

import json


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def encode_obj(obj):
    if isinstance(obj, Point):
        return {"x": obj.x, "y": obj.y}
    raise TypeError(type(obj).__name__)


def build_payload():
    points = [Point(1, 2), Point(3, 4)]
    # indent= makes json use its pure-Python encoder: stdlib Python code calls encode_obj
    return json.dumps({"points": points}, default=encode_obj, indent=1)


def main():
    payload = build_payload()
    print(len(json.loads(payload)["points"]), "points")


main()
