def level1(n):
    return level2(n) + 1


def level2(n):
    return level3(n) + 1


def level3(n):
    return level4(n) + 1


def level4(n):
    return n
