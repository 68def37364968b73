"""200 000 calls: about 400 000 records, far more than a 256 KiB file system holds."""


def work(n):
    return n + 1


def batch(k):
    t = 0
    for i in range(k):
        t += work(i)
    return t


def main():
    total = sum(batch(1000) for _ in range(200))
    print("total", total)


main()
