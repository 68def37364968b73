def helper_func(who):
    return "hello " + who
