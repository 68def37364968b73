from helpers import helper_func


def dir_main():
    return helper_func("dir")


print(dir_main())
