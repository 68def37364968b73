"""Plain calls of every shape: nested functions, methods, class/static methods, lambdas, closures."""


def leaf(x):
    return x + 1


def middle(x):
    return leaf(x) + leaf(x + 10)


def top(n):
    total = 0
    for i in range(n):
        total += middle(i)
    return total


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side

    @classmethod
    def unit(cls):
        return cls(1)

    @staticmethod
    def describe(value):
        return "shape of area %d" % value


def make_adder(n):
    def add(x):
        return x + n

    return add


square = lambda v: v * v  # noqa: E731


def use_callables():
    add5 = make_adder(5)
    results = []
    for i in range(4):
        results.append(add5(square(i)))
    return results


def shapes():
    small = Shape.unit()
    big = Shape(3)
    return Shape.describe(small.area() + big.area())


def main():
    print("top", top(3))
    print("callables", use_callables())
    print(shapes())


if __name__ == "__main__":
    main()
