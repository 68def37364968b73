def greet(who):
    return "hello " + who


print(greet("file"))
