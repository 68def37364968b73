def from_stdin():
    return "hello stdin"


print(from_stdin())
