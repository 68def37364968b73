def inner():
    return 42


def kid_main():
    print(inner())


kid_main()
