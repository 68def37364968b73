def greet(name):
    return f"hello {name}"


def main():
    for name in ("a", "b", "c"):
        print(greet(name))


main()
