"""A small program whose project has a broken glimpse-policy.json."""


def greet(name):
    return "hello " + name


print(greet("world"))
