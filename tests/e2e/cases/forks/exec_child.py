def exec_main():
    return helper(20)


def helper(n):
    return n * 3


print("exec'd image", exec_main(), flush=True)
