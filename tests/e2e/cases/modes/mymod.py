def mod_func():
    return "hello module"


if __name__ == "__main__":
    print(mod_func())
